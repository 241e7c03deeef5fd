/** `update`: change a client's settings, or replace its keys (JWKS, JWKS URL or federation) or its TLS certificate. */

import { setClientKeys, setClientMtls, updateClient } from "../../src/clients/lifecycle.ts";
import type { CommandSpec } from "../command.ts";
import {
  applyClaimEdits,
  assertImportable,
  CLAIM_OPTIONS,
  claimEditsFrom,
  HELP_CLAIMS,
  HELP_KEYS,
  HELP_MTLS,
  HELP_SETTINGS,
  jwksOf,
  KEY_OPTIONS,
  keysFrom,
  MTLS_OPTIONS,
  mtlsFrom,
  SETTINGS_OPTIONS,
  settingsFrom,
} from "../options.ts";
import { mutate } from "../records.ts";
import { CliError } from "../registry.ts";

export const update: CommandSpec = {
  usage:
    "update ID [settings] [--claim NAME=VALUE … | --claims-file FILE | --no-claims] [--jwks FILE | --jwks-uri URL | --federated-issuer URL --federated-subject SUB | --tls-subject-dn DN | --tls-san-* VALUE | --tls-certificate FILE.pem]",
  summary:
    "change a client's settings or claims, or replace its keys or TLS certificate (a secret client given either loses its secrets)",
  options: { ...SETTINGS_OPTIONS, ...CLAIM_OPTIONS, claims: { type: "boolean" }, ...KEY_OPTIONS, ...MTLS_OPTIONS },
  positionals: 1,
  help: [HELP_SETTINGS, HELP_CLAIMS, HELP_KEYS, HELP_MTLS],
  async run(ctx) {
    const settings = settingsFrom(ctx.values, true);
    const claimEdits = await claimEditsFrom(ctx.values, true);
    const keys = await keysFrom(ctx.values);
    const mtls = await mtlsFrom(ctx.values, ctx.now);
    if (keys !== undefined && mtls !== undefined) {
      throw new CliError("a client uses keys (--jwks…) or a TLS certificate (--tls-…), not both");
    }
    if (Object.keys(settings).length === 0 && claimEdits === undefined && keys === undefined && mtls === undefined) {
      throw new CliError("nothing to update: give at least one setting (see --help)");
    }
    if (keys !== undefined && "jwks" in keys) await assertImportable(jwksOf(keys.jwks));
    await mutate(
      ctx,
      (record) => {
        const method = keys !== undefined ? "private_key_jwt" : mtls?.token_endpoint_auth_method;
        if (method !== undefined && method !== record.token_endpoint_auth_method) {
          const lost = record.token_endpoint_auth_method === "client_secret_basic" ? "secrets" : "previous credentials";
          process.stderr.write(
            `warning: client ${record.client_id} now authenticates with ${method}; its ${lost} no longer work\n`,
          );
        }
        if (claimEdits !== undefined) settings.claims = applyClaimEdits(record.claims, claimEdits);
        const updated = updateClient(record, settings, ctx.now);
        if (keys !== undefined) return setClientKeys(updated, keys, ctx.now);
        return mtls === undefined ? updated : setClientMtls(updated, mtls, ctx.now);
      },
      (r) => `updated client ${r.client_id}`,
    );
  },
};
