/**
 * Claims rules for JWTs that authenticate a client (RFC 7521 §4.2, RFC 7523 §3, draft-ietf-oauth-rfc7523bis):
 * the client's own signed assertion (private_key_jwt) and an outside issuer's token (federated workload
 * identity). Pure: the signature is checked before, by src/jwt/verify.ts; `now` is passed in.
 */

import { typIs } from "../jwt/verify.ts";

/** `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2). */
export const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/** Longest lifetime (`exp` − `iat`, or `exp` − now) of a private_key_jwt assertion, in seconds. */
export const ASSERTION_MAX_LIFETIME = 300;
/** Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds. */
export const ASSERTION_LEEWAY = 30;
/** Longest `jti` accepted. */
export const JTI_MAX = 256;

/** Why a correctly signed JWT does not authenticate the client; for logs only. */
export type AssertionClaimFailure =
  | "assertion_no_exp"
  | "assertion_expired"
  | "assertion_not_yet_valid"
  | "assertion_issued_in_future"
  | "assertion_lifetime_too_long"
  | "assertion_wrong_issuer"
  | "assertion_wrong_subject"
  | "assertion_wrong_audience"
  | "assertion_no_jti";

/**
 * `typ` values accepted on a client's own assertion: none, `JWT`, or the explicit
 * `client-authentication+jwt` of draft-ietf-oauth-rfc7523bis. Anything else (an access token `at+jwt`, a DPoP
 * proof `dpop+jwt`, an ID token's or logout token's type) is another kind of JWT and is refused.
 */
export function isAssertionTyp(typ: unknown): boolean {
  return typ === undefined || typIs(typ, "jwt") || typIs(typ, "client-authentication+jwt");
}

/** `typ` values accepted on an outside issuer's token: none or `JWT` (GitHub, GitLab and Kubernetes tokens). */
export function isFederatedTyp(typ: unknown): boolean {
  return typ === undefined || typIs(typ, "jwt");
}

function isTime(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

/** `exp` required and in the future, `nbf` and `iat` (when present) not in the future, with ASSERTION_LEEWAY. */
function timeFailure(payload: Record<string, unknown>, now: number): AssertionClaimFailure | null {
  const { exp, nbf, iat } = payload;
  if (!isTime(exp)) return "assertion_no_exp";
  if (exp <= now - ASSERTION_LEEWAY) return "assertion_expired";
  if (nbf !== undefined && (!isTime(nbf) || nbf > now + ASSERTION_LEEWAY)) return "assertion_not_yet_valid";
  if (iat !== undefined && (!isTime(iat) || iat > now + ASSERTION_LEEWAY)) return "assertion_issued_in_future";
  return null;
}

export interface ClientAssertionExpectations {
  clientId: string;
  /** keymint's issuer identifier (RFC 8414), the preferred `aud`. */
  issuer: string;
  /** The token endpoint URL, also accepted as `aud` (RFC 7523 §3). */
  tokenEndpoint: string;
  /** Unix seconds. */
  now: number;
}

function audienceMatches(aud: unknown, accepted: readonly string[]): boolean {
  if (typeof aud === "string") return accepted.includes(aud);
  return Array.isArray(aud) && aud.some((a) => typeof a === "string" && accepted.includes(a));
}

/**
 * Checks a private_key_jwt assertion's claims: `iss` = `sub` = the client id; `aud` keymint's issuer or token
 * endpoint URL (a single string equal to the issuer when the assertion is explicitly typed
 * `client-authentication+jwt`, as draft-ietf-oauth-rfc7523bis requires); `exp` required, not expired and at most
 * ASSERTION_MAX_LIFETIME ahead (and after `iat`); `nbf`/`iat` not in the future; `jti` required.
 */
export function clientAssertionFailure(
  payload: Record<string, unknown>,
  header: Record<string, unknown>,
  expect: ClientAssertionExpectations,
): AssertionClaimFailure | null {
  if (payload.iss !== expect.clientId) return "assertion_wrong_issuer";
  if (payload.sub !== expect.clientId) return "assertion_wrong_subject";
  const explicit = typIs(header.typ, "client-authentication+jwt");
  const audOk = explicit
    ? payload.aud === expect.issuer
    : audienceMatches(payload.aud, [expect.issuer, expect.tokenEndpoint]);
  if (!audOk) return "assertion_wrong_audience";
  const time = timeFailure(payload, expect.now);
  if (time !== null) return time;
  const { exp, iat } = payload as { exp: number; iat?: number };
  if (exp - expect.now > ASSERTION_MAX_LIFETIME + ASSERTION_LEEWAY) return "assertion_lifetime_too_long";
  if (typeof iat === "number" && exp - iat > ASSERTION_MAX_LIFETIME) return "assertion_lifetime_too_long";
  const jti = payload.jti;
  if (typeof jti !== "string" || jti.length === 0 || jti.length > JTI_MAX) return "assertion_no_jti";
  return null;
}

export interface FederatedExpectations {
  /** The registered issuer URL, compared exactly. */
  issuer: string;
  /** The registered subject, compared exactly. */
  subject: string;
  /** The required audience: the registered one, or keymint's issuer. */
  audience: string;
  now: number;
}

/**
 * Checks an outside issuer's token: `iss` and `sub` exactly the registered ones, `aud` the expected audience
 * (or an array containing it), `exp` required and not expired, `nbf`/`iat` not in the future. Its lifetime is
 * the issuer's business (Kubernetes tokens may live an hour); it is not single-use, like the platform's own.
 */
export function federatedTokenFailure(
  payload: Record<string, unknown>,
  expect: FederatedExpectations,
): AssertionClaimFailure | null {
  if (payload.iss !== expect.issuer) return "assertion_wrong_issuer";
  if (payload.sub !== expect.subject) return "assertion_wrong_subject";
  if (!audienceMatches(payload.aud, [expect.audience])) return "assertion_wrong_audience";
  return timeFailure(payload, expect.now);
}
