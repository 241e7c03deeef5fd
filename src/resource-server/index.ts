/**
 * keymint's resource-server kit: a Hono middleware that other Workers use to accept keymint access tokens,
 * verifying them locally with the shared HMAC key (no call to keymint per request).
 *
 *     import { requireToken } from "keymint/resource-server";
 *     app.get("/reports", requireToken({ issuer: "https://auth.example.com", audience: "https://api.example.com", scopes: ["read"] }), handler);
 *
 * Local verification checks signature, `typ`, `alg`, `kid`, `exp`, `iss`, `aud` and scopes. It cannot see a
 * revocation, a disabled client or `revoke-tokens`; where those must take effect before the token expires,
 * call keymint's introspection endpoint instead (see README "Resource servers").
 */

export type { AccessTokenClaims } from "../jwt/claims.ts";
export {
  bearerChallenge,
  type RequireTokenOptions,
  requireToken,
  type TokenVariables,
  verifyAccessToken,
} from "./require-token.ts";
