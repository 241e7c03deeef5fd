/** `update`: change a client's settings, or replace its keys (JWKS, JWKS URL or federation). */

import { setClientKeys, updateClient } from "../../src/clients/lifecycle.ts";
import type { CommandSpec } from "../command.ts";
import {
  applyClaimEdits,
  assertImportable,
  CLAIM_OPTIONS,
  claimEditsFrom,
  HELP_CLAIMS,
  HELP_KEYS,
  HELP_SETTINGS,
  jwksOf,
  KEY_OPTIONS,
  keysFrom,
  SETTINGS_OPTIONS,
  settingsFrom,
} from "../options.ts";
import { mutate } from "../records.ts";
import { CliError } from "../registry.ts";

export const update: CommandSpec = {
  usage:
    "update ID [settings] [--claim NAME=VALUE … | --claims-file FILE | --no-claims] [--jwks FILE | --jwks-uri URL | --federated-issuer URL --federated-subject SUB]",
  summary: "change a client's settings or claims, or replace its keys (a secret client given keys loses its secrets)",
  options: { ...SETTINGS_OPTIONS, ...CLAIM_OPTIONS, claims: { type: "boolean" }, ...KEY_OPTIONS },
  positionals: 1,
  help: [HELP_SETTINGS, HELP_CLAIMS, HELP_KEYS],
  async run(ctx) {
    const settings = settingsFrom(ctx.values, true);
    const claimEdits = await claimEditsFrom(ctx.values, true);
    const keys = await keysFrom(ctx.values);
    if (Object.keys(settings).length === 0 && claimEdits === undefined && keys === undefined) {
      throw new CliError("nothing to update: give at least one setting (see --help)");
    }
    if (keys !== undefined && "jwks" in keys) await assertImportable(jwksOf(keys.jwks));
    await mutate(
      ctx,
      (record) => {
        if (keys !== undefined && record.token_endpoint_auth_method === "client_secret_basic") {
          process.stderr.write(
            `warning: client ${record.client_id} now authenticates with private_key_jwt; its secrets no longer work\n`,
          );
        }
        if (claimEdits !== undefined) settings.claims = applyClaimEdits(record.claims, claimEdits);
        const updated = updateClient(record, settings, ctx.now);
        return keys === undefined ? updated : setClientKeys(updated, keys, ctx.now);
      },
      (r) => `updated client ${r.client_id}`,
    );
  },
};
