/**
 * The one list of keymint's settings besides its bindings: the Worker's typing (src/env.ts) and defaults
 * (src/config.ts), `npm start`'s summary, the test pool, and the tests that keep wrangler.toml,
 * .dev.vars.example and the README in step all read it. Adding an optional secret is one line here.
 */

/** Secrets the Worker cannot run without: `wrangler secret put` when deployed, `.dev.vars` locally. */
export const REQUIRED_SECRETS = ["TOKEN_SIGNING_KEY"] as const;

/**
 * Optional secrets, set the same ways. Never a `[vars]` entry: `wrangler secret put` of a name that is a var
 * fails on deploy.
 */
export const OPTIONAL_SECRETS = ["TOKEN_VERIFICATION_KEYS", "TOKEN_SIGNING_JWK", "TOKEN_VERIFICATION_JWKS"] as const;

/**
 * Every var with its default, exactly as in wrangler.toml `[vars]`. Locally a var may also be set in
 * `.dev.vars` or with `npm start -- --var NAME:VALUE`.
 */
export const VAR_DEFAULTS = {
  ISSUER: "",
  DEFAULT_TOKEN_TTL: "3600",
  DEFAULT_AUDIENCE: "",
  CLIENT_CACHE_TTL: "10",
  KV_CACHE_TTL: "60",
  KV_TIMEOUT_MS: "3000",
  SCOPES_SUPPORTED: "",
  AUDIT_LOG: "on",
  THROTTLE_EXEMPT_CIDRS: "",
  DPOP_NONCE: "off",
  CLAIMS_HOOK_TIMEOUT_MS: "100",
  CLAIMS_HOOK_FAILURE: "closed",
} as const satisfies Record<string, string>;

/**
 * Optional bindings: not in wrangler.toml by default (a service binding to a Worker that does not exist makes
 * `wrangler deploy` fail), so they are typed in src/env.ts and documented with the settings.
 */
export const OPTIONAL_BINDINGS = ["CLAIMS_HOOK"] as const;

export type OptionalSecret = (typeof OPTIONAL_SECRETS)[number];
export type VarName = keyof typeof VAR_DEFAULTS;

/** Every name keymint reads from a secret or a var. */
export const SETTING_NAMES: readonly string[] = [
  ...REQUIRED_SECRETS,
  ...OPTIONAL_SECRETS,
  ...Object.keys(VAR_DEFAULTS),
];
