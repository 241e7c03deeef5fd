/** Reading and writing client records through a registry, with operator-friendly errors. */

import { type ClientRecord, isValidClientId, parseRecord, RecordError, toPublic } from "../src/clients/record.ts";
import type { CommandContext } from "./command.ts";
import { CliError, type Registry } from "./registry.ts";

/** Parses a stored value; a corrupt one is a `CliError` that says how to recover. */
export function decode(id: string, raw: string): ClientRecord {
  try {
    return parseRecord(JSON.parse(raw), id);
  } catch (err) {
    const reason = err instanceof RecordError ? err.message : "value is not JSON";
    throw new CliError(
      `the record of client "${id}" is corrupt (${reason}); delete it with \`delete ${id}\` and re-create or re-import the client`,
    );
  }
}

/** The raw stored value of a client, or a `CliError` when the id is invalid or unknown. */
export async function loadRaw(registry: Registry, id: string): Promise<string> {
  if (!isValidClientId(id)) throw new CliError(`"${id}" is not a valid client id`);
  const raw = (await registry.getMany([id])).get(id) ?? null;
  if (raw === null) throw new CliError(`no client "${id}" in the ${registry.label}`);
  return raw;
}

export async function load(registry: Registry, id: string): Promise<ClientRecord> {
  return decode(id, await loadRaw(registry, id));
}

export async function save(registry: Registry, record: ClientRecord): Promise<void> {
  await registry.put(record.client_id, JSON.stringify(record));
}

/** Refuses to create a client whose id is taken. */
export async function assertFree(registry: Registry, clientId: string): Promise<void> {
  const existing = (await registry.getMany([clientId])).get(clientId) ?? null;
  if (existing !== null) throw new CliError(`client "${clientId}" already exists in the ${registry.label}`);
}

function report(ctx: CommandContext, record: ClientRecord, message: string): void {
  ctx.out(ctx.json ? JSON.stringify(toPublic(record), null, 2) : message);
}

/** Loads the client named by the first positional, applies `change`, saves and reports it. */
export async function mutate(
  ctx: CommandContext,
  change: (r: ClientRecord) => ClientRecord,
  message: (r: ClientRecord) => string,
): Promise<void> {
  const id = ctx.positionals[0] as string;
  const next = change(await load(ctx.registry, id));
  await save(ctx.registry, next);
  report(ctx, next, message(next));
}
