/**
 * Example API protected by keymint tokens: public health check, reports readable with `read`, writable with
 * `write`, payments only with a DPoP-bound token and a proof (RFC 9449). With KEYMINT_JWKS_URL set it verifies key-pair tokens against keymint's JWKS and holds no secret;
 * otherwise it verifies HS256 tokens with the shared TOKEN_SIGNING_KEY.
 */

import { Hono, type MiddlewareHandler } from "hono";
import { protectedResourceMetadata, requireToken, type TokenVariables } from "../../../src/resource-server/index.ts";

export interface ApiEnv {
  KEYMINT_ISSUER: string;
  API_AUDIENCE: string;
  /** keymint's jwks_uri: key-pair mode. Empty: HMAC mode with TOKEN_SIGNING_KEY. */
  KEYMINT_JWKS_URL?: string;
  /** Optional service binding to keymint, used to fetch the JWKS without leaving Cloudflare's network. */
  KEYMINT?: { fetch(request: Request): Promise<Response> };
  TOKEN_SIGNING_KEY?: string;
  TOKEN_VERIFICATION_KEYS?: string;
  /** Optional binding to keymint's replay guard: DPoP proofs are then single-use in every location. */
  REPLAY_GUARD?: DurableObjectNamespace;
}

type Env = Record<string, unknown>;
const issuer = (env: Env) => String(env.KEYMINT_ISSUER);
const audience = (env: Env) => String(env.API_AUDIENCE);
const jwksUrl = (env: Env) => String(env.KEYMINT_JWKS_URL);
const fetcher = (env: Env) => env.KEYMINT as ApiEnv["KEYMINT"];
const replayGuard = (env: Env) => env.REPLAY_GUARD as DurableObjectNamespace | undefined;

type Guard = MiddlewareHandler<{ Variables: TokenVariables }>;

/**
 * Key-pair mode when KEYMINT_JWKS_URL is set, HMAC mode otherwise; proofs spent in keymint's replay guard when
 * REPLAY_GUARD is bound, per isolate otherwise. Bearer tokens and DPoP-bound tokens (with a proof) are both
 * accepted unless `dpop` is "required".
 */
function tokenWith(scopes: string[], dpop: "allowed" | "required" = "allowed"): Guard {
  const viaJwks = requireToken({ issuer, audience, scopes, jwksUrl, fetcher, dpop });
  const viaHmac = requireToken({ issuer, audience, scopes, dpop });
  const viaJwksGuarded = requireToken({ issuer, audience, scopes, jwksUrl, fetcher, dpop, replayGuard });
  const viaHmacGuarded = requireToken({ issuer, audience, scopes, dpop, replayGuard });
  return (c, next) => {
    const env = c.env as ApiEnv;
    if (env.REPLAY_GUARD !== undefined) return (env.KEYMINT_JWKS_URL ? viaJwksGuarded : viaHmacGuarded)(c, next);
    return (env.KEYMINT_JWKS_URL ? viaJwks : viaHmac)(c, next);
  };
}

export const api = new Hono<{ Bindings: ApiEnv; Variables: TokenVariables }>();

api.get("/health", (c) => c.json({ ok: true }));

// RFC 9728: the API describes itself; every 401/403 challenge above names this document (resource_metadata).
api.get(
  "/.well-known/oauth-protected-resource",
  protectedResourceMetadata({ issuer, audience, scopesSupported: ["read", "write"], resourceName: "Example API" }),
);

api.get("/reports", tokenWith(["read"]), (c) => {
  const token = c.get("token");
  return c.json({ reports: ["q1", "q2"], for: token.client_id });
});

// The client's extra claims (static, or from keymint's claims hook) reach the handler as unknown values: check them.
api.get("/whoami", tokenWith(["read"]), (c) => {
  const token = c.get("token");
  const tenant = typeof token.tenant === "string" ? token.tenant : null;
  const roles = Array.isArray(token.roles) ? token.roles.filter((r): r is string => typeof r === "string") : [];
  return c.json({ client_id: token.client_id, tenant, roles });
});

api.post("/reports", tokenWith(["write"]), (c) => c.json({ created: true, by: c.get("token").client_id }, 201));

// Sender-constrained only (RFC 9449): a stolen token is useless without the client's private key.
api.post("/payments", tokenWith(["write"], "required"), (c) =>
  c.json({ paid: true, by: c.get("token").client_id, key: c.get("token").cnf?.jkt }, 201),
);

export default api;
