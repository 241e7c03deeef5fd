/**
 * Access-token verification for resource servers (RFC 6750, RFC 9068 §4, RFC 9449 §7): HMAC keys or keymint's
 * JWKS; Bearer tokens, and DPoP-bound tokens presented with the DPoP scheme and a proof.
 */

import type { Context, MiddlewareHandler } from "hono";
import { type KeyLookup, verifyAccessTokenJws } from "../jwt/access-token.ts";
import type { AccessTokenClaims } from "../jwt/claims.ts";
import { TOKEN_SIGNING_ALGS } from "../jwt/jwk.ts";
import { importHmacKeysByKid, MIN_KEY_LENGTH, parseKeyList, type VerificationKey } from "../jwt/keys.ts";
import { checkDpopProof, DPOP_ALG_NAMES, DpopReplayCache, type ProofReplayCheck } from "../oauth/dpop.ts";
import { accessTokenTimeProblem } from "../oauth/token-state.ts";
import { RemoteFetchError, remoteUrlProblem } from "../remote/fetch-json.ts";
import { remoteKeySet } from "../remote/key-set.ts";
import {
  type OneTimeIds,
  oneTimeIds,
  proofShard,
  type ReplayGuardNamespace,
  ReplayGuardUnavailableError,
} from "../replay/claim.ts";

type Env = Record<string, unknown>;
type FromEnv<T> = T | ((env: Env) => T);

/** Anything with a `fetch` method: a service binding to keymint, or `globalThis`. */
export interface FetcherLike {
  fetch(request: Request): Promise<Response>;
}

export interface RequireTokenOptions {
  /** Expected `iss`: keymint's issuer (its ISSUER var or public origin). */
  issuer: FromEnv<string>;
  /** This API's identifier; the token's `aud` must contain it. */
  audience: FromEnv<string>;
  /** Scopes the token must all carry. */
  scopes?: readonly string[];
  /**
   * Key-pair mode: keymint's `jwks_uri` (`https://auth.example.com/.well-known/jwks.json`). The JWK Set is fetched
   * and cached per isolate (honouring `Cache-Control`, refetched on an unknown `kid` at most once a minute), so
   * the API holds no secret at all. When set, `keys` is not used.
   */
  jwksUrl?: FromEnv<string>;
  /** How to fetch the JWKS in key-pair mode; default the global `fetch`. E.g. `(env) => env.KEYMINT` (service binding). */
  fetcher?: (env: Env) => FetcherLike | undefined;
  /**
   * HMAC mode: the keys to verify with. Default: the Worker's own `TOKEN_SIGNING_KEY` plus
   * `TOKEN_VERIFICATION_KEYS` (one per line), i.e. the same secrets keymint uses, set with `wrangler secret put`.
   */
  keys?: (env: Env) => readonly string[];
  /** Seconds of clock skew tolerated on `exp` and `iat` (default 30). */
  clockTolerance?: number;
  /**
   * DPoP (RFC 9449): `"allowed"` (default) accepts Bearer tokens and DPoP-bound tokens presented with the DPoP
   * scheme and a proof; `"required"` accepts only the latter. A DPoP-bound token presented as Bearer is always
   * refused (RFC 9449 §7.1).
   */
  dpop?: "allowed" | "required";
  /**
   * keymint's replay guard, bound in this API's wrangler.toml (`[[durable_objects.bindings]] name = "REPLAY_GUARD",
   * class_name = "ReplayGuard", script_name = "keymint"`), e.g. `(env) => env.REPLAY_GUARD`: a DPoP proof is
   * then accepted once across every isolate and location (one Durable Object call per DPoP request), and 503
   * when the guard cannot be asked. Without it a proof's `jti` is remembered per isolate only.
   */
  replayGuard?: (env: Env) => DurableObjectNamespace | ReplayGuardNamespace | undefined;
}

/** Hono variables set by `requireToken`: the verified claims under `token`. */
export type TokenVariables = { token: AccessTokenClaims };

function defaultKeys(env: Env): string[] {
  const keys: string[] = [];
  if (typeof env.TOKEN_SIGNING_KEY === "string") keys.push(env.TOKEN_SIGNING_KEY);
  if (typeof env.TOKEN_VERIFICATION_KEYS === "string") keys.push(...parseKeyList(env.TOKEN_VERIFICATION_KEYS));
  return keys;
}

