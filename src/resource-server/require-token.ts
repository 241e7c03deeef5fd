/**
 * Access-token verification for resource servers (RFC 6750, RFC 9068 §4, RFC 9449 §7, RFC 8705 §3, RFC 9728): HMAC
 * keys or keymint's JWKS; Bearer tokens, DPoP-bound tokens presented with the DPoP scheme and a proof, and
 * certificate-bound tokens presented over mutual TLS with the certificate they are bound to; every challenge
 * names the resource's RFC 9728 metadata.
 */

import type { Context, Handler, MiddlewareHandler } from "hono";
import { type KeyLookup, verifyAccessTokenJws } from "../jwt/access-token.ts";
import type { AccessTokenClaims, TokenClaims } from "../jwt/claims.ts";
import { TOKEN_SIGNING_ALGS } from "../jwt/jwk.ts";
import { importHmacKeysByKid, MIN_KEY_LENGTH, parseKeyList, type VerificationKey } from "../jwt/keys.ts";
import { bearerChallenge, dpopChallenge } from "../oauth/challenge.ts";
import { checkDpopProof, DpopReplayCache, type ProofReplayCheck } from "../oauth/dpop.ts";
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
import { certificateProblem, presentedCertificate } from "../x509/presented.ts";
import { metadataPathsFor, metadataUrlFor, protectedResourceMetadataFor } from "./metadata.ts";

type Env = Record<string, unknown>;
type FromEnv<T> = T | ((env: Env) => T);

/** Anything with a `fetch` method: a service binding to keymint, or `globalThis`. */
export interface FetcherLike {
  fetch(request: Request): Promise<Response>;
}

/** Scopes a request needs, decided from the request itself (e.g. per MCP tool); called after the token verified. */
export type ScopesFor = (c: Context) => readonly string[] | Promise<readonly string[]>;

export interface RequireTokenOptions {
  /** Expected `iss`: keymint's issuer (its ISSUER var or public origin). Published as `authorization_servers`. */
  issuer: FromEnv<string>;
  /**
   * This API's identifier; the token's `aud` must contain it. It is also the RFC 9728 `resource` the metadata
   * advertises (so a token minted for another resource is refused, RFC 9728 §7.4): for an MCP server, its URL
   * (`https://mcp.example.com/mcp`). Configure it: never derive it from the request's Host.
   */
  audience: FromEnv<string>;
  /** Scopes the token must all carry; or a function choosing them per request (run once the token verified). */
  scopes?: readonly string[] | ScopesFor;
  /** RFC 9728 `scopes_supported`. Default: `scopes` when it is a list; omitted otherwise. */
  scopesSupported?: readonly string[];
  /** RFC 9728 `resource_name`: a human-readable name of this API. */
  resourceName?: string;
  /**
   * The `resource_metadata` URL named in every challenge (RFC 9728 §5.1). Default: the RFC 9728 §3.1 URL of
   * `audience` when it is an http(s) URL (serve it with `protectedResourceMetadata`); `false`: no such parameter.
   */
  resourceMetadataUrl?: FromEnv<string | false>;
  /**
   * Key-pair mode: keymint's `jwks_uri` (`https://auth.example.com/.well-known/jwks.json`). The JWK Set is fetched
   * and cached per isolate (honouring `Cache-Control`, refetched on an unknown `kid` at most once a minute), so
   * the API holds no secret at all. When set, `keys` is used only if given explicitly: then HS256 tokens are
   * verified with those keys and key-pair tokens with the JWKS (keymint's default HS256 set-up and key pairs alike).
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

export { bearerChallenge, dpopChallenge };

/**
 * Hono variables set by `requireToken`: the verified claims under `token`, extra claims included
 * (`c.get("token").tenant` is `unknown`: check its type before use).
 */
export type TokenVariables = { token: TokenClaims };

function defaultKeys(env: Env): string[] {
  const keys: string[] = [];
  if (typeof env.TOKEN_SIGNING_KEY === "string") keys.push(env.TOKEN_SIGNING_KEY);
  if (typeof env.TOKEN_VERIFICATION_KEYS === "string") keys.push(...parseKeyList(env.TOKEN_VERIFICATION_KEYS));
  return keys;
}

/**
 * The HMAC keys in a Worker's env, as keymint reads them (`TOKEN_SIGNING_KEY`, `TOKEN_VERIFICATION_KEYS` one per
 * line), leaving out unset and empty ones: for `keys` next to `jwksUrl`, where having none is fine.
 */
export function hmacKeysFromEnv(env: Env): string[] {
  return defaultKeys(env).filter((key) => key !== "");
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
  | { ok: true; claims: TokenClaims }
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
  /**
   * The `x5t#S256` of the request's TLS client certificate (RFC 8705 §3), `undefined` without a usable one; asked
   * only for a certificate-bound token. `certificateOf(request)` reads it from Cloudflare's `request.cf`.
   */
  certificate?: () => string | undefined;
}

/**
 * The `x5t#S256` of the TLS client certificate a request presented through Cloudflare's mTLS
 * (`request.cf.tlsClientAuth`), or `undefined` when there is none or it is revoked or outside its validity period.
 */
export function certificateOf(request: Request, now = Math.floor(Date.now() / 1000)): string | undefined {
  const certificate = presentedCertificate(request.cf);
  return certificate === null || certificateProblem(certificate, now) !== null ? undefined : certificate.thumbprint;
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
 * `htu`, `ath`, fresh `iat`, unused `jti`); sent as Bearer, or without a presentation, it is refused. A
 * certificate-bound token (`cnf.x5t#S256`) must come over mutual TLS with that very certificate (RFC 8705 §3:
 * otherwise 401 `invalid_token`).
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
  const certificateBound = claims.cnf?.["x5t#S256"];
  if (certificateBound !== undefined && presentation?.certificate?.() !== certificateBound) {
    return invalid("The access token is bound to a TLS client certificate this request did not present (RFC 8705)");
  }
  return scopeOutcome(claims, expect.scopes ?? [], dpop);
}

