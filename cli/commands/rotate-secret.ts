/** `rotate-secret`: a new secret, with an optional grace period for the current one. */

import { assertSecretClient, rotateSecret } from "../../src/clients/lifecycle.ts";
import { toPublic } from "../../src/clients/record.ts";
import { generateSecret, hashSecretForRecord } from "../../src/clients/secrets.ts";
import type { CommandSpec } from "../command.ts";
import { durationOption, expiryFrom, readSecretOption } from "../options.ts";
import { load, save } from "../records.ts";

export const rotateSecretCommand: CommandSpec = {
  usage: "rotate-secret ID [--grace DURATION] [--secret-expires-in DURATION] [--client-secret SECRET|-]",
  summary: "issue a new secret; with --grace the old one stays valid that long (default: revoked at once)",
  options: {
    grace: { type: "string" },
    "secret-expires-in": { type: "string" },
    "client-secret": { type: "string" },
  },
  positionals: 1,
  async run(ctx) {
    const id = ctx.positionals[0] as string;
    const grace = durationOption(ctx.values, "grace") ?? 0;
    const expiresIn = durationOption(ctx.values, "secret-expires-in");
    const record = await load(ctx.registry, id);
    assertSecretClient(record);
    const secret = (await readSecretOption(ctx.values, "client-secret")) ?? generateSecret();
    const next = rotateSecret(
      record,
      {
        newHash: await hashSecretForRecord(secret, record.salt),
        newExpiresAt: expiryFrom(ctx.now, expiresIn),
        graceSeconds: grace,
      },
      ctx.now,
    );
    await save(ctx.registry, next);
    const old = next.secrets[1];
    const output = Object.assign(
      {
        client_id: id,
        client_secret: secret,
        client_secret_expires_at: next.secrets[0]?.expires_at ?? 0,
        previous_secret_expires_at: old === undefined ? null : old.expires_at,
      },
      toPublic(next),
    );
    ctx.out(JSON.stringify(output, null, 2));
  },
};
