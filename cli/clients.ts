/**
 * keymint client administration: `npm run -s clients -- <command> [options]`.
 * Every command works on the local registry (default, the one `npm start` serves) or with `--remote` on the
 * deployed KV namespace. Secrets are printed once, at `create` and `rotate-secret`; nothing ever prints a
 * hash or a salt.
 */

import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import {
  type ClientSettings,
  LifecycleError,
  revokeTokensBefore,
  rotateSecret,
  setEnabled,
  updateClient,
} from "../src/clients/lifecycle.ts";
import {
  type ClientRecord,
  isValidClientId,
  type PublicClient,
  parseRecord,
  RecordError,
  toPublic,
} from "../src/clients/record.ts";
import { recordForNewClient } from "../src/clients/register.ts";
import { generateClientId, generateSecret, hashSecretForRecord, secretWeakness } from "../src/clients/secrets.ts";
import { parseDuration } from "./duration.ts";
import { clientDetails, clientTable } from "./format.ts";
import { CliError, openLocalRegistry, openWranglerRegistry, type Registry } from "./registry.ts";

type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

const TARGET_OPTIONS = {
  local: { type: "boolean" },
  remote: { type: "boolean" },
  json: { type: "boolean" },
  config: { type: "string" },
  env: { type: "string" },
  "persist-to": { type: "string" },
  "dry-run": { type: "boolean" },
  driver: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

const SETTINGS_OPTIONS = {
  name: { type: "string" },
  scope: { type: "string", multiple: true },
  audience: { type: "string", multiple: true },
  ttl: { type: "string" },
  "can-introspect": { type: "boolean" },
  quota: { type: "string" },
} as const;

interface CommandSpec {
  usage: string;
  summary: string;
  options: Record<string, { type: "string" | "boolean"; multiple?: boolean; short?: string }>;
  positionals: number;
  run(ctx: CommandContext): Promise<void>;
}

interface CommandContext {
  values: Values;
  positionals: string[];
  registry: Registry;
  now: number;
  json: boolean;
  out(text: string): void;
}

const HELP_TARGET = `Target (every command):
  --local                 the local registry that \`npm start\` / \`wrangler dev\` serve (default)
  --remote                the deployed KV namespace (needs \`npx wrangler login\` or CLOUDFLARE_API_TOKEN)
  --config PATH           wrangler configuration file (default: wrangler.toml)
  --env NAME              wrangler environment
  --persist-to DIR        local state directory (default: .wrangler/state, as wrangler dev)
  --dry-run               print the wrangler commands instead of running them (implies --driver wrangler;
                          reads then find nothing)
  --driver wrangler       drive the local registry through \`wrangler kv\` commands, exactly as --remote does
  --json                  machine-readable output`;

const HELP_SETTINGS = `Client settings:
  --name NAME             display name
  --scope "a b"           allowed scopes (space-separated, repeatable); a token request without scope gets all
  --audience AUD          allowed audience (repeatable); the first is the default aud, others via resource=
  --ttl SECONDS           token lifetime, ${60} to ${86400} seconds (update: "default" to reset)
  --can-introspect        may call /oauth2/introspect (update: --no-can-introspect to remove)
  --quota N               tokens per minute (at least 10) (update: "none" to remove)`;

function str(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === "string" ? v : undefined;
}

function list(values: Values, name: string): string[] | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  return (Array.isArray(v) ? v : [v]).flatMap((item) => String(item).split(/\s+/)).filter((s) => s !== "");
}

function integerOption(text: string, flag: string): number {
  if (!/^\d+$/.test(text)) throw new CliError(`${flag} must be a whole number, got "${text}"`);
  return Number(text);
}

function durationOption(values: Values, flag: string): number | undefined {
  const text = str(values, flag);
  if (text === undefined) return undefined;
  const seconds = parseDuration(text);
  if (seconds === null) throw new CliError(`--${flag} must be a duration like 90s, 30m, 24h or 7d, got "${text}"`);
  return seconds;
}

function settingsFrom(values: Values, forUpdate: boolean): ClientSettings {
  const settings: ClientSettings = {};
  const name = str(values, "name");
  if (name !== undefined) settings.name = name;
  const scopes = list(values, "scope");
  if (scopes !== undefined) settings.scopes = scopes;
  const audiences = list(values, "audience");
  if (audiences !== undefined) settings.audiences = audiences;
  const ttl = str(values, "ttl");
  if (ttl !== undefined) settings.ttl = forUpdate && ttl === "default" ? null : integerOption(ttl, "--ttl");
  const canIntrospect = values["can-introspect"];
  if (typeof canIntrospect === "boolean") settings.canIntrospect = canIntrospect;
  const quota = str(values, "quota");
  if (quota !== undefined)
    settings.quotaPerMinute = forUpdate && quota === "none" ? null : integerOption(quota, "--quota");
  return settings;
}

