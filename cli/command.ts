/** What every clients-CLI command is given and declares: parsed options, the client manager, the clock, output. */

import type { ClientManager } from "../src/clients/operations.ts";

export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface CommandContext {
  values: Values;
  positionals: string[];
  /** The registry's operations, whichever driver serves them: local, remote (wrangler kv) or `--api`. */
  ops: ClientManager;
  now: number;
  json: boolean;
  out(text: string): void;
}

export type OptionSpec = Record<string, { type: "string" | "boolean"; multiple?: boolean; short?: string }>;

export interface CommandSpec {
  usage: string;
  summary: string;
  options: OptionSpec;
  positionals: number;
  /** Extra help text shown by `<command> --help` (the settings and key options). */
  help?: readonly string[];
  run(ctx: CommandContext): Promise<void>;
}
