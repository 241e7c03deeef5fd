/**
 * Where the CLI's local and remote drivers read and write client records: the local registry that `wrangler dev`
 * serves (through wrangler's `getPlatformProxy`, i.e. Miniflare on `.wrangler/state`) or the deployed namespace
 * (through `wrangler kv` commands). Both speak in raw KV values (a `RecordStore`); the client operations of
 * src/clients/operations.ts own the record format and the rules, as they do for the admin API.
 */

import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { RecordStore } from "../src/clients/operations.ts";
import { CLIENT_KEY_PREFIX, clientKey } from "../src/clients/record.ts";

export interface Registry extends RecordStore {
  /** Every client id (all pages). */
  listIds(): Promise<string[]>;
  close(): Promise<void>;
}

/** Every id of a registry, page by page. */
async function allIds(listPage: RecordStore["listPage"]): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await listPage({ cursor, limit: 1000 });
    ids.push(...page.ids);
    cursor = page.cursor;
  } while (cursor !== undefined);
  return ids;
}

/** An error meant for the operator: printed as one line on stderr, exit code 1. */
export class CliError extends Error {
  override readonly name = "CliError";
}

export interface TargetOptions {
  remote: boolean;
  configPath?: string | undefined;
  env?: string | undefined;
  persistTo?: string | undefined;
}

export interface KvLike {
  get(key: string): Promise<string | null>;
  put(key: string, value: string): Promise<void>;
  delete(key: string): Promise<void>;
  list(options: { prefix: string; cursor?: string; limit?: number }): Promise<{
    keys: { name: string }[];
    list_complete: boolean;
    cursor?: string;
  }>;
}

/**
 * A failure of the local store that goes away on its own: `wrangler dev` and every CLI process open the same
 * SQLite files under `.wrangler/state`, and a write that meets another process's lock comes back as a 500.
 */
const LOCAL_BUSY = /^KV (GET|PUT|DELETE|LIST) failed: 5\d\d/;
/** Waits between attempts on a busy local store (ms); about 3 s in all. */
const BUSY_BACKOFF = [25, 50, 100, 200, 400, 800, 1200];

/**
 * `kv` whose calls are retried while the local store is busy; every call is idempotent (a get, a put of the
 * same value, a delete, a list). Still busy after the last attempt: a `CliError` that says what to do.
 */
