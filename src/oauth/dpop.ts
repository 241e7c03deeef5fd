/**
 * DPoP proofs (RFC 9449 §4.3): the rules, as a function of (proof, method, URL, now, access token, nonce,
 * replay check) → the key's thumbprint (`jkt`) or a precise, safe error. Shared by the token endpoint and the
 * resource-server kit; the signature goes through src/jwt/verify.ts with the key embedded in the proof. Where a
 * `jti` is remembered is the caller's choice (the replay guard, or a per-isolate set).
 */

import { ASYMMETRIC_ALGS, type AsymmetricAlg, hasPrivateMembers, isObject, jwkThumbprint } from "../jwt/jwk.ts";
import { importVerificationJwk, type VerificationKey } from "../jwt/keys.ts";
import { typIs, verifyJws } from "../jwt/verify.ts";
import { base64urlEncode, UTF8 } from "../util/base64url.ts";
import { ExpiringSet, setBounded } from "../util/bounded.ts";

/** Algorithms a proof may use (`dpop_signing_alg_values_supported`); `Ed25519` is RFC 9864's name for EdDSA. */
export const DPOP_ALGS: readonly AsymmetricAlg[] = ASYMMETRIC_ALGS;
export const DPOP_ALG_NAMES: readonly string[] = [...ASYMMETRIC_ALGS, "Ed25519"];
/** How old a proof's `iat` may be, in seconds (RFC 9449 §11.1: "a few minutes" at most). */
export const DPOP_MAX_AGE = 300;
/** How far in the future a proof's `iat` may be, in seconds (clock skew). */
export const DPOP_FUTURE_LEEWAY = 30;
const JTI_MAX = 256;

/** A rejected proof: `reason` for logs, `description` safe for `error_description`. */
export interface DpopFailure {
  ok: false;
  reason: string;
  description: string;
}
export type DpopResult = { ok: true; jkt: string; jti: string } | DpopFailure;

/** Proof `jti`s seen recently, per isolate, each kept until its proof could no longer be accepted. */
export class DpopReplayCache extends ExpiringSet {
  constructor(max = 100_000) {
    super(max);
  }

  /** This set as a replay check (per isolate only: a replay to another isolate is not seen). */
  check(now: number): ProofReplayCheck {
    return (proof) => this.claim(`${proof.jkt} ${proof.jti}`, proof.until, now);
  }
}

/**
 * Spends a proof's `jti` (unique per key: RFC 9449 §4.2, §11.1), remembered until `until` (Unix seconds,
 * inclusive: the last second the proof's `iat` is acceptable). `true` on its first use, `false` for a replay.
 */
export type ProofReplayCheck = (proof: { jkt: string; jti: string; until: number }) => boolean | Promise<boolean>;

export interface DpopExpectations {
  /** The request's method (`htm`). */
  method: string;
  /** The request's URL (`htu` is compared without query and fragment). */
  url: string;
  /** Unix seconds. */
  now: number;
  /** At a resource server: the access token the proof must be bound to (`ath`, RFC 9449 §4.3 step 12). */
  accessToken?: string;
  /** When the server requires nonces: whether a presented `nonce` is acceptable (RFC 9449 §8). */
  nonce?: (nonce: unknown) => Promise<boolean>;
  /** Checked last, once every other rule holds, so a refused proof never spends its `jti`. */
  replay: ProofReplayCheck;
}

function fail(reason: string, description: string): DpopFailure {
  return { ok: false, reason, description: `Invalid DPoP proof: ${description}` };
}

/**
 * A URI without query and fragment, normalized per RFC 3986 §6.2.2–6.2.3 (scheme and host case, default port,
 * percent-encoding case, dot segments, empty path) by the WHATWG URL parser; `null` when it is not absolute.
 */
export function normalizeHtu(uri: string): string | null {
  try {
    const url = new URL(uri);
    if (url.protocol !== "https:" && url.protocol !== "http:") return null;
    const path = url.pathname.replace(/%[0-9a-f]{2}/gi, (hex) => hex.toUpperCase());
    return `${url.protocol}//${url.host}${path}`;
  } catch {
    return null;
  }
}

/** base64url(SHA-256(ASCII(token))): the `ath` of a proof bound to an access token (RFC 9449 §4.2). */
export async function accessTokenHash(token: string): Promise<string> {
  return base64urlEncode(new Uint8Array(await crypto.subtle.digest("SHA-256", UTF8.encode(token))));
}