// Kept as a value, not a promise: workerd forbids awaiting one request's promise from another request.
let memo: { joined: string; ring: Map<string, VerificationKey> } | undefined;

/** Imports HMAC keys once per isolate (per distinct key set). */
export async function hmacKeyLookup(keys: readonly string[]): Promise<KeyLookup> {
  const joined = keys.join("\n");
  if (memo?.joined === joined) return memo.ring;
  const ring = await importHmacKeysByKid(keys);
  memo = { joined, ring };
  return ring;
}

/** A lookup into a remote JWK Set of keymint's public keys (ES256, EdDSA, RS256), cached per isolate. */
export function jwksKeyLookup(jwksUrl: string, fetcher?: FetcherLike): KeyLookup {
  const set = remoteKeySet(jwksUrl, { algorithms: TOKEN_SIGNING_ALGS });
  const fetch = fetcher === undefined ? undefined : (request: Request) => fetcher.fetch(request);
  return (kid, alg) => set.key(kid, alg, fetch);
}

export type VerifyOutcome =
  | { ok: true; claims: AccessTokenClaims }
  | {
      ok: false;
      status: 401 | 403;
      error: "invalid_token" | "insufficient_scope" | "invalid_dpop_proof";
      description: string;
      /** Answer with the DPoP challenge (RFC 9449 §7.1) rather than the Bearer one. */
      dpop: boolean;
    };

/** How the token arrived (RFC 9449 §7): its scheme, and with DPoP the proof and the request it must match. */
export interface Presentation {
  scheme: "Bearer" | "DPoP";
  /** The `DPoP` header (`null` when absent). */
  proof: string | null;
  method: string;
  url: string;
}

const TIME_PROBLEMS = {
  expired: "The access token expired",
  issued_in_future: "The access token is not yet valid",
  lifetime_too_long: "The access token lives longer than keymint issues",
} as const;

/** Proof `jti`s seen by this isolate's resource server (without a replay guard). */
const proofs = new DpopReplayCache();

/** How long the kit waits for the replay guard before answering 503. */
const REPLAY_GUARD_TIMEOUT_MS = 3000;
const guards = new WeakMap<object, OneTimeIds>();

/** A replay check through keymint's replay guard: the same objects, and ids, as keymint's token endpoint. */
export function replayGuardCheck(
  namespace: DurableObjectNamespace | ReplayGuardNamespace,
  now: number,
): ProofReplayCheck {
  let ids = guards.get(namespace);
  if (ids === undefined) {
    ids = oneTimeIds(namespace as ReplayGuardNamespace, REPLAY_GUARD_TIMEOUT_MS);
    guards.set(namespace, ids);
  }
  const spend = ids;
  return (proof) => spend.claim(proofShard(proof.jkt), proof.jti, proof.until, now);
}

/**
 * Verifies a keymint access token for this resource server; `now` is Unix seconds. A DPoP-bound token
 * (`cnf.jkt`) must come with a `presentation` in the DPoP scheme and a proof of its key for this request (`htm`,
 * `htu`, `ath`, fresh `iat`, unused `jti`); sent as Bearer, or without a presentation, it is refused.
 */
