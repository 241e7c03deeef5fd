/** Whether an access token is active (RFC 7662 §2.2), decided purely from its claims and facts about it. */

import { type ClientRecord, TTL_MAX } from "../clients/record.ts";
import type { AccessTokenClaims, Confirmation } from "../jwt/claims.ts";
import { extraClaimsOf } from "./claims.ts";

/** Seconds of clock skew tolerated for `iat` in the future. */
export const CLOCK_LEEWAY = 60;

export type InactiveReason =
  | "malformed"
  | "unsupported_alg"
  | "wrong_typ"
  | "unknown_kid"
  | "bad_signature"
  | "bad_claims"
  | "expired"
  | "issued_in_future"
  | "lifetime_too_long"
  | "wrong_issuer"
  | "client_unknown"
  | "client_disabled"
  | "client_tokens_revoked"
  | "revoked";

export interface TokenFacts {
  claims: AccessTokenClaims;
  /** The current issuer; a token from another issuer is not ours to vouch for. */
  issuer: string;
  /** Unix seconds. */
  now: number;
  /** The token's client as registered now, or `null` when it no longer exists. */
  client: ClientRecord | null;
  /** The token's `jti` has been revoked (RFC 7009). */
  revoked: boolean;
}

/**
 * The time rules of a keymint access token, shared by introspection and the resource-server kit: not expired
 * (`exp` with `expLeeway` seconds of skew), not issued in the future (`iat`, `iatLeeway`), and no longer-lived
 * than keymint ever issues (a token living longer than TTL_MAX was forged with a leaked key).
 */
export function accessTokenTimeProblem(
  claims: AccessTokenClaims,
  now: number,
  leeway: { exp: number; iat: number },
): "expired" | "issued_in_future" | "lifetime_too_long" | null {
  if (claims.exp <= now - leeway.exp) return "expired";
  if (claims.iat > now + leeway.iat) return "issued_in_future";
  if (claims.exp - claims.iat > TTL_MAX) return "lifetime_too_long";
  return null;
}

/**
 * What the token alone says about its state, before anything is looked up: expired, not yet valid, longer-lived
 * than keymint ever issues, or from another issuer; `null` when it could be active.
 */
export function ownInactiveReason(
  claims: AccessTokenClaims,
  issuer: string,
  now: number,
): "expired" | "issued_in_future" | "lifetime_too_long" | "wrong_issuer" | null {
  const time = accessTokenTimeProblem(claims, now, { exp: 0, iat: CLOCK_LEEWAY });
  if (time !== null) return time;
  return claims.iss === issuer ? null : "wrong_issuer";
}

/**
 * The reason a correctly signed token is inactive, or `null` when it is active: expired, not yet valid,
 * longer-lived than keymint ever issues, foreign issuer, client deleted or disabled, all the client's tokens revoked, or this token revoked.
 */
export function inactiveReason(facts: TokenFacts): InactiveReason | null {
  const own = ownInactiveReason(facts.claims, facts.issuer, facts.now);
  if (own !== null) return own;
  if (facts.client === null) return "client_unknown";
  if (!facts.client.enabled) return "client_disabled";
  const cutoff = facts.client.tokens_revoked_before;
  if (cutoff !== null && facts.claims.iat <= cutoff) return "client_tokens_revoked";
  if (facts.revoked) return "revoked";
  return null;
}

/** RFC 7662 §2.2 response for an active token. */
export interface ActiveIntrospection {
  active: true;
  client_id: string;
  sub: string;
  scope?: string;
  aud: string | string[];
  iss: string;
  exp: number;
  iat: number;
  jti: string;
  /** `DPoP` for a DPoP-bound token (RFC 9449 §6.2), else `Bearer` (certificate-bound tokens too, RFC 8705 §3). */
  token_type: "Bearer" | "DPoP";
  /** The token's binding: `jkt` (RFC 9449 §6.2) or `x5t#S256` (RFC 8705 §3.2). */
  cnf?: Confirmation;
}

/**
 * The introspection answer for an active token: keymint's members first, then the token's extra claims (static and
 * hook claims; RFC 7662 §2.2 allows other members). Reserved names are never copied, so a claim cannot pose as
 * `active` or `token_type`.
 */
export function activeIntrospection(claims: AccessTokenClaims): ActiveIntrospection & Record<string, unknown> {
  const out: ActiveIntrospection = {
    active: true,
    client_id: claims.client_id,
    sub: claims.sub,
    aud: claims.aud,
    iss: claims.iss,
    exp: claims.exp,
    iat: claims.iat,
    jti: claims.jti,
    token_type: claims.cnf?.jkt === undefined ? "Bearer" : "DPoP",
  };
  if (claims.scope !== undefined) out.scope = claims.scope;
  const cnf = claims.cnf;
  if (cnf !== undefined) out.cnf = cnf.jkt !== undefined ? { jkt: cnf.jkt } : { "x5t#S256": cnf["x5t#S256"] };
  return Object.assign(out, extraClaimsOf(claims as unknown as Record<string, unknown>));
}
