/** The Worker's bindings: those in wrangler.toml (generated `Env`) plus optional ones an operator may add. */

export interface KeymintEnv extends Env {
  /** Retired-but-still-valid HMAC keys, one per line (see README "Signing key rotation"). */
  TOKEN_VERIFICATION_KEYS?: string;
  /** A private JWK (ES256, EdDSA or RS256) that signs access tokens instead of TOKEN_SIGNING_KEY. */
  TOKEN_SIGNING_JWK?: string;
  /** A JWKS of retired (or upcoming) key-pair keys whose tokens are still accepted and whose public parts are published. */
  TOKEN_VERIFICATION_JWKS?: string;
  /** Space-separated scopes to advertise in the metadata (`scopes_supported`). */
  SCOPES_SUPPORTED?: string;
  /** `off` silences the per-request audit log. */
  AUDIT_LOG?: string;
  /** Seconds KV's edge cache may keep a client record (`cacheTtl`, >= 30). */
  KV_CACHE_TTL?: string;
  /** Milliseconds before a KV read counts as failed (503 temporarily_unavailable). */
  KV_TIMEOUT_MS?: string;
  /** Space-separated IPv4/IPv6 CIDRs of trusted sources that failed-authentication throttling ignores. */
  THROTTLE_EXEMPT_CIDRS?: string;
}
