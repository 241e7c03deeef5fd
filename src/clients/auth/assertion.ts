/**
 * Client authentication with a signed JWT (RFC 7521 §4.2, RFC 7523 §2.2): a private_key_jwt client's own
 * assertion, verified with its registered keys (`jwks`) or the keys at its `jwks_uri`, or a federated client's
 * token from an outside OpenID Connect issuer. Every JWS goes through src/jwt/verify.ts; the claims rules are
 * src/oauth/client-assertion.ts. Each failure is one `detail` for the log; the caller answers the same 401.
 */

import { type AsymmetricAlg, canonicalAlg, isAsymmetricAlg, JwkError } from "../../jwt/jwk.ts";
import { importVerificationJwk, type VerificationKey } from "../../jwt/keys.ts";
import { type JwsHeader, peekJws, verifyJws } from "../../jwt/verify.ts";
import { log } from "../../log.ts";
import {
  ASSERTION_LEEWAY,
  clientAssertionFailure,
  federatedTokenFailure,
  isAssertionTyp,
  isFederatedTyp,
} from "../../oauth/client-assertion.ts";
import { discoverJwksUri } from "../../remote/discovery.ts";
import type { Fetcher } from "../../remote/fetch-json.ts";
import { pickKey, remoteKeySet } from "../../remote/key-set.ts";
import { assertionShard, type OneTimeIds } from "../../replay/claim.ts";
import { CLIENT_KEY_ALGS } from "../record.ts";
import type { PreparedClient } from "../store.ts";

export interface AssertionContext {
  /** keymint's issuer for this request. */
  issuer: string;
  /** Unix seconds. */
  now: number;
  /** Where an accepted assertion's `jti` is spent (the replay guard). */
  replay: OneTimeIds;
  /** Fetches outside documents (JWKS URLs, discovery); default the global `fetch`. */
  fetcher?: Fetcher | undefined;
}

export type AssertionResult = { ok: true; client: PreparedClient } | { ok: false; reason: string };

const ALGS: readonly AsymmetricAlg[] = CLIENT_KEY_ALGS;

function fail(reason: string): AssertionResult {
  return { ok: false, reason };
}

/** The header's `kid`, when it names one. */
function kidOf(header: JwsHeader): string | undefined {
  return typeof header.kid === "string" ? header.kid : undefined;
}

/** A client's registered keys, imported once per cached record (a new record, after a change, imports again). */
const imported = new WeakMap<PreparedClient, readonly VerificationKey[]>();

async function registeredKeys(client: PreparedClient): Promise<readonly VerificationKey[]> {
  const cached = imported.get(client);
  if (cached !== undefined) return cached;
  const jwks = client.record.jwks?.keys ?? [];
  const keys = await Promise.all(
    jwks.map(async (jwk, i) => {
      try {
        return (await importVerificationJwk(jwk, ALGS, false)).key;
      } catch (err) {
        if (!(err instanceof JwkError)) throw err;
        // A key WebCrypto refuses (e.g. a point not on its curve) can never verify: skip it, once per record.
        log("error", "client_key_unusable", {
          client_id: client.record.client_id,
          key: i,
          cause: err.message,
          fix: `replace the client's keys: npm run -s clients -- update ${client.record.client_id} --jwks FILE`,
        });
        return null;
      }
    }),
  );
  const usable = keys.filter((key): key is VerificationKey => key !== null);
  imported.set(client, usable);
  return usable;
}

/**
 * Stand-in public keys per algorithm: an assertion for an unknown client, or for a client that has no keys, is
 * checked against one of them, so that it costs a signature verification like any other. Nobody holds their
 * private halves (they were thrown away when these were made), so nothing ever verifies; being public, they are
 * imported in microseconds instead of generated (an RSA key pair would cost tens of milliseconds).
 */
const DECOY_JWKS: Record<"ES256" | "EdDSA" | "RSA", Record<string, string>> = {
  ES256: {
    kty: "EC",
    crv: "P-256",
    x: "r-_JXexxKoMFacQSoAGNLoTZ6SMthQ6bNIDSTw5RHns",
    y: "7OlHfIj9Qi3Yri2qWyePrf5NYVsLsOUaU_oubamnkPQ",
  },
  EdDSA: { kty: "OKP", crv: "Ed25519", x: "4lkgXKuZoZ0qvOlNbNOfQd8bCZXYcREmIHDwI_t0uyQ" },
  RSA: {
    kty: "RSA",
    e: "AQAB",
    n:
      "uiS-2rWKIzRPQxTCqhlOIRnWk4JTS-i57f_l6zxfIHEKtrPgIIOfvPBPKgnOhByfWNF47gaoGw19-RkoVVxasIeDOwTI-sOKqf03" +
      "HU6zueA95bStVg8mmP2orIhyEiKn2wedZUfPA6bpDqc7Ey3r_zeOQcXSrtc8bj3m4riHVFPzH1OKk6J8G4H_cV1oM9rx-I70ABSF" +
      "L9P8xxRRWLnqaeW91iaSD5VizTI_XK_PK7lYS7xgWrl0HDMHmsgsl-LH8IQpfM-m_ICzVZIb2j-_K_nVyyWJg5Mewy-tzr5cF5qj" +
      "-zuFb-KZn-0vj23Y-MGJuAbHn907yLRZzR99jTvALQ",
  },
};
const decoys = new Map<AsymmetricAlg, VerificationKey>();

