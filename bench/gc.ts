/**
 * `npm run -s bench:gc [-- --seconds S --only keymint,hono-floor,floor,...]`: garbage collection side by side.
 * Serves keymint and the floor Workers on bare workerd with V8's `--trace-gc-nvp`, drives each with the same
 * load as `npm run bench` (32 connections), and prints per server: scavenges, bytes allocated and promoted per
 * request, mark-compacts, their pauses, and how much of what a mark-compact frees lives outside the JS heap
 * (the runtime's C++ objects: Request, Response, Headers, streams). Used for issue 13's "what is promoted".
 * The `repro-*` servers are minimal Workers (bench/workers/repro-*.ts) that isolate workerd behaviours.
 */

import { booleanFlag, integerFlag, numberFlag, parseFlags, stringFlag, UsageError, usage } from "./lib/args.ts";
import { newSeed } from "./lib/clients.ts";
import { type GcSummary, gcRecordsIn, summarizeGc } from "./lib/gc.ts";
import { LoadGenerator } from "./lib/load.ts";
import { exitOnSignals, fileSize, info, makeTempDir, runMain } from "./lib/process.ts";
import { type FloorKind, SINGLE_CLIENT_PLAN, startSingleServer } from "./lib/servers.ts";

const FLAGS = {
  seconds: { kind: "number", help: "measured seconds per server (default 15; mark-compacts are rare)" },
  warmup: { kind: "number", help: "warm-up seconds per server (default 5)" },
  connections: { kind: "number", help: "concurrent connections (default 32)" },
  only: { kind: "string", help: `servers, comma-separated (default ${["keymint", "hono-floor", "floor"].join(",")})` },
  json: { kind: "boolean", help: "print the summaries as JSON" },
  help: { kind: "boolean", help: "show this help" },
} as const;

const SERVERS = ["keymint", "hono-floor", "floor", "repro-no-body", "repro-hono-no-body"] as const;
type GcServer = (typeof SERVERS)[number];

function isServer(name: string): name is GcServer {
  return (SERVERS as readonly string[]).includes(name);
}

async function main(): Promise<undefined> {
  const flags = parseFlags(process.argv.slice(2), FLAGS);
  if (booleanFlag(flags, "help")) {
    process.stderr.write(`${usage("npm run -s bench:gc --", FLAGS)}\nservers: ${SERVERS.join(", ")}\n`);
    return;
  }
  const only = (stringFlag(flags, "only") ?? "keymint,hono-floor,floor").split(",").map((s) => s.trim());
  for (const name of only) if (!isServer(name)) throw new UsageError(`unknown server ${name}`);
  const seconds = numberFlag(flags, "seconds") ?? 15;
  const warmup = numberFlag(flags, "warmup") ?? 5;
  const connections = integerFlag(flags, "connections") ?? 32;
  exitOnSignals();
  process.env.BENCH_V8_FLAGS = `${process.env.BENCH_V8_FLAGS ?? ""} --trace-gc-nvp`.trim();
  const dir = await makeTempDir("keymint-gc");
  const seed = newSeed();
  const load = await LoadGenerator.start(seed);
  const results: { server: GcServer; gc: GcSummary }[] = [];
  for (const name of only as GcServer[]) {
    const server = await startSingleServer(name as "keymint" | FloorKind, dir, seed);
    let start = 0;
    const result = await load.round(
      {
        url: server.url,
        connections,
        warmupSeconds: warmup,
        durationSeconds: seconds,
        plan: SINGLE_CLIENT_PLAN,
        expectedRate: 10_000,
      },
      async () => {
        start = fileSize(server.proc.logPath);
      },
    );
    const end = fileSize(server.proc.logPath);
    if (result.non2xx > 0 || result.errors > 0)
      throw new Error(`${name}: ${result.non2xx} non-2xx, ${result.errors} errors`);
    const gc = summarizeGc(gcRecordsIn(server.proc.logPath, start, end), result.responses);
    results.push({ server: name, gc });
    info(`${name}: ${JSON.stringify(gc)}`);
    await server.proc.stop();
  }
  await load.stop();
  if (booleanFlag(flags, "json")) {
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    return;
  }
  const rows: [string, (g: GcSummary) => number][] = [
    ["requests", (g) => g.requests],
    ["requests per scavenge", (g) => g.requestsPerScavenge],
    ["V8 heap allocated, B/request", (g) => g.allocatedBytesPerRequest],
    ["promoted per scavenge, B", (g) => g.promotedBytesPerScavenge],
    ["promoted, B/request", (g) => g.promotedBytesPerRequest],
    ["survived a scavenge (in flight), B", (g) => g.survivedBytesPerScavenge],
    ["scavenge pause, ms per 1000 requests", (g) => g.scavengePauseMsPer1000],
    ["longest scavenge, ms", (g) => g.maxScavengePauseMs],
    ["mark-compacts", (g) => g.markCompacts],
    ["mark-compact pause, ms per 1000 requests", (g) => g.markCompactPauseMsPer1000],
    ["longest mark-compact, ms", (g) => g.maxMarkCompactPauseMs],
    ["freed by mark-compacts, B/request", (g) => g.freedByMarkCompactBytesPerRequest],
    ["  of which outside the JS heap (C++), B/request", (g) => g.freedOutsideJsHeapBytesPerRequest],
  ];
  const lines = [
    `| | ${results.map((r) => r.server).join(" | ")} |`,
    `| --- | ${results.map(() => "---:").join(" | ")} |`,
    ...rows.map(([label, f]) => `| ${label} | ${results.map((r) => fmt(f(r.gc))).join(" | ")} |`),
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

function fmt(value: number): string {
  return Number.isFinite(value) ? value.toLocaleString("en-US") : "–";
}

runMain("bench:gc", usage("npm run -s bench:gc --", FLAGS), main, (err) => err instanceof UsageError);