export async function verifyAccessToken(
  token: string,
  expect: {
    keys: KeyLookup;
    issuer: string;
    audience: string;
    scopes?: readonly string[];
    clockTolerance?: number;
    presentation?: Presentation;
    /** Where proof `jti`s are spent (`replayGuardCheck`); default: this isolate's own set. */
    replay?: ProofReplayCheck;
  },
  now: number,
): Promise<VerifyOutcome> {
  const dpop = expect.presentation?.scheme === "DPoP";
  const invalid = (description: string, dpopChallenged = dpop): VerifyOutcome => ({
    ok: false,
    status: 401,
    error: "invalid_token",
    description,
    dpop: dpopChallenged,
  });
  const verified = await verifyAccessTokenJws(token, expect.keys);
  if (!verified.ok) return invalid("The access token is invalid");
  const { claims } = verified;
  const tolerance = expect.clockTolerance ?? 30;
  const time = accessTokenTimeProblem(claims, now, { exp: tolerance, iat: tolerance });
  if (time !== null) return invalid(TIME_PROBLEMS[time]);
  if (claims.iss !== expect.issuer) return invalid("The access token is from another issuer");
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.includes(expect.audience)) return invalid("The access token is not meant for this resource");
  // Without a presentation the token came as Bearer: a DPoP-bound one is refused (RFC 9449 §7.1).
  const presentation = expect.presentation;
  const bound = claims.cnf?.jkt;
  if ((presentation?.scheme ?? "Bearer") === "Bearer" && bound !== undefined) {
    return invalid("The access token is DPoP-bound: present it with the DPoP scheme and a proof", true);
  }
  if (presentation !== undefined) {
    if (presentation.scheme === "DPoP") {
      if (bound === undefined) return invalid("The access token is not DPoP-bound: present it as Bearer");
      if (presentation.proof === null) {
        return { ok: false, status: 401, error: "invalid_dpop_proof", description: "A DPoP proof is required", dpop };
      }
      const proof = await checkDpopProof(presentation.proof, {
        method: presentation.method,
        url: presentation.url,
        now,
        accessToken: token,
        replay: expect.replay ?? proofs.check(now),
      });
      if (!proof.ok) {
        return { ok: false, status: 401, error: "invalid_dpop_proof", description: proof.description, dpop };
      }
      if (proof.jkt !== bound) return invalid("The DPoP proof is not made with the key the token is bound to");
    }
  }
  const granted = new Set((claims.scope ?? "").split(" ").filter(Boolean));
  const missing = (expect.scopes ?? []).filter((s) => !granted.has(s));
  if (missing.length > 0) {
    return {
      ok: false,
      status: 403,
      error: "insufficient_scope",
      description: `The access token lacks scope ${missing.join(" ")}`,
      dpop,
    };
  }
  return { ok: true, claims };
}

/** RFC 9449 §7.1 `WWW-Authenticate: DPoP` challenge, with the accepted proof algorithms. */
export function dpopChallenge(error?: string, description?: string, scope?: readonly string[]): string {
  const params: string[] = [];
  if (error !== undefined) params.push(`error="${error}"`);
  if (description !== undefined) params.push(`error_description="${description.replace(/["\\]/g, "")}"`);
  if (scope !== undefined && scope.length > 0) params.push(`scope="${scope.join(" ")}"`);
  params.push(`algs="${DPOP_ALG_NAMES.join(" ")}"`);
  return `DPoP ${params.join(", ")}`;
}

/** RFC 6750 §3 `WWW-Authenticate: Bearer` value. */
export function bearerChallenge(
  realm: string,
  error?: string,
  description?: string,
  scope?: readonly string[],
): string {
  const params = [`realm="${realm}"`];
  if (error !== undefined) params.push(`error="${error}"`);
  if (description !== undefined) params.push(`error_description="${description.replace(/["\\]/g, "")}"`);
  if (scope !== undefined && scope.length > 0) params.push(`scope="${scope.join(" ")}"`);
  return `Bearer ${params.join(", ")}`;
}

function resolve<T>(value: FromEnv<T>, env: Env): T {
  return typeof value === "function" ? (value as (env: Env) => T)(env) : value;
}

function deny(
  c: Context,
  status: 401 | 403 | 500 | 503,
  challenge: string | null,
  body: Record<string, string>,
): Response {
  const headers: Record<string, string> = {
    "Content-Type": "application/json; charset=utf-8",
    "Cache-Control": "no-store",
  };
  if (challenge !== null) headers["WWW-Authenticate"] = challenge;
  if (status === 503) headers["Retry-After"] = "5";
  return c.body(JSON.stringify(body), status, headers);
}

function misconfigured(c: Context, fix: string): Response {
  console.error(JSON.stringify({ level: "error", event: "resource_server_misconfigured", fix }));
  return deny(c, 500, null, { error: "server_error", error_description: "Token verification is not configured" });
}

/**
 * Hono middleware accepting only requests with a valid keymint access token (`Authorization: Bearer`):
 * 401 `invalid_token` for a missing, forged, expired or foreign token; 403 `insufficient_scope` when a
 * required scope is missing; 503 when keymint's JWKS cannot be fetched and no copy is cached. On success the
 * claims are available as `c.get("token")`.
 */
