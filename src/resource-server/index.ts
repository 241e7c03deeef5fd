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
 * Local verification checks signature, `typ`, `alg`, `kid`, `exp`, `iss`, `aud` and scopes (and DPoP proofs; with
 * `replayGuard`, their single use through keymint's own Durable Object). It cannot see a
 * revocation, a disabled client or `revoke-tokens`; where those must take effect before the token expires,
 * call keymint's introspection endpoint instead (see README "Resource servers").
 */

export type { KeyLookup } from "../jwt/access-token.ts";
export type { AccessTokenClaims, TokenClaims } from "../jwt/claims.ts";
export {
  metadataUrlFor,
  PROTECTED_RESOURCE_WELL_KNOWN,
  type ProtectedResourceMetadata,
  protectedResourceMetadataFor,
} from "./metadata.ts";
export {
  bearerChallenge,
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
