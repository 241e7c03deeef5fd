/** JWT access-token claims (RFC 9068 §2.2). */

import { isObject } from "./jwk.ts";

export interface AccessTokenClaims {
  iss: string;
  /** The client id: for the client credentials grant the client is the subject (RFC 9068 §2.2). */
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  jti: string;
  client_id: string;
  /** Space-separated granted scopes; absent when none was granted. */
  scope?: string;
  /**
   * Confirmation (RFC 7800), one member: a DPoP-bound token carries the RFC 7638 thumbprint of the client's key
   * (`jkt`, RFC 9449 §6.1), a certificate-bound one the SHA-256 thumbprint of its TLS client certificate
   * (`x5t#S256`, RFC 8705 §3.1).
   */
  cnf?: Confirmation;
}

export type Confirmation = { jkt: string; "x5t#S256"?: undefined } | { "x5t#S256": string; jkt?: undefined };

const X5T_S256 = /^[A-Za-z0-9_-]{43}$/;

/** A `cnf` keymint issues: an object with exactly one of `jkt` (non-empty) and `x5t#S256` (a SHA-256 thumbprint). */
function isConfirmation(cnf: unknown): boolean {
  if (!isObject(cnf)) return false;
  const { jkt, "x5t#S256": x5t } = cnf;
  if (jkt !== undefined) return x5t === undefined && typeof jkt === "string" && jkt.length > 0;
  return typeof x5t === "string" && X5T_S256.test(x5t);
}

/**
 * Verified access-token claims as an API sees them: keymint's own, plus the client's extra claims (static claims and
 * those of the claims hook, docs/claims.md) as `unknown` values for the handler to check.
 */
export type TokenClaims = AccessTokenClaims & { readonly [claim: string]: unknown };

/** Narrows a decoded payload to access-token claims; `null` when any required claim is missing or mistyped. */
export function asAccessTokenClaims(value: unknown): AccessTokenClaims | null {
  if (!isObject(value)) return null;
  const { iss, sub, aud, exp, iat, jti, client_id: clientId, scope } = value;
  if (typeof iss !== "string" || typeof sub !== "string" || typeof jti !== "string") return null;
  if (typeof clientId !== "string") return null;
  if (!Number.isSafeInteger(exp) || !Number.isSafeInteger(iat)) return null;
  const audOk =
    typeof aud === "string" || (Array.isArray(aud) && aud.length > 0 && aud.every((a) => typeof a === "string"));
  if (!audOk) return null;
  if (scope !== undefined && typeof scope !== "string") return null;
  if (value.cnf !== undefined && !isConfirmation(value.cnf)) return null;
  return value as unknown as AccessTokenClaims;
}
