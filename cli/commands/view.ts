/** `list` and `show`: the registry as a table, one client in detail, or JSON. Never a hash or a salt. */

import type { ListEntry } from "../../src/clients/operations.ts";
import type { CommandSpec } from "../command.ts";
import { clientDetails, clientTable } from "../format.ts";

export const list: CommandSpec = {
  usage: "list",
  summary: "list every client (table, or --json: a JSON array of client objects)",
  options: {},
  positionals: 0,
  async run(ctx) {
    const clients: ListEntry[] = [];
    let cursor: string | undefined;
    do {
      const page = await ctx.ops.list({ cursor, limit: 1000 });
      clients.push(...page.clients);
      cursor = page.cursor;
    } while (cursor !== undefined);
    clients.sort((a, b) => (a.client_id < b.client_id ? -1 : a.client_id > b.client_id ? 1 : 0));
    if (ctx.json) ctx.out(JSON.stringify(clients, null, 2));
    else ctx.out(clients.length === 0 ? `no clients in the ${ctx.ops.label}` : clientTable(clients, ctx.now));
  },
};

export const show: CommandSpec = {
  usage: "show ID",
  summary: "show one client",
  options: {},
  positionals: 1,
  async run(ctx) {
    const { value } = await ctx.ops.show(ctx.positionals[0] as string);
    ctx.out(ctx.json ? JSON.stringify(value, null, 2) : clientDetails(value, ctx.now));
  },
};
