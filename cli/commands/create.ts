/**
 * `create`: register a client with a generated (or imported) secret, or with keys or a TLS client certificate
 * and no secret at all.
 */

import type { NewClientInput } from "../../src/clients/operations.ts";
import { isValidClientId } from "../../src/clients/record.ts";
import type { CommandSpec } from "../command.ts";
import {
  applyClaimEdits,
  CLAIM_OPTIONS,
  claimEditsFrom,
  durationOption,
  expiryFrom,
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
  readSecretOption,
  SETTINGS_OPTIONS,
  settingsFrom,
  str,
} from "../options.ts";
import { CliError } from "../registry.ts";

export const create: CommandSpec = {
  usage:
    "create --name NAME [--client-id ID] [--client-secret SECRET|- | --jwks FILE | --jwks-uri URL | --federated-issuer URL --federated-subject SUB | --tls-subject-dn DN | --tls-san-* VALUE | --tls-certificate FILE.pem] [settings]",
  summary:
    "register a client; prints its id and secret (the only time the secret is shown), or only its id for a key or mTLS client",
  options: {
    ...SETTINGS_OPTIONS,
    ...CLAIM_OPTIONS,
    ...KEY_OPTIONS,
    ...MTLS_OPTIONS,
    "client-id": { type: "string" },
    "client-secret": { type: "string" },
    "secret-expires-in": { type: "string" },
    "introspect-only": { type: "boolean" },
    disabled: { type: "boolean" },
  },
  positionals: 0,
  help: [HELP_SETTINGS, HELP_CLAIMS, HELP_KEYS, HELP_MTLS],
  async run(ctx) {
    const { values, now } = ctx;
    const settings = settingsFrom(values, false);
    if (settings.name === undefined) throw new CliError("--name is required");
    const claimEdits = await claimEditsFrom(values, false);
    if (claimEdits !== undefined) settings.claims = applyClaimEdits({}, claimEdits);
    if (values["introspect-only"] === true) {
      settings.tokenGrant = false;
      settings.canIntrospect = true;
    }
    const clientId = str(values, "client-id");
    if (clientId !== undefined && !isValidClientId(clientId)) {
      throw new CliError("--client-id must be 1 to 200 printable ASCII characters without spaces");
    }
    const keys = await keysFrom(values);
    const mtls = await mtlsFrom(values, now);
    const input: NewClientInput = { ...fieldsOf(settings), name: settings.name };
    if (clientId !== undefined) input.client_id = clientId;
    if (values.disabled === true) input.enabled = false;
    if (mtls !== undefined) {
      if (keys !== undefined)
        throw new CliError("a client uses keys (--jwks…) or a TLS certificate (--tls-…), not both");
      if (values["client-secret"] !== undefined || values["secret-expires-in"] !== undefined) {
        throw new CliError("a client with --tls-subject-dn, --tls-san-* or --tls-certificate has no secret");
      }
      Object.assign(input, mtlsFieldsOf(mtls));
    } else if (keys !== undefined) {
      if (values["client-secret"] !== undefined || values["secret-expires-in"] !== undefined) {
        throw new CliError("a client with --jwks, --jwks-uri or --federated-issuer has no secret");
      }
      Object.assign(input, keyFieldsOf(keys));
    } else {
      const imported = await readSecretOption(values, "client-secret");
      if (imported !== undefined) input.client_secret = imported;
      const expiresAt = expiryFrom(now, durationOption(values, "secret-expires-in"));
      if (expiresAt !== null) input.client_secret_expires_at = expiresAt;
    }
    const { value } = await ctx.ops.create(input);
    ctx.out(JSON.stringify(value, null, 2));
  },
};
