/** Starting and querying the in-memory KV service (bench/kv-service.ts) from the orchestrator. */

import { join } from "node:path";
import type { KvStats } from "../kv-service.ts";
import { rootPath } from "./bundle.ts";
import type { Fixtures } from "./fixtures.ts";
import { firstStdoutLine, info, type ManagedProcess, spawnLogged } from "./process.ts";

export type { KvStats };

export interface KvService {
  proc: ManagedProcess;
  port: number;
  clients: number;
  /** The counters now. */
  stats(): Promise<KvStats>;
  /** The extra clients and keys (bench/lib/fixtures.ts). */
  fixtures(): Promise<Fixtures>;
}

/** Starts the KV service seeded with `clients` clients of run `seed`; resolves once it serves. */
export async function startKvService(dir: string, seed: string, clients: number): Promise<KvService> {
  const started = Date.now();
  const proc = spawnLogged({
    name: "kv-service",
    command: process.execPath,
    args: [rootPath("bench/kv-service.ts"), "--clients", String(clients), "--seed", seed],
    logPath: join(dir, "kv-service.log"),
    pipeStdout: true,
  });
  const line = await firstStdoutLine(proc, 120_000);
  const ready = JSON.parse(line) as { port?: unknown };
  if (typeof ready.port !== "number") throw proc.failure(`printed an unexpected line: ${line}`);
  const port = ready.port;
  info(
    `KV service on 127.0.0.1:${port} with ${clients} client${clients === 1 ? "" : "s"} (seeded in ${Date.now() - started} ms)`,
  );
  return {
    proc,
    port,
    clients,
    async stats() {
      proc.assertRunning();
      const response = await fetch(`http://127.0.0.1:${port}/__stats`);
      return (await response.json()) as KvStats;
    },
    async fixtures() {
      proc.assertRunning();
      const response = await fetch(`http://127.0.0.1:${port}/__bench/fixtures`);
      return (await response.json()) as Fixtures;
    },
  };
}

/** Counter differences between two snapshots. */
export function kvDelta(before: KvStats, after: KvStats): KvStats {
  return {
    gets: after.gets - before.gets,
    hits: after.hits - before.hits,
    misses: after.misses - before.misses,
    nonGets: after.nonGets - before.nonGets,
    issuerRequests: after.issuerRequests - before.issuerRequests,
    keys: after.keys,
  };
}
