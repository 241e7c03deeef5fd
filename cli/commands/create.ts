/**
 * `create`: register a client with a generated (or imported) secret, or with keys or a TLS client certificate
 * and no secret at all.
 */

import { type ClientSettings, newKeyClientRecord, newMtlsClientRecord } from "../../src/clients/lifecycle.ts";
import { isValidClientId, toPublic } from "../../src/clients/record.ts";
import { recordForNewClient } from "../../src/clients/register.ts";
import { generateClientId, generateSecret } from "../../src/clients/secrets.ts";
import type { CommandSpec } from "../command.ts";
import {
  applyClaimEdits,
  assertImportable,
  CLAIM_OPTIONS,
  claimEditsFrom,
  durationOption,
  expiryFrom,
  HELP_CLAIMS,
  HELP_KEYS,
  HELP_MTLS,
  HELP_SETTINGS,
  KEY_OPTIONS,
  keysFrom,
  MTLS_OPTIONS,
  mtlsFrom,
  readSecretOption,
  SETTINGS_OPTIONS,
  settingsFrom,
  str,
} from "../options.ts";
import { assertFree, save } from "../records.ts";
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
    const clientId = str(values, "client-id") ?? generateClientId();
    if (!isValidClientId(clientId)) {
      throw new CliError("--client-id must be 1 to 200 printable ASCII characters without spaces");
    }
    const keys = await keysFrom(values);
    const mtls = await mtlsFrom(values, now);
    const named = settings as ClientSettings & { name: string };
    if (mtls !== undefined) {
      if (keys !== undefined)
        throw new CliError("a client uses keys (--jwks…) or a TLS certificate (--tls-…), not both");
      if (values["client-secret"] !== undefined || values["secret-expires-in"] !== undefined) {
        throw new CliError("a client with --tls-subject-dn, --tls-san-* or --tls-certificate has no secret");
      }
      const record = newMtlsClientRecord({ clientId, mtls, enabled: values.disabled !== true, settings: named }, now);
      await assertFree(ctx.registry, clientId);
      await save(ctx.registry, record);
      ctx.out(JSON.stringify(toPublic(record), null, 2));
      return;
    }
    if (keys !== undefined) {
      if (values["client-secret"] !== undefined || values["secret-expires-in"] !== undefined) {
        throw new CliError("a client with --jwks, --jwks-uri or --federated-issuer has no secret");
      }
      const record = newKeyClientRecord({ clientId, keys, enabled: values.disabled !== true, settings: named }, now);
      await assertImportable(record.jwks);
      await assertFree(ctx.registry, clientId);
      await save(ctx.registry, record);
      ctx.out(JSON.stringify(toPublic(record), null, 2));
      return;
    }
    const imported = await readSecretOption(values, "client-secret");
    const secret = imported ?? generateSecret();
    await assertFree(ctx.registry, clientId);
    const record = await recordForNewClient(
      {
        clientId,
        secret,
        secretExpiresAt: expiryFrom(now, durationOption(values, "secret-expires-in")),
        enabled: values.disabled !== true,
        settings: named,
      },
      now,
    );
    await save(ctx.registry, record);
    const expiresAt = record.secrets[0]?.expires_at ?? null;
    const output = Object.assign(
      { client_id: clientId, client_secret: secret, client_secret_expires_at: expiresAt ?? 0 },
      toPublic(record),
    );
    ctx.out(JSON.stringify(output, null, 2));
  },
};
