/**
 * In-memory Workers KV service for the benchmark, run as its own process so its CPU is not counted as
 * keymint's. workerd's `kvNamespace` binding talks to it over HTTP (bound as an `external` service):
 *
 *   GET /<percent-encoded key>?urlencoded=true[&cache_ttl=N]  → 200 with the value, or 404 when missing
 *   PUT /<percent-encoded key>?urlencoded=true[&expiration=T]  → stores the body (a write: counted)
 *   DELETE /<percent-encoded key>                              → removes it (a write: counted)
 *
 * Only the private_key_jwt path writes (one `jti:` entry per accepted assertion); the benchmark reports writes
 * per request and fails a secret-client scenario that makes any. The same process plays an outside OpenID
 * Connect issuer for the federated client (`/__issuer/.well-known/openid-configuration`, `/__issuer/jwks`,
 * RS256; not counted as KV traffic). `GET /__stats` returns the counters and `GET /__bench/fixtures` the extra
 * clients (bench/lib/fixtures.ts); neither is counted. Usage: `node bench/kv-service.ts --clients N --seed HEX`;
 * prints `{"port":P,"clients":N}` on stdout once seeded, then serves until SIGTERM or until its parent goes away.
 */

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { integerFlag, parseFlags, stringFlag, UsageError } from "./lib/args.ts";
import { benchRecord } from "./lib/clients.ts";
import { extraClients, type Fixtures, ISSUER_PATH, type OutsideIssuer, outsideIssuer } from "./lib/fixtures.ts";

export interface KvStats {
  /** GET requests for keys (reads). */
  gets: number;
  /** Reads that found a value. */
  hits: number;
  /** Reads answered 404. */
  misses: number;
  /** Requests with any other method (writes, deletes): a secret client's token path must make none. */
  nonGets: number;
  /** Requests to the outside issuer (discovery and JWKS). */
  issuerRequests: number;
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

function json(res: ServerResponse, body: string, cacheControl?: string): void {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (cacheControl !== undefined) headers["cache-control"] = cacheControl;
  res.writeHead(200, headers).end(body);
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
  const stats: KvStats = { gets: 0, hits: 0, misses: 0, nonGets: 0, issuerRequests: 0, keys: 0 };
  let issuer: OutsideIssuer | undefined;
  let fixtures: Fixtures | undefined;

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? "/";
    if (req.method === "GET" && url === "/__stats") {
      stats.keys = store.size;
      json(res, JSON.stringify(stats));
      return;
    }
    if (req.method === "GET" && url === "/__bench/fixtures") {
      json(res, JSON.stringify(fixtures ?? null));
      return;
    }
    if (req.method === "GET" && url.startsWith(`${ISSUER_PATH}/`) && issuer !== undefined) {
      stats.issuerRequests++;
      if (url === `${ISSUER_PATH}/.well-known/openid-configuration`) json(res, issuer.discovery, "max-age=3600");
      else if (url === `${ISSUER_PATH}/jwks`) json(res, issuer.jwks, "max-age=3600");
      else res.writeHead(404).end("Not Found");
      return;
    }
    const key = keyOf(url);
    if (req.method !== "GET") {
      stats.nonGets++;
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        if (key !== null && req.method === "PUT") store.set(key, Buffer.concat(chunks).toString("utf8"));
        else if (key !== null && req.method === "DELETE") store.delete(key);
        res.writeHead(200).end();
      });
      return;
    }
    stats.gets++;
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
  const port = await new Promise<number>((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      resolve(typeof address === "object" && address !== null ? address.port : 0);
    });
  });

  const started = Date.now();
  await seed(store, seedHex, clients);
  issuer = outsideIssuer(`http://127.0.0.1:${port}`);
  const extra = await extraClients(seedHex, issuer, Math.floor(Date.now() / 1000));
  for (const [key, value] of extra.records) store.set(key, value);
  fixtures = extra.fixtures;
  process.stderr.write(
    `kv-service: seeded ${clients} clients (+${extra.records.length}) in ${Date.now() - started} ms\n`,
  );
  process.stdout.write(`${JSON.stringify({ port, clients })}\n`);

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
