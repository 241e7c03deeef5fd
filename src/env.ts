/**
 * The Worker's bindings: those in wrangler.toml (the generated `Env`: bindings, `[vars]` and the required
 * secrets declared in .dev.vars.example) plus the optional secrets and bindings of src/settings.ts.
 */

import type { OptionalSecret } from "./settings.ts";

export interface KeymintEnv extends Env, Partial<Record<OptionalSecret, string>> {
  /** Service binding to a claims hook Worker (docs/claims.md); absent: no hook. */
  CLAIMS_HOOK?: Fetcher;
}
