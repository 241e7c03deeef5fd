/**
 * keymint's resource-server kit: a Hono middleware that other Workers use to accept keymint access tokens,
 * verifying them locally (no call to keymint per request) with keymint's public JWKS (key-pair signing, no
 * secret needed) or with the shared HMAC key.
 *
 *     import { requireToken } from "keymint/resource-server";
 *     app.get("/reports", requireToken({ issuer: "https://auth.example.com", audience: "https://api.example.com",
 *       jwksUrl: "https://auth.example.com/.well-known/jwks.json", scopes: ["read"] }), handler);
 *
 * `protectedResourceMetadata(options)` serves the API's RFC 9728 metadata (`resource` = the audience,
 * `authorization_servers` = keymint's issuer) and every challenge names it, so MCP clients and other agents find
 * keymint from the API's URL alone:
 *
 *     app.get("/.well-known/oauth-protected-resource/*", protectedResourceMetadata(options));
 *
 * Local verification checks signature, `typ`, `alg`, `kid`, `exp`, `iss`, `aud`, scopes and the token's binding
 * (a DPoP proof — with `replayGuard`, its single use through keymint's own Durable Object — or the TLS client
 * certificate through Cloudflare mTLS). It cannot see a
 * revocation, a disabled client or `revoke-tokens`; where those must take effect before the token expires,
 * call keymint's introspection endpoint instead (see README "Resource servers").
 */

export type { KeyLookup } from "../jwt/access-token.ts";
export type { AccessTokenClaims, TokenClaims } from "../jwt/claims.ts";
export type { ReplayGuardNamespace } from "../replay/claim.ts";
export {
  metadataUrlFor,
  PROTECTED_RESOURCE_WELL_KNOWN,
  type ProtectedResourceMetadata,
  protectedResourceMetadataFor,
} from "./metadata.ts";
export {
  bearerChallenge,
  certificateOf,
  dpopChallenge,
  type FetcherLike,
  hmacKeyLookup,
  hmacKeysFromEnv,
  jwksKeyLookup,
  type Presentation,
  protectedResourceMetadata,
  type RequireTokenOptions,
  replayGuardCheck,
  requireToken,
  type ScopesFor,
  type TokenVariables,
  verifyAccessToken,
} from "./require-token.ts";