/** Imported proof keys by their public JWK, so a client that keeps its key pays for the import once. */
const keys = new Map<string, { key: VerificationKey; jkt: string }>();
const MAX_KEYS = 1000;

async function proofKey(jwk: Record<string, unknown>, alg: AsymmetricAlg) {
  const id = `${alg} ${JSON.stringify(jwk)}`;
  const cached = keys.get(id);
  if (cached !== undefined) return cached;
  const { key, publicJwk } = await importVerificationJwk({ ...jwk, alg: jwk.alg ?? alg }, DPOP_ALGS, false);
  const entry = { key, jkt: await jwkThumbprint(publicJwk, key.alg as AsymmetricAlg) };
  setBounded(keys, id, entry, MAX_KEYS);
  return entry;
}

/**
 * Checks a DPoP proof (RFC 9449 §4.3): one well-formed JWS with `typ` `dpop+jwt`, an asymmetric `alg` of
 * DPOP_ALGS, a public `jwk` header whose key verifies the signature, `htm` and `htu` of this request, `iat`
 * within DPOP_MAX_AGE (and not in the future beyond DPOP_FUTURE_LEEWAY), a `jti` not seen in that window,
 * `ath` when bound to an access token, and `nonce` when required. Returns the key's RFC 7638 thumbprint.
 */
export async function checkDpopProof(proof: string, expect: DpopExpectations): Promise<DpopResult> {
  if (proof.includes(",")) return fail("several_proofs", "exactly one DPoP header is allowed");
  let jwkProblem: DpopFailure | null = null;
  let jkt = "";
  const verified = await verifyJws(proof, {
    typ: (typ) => typIs(typ, "dpop+jwt"),
    algorithms: DPOP_ALGS,
    async key(header, alg) {
      const jwk = header.jwk;
      if (!isObject(jwk)) {
        jwkProblem = fail("no_jwk", "the jwk header must hold the public key");
        return undefined;
      }
      if (hasPrivateMembers(jwk)) {
        jwkProblem = fail("private_jwk", "the jwk header must not contain a private key");
        return undefined;
      }
      try {
        const entry = await proofKey(jwk, alg as AsymmetricAlg);
        jkt = entry.jkt;
        return entry.key;
      } catch {
        jwkProblem = fail("bad_jwk", "the jwk header is not a usable key for its alg");
        return undefined;
      }
    },
  });
  if (!verified.ok) {
    if (jwkProblem !== null) return jwkProblem;
    switch (verified.error) {
      case "wrong_typ":
        return fail("wrong_typ", "typ must be dpop+jwt");
      case "unsupported_alg":
        return fail("unsupported_alg", `alg must be one of ${DPOP_ALG_NAMES.join(", ")}`);
      case "bad_signature":
        return fail("bad_signature", "the signature does not verify with the jwk header");
      default:
        return fail("malformed", "it is not a well-formed JWS");
    }
  }
  const claims = verified.payload;
  if (claims.htm !== expect.method) return fail("wrong_htm", "htm does not match the request method");
  const htu = typeof claims.htu === "string" ? normalizeHtu(claims.htu) : null;
  if (htu === null || htu !== normalizeHtu(expect.url)) return fail("wrong_htu", "htu does not match the request URI");
  const iat = claims.iat;
  if (typeof iat !== "number" || !Number.isFinite(iat)) return fail("no_iat", "iat is missing");
  if (iat > expect.now + DPOP_FUTURE_LEEWAY) return fail("iat_in_future", "iat is in the future");
  if (iat < expect.now - DPOP_MAX_AGE) return fail("too_old", `iat is more than ${DPOP_MAX_AGE} seconds old`);
  const jti = claims.jti;
  if (typeof jti !== "string" || jti.length === 0 || jti.length > JTI_MAX) return fail("no_jti", "jti is missing");
  if (expect.accessToken !== undefined && claims.ath !== (await accessTokenHash(expect.accessToken))) {
    return fail("wrong_ath", "ath does not match the access token");
  }
  if (expect.nonce !== undefined && !(await expect.nonce(claims.nonce))) {
    return { ok: false, reason: "nonce", description: "A fresh DPoP nonce is required" };
  }
  if (!(await expect.replay({ jkt, jti, until: Math.floor(iat) + DPOP_MAX_AGE }))) {
    return fail("replayed", "this proof was already used");
  }
  return { ok: true, jkt, jti };
}