const IMPORTED_SECRET_WARNING =
  "warning: an imported secret is only as strong as its source and is stored with a fast hash; " +
  "once the client is migrated, replace it with a generated one: npm run -s clients -- rotate-secret ID --grace 24h";

async function readSecretOption(values: Values, flag: string): Promise<string | undefined> {
  let secret = str(values, flag);
  if (secret === "-") {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    secret = Buffer.concat(chunks)
      .toString("utf8")
      .replace(/\r?\n$/, "");
  }
  if (secret === undefined) return undefined;
  const weakness = secretWeakness(secret);
  if (weakness !== null) throw new CliError(weakness);
  process.stderr.write(`${IMPORTED_SECRET_WARNING}\n`);
  return secret;
}

function decode(id: string, raw: string): ClientRecord {
  try {
    return parseRecord(JSON.parse(raw), id);
  } catch (err) {
    const reason = err instanceof RecordError ? err.message : "value is not JSON";
    throw new CliError(
      `the record of client "${id}" is corrupt (${reason}); delete it with \`delete ${id}\` and re-create or re-import the client`,
    );
  }
}

async function load(registry: Registry, id: string): Promise<ClientRecord> {
  if (!isValidClientId(id)) throw new CliError(`"${id}" is not a valid client id`);
  const raw = (await registry.getMany([id])).get(id) ?? null;
  if (raw === null) throw new CliError(`no client "${id}" in the ${registry.label}`);
  return decode(id, raw);
}

async function save(registry: Registry, record: ClientRecord): Promise<void> {
  await registry.put(record.client_id, JSON.stringify(record));
}

function expiryFrom(now: number, seconds: number | undefined): number | null {
  return seconds === undefined || seconds === 0 ? null : now + seconds;
}

function report(ctx: CommandContext, record: ClientRecord, message: string): void {
  ctx.out(ctx.json ? JSON.stringify(toPublic(record), null, 2) : message);
}

async function mutate(
  ctx: CommandContext,
  change: (r: ClientRecord) => ClientRecord,
  message: (r: ClientRecord) => string,
) {
  const id = ctx.positionals[0] as string;
  const next = change(await load(ctx.registry, id));
  await save(ctx.registry, next);
  report(ctx, next, message(next));
}

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

