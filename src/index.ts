/** Worker entry point. */

import { fetch } from "./app.ts";
import type { KeymintEnv } from "./env.ts";

export default {
  fetch,
} satisfies ExportedHandler<KeymintEnv>;
