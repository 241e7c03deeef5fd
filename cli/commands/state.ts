/** `disable`, `enable`, `revoke-tokens` and `delete`: a client's state, one write each. */

import { revokeTokensBefore, setEnabled } from "../../src/clients/lifecycle.ts";
import type { CommandSpec } from "../command.ts";
import { loadRaw, mutate } from "../records.ts";

export const disable: CommandSpec = {
  usage: "disable ID",
  summary: "refuse the client's authentication (tokens already issued stay valid until revoke-tokens)",
  options: {},
  positionals: 1,
  run: (ctx) =>
    mutate(
      ctx,
      (r) => setEnabled(r, false, ctx.now),
      (r) => `disabled client ${r.client_id}`,
    ),
};

export const enable: CommandSpec = {
  usage: "enable ID",
  summary: "accept the client's authentication again",
  options: {},
  positionals: 1,
  run: (ctx) =>
    mutate(
      ctx,
      (r) => setEnabled(r, true, ctx.now),
      (r) => `enabled client ${r.client_id}`,
    ),
};

export const revokeTokens: CommandSpec = {
  usage: "revoke-tokens ID",
  summary: "revoke every token issued to the client until now (introspection reports them inactive)",
  options: {},
  positionals: 1,
  run: (ctx) =>
    mutate(
      ctx,
      (r) => revokeTokensBefore(r, ctx.now),
      (r) => `revoked every token of client ${r.client_id} issued up to now`,
    ),
};

export const deleteClient: CommandSpec = {
  usage: "delete ID",
  summary: "delete a client (its tokens become inactive at introspection)",
  options: {},
  positionals: 1,
  async run(ctx) {
    const id = ctx.positionals[0] as string;
    await loadRaw(ctx.registry, id);
    await ctx.registry.delete(id);
    ctx.out(ctx.json ? JSON.stringify({ client_id: id, deleted: true }) : `deleted client ${id}`);
  },
};
