/**
 * The Worker's bindings: those in wrangler.toml (the generated `Env`: bindings, `[vars]` and the required
 * secrets declared in .dev.vars.example) plus the optional secrets of src/settings.ts.
 */

import type { OptionalSecret } from "./settings.ts";

export interface KeymintEnv extends Env, Partial<Record<OptionalSecret, string>> {}
