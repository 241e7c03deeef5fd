/** `rotate-secret`: a new secret, with an optional grace period for the current one. */

import type { CommandSpec } from "../command.ts";
import { durationOption, expiryFrom, readSecretOption } from "../options.ts";

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
    const secret = await readSecretOption(ctx.values, "client-secret");
    const { value } = await ctx.ops.rotateSecret(id, {
      grace_seconds: grace,
      ...(secret === undefined ? {} : { client_secret: secret }),
      client_secret_expires_at: expiryFrom(ctx.now, expiresIn),
    });
    ctx.out(JSON.stringify(value, null, 2));
  },
};