/**
 * RFC 6750 §3.1 `insufficient_scope` when the verified claims lack one of `required`. The claims are passed on as
 * verified: extra claims (static, hook) reach the handler as unknown values.
 */
function scopeOutcome(verified: AccessTokenClaims, required: readonly string[], dpop: boolean): VerifyOutcome {
  const claims = verified as TokenClaims;
  if (required.length === 0) return { ok: true, claims };
  const granted = new Set((claims.scope ?? "").split(" ").filter(Boolean));
  const missing = required.filter((s) => !granted.has(s));
  if (missing.length === 0) return { ok: true, claims };
  return {
    ok: false,
    status: 403,
    error: "insufficient_scope",
    description: `The access token lacks scope ${missing.join(" ")}`,
    dpop,
  };
}

function resolve<T>(value: FromEnv<T>, env: Env): T {
  return typeof value === "function" ? (value as (env: Env) => T)(env) : value;
}

/** What a protected resource answers that does not depend on the request: computed once per configuration. */
interface Resource {
  audience: string;
  /** RFC 9728 §5.1 `resource_metadata`, or undefined when there is none. */
  metadataUrl: string | undefined;
  /** The 401 challenge for a request without a token (Bearer and DPoP, or DPoP only). */
  missing: string;
}

function resourceFor(audience: string, metadataUrl: string | false | undefined, dpopOnly: boolean): Resource {
  const url = metadataUrl === false ? undefined : (metadataUrl ?? metadataUrlFor(audience) ?? undefined);
  const dpop = dpopChallenge(undefined, undefined, undefined, url);
  return {
    audience,
    metadataUrl: url,
    missing: dpopOnly ? dpop : `${bearerChallenge(audience, undefined, undefined, undefined, url)}, ${dpop}`,
  };
}

/** Keeps the last configuration's `Resource`: env-derived options give the same strings on every request. */
function resourceMemo(options: RequireTokenOptions): (env: Env) => Resource {
  const dpopOnly = options.dpop === "required";
  let last: { audience: string; metadataUrl: string | false | undefined; resource: Resource } | undefined;
  return (env) => {
    const audience = resolve(options.audience, env);
    const metadataUrl =
      options.resourceMetadataUrl === undefined ? undefined : resolve(options.resourceMetadataUrl, env);
    if (last?.audience !== audience || last.metadataUrl !== metadataUrl) {
      last = { audience, metadataUrl, resource: resourceFor(audience, metadataUrl, dpopOnly) };
    }
    return last.resource;
  };
}

