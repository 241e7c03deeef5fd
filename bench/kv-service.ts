/**
 * In-memory Workers KV service for the benchmark, run as its own process so its CPU is not counted as
 * keymint's. workerd's `kvNamespace` binding talks to it over HTTP (bound as an `external` service):
 *
 *   GET /<percent-encoded key>?urlencoded=true[&cache_ttl=N]  → 200 with the value, or 404 when missing
 *
 * Any other method is counted as a write attempt and refused with 405. `GET /__stats` returns the counters
 * (not counted). Usage: `node bench/kv-service.ts --clients N --seed HEX`; prints `{"port":P,"clients":N}`
 * on stdout once seeded, then serves until SIGTERM or until its parent process goes away.
 */

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { integerFlag, parseFlags, stringFlag, UsageError } from "./lib/args.ts";
import { benchRecord } from "./lib/clients.ts";

export interface KvStats {
  /** GET requests for keys (reads). */
  gets: number;
  /** Reads that found a value. */
  hits: number;
  /** Reads answered 404. */
  misses: number;
  /** Requests with any other method (writes, deletes, bulk reads): keymint's token path must make none. */
  nonGets: number;
  /** Keys stored. */
  keys: number;
}

async function seed(store: Map<string, string>, seedHex: string, clients: number): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  const batch = 512;
  for (let start = 0; start < clients; start += batch) {
    const end = Math.min(clients, start + batch);
    const entries = await Promise.all(
      Array.from({ length: end - start }, (_, offset) => benchRecord(seedHex, start + offset, now)),
    );
    for (const [key, value] of entries) store.set(key, value);
  }
}

function keyOf(url: string): string | null {
  const query = url.indexOf("?");
  const path = query === -1 ? url.slice(1) : url.slice(1, query);
  const urlencoded = query !== -1 && /(?:^|&)urlencoded=true(?:&|$)/i.test(url.slice(query + 1));
  if (!urlencoded) return path;
  try {
    return decodeURIComponent(path);
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), {
    clients: { kind: "number", help: "clients to register" },
    seed: { kind: "string", help: "run seed (hex)" },
  });
  const clients = integerFlag(flags, "clients") ?? 1;
  const seedHex = stringFlag(flags, "seed");
  if (seedHex === undefined) throw new UsageError("--seed is required");

  const store = new Map<string, string>();
  const started = Date.now();
  await seed(store, seedHex, clients);
  process.stderr.write(`kv-service: seeded ${clients} clients in ${Date.now() - started} ms\n`);

  const stats: KvStats = { gets: 0, hits: 0, misses: 0, nonGets: 0, keys: store.size };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? "/";
    if (req.method === "GET" && url === "/__stats") {
      stats.keys = store.size;
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(stats));
      return;
    }
    if (req.method !== "GET") {
      stats.nonGets++;
      process.stderr.write(`kv-service: unexpected ${req.method} ${url}\n`);
      req.resume();
      res.writeHead(405).end();
      return;
    }
    stats.gets++;
    const key = keyOf(url);
    const value = key === null ? undefined : store.get(key);
    if (value === undefined) {
      stats.misses++;
      res.writeHead(404).end("Not Found");
      return;
    }
    stats.hits++;
    res.writeHead(200, { "content-type": "text/plain" }).end(value);
  });
  server.keepAliveTimeout = 120_000;
  server.listen(0, "127.0.0.1", () => {
    const address = server.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    process.stdout.write(`${JSON.stringify({ port, clients })}\n`);
  });

  const stop = () => server.close(() => process.exit(0));
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  // Never outlive the orchestrator, even if it was killed without a chance to clean up.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.exit(0);
  }, 1000).unref();
}

main().catch((err: unknown) => {
  process.stderr.write(`kv-service: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
