/** `update`: change a client's settings, or replace its keys (JWKS, JWKS URL or federation). */

import type { CommandSpec } from "../command.ts";
import {
  fieldsOf,
  HELP_KEYS,
  HELP_SETTINGS,
  KEY_OPTIONS,
  keyFieldsOf,
  keysFrom,
  SETTINGS_OPTIONS,
  settingsFrom,
} from "../options.ts";
import { CliError } from "../registry.ts";

export const update: CommandSpec = {
  usage: "update ID [settings] [--jwks FILE | --jwks-uri URL | --federated-issuer URL --federated-subject SUB]",
  summary: "change a client's settings, or replace its keys (a secret client given keys loses its secrets)",
  options: { ...SETTINGS_OPTIONS, ...KEY_OPTIONS },
  positionals: 1,
  help: [HELP_SETTINGS, HELP_KEYS],
  async run(ctx) {
    const id = ctx.positionals[0] as string;
    const settings = settingsFrom(ctx.values, true);
    const keys = await keysFrom(ctx.values);
    if (Object.keys(settings).length === 0 && keys === undefined) {
      throw new CliError("nothing to update: give at least one setting (see --help)");
    }
    const patch = { ...fieldsOf(settings), ...(keys === undefined ? {} : keyFieldsOf(keys)) };
    // New keys turn a secret client into a key client: read it first to warn, and change only that version.
    const before = keys === undefined ? undefined : await ctx.ops.show(id);
    const { value } = await ctx.ops.update(id, patch, before?.etag);
    if (before?.value.token_endpoint_auth_method === "client_secret_basic") {
      process.stderr.write(
        `warning: client ${id} now authenticates with private_key_jwt; its secrets no longer work\n`,
      );
    }
    ctx.out(ctx.json ? JSON.stringify(value, null, 2) : `updated client ${value.client_id}`);
  },
};
