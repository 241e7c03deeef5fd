/** `list` and `show`: the registry as a table, one client in detail, or JSON. Never a hash or a salt. */

import { type PublicClient, toPublic } from "../../src/clients/record.ts";
import type { CommandSpec } from "../command.ts";
import { clientDetails, clientTable } from "../format.ts";
import { decode, load } from "../records.ts";

export const list: CommandSpec = {
  usage: "list",
  summary: "list every client (table, or --json: a JSON array of client objects)",
  options: {},
  positionals: 0,
  async run(ctx) {
    const ids = (await ctx.registry.listIds()).sort();
    const values = await ctx.registry.getMany(ids);
    const clients: (PublicClient | { client_id: string; error: string })[] = [];
    for (const id of ids) {
      const raw = values.get(id);
      if (raw === null || raw === undefined) continue;
      try {
        clients.push(toPublic(decode(id, raw)));
      } catch (err) {
        clients.push({ client_id: id, error: `corrupt record: ${(err as Error).message}` });
      }
    }
    if (ctx.json) ctx.out(JSON.stringify(clients, null, 2));
    else ctx.out(clients.length === 0 ? `no clients in the ${ctx.registry.label}` : clientTable(clients, ctx.now));
  },
};

export const show: CommandSpec = {
  usage: "show ID",
  summary: "show one client",
  options: {},
  positionals: 1,
  async run(ctx) {
    const record = await load(ctx.registry, ctx.positionals[0] as string);
    ctx.out(ctx.json ? JSON.stringify(toPublic(record), null, 2) : clientDetails(toPublic(record), ctx.now));
  },
};