async function decoyKey(alg: AsymmetricAlg): Promise<VerificationKey> {
  const existing = decoys.get(alg);
  if (existing !== undefined) return existing;
  const jwk = alg === "ES256" || alg === "EdDSA" ? DECOY_JWKS[alg] : DECOY_JWKS.RSA;
  const key = (await importVerificationJwk({ ...jwk, alg }, ALGS, false)).key;
  decoys.set(alg, key);
  return key;
}

/** Verifies an assertion against a stand-in key of its own algorithm (always fails); same work as a real check. */
export async function decoyVerification(assertion: string): Promise<void> {
  const alg = canonicalAlg(peekJws(assertion)?.header.alg);
  if (!isAsymmetricAlg(alg)) return;
  await verifyJws(assertion, { typ: () => true, algorithms: ALGS, key: () => decoyKey(alg) });
}

async function ownAssertion(
  client: PreparedClient,
  assertion: string,
  ctx: AssertionContext,
): Promise<AssertionResult> {
  const { record } = client;
  const jwksUri = record.jwks_uri;
  const keys = jwksUri === null ? await registeredKeys(client) : null;
  const set = jwksUri === null ? null : remoteKeySet(jwksUri, { algorithms: ALGS });
  const verified = await verifyJws(assertion, {
    typ: isAssertionTyp,
    algorithms: ALGS,
    key: (header, alg) =>
      set === null ? pickKey(keys ?? [], kidOf(header), alg) : set.key(kidOf(header), alg, ctx.fetcher),
  });
  if (!verified.ok) return fail(verified.error === "unknown_kid" ? "unknown_key" : `assertion_${verified.error}`);
  const failure = clientAssertionFailure(verified.payload, verified.header, {
    clientId: record.client_id,
    issuer: ctx.issuer,
    tokenEndpoint: `${ctx.issuer}/oauth2/token`,
    now: ctx.now,
  });
  if (failure !== null) return fail(failure);
  const { jti, exp } = verified.payload as { jti: string; exp: number };
  // Remembered as long as the assertion could pass the time checks: until exp plus the leeway.
  const until = Math.floor(exp) + ASSERTION_LEEWAY;
  if (!(await ctx.replay.claim(assertionShard(record.client_id), jti, until, ctx.now)))
    return fail("assertion_replayed");
  return { ok: true, client };
}

async function federatedToken(client: PreparedClient, token: string, ctx: AssertionContext): Promise<AssertionResult> {
  const federation = client.record.federation;
  if (federation === null) return fail("no_keys");
  const jwksUri = await discoverJwksUri(federation.issuer, ctx.fetcher);
  const set = remoteKeySet(jwksUri, { algorithms: ALGS });
  const verified = await verifyJws(token, {
    typ: isFederatedTyp,
    algorithms: ALGS,
    key: (header, alg) => set.key(kidOf(header), alg, ctx.fetcher),
  });
  if (!verified.ok) return fail(verified.error === "unknown_kid" ? "unknown_key" : `assertion_${verified.error}`);
  const failure = federatedTokenFailure(verified.payload, {
    issuer: federation.issuer,
    subject: federation.subject,
    audience: federation.audience ?? ctx.issuer,
    now: ctx.now,
  });
  return failure === null ? { ok: true, client } : fail(failure);
}

/**
 * Authenticates `client` (or nobody: `null`) with a JWT assertion. The signature is checked first, so a failure
 * reason other than `unknown_client`, `assertion_for_secret_client`, `unknown_key` or `assertion_bad_signature`
 * means the presenter held the key. A disabled client is refused after a valid assertion, like after a valid
 * secret. Throws `RemoteFetchError` (503) when the keys cannot be fetched, `ReplayGuardUnavailableError` (503) when the
 * replay guard cannot be asked.
 */
export async function verifyClientAssertion(
  client: PreparedClient | null,
  assertion: string,
  ctx: AssertionContext,
): Promise<AssertionResult> {
  if (client === null) {
    await decoyVerification(assertion);
    return fail("unknown_client");
  }
  const method = client.record.token_endpoint_auth_method;
  if (method !== "private_key_jwt") {
    await decoyVerification(assertion);
    return fail(method === "client_secret_basic" ? "assertion_for_secret_client" : "assertion_for_mtls_client");
  }
  const result =
    client.record.federation === null
      ? await ownAssertion(client, assertion, ctx)
      : await federatedToken(client, assertion, ctx);
  if (result.ok && !client.record.enabled) return fail("client_disabled");
  return result;
}
