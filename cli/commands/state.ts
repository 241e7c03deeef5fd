/** `disable`, `enable`, `revoke-tokens` and `delete`: a client's state, one write each. */

import type { PublicClient } from "../../src/clients/record.ts";
import type { CommandContext, CommandSpec } from "../command.ts";

function report(ctx: CommandContext, client: PublicClient, message: string): void {
  ctx.out(ctx.json ? JSON.stringify(client, null, 2) : message);
}

export const disable: CommandSpec = {
  usage: "disable ID",
  summary: "refuse the client's authentication (tokens already issued stay valid until revoke-tokens)",
  options: {},
  positionals: 1,
  async run(ctx) {
    const { value } = await ctx.ops.setEnabled(ctx.positionals[0] as string, false);
    report(ctx, value, `disabled client ${value.client_id}`);
  },
};

export const enable: CommandSpec = {
  usage: "enable ID",
  summary: "accept the client's authentication again",
  options: {},
  positionals: 1,
  async run(ctx) {
    const { value } = await ctx.ops.setEnabled(ctx.positionals[0] as string, true);
    report(ctx, value, `enabled client ${value.client_id}`);
  },
};

export const revokeTokens: CommandSpec = {
  usage: "revoke-tokens ID",
  summary: "revoke every token issued to the client until now (introspection reports them inactive)",
  options: {},
  positionals: 1,
  async run(ctx) {
    const { value } = await ctx.ops.revokeTokens(ctx.positionals[0] as string);
    report(ctx, value, `revoked every token of client ${value.client_id} issued up to now`);
  },
};

export const deleteClient: CommandSpec = {
  usage: "delete ID",
  summary: "delete a client (its tokens become inactive at introspection)",
  options: {},
  positionals: 1,
  async run(ctx) {
    const id = ctx.positionals[0] as string;
    await ctx.ops.delete(id);
    ctx.out(ctx.json ? JSON.stringify({ client_id: id, deleted: true }) : `deleted client ${id}`);
  },
};