const COMMANDS: Record<string, CommandSpec> = {
  create: {
    usage: "create --name NAME [--client-id ID] [--client-secret SECRET|-] [--secret-expires-in DURATION] [settings]",
    summary: "register a client; prints its id and secret (the only time the secret is shown)",
    options: {
      ...SETTINGS_OPTIONS,
      "client-id": { type: "string" },
      "client-secret": { type: "string" },
      "secret-expires-in": { type: "string" },
      "introspect-only": { type: "boolean" },
      disabled: { type: "boolean" },
    },
    positionals: 0,
    async run(ctx) {
      const { values, now } = ctx;
      const settings = settingsFrom(values, false);
      if (settings.name === undefined) throw new CliError("--name is required");
      if (values["introspect-only"] === true) {
        settings.tokenGrant = false;
        settings.canIntrospect = true;
      }
      const clientId = str(values, "client-id") ?? generateClientId();
      if (!isValidClientId(clientId))
        throw new CliError("--client-id must be 1 to 200 printable ASCII characters without spaces");
      const imported = await readSecretOption(values, "client-secret");
      const secret = imported ?? generateSecret();
      const existing = (await ctx.registry.getMany([clientId])).get(clientId) ?? null;
      if (existing !== null) throw new CliError(`client "${clientId}" already exists in the ${ctx.registry.label}`);
      const record = await recordForNewClient(
        {
          clientId,
          secret,
          secretExpiresAt: expiryFrom(now, durationOption(values, "secret-expires-in")),
          enabled: values.disabled !== true,
          settings: settings as ClientSettings & { name: string },
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
  },
  list: {
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
  },
  show: {
    usage: "show ID",
    summary: "show one client",
    options: {},
    positionals: 1,
    async run(ctx) {
      const record = await load(ctx.registry, ctx.positionals[0] as string);
      ctx.out(ctx.json ? JSON.stringify(toPublic(record), null, 2) : clientDetails(toPublic(record), ctx.now));
    },
  },
  update: {
    usage: "update ID [settings]",
    summary: "change a client's name, scopes, audiences, TTL, introspection right or quota",
    options: { ...SETTINGS_OPTIONS, "can-introspect": { type: "boolean" } },
    positionals: 1,
    async run(ctx) {
      const settings = settingsFrom(ctx.values, true);
      if (Object.keys(settings).length === 0)
        throw new CliError("nothing to update: give at least one setting (see --help)");
      await mutate(
        ctx,
        (r) => updateClient(r, settings, ctx.now),
        (r) => `updated client ${r.client_id}`,
      );
    },
  },
  "rotate-secret": {
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
      const secret = (await readSecretOption(ctx.values, "client-secret")) ?? generateSecret();
      const record = await load(ctx.registry, id);
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
  },
  disable: {
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
  },
  enable: {
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
  },
  "revoke-tokens": {
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
  },
  delete: {
    usage: "delete ID",
    summary: "delete a client (its tokens become inactive at introspection)",
    options: {},
    positionals: 1,
    async run(ctx) {
      const id = ctx.positionals[0] as string;
      if (!isValidClientId(id)) throw new CliError(`"${id}" is not a valid client id`);
      const raw = (await ctx.registry.getMany([id])).get(id) ?? null;
      if (raw === null) throw new CliError(`no client "${id}" in the ${ctx.registry.label}`);
      await ctx.registry.delete(id);
      ctx.out(ctx.json ? JSON.stringify({ client_id: id, deleted: true }) : `deleted client ${id}`);
    },
  },
  import: {
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
  },
};

function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    "Usage: npm run -s clients -- <command> [options]",
    "",
    "Commands:",
    ...Object.entries(COMMANDS).map(([name, spec]) => `  ${name.padEnd(width)}  ${spec.summary}`),
    "",
    HELP_TARGET,
    "",
    "Run `npm run -s clients -- <command> --help` for a command's options.",
  ].join("\n");
}

function commandHelp(name: string, spec: CommandSpec): string {
  const usesSettings = "name" in spec.options;
  return [
    `Usage: npm run -s clients -- ${spec.usage}`,
    "",
    `${name}: ${spec.summary}`,
    "",
    ...(usesSettings ? [HELP_SETTINGS, ""] : []),
    HELP_TARGET,
  ].join("\n");
}

/** Runs the CLI; returns the exit code (0 success, 1 failure, 2 usage error). */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    process.stderr.write(`${mainHelp()}\n`);
    return 2;
  }
  if (name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(`${mainHelp()}\n`);
    return 0;
  }
  const spec = COMMANDS[name];
  if (spec === undefined) {
    process.stderr.write(`error: unknown command "${name}" (commands: ${Object.keys(COMMANDS).join(", ")})\n`);
    return 2;
  }
  let values: Values;
  let positionals: string[];
  try {
    const parsed = parseArgs({
      args: rest,
      options: { ...TARGET_OPTIONS, ...spec.options },
      allowPositionals: true,
      allowNegative: true,
      strict: true,
    });
    values = parsed.values as Values;
    positionals = parsed.positionals;
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message.split("\n")[0]} (see \`${name} --help\`)\n`);
    return 2;
  }
  if (values.help === true) {
    process.stdout.write(`${commandHelp(name, spec)}\n`);
    return 0;
  }
  if (positionals.length !== spec.positionals) {
    process.stderr.write(`error: usage: ${spec.usage}\n`);
    return 2;
  }
  if (values.local === true && values.remote === true) {
    process.stderr.write("error: --local and --remote exclude each other\n");
    return 2;
  }
  const driver = str(values, "driver");
  if (driver !== undefined && driver !== "wrangler" && driver !== "platform") {
    process.stderr.write('error: --driver must be "wrangler" or "platform"\n');
    return 2;
  }
  const remote = values.remote === true;
  const dryRun = values["dry-run"] === true;
  const target = {
    remote,
    configPath: str(values, "config"),
    env: str(values, "env"),
    persistTo: str(values, "persist-to"),
  };
  let registry: Registry | undefined;
  try {
    registry =
      remote || dryRun || driver === "wrangler"
        ? await openWranglerRegistry(target, dryRun, (line) => process.stderr.write(`would run: ${line}\n`))
        : await openLocalRegistry(target);
    await spec.run({
      values,
      positionals,
      registry,
      now: Math.floor(Date.now() / 1000),
      json: values.json === true,
      out: (text) => process.stdout.write(`${text}\n`),
    });
    return 0;
  } catch (err) {
    if (err instanceof CliError || err instanceof LifecycleError) {
      process.stderr.write(`error: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(
      `error: unexpected failure: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    return 1;
  } finally {
    await registry?.close();
  }
}

process.exitCode = await main(process.argv.slice(2));
