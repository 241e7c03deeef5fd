/** `import`: clients with existing ids and secrets from a JSON array (migrations); all validated before any write. */

import { readFile } from "node:fs/promises";
import { type ClientSettings, LifecycleError } from "../../src/clients/lifecycle.ts";
import { type ClientRecord, isValidClientId, toPublic } from "../../src/clients/record.ts";
import { recordForNewClient } from "../../src/clients/register.ts";
import { secretWeakness } from "../../src/clients/secrets.ts";
import type { CommandSpec } from "../command.ts";
import { IMPORTED_SECRET_WARNING } from "../options.ts";
import { CliError } from "../registry.ts";

const IMPORT_FIELDS = new Set([
  "client_id",
  "client_secret",
  "name",
  "scope",
  "scopes",
  "audience",
  "audiences",
  "ttl",
  "can_introspect",
  "enabled",
  "client_secret_expires_at",
  "quota_per_minute",
  "claims",
]);

async function prepareImport(entries: unknown, now: number): Promise<ClientRecord[]> {
  if (!Array.isArray(entries)) throw new CliError("the import file must hold a JSON array of clients");
  const seen = new Set<string>();
  const records: ClientRecord[] = [];
  for (const [i, entry] of entries.entries()) {
    const where = `entry ${i}`;
    if (typeof entry !== "object" || entry === null || Array.isArray(entry))
      throw new CliError(`${where}: not a JSON object`);
    const e = entry as Record<string, unknown>;
    const unknown = Object.keys(e).find((k) => !IMPORT_FIELDS.has(k));
    if (unknown !== undefined) throw new CliError(`${where}: unknown field "${unknown}"`);
    const id = e.client_id;
    if (typeof id !== "string" || !isValidClientId(id)) throw new CliError(`${where}: client_id is missing or invalid`);
    if (seen.has(id)) throw new CliError(`${where}: duplicate client_id "${id}" in the file`);
    seen.add(id);
    if (typeof e.client_secret !== "string") throw new CliError(`${where} (${id}): client_secret is missing`);
    const weakness = secretWeakness(e.client_secret);
    if (weakness !== null) throw new CliError(`${where} (${id}): ${weakness}`);
    const scopes = typeof e.scope === "string" ? e.scope.split(" ").filter(Boolean) : e.scopes;
    const audiences = typeof e.audience === "string" ? [e.audience] : e.audiences;
    const expires = e.client_secret_expires_at;
    if (expires !== undefined && expires !== null && !(Number.isSafeInteger(expires) && (expires as number) >= 0)) {
      throw new CliError(`${where} (${id}): client_secret_expires_at must be Unix seconds (0 = never)`);
    }
    const check = (ok: boolean, field: string) => {
      if (!ok) throw new CliError(`${where} (${id}): ${field} has the wrong type`);
    };
    check(scopes === undefined || (Array.isArray(scopes) && scopes.every((s) => typeof s === "string")), "scope(s)");
    check(
      audiences === undefined || (Array.isArray(audiences) && audiences.every((s) => typeof s === "string")),
      "audience(s)",
    );
    check(e.ttl === undefined || e.ttl === null || typeof e.ttl === "number", "ttl");
    check(e.can_introspect === undefined || typeof e.can_introspect === "boolean", "can_introspect");
    check(e.enabled === undefined || typeof e.enabled === "boolean", "enabled");
    check(e.name === undefined || typeof e.name === "string", "name");
    check(
      e.quota_per_minute === undefined || e.quota_per_minute === null || typeof e.quota_per_minute === "number",
      "quota_per_minute",
    );
    try {
      records.push(
        await recordForNewClient(
          {
            clientId: id,
            secret: e.client_secret,
            secretExpiresAt: typeof expires === "number" && expires > 0 ? expires : null,
            enabled: (e.enabled as boolean | undefined) ?? true,
            settings: {
              name: (e.name as string | undefined) ?? id,
              scopes: scopes as string[] | undefined,
              audiences: audiences as string[] | undefined,
              ttl: (e.ttl as number | null | undefined) ?? null,
              canIntrospect: e.can_introspect as boolean | undefined,
              quotaPerMinute: (e.quota_per_minute as number | null | undefined) ?? null,
              claims: e.claims,
            } as ClientSettings & { name: string },
          },
          now,
        ),
      );
    } catch (err) {
      if (err instanceof LifecycleError) throw new CliError(`${where} (${id}): ${err.message}`);
      throw err;
    }
  }
  return records;
}

export const importClients: CommandSpec = {
  usage: "import FILE",
  summary: "import clients with existing ids and secrets from a JSON array; all are validated before any write",
  options: {},
  positionals: 1,
  async run(ctx) {
    const path = ctx.positionals[0] as string;
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(path, "utf8"));
    } catch (err) {
      throw new CliError(
        `cannot read ${path}: ${err instanceof SyntaxError ? "not valid JSON" : (err as Error).message}`,
      );
    }
    const records = await prepareImport(parsed, ctx.now);
    const existing = await ctx.registry.getMany(records.map((r) => r.client_id));
    const taken = records.find((r) => (existing.get(r.client_id) ?? null) !== null);
    if (taken !== undefined)
      throw new CliError(
        `client "${taken.client_id}" already exists in the ${ctx.registry.label}; nothing was imported`,
      );
    await ctx.registry.putMany(records.map((r) => ({ id: r.client_id, value: JSON.stringify(r) })));
    process.stderr.write(`${IMPORTED_SECRET_WARNING}\n`);
    ctx.out(
      ctx.json
        ? JSON.stringify(
            records.map((r) => toPublic(r)),
            null,
            2,
          )
        : `imported ${records.length} client${records.length === 1 ? "" : "s"}: ${records.map((r) => r.client_id).join(", ")}`,
    );
  },
};