export function retryingWhileBusy(kv: KvLike, label: string, backoff: readonly number[] = BUSY_BACKOFF): KvLike {
  async function attempt<T>(call: () => Promise<T>): Promise<T> {
    for (let i = 0; ; i++) {
      try {
        return await call();
      } catch (err) {
        const busy = err instanceof Error && LOCAL_BUSY.test(err.message);
        if (!busy) throw err;
        const wait = backoff[i];
        if (wait === undefined) {
          throw new CliError(
            `the ${label} stayed busy (${err.message}): other processes are writing to it; run the command again`,
          );
        }
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }
  return {
    get: (key) => attempt(() => kv.get(key)),
    put: (key, value) => attempt(() => kv.put(key, value)),
    delete: (key) => attempt(() => kv.delete(key)),
    list: (options) => attempt(() => kv.list(options)),
  };
}

/**
 * Quiets the in-process wrangler (errors only, no telemetry) and returns the function that puts the caller's
 * environment back, so the setting never reaches a process started later (`npm start`'s `wrangler dev`).
 */
function quietWrangler(): () => void {
  const saved = { WRANGLER_LOG: process.env.WRANGLER_LOG, WRANGLER_SEND_METRICS: process.env.WRANGLER_SEND_METRICS };
  process.env.WRANGLER_LOG ??= "error";
  process.env.WRANGLER_SEND_METRICS ??= "false";
  return function restoreEnvironment() {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
}

/**
 * A config holding only the `CLIENTS` namespace of the target's config (same ids, so the same local storage):
 * getPlatformProxy starts every binding it is given, and for the replay guard's Durable Object, whose class lives in
 * the Worker's script that the proxy does not run, workerd prints a warning on stderr for every command.
 */
async function kvOnlyConfig(options: TargetOptions): Promise<{ path: string; dir: string }> {
  const { unstable_readConfig } = await import("wrangler");
  const config = unstable_readConfig(
    { config: options.configPath ?? "wrangler.toml", env: options.env },
    { hideWarnings: true },
  );
  const kv = (config.kv_namespaces as { binding: string; id?: string; preview_id?: string }[]).find(
    (n) => n.binding === "CLIENTS",
  );
  if (kv === undefined) throw new CliError('wrangler.toml has no KV binding "CLIENTS"');
  const dir = await mkdtemp(join(tmpdir(), "keymint-cli-"));
  const path = join(dir, "wrangler.json");
  const namespace: Record<string, string> = { binding: "CLIENTS" };
  if (kv.id !== undefined) namespace.id = kv.id;
  if (kv.preview_id !== undefined) namespace.preview_id = kv.preview_id;
  await writeFile(
    path,
    JSON.stringify({ name: config.name, compatibility_date: config.compatibility_date, kv_namespaces: [namespace] }),
  );
  return { path, dir };
}

/** The local registry, opened in-process with wrangler's `getPlatformProxy` (the same storage `wrangler dev` uses). */
export async function openLocalRegistry(options: TargetOptions): Promise<Registry> {
  const restoreEnvironment = quietWrangler();
  const { getPlatformProxy } = await import("wrangler");
  const persistRoot = options.persistTo ?? ".wrangler/state";
  let proxy: Awaited<ReturnType<typeof getPlatformProxy>>;
  let scratch: string | undefined;
  try {
    const kvOnly = await kvOnlyConfig(options);
    scratch = kvOnly.dir;
    proxy = await getPlatformProxy({
      configPath: kvOnly.path,
      persist: { path: resolve(persistRoot, "v3") },
      remoteBindings: false,
    });
  } catch (err) {
    restoreEnvironment();
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot open the local registry: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  }
  const binding = (proxy.env as Record<string, unknown>).CLIENTS as KvLike | undefined;
  if (binding === undefined) {
    await proxy.dispose();
    restoreEnvironment();
    throw new CliError('wrangler.toml has no KV binding "CLIENTS"');
  }
  const label = `local registry (${persistRoot})`;
  const kv = retryingWhileBusy(binding, label);
  const listPage: RecordStore["listPage"] = async ({ cursor, limit }) => {
    const page = await kv.list(
      cursor === undefined ? { prefix: CLIENT_KEY_PREFIX, limit } : { prefix: CLIENT_KEY_PREFIX, limit, cursor },
    );
    const ids = page.keys.map((key) => key.name.slice(CLIENT_KEY_PREFIX.length));
    return page.list_complete || page.cursor === undefined ? { ids } : { ids, cursor: page.cursor };
  };
  return {
    label,
    async getMany(ids) {
      const out = new Map<string, string | null>();
      for (const id of ids) out.set(id, await kv.get(clientKey(id)));
      return out;
    },
    async put(id, value) {
      await kv.put(clientKey(id), value);
    },
    async putMany(entries) {
      for (const { id, value } of entries) await kv.put(clientKey(id), value);
    },
    async delete(id) {
      await kv.delete(clientKey(id));
    },
    listPage,
    listIds: () => allIds(listPage),
    async close() {
      await proxy.dispose();
      restoreEnvironment();
    },
  };
}

export interface WranglerRun {
  stdout: string;
  stderr: string;
  code: number;
}

/** Runs wrangler (`KEYMINT_WRANGLER` overrides the executable, e.g. for tests) and collects its output. */
export function runWrangler(args: readonly string[]): Promise<WranglerRun> {
  const executable = process.env.KEYMINT_WRANGLER ?? "wrangler";
  return new Promise((resolve, reject) => {
    const child = spawn(executable, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", FORCE_COLOR: "0", NO_COLOR: "1" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", (err) => reject(new CliError(`cannot run ${executable}: ${err.message}`)));
    child.on("close", (code) => resolve({ stdout, stderr, code: code ?? 1 }));
  });
}

const ANSI = /\u001b\[[0-9;]*m/g;

/** One operator-friendly line for a failed wrangler command. */
export function explainWranglerFailure(run: WranglerRun, remote: boolean): string {
  const text = `${run.stderr}\n${run.stdout}`.replace(ANSI, "");
  if (
    remote &&
    /CLOUDFLARE_API_TOKEN|not authenticated|wrangler login|Not logged in|Authentication error/i.test(text)
  ) {
    return "wrangler is not logged in to Cloudflare: run `npx wrangler login` (or set CLOUDFLARE_API_TOKEN) and retry";
  }
  const line = text
    .split("\n")
    .map((l) => l.replace(/^\s*(✘\s*)?\[ERROR\]\s*/, "").trim())
    .find((l) => l !== "" && !/^⛅️|^─+$|Logs were written/.test(l));
  return `wrangler failed: ${line ?? `exit code ${run.code}`}`;
}

/** The wrangler arguments that select the namespace: binding, config, environment, local or remote. */
export function targetArgs(options: TargetOptions): string[] {
  const args = ["--binding", "CLIENTS"];
  if (options.configPath !== undefined) args.push("--config", options.configPath);
  if (options.env !== undefined) args.push("--env", options.env);
  if (options.remote) args.push("--remote");
  else {
    args.push("--local");
    if (options.persistTo !== undefined) args.push("--persist-to", options.persistTo);
  }
  return args;
}

/**
 * A registry driven by `wrangler kv` commands: the `--remote` target, and (with `--driver wrangler`) the local
 * one, which lets the tests prove the exact command mapping against real local storage. With `dryRun`,
 * commands are printed instead of run; reads then find nothing.
 */
export async function openWranglerRegistry(
  options: TargetOptions,
  dryRun: boolean,
  print: (line: string) => void,
): Promise<Registry> {
  const dir = await mkdtemp(join(tmpdir(), "keymint-"));
  const target = targetArgs(options);
  let counter = 0;
  async function file(name: string, content: string): Promise<string> {
    const path = join(dir, `${counter++}-${name}`);
    await writeFile(path, content, { mode: 0o600 });
    return path;
  }
  async function run(args: string[]): Promise<string | null> {
    const full = [...args, ...target];
    if (dryRun) {
      print(
        `wrangler ${full.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`)).join(" ")}`,
      );
      return null;
    }
    const result = await runWrangler(full);
    if (result.code !== 0) throw new CliError(explainWranglerFailure(result, options.remote));
    return result.stdout;
  }
  function json(stdout: string): unknown {
    const start = stdout.search(/[[{]/);
    try {
      return JSON.parse(stdout.slice(start));
    } catch {
      throw new CliError("wrangler printed output keymint cannot read; is wrangler up to date (>= 4.164)?");
    }
  }
  // `wrangler kv key list` prints every key at once: one page.
  const listPage: RecordStore["listPage"] = async () => {
    const stdout = await run(["kv", "key", "list", "--prefix", CLIENT_KEY_PREFIX]);
    if (stdout === null) return { ids: [] };
    const keys = json(stdout) as { name: string }[];
    return { ids: keys.map((k) => k.name.slice(CLIENT_KEY_PREFIX.length)) };
  };
  return {
    label: options.remote ? "remote registry (Cloudflare)" : "local registry (via wrangler)",
    async getMany(ids) {
      const out = new Map<string, string | null>();
      if (ids.length === 0) return out;
      const keysFile = await file("keys.json", JSON.stringify(ids.map(clientKey)));
      const stdout = await run(["kv", "bulk", "get", keysFile]);
      const values = stdout === null ? {} : (json(stdout) as Record<string, { value?: unknown } | undefined>);
      for (const id of ids) {
        const entry = values[clientKey(id)];
        const value = entry?.value;
        out.set(
          id,
          typeof value === "string" ? value : value === null || value === undefined ? null : JSON.stringify(value),
        );
      }
      return out;
    },
    async put(id, value) {
      await run(["kv", "key", "put", clientKey(id), "--path", await file("value.json", value)]);
    },
    async putMany(entries) {
      if (entries.length === 0) return;
      const body = JSON.stringify(entries.map(({ id, value }) => ({ key: clientKey(id), value })));
      await run(["kv", "bulk", "put", await file("bulk.json", body)]);
    },
    async delete(id) {
      await run(["kv", "key", "delete", clientKey(id)]);
    },
    listPage,
    listIds: async () => (await listPage({ limit: 1000 })).ids,
    async close() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}