function deny(
  c: Context,
  status: 401 | 403 | 404 | 500 | 503,
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

/** HS256 tokens through the shared keys, every other algorithm through the JWKS. */
function eitherLookup(hmac: KeyLookup, remote: KeyLookup): KeyLookup {
  return (kid, alg) => {
    if (alg === "HS256") return typeof hmac === "function" ? hmac(kid, alg) : hmac.get(kid);
    return typeof remote === "function" ? remote(kid, alg) : remote.get(kid);
  };
}

/**
 * Hono middleware accepting only requests with a valid keymint access token (`Authorization: Bearer`):
 * 401 `invalid_token` for a missing, forged, expired or foreign token; 403 `insufficient_scope` when a
 * required scope is missing; 503 when keymint's JWKS cannot be fetched and no copy is cached. On success the
 * claims are available as `c.get("token")`. Every 401 and 403 challenge carries `resource_metadata` (RFC 9728).
 */
export function requireToken(options: RequireTokenOptions): MiddlewareHandler<{ Variables: TokenVariables }> {
  const resourceOf = resourceMemo(options);
  const dynamicScopes = typeof options.scopes === "function" ? options.scopes : undefined;
  const staticScopes = typeof options.scopes === "function" ? [] : (options.scopes ?? []);
  return async function requireKeymintToken(c, next) {
    const env = (c.env ?? {}) as Env;
    const audience = resolve(options.audience, env);
    let keys: KeyLookup;
    if (options.jwksUrl !== undefined) {
      const jwksUrl = resolve(options.jwksUrl, env);
      const problem = typeof jwksUrl === "string" ? remoteUrlProblem(jwksUrl) : "it is missing";
      if (problem !== null) return misconfigured(c, `set jwksUrl to keymint's jwks_uri: ${problem}`);
      keys = jwksKeyLookup(jwksUrl, options.fetcher?.(env));
      const secrets = options.keys?.(env) ?? [];
      if (secrets.some((k) => k.length < MIN_KEY_LENGTH)) {
        return misconfigured(c, `every HMAC key needs at least ${MIN_KEY_LENGTH} characters, like keymint's own`);
      }
      if (secrets.length > 0) keys = eitherLookup(await hmacKeyLookup(secrets), keys);
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
      return deny(c, 401, resourceOf(env).missing, {
        error: "invalid_request",
        error_description: dpopOnly
          ? "A DPoP-bound access token and a DPoP proof are required"
          : "An access token is required",
      });
    }
    let outcome: VerifyOutcome;
    let scopes = staticScopes;
    try {
      outcome = await verifyAccessToken(
        match[2] as string,
        {
          keys,
          issuer: resolve(options.issuer, env),
          audience,
          scopes: staticScopes,
          clockTolerance: options.clockTolerance ?? 30,
          presentation: {
            scheme,
            proof: c.req.header("dpop") ?? null,
            method: c.req.method,
            url: c.req.url,
            certificate: () => certificateOf(c.req.raw),
          },
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
    if (outcome.ok && dynamicScopes !== undefined) {
      scopes = await dynamicScopes(c);
      outcome = scopeOutcome(outcome.claims, scopes, scheme === "DPoP");
    }
    if (!outcome.ok) {
      const { metadataUrl } = resourceOf(env);
      const scope = outcome.error === "insufficient_scope" ? scopes : undefined;
      // A DPoP failure, or a DPoP-bound token sent as Bearer, is answered with the DPoP challenge (RFC 9449 §7.1).
      const challenge = outcome.dpop
        ? dpopChallenge(outcome.error, outcome.description, scope, metadataUrl)
        : bearerChallenge(audience, outcome.error, outcome.description, scope, metadataUrl);
      return deny(c, outcome.status, challenge, { error: outcome.error, error_description: outcome.description });
    }
    c.set("token", outcome.claims);
    await next();
    return undefined;
  };
}

/**
 * Hono handler serving the RFC 9728 metadata of the resource `requireToken(options)` protects (same options):
 * mount it at `/.well-known/oauth-protected-resource` and at the §3.1 path-suffixed form
 * (`app.get("/.well-known/oauth-protected-resource/*", …)`). It answers the resource's own metadata paths and 404
 * for any other. The document is built once per configuration; public, cacheable, CORS `*`.
 */
export function protectedResourceMetadata(options: RequireTokenOptions): Handler {
  let last: { key: string; paths: string[]; body: string } | undefined;
  return function protectedResourceMetadataEndpoint(c) {
    const env = (c.env ?? {}) as Env;
    const resource = resolve(options.audience, env);
    const issuer = resolve(options.issuer, env);
    const key = `${resource}\n${issuer}`;
    if (last?.key !== key) {
      const scopesSupported =
        options.scopesSupported ?? (typeof options.scopes === "function" ? undefined : options.scopes);
      const metadata = protectedResourceMetadataFor({
        resource,
        issuer,
        scopesSupported,
        dpopRequired: options.dpop === "required",
        resourceName: options.resourceName,
      });
      last = { key, paths: metadataPathsFor(resource), body: JSON.stringify(metadata) };
    }
    if (last.paths.length === 0) {
      return misconfigured(c, "set audience to this API's URL (its RFC 9728 resource identifier) to publish metadata");
    }
    if (!last.paths.includes(c.req.path)) {
      return deny(c, 404, null, { error: "invalid_request", error_description: "No such metadata document" });
    }
    const headers = {
      "Content-Type": "application/json; charset=utf-8",
      "Cache-Control": "public, max-age=300",
      "Access-Control-Allow-Origin": "*",
    };
    return c.req.method === "HEAD" ? c.body(null, 200, headers) : c.body(last.body, 200, headers);
  };
}