export function requireToken(options: RequireTokenOptions): MiddlewareHandler<{ Variables: TokenVariables }> {
  return async function requireKeymintToken(c, next) {
    const env = (c.env ?? {}) as Env;
    const audience = resolve(options.audience, env);
    let keys: KeyLookup;
    if (options.jwksUrl !== undefined) {
      const jwksUrl = resolve(options.jwksUrl, env);
      const problem = typeof jwksUrl === "string" ? remoteUrlProblem(jwksUrl) : "it is missing";
      if (problem !== null) return misconfigured(c, `set jwksUrl to keymint's jwks_uri: ${problem}`);
      keys = jwksKeyLookup(jwksUrl, options.fetcher?.(env));
    } else {
      const secrets = (options.keys ?? defaultKeys)(env);
      if (secrets.length === 0 || secrets.some((k) => k.length < MIN_KEY_LENGTH)) {
        return misconfigured(
          c,
          "set the same TOKEN_SIGNING_KEY as keymint with `wrangler secret put TOKEN_SIGNING_KEY`, or use jwksUrl",
        );
      }
      keys = await hmacKeyLookup(secrets);
    }
    let replay: ProofReplayCheck | undefined;
    if (options.replayGuard !== undefined) {
      const namespace = options.replayGuard(env);
      if (namespace === undefined || typeof (namespace as { getByName?: unknown }).getByName !== "function") {
        return misconfigured(
          c,
          "bind keymint's ReplayGuard Durable Object (script_name = keymint) and pass it as replayGuard",
        );
      }
      replay = replayGuardCheck(namespace, Math.floor(Date.now() / 1000));
    }
    const dpopOnly = options.dpop === "required";
    const match = /^(Bearer|DPoP)\s+([A-Za-z0-9\-._~+/]+=*)\s*$/i.exec(c.req.header("authorization") ?? "");
    const scheme = match?.[1]?.toLowerCase() === "dpop" ? "DPoP" : "Bearer";
    if (match === null || (dpopOnly && scheme === "Bearer")) {
      const challenges = dpopOnly ? dpopChallenge() : `${bearerChallenge(audience)}, ${dpopChallenge()}`;
      return deny(c, 401, challenges, {
        error: "invalid_request",
        error_description: dpopOnly
          ? "A DPoP-bound access token and a DPoP proof are required"
          : "An access token is required",
      });
    }
    let outcome: VerifyOutcome;
    try {
      outcome = await verifyAccessToken(
        match[2] as string,
        {
          keys,
          issuer: resolve(options.issuer, env),
          audience,
          scopes: options.scopes ?? [],
          clockTolerance: options.clockTolerance ?? 30,
          presentation: { scheme, proof: c.req.header("dpop") ?? null, method: c.req.method, url: c.req.url },
          replay,
        },
        Math.floor(Date.now() / 1000),
      );
    } catch (err) {
      if (err instanceof ReplayGuardUnavailableError) {
        console.error(
          JSON.stringify({
            level: "error",
            event: "replay_guard_unavailable",
            cause: err.message,
            fix: "check keymint's REPLAY_GUARD Durable Object and this API's binding to it (script_name)",
          }),
        );
        return deny(c, 503, null, {
          error: "temporarily_unavailable",
          error_description: "The DPoP proof cannot be checked for replay, retry later",
        });
      }
      if (!(err instanceof RemoteFetchError)) throw err;
      console.error(
        JSON.stringify({
          level: "error",
          event: "jwks_unavailable",
          cause: err.message,
          fix: "check that keymint's jwks_uri answers from this Worker (or pass a service binding as fetcher)",
        }),
      );
      return deny(c, 503, null, {
        error: "temporarily_unavailable",
        error_description: "The token signing keys cannot be fetched, retry later",
      });
    }
    if (!outcome.ok) {
      const scope = outcome.error === "insufficient_scope" ? options.scopes : undefined;
      // A DPoP failure, or a DPoP-bound token sent as Bearer, is answered with the DPoP challenge (RFC 9449 §7.1).
      const challenge = outcome.dpop
        ? dpopChallenge(outcome.error, outcome.description, scope)
        : bearerChallenge(audience, outcome.error, outcome.description, scope);
      return deny(c, outcome.status, challenge, { error: outcome.error, error_description: outcome.description });
    }
    c.set("token", outcome.claims);
    await next();
    return undefined;
  };
}
