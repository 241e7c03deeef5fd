/** `update`: change a client's settings, or replace its keys (JWKS, JWKS URL or federation) or its TLS certificate. */

import { type ClientFields, mergePatchFor } from "../../src/clients/operations.ts";
import type { CommandSpec } from "../command.ts";
import {
  applyClaimEdits,
  CLAIM_OPTIONS,
  claimEditsFrom,
  fieldsOf,
  HELP_CLAIMS,
  HELP_KEYS,
  HELP_MTLS,
  HELP_SETTINGS,
  KEY_OPTIONS,
  keyFieldsOf,
  keysFrom,
  MTLS_OPTIONS,
  mtlsFieldsOf,
  mtlsFrom,
  SETTINGS_OPTIONS,
  settingsFrom,
} from "../options.ts";
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
    const id = ctx.positionals[0] as string;
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
    const patch: ClientFields = {
      ...fieldsOf(settings),
      ...(keys === undefined ? {} : keyFieldsOf(keys)),
      ...(mtls === undefined ? {} : mtlsFieldsOf(mtls)),
    };
    // Claim edits and new credentials depend on the current client: read it first, and change only that version.
    const before =
      keys === undefined && mtls === undefined && claimEdits === undefined ? undefined : await ctx.ops.show(id);
    if (claimEdits !== undefined && before !== undefined) {
      const current = before.value.claims;
      patch.claims = mergePatchFor(current, applyClaimEdits(current, claimEdits));
    }
    const { value } = await ctx.ops.update(id, patch, before?.etag);
    const method = value.token_endpoint_auth_method;
    const was = before?.value.token_endpoint_auth_method;
    if (method !== undefined && was !== undefined && method !== was) {
      const lost = was === "client_secret_basic" ? "secrets" : "previous credentials";
      process.stderr.write(`warning: client ${id} now authenticates with ${method}; its ${lost} no longer work\n`);
    }
    ctx.out(ctx.json ? JSON.stringify(value, null, 2) : `updated client ${value.client_id}`);
  },
};
