/** OAuth 2.0 error type (RFC 6749 §5.2, §4.1.2.1, RFC 7009 §2.2.1, RFC 8707 §2, RFC 8628 §3.5, RFC 9449 §5, §8). */

/** Error codes keymint puts on the wire; every one is registered with IANA. */
export type OAuthErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "invalid_grant"
  | "unauthorized_client"
  | "unsupported_grant_type"
  | "unsupported_response_type"
  | "invalid_scope"
  | "invalid_target"
  | "unsupported_token_type"
  | "slow_down"
  | "invalid_dpop_proof"
  | "use_dpop_nonce"
  | "server_error"
  | "temporarily_unavailable";

const DEFAULT_STATUS: Record<OAuthErrorCode, number> = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  unsupported_response_type: 400,
  invalid_scope: 400,
  invalid_target: 400,
  unsupported_token_type: 400,
  slow_down: 429,
  invalid_dpop_proof: 400,
  use_dpop_nonce: 400,
  server_error: 500,
  temporarily_unavailable: 503,
};

export interface OAuthErrorOptions {
  /** HTTP status; derived from the code when omitted. */
  status?: number;
  /** Send `WWW-Authenticate: Basic` (RFC 6749 §5.2: the client used the Authorization header). */
  challenge?: boolean;
  /** Methods for the `Allow` header of a 405. */
  allow?: string;
  /** Seconds for `Retry-After` (429, 503). */
  retryAfter?: number;
  /** Private detail for logs; never sent to the client. */
  detail?: string;
  /** A fresh nonce for the `DPoP-Nonce` header (RFC 9449 §8). */
  dpopNonce?: string;
}

/**
 * An OAuth error response. Pure code throws it; `src/http/errors.ts` is the only place that renders it.
 * `description` goes on the wire, `detail` only to logs.
 */
export class OAuthError extends Error {
  readonly code: OAuthErrorCode;
  readonly description: string;
  readonly status: number;
  readonly challenge: boolean;
  readonly allow: string | undefined;
  readonly retryAfter: number | undefined;
  readonly detail: string | undefined;
  readonly dpopNonce: string | undefined;

  constructor(code: OAuthErrorCode, description: string, options: OAuthErrorOptions = {}) {
    super(`${code}: ${description}`);
    this.name = "OAuthError";
    this.code = code;
    this.description = description;
    this.status = options.status ?? DEFAULT_STATUS[code];
    this.challenge = options.challenge ?? false;
    this.allow = options.allow;
    this.retryAfter = options.retryAfter;
    this.detail = options.detail;
    this.dpopNonce = options.dpopNonce;
  }
}

/** The one wire description for every client-authentication failure (unknown, wrong, disabled, missing). */
export const INVALID_CLIENT_DESCRIPTION = "Client authentication failed";

/**
 * RFC 6749 §5.2 `invalid_client`. Every cause yields the same status, body and headers; only `detail`
 * (logged, never sent) tells them apart, so the response cannot be used to probe for client ids.
 */
export function invalidClient(detail: string, challenge: boolean): OAuthError {
  return new OAuthError("invalid_client", INVALID_CLIENT_DESCRIPTION, { challenge, detail });
}

/** RFC 6749 §5.2 `invalid_request`. */
export function invalidRequest(description: string, options?: OAuthErrorOptions): OAuthError {
  return new OAuthError("invalid_request", description, options);
}

/** A server-side fault the operator must fix; the description stays generic on the wire. */
export function serverError(detail: string): OAuthError {
  return new OAuthError("server_error", "The authorization server encountered an internal error", {
    detail,
  });
}

/** The registry (KV) failed or timed out: RFC 6749 §4.1.2.1 `temporarily_unavailable` with 503. */
export function temporarilyUnavailable(detail: string, retryAfter = 5): OAuthError {
  return new OAuthError("temporarily_unavailable", "The authorization server is temporarily unavailable, retry later", {
    retryAfter,
    detail,
  });
}
