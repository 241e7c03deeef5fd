/** Worker entry point. */

import { app } from "./app.ts";
import type { KeymintEnv } from "./env.ts";

export { ReplayGuard } from "./replay/guard.ts";

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<KeymintEnv>;
