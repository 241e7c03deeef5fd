/** Summaries, targets and rendering (console, JSON, BENCHMARK.md) of a benchmark run. */

import type { MicroResult } from "./micro.ts";
import type { MachineInfo } from "./procfs.ts";
import { CLIENT_CACHE_TTL_SECONDS } from "./servers.ts";
import { median, round } from "./stats.ts";

export type ServerKind = "keymint" | "floor" | "hono-floor";

/** One measured round against one server. */
export interface RoundMeasurement {
  server: ServerKind;
  /** Position of the round in the run (0-based), to pair rounds with the floor round nearest in time. */
  sequence: number;
  /** keymint: registered clients the requests cycle over; floors: the request stream they were given. */
  clients: number;
  round: number;
  seconds: number;
  responses: number;
  ok: number;
  non2xx: number;
  errors: number;
  statusCodes: Record<string, number>;
  /** 2xx responses per second (tokens/s for keymint). */
  okPerSecond: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  /** workerd CPU (user + system, all threads) per response, µs. */
  cpuUsPerRequest: number;
  /** Load generator CPU over the round, in cores (1.0 = one core busy). */
  loadGeneratorCores: number;
  /**
   * CPU used by anything but the server, the load generator and the KV service (other processes on the
   * machine), in cores: above ~0.1 the round was disturbed.
   */
  otherCores: number;
  /** CPU stolen by the hypervisor, in cores. */
  stealCores: number;
  /** keymint only: KV GETs during the round, and per token. */
  kvReads: number | null;
  kvReadsPerToken: number | null;
  /** keymint only: non-GET requests to the KV service (must be 0). */
  kvWrites: number | null;
  /** KV service CPU per KV read, µs (keymint rounds with reads only). */
  kvCpuUsPerRead: number | null;
  /** keymint only: audit log bytes written per token. */
  auditBytesPerToken: number | null;
  /** Byte offsets of the round in the server's log. */
  logRange: [start: number, end: number];
}

export interface ScaleSummary {
  server: ServerKind;
  clients: number;
  rounds: number;
  okPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerRequest: number;
  /** CPU per request minus that of the nearest floor round (median over rounds). */
  ownCpuUs: number | null;
  /** okPerSecond / that of the nearest floor round (median over rounds). */
  ratioToFloor: number | null;
  /** p99 / that of the nearest floor round (median over rounds). */
  p99RatioToFloor: number | null;
  kvReadsPerToken: number | null;
  kvWrites: number | null;
  /** Sum over rounds of non-2xx and socket errors. */
  errors: number;
  loadGeneratorCores: number;
}

export interface Target {
  name: string;
  pass: boolean;
  actual: string;
}

export interface RunSettings {
  command: string;
  quick: boolean;
  connections: number;
  durationSeconds: number;
  warmupSeconds: number;
  rounds: number;
  scales: number[];
  roundsAtLargestScale: number;
  hono: boolean;
  micro: boolean;
}

export interface Environment {
  date: string;
  machine: MachineInfo;
  node: string;
  workerd: string;
  wrangler: string;
  autocannon: string;
  hono: string;
  commit: string;
}

/** A round with non-2xx responses or socket errors, with the server's log lines that explain it. */
export interface Failure {
  what: string;
  logLines: string[];
}

export interface Report {
  environment: Environment;
  settings: RunSettings;
  summaries: ScaleSummary[];
  targets: Target[];
  micro: MicroResult | null;
  rounds: RoundMeasurement[];
  /** Wall time of the whole run, seconds. */
  totalSeconds: number;
  failures: Failure[];
}

/** The floor round run closest in time to `r` (the next one on a tie): the machine's speed drifts. */
function partner(r: RoundMeasurement, floors: readonly RoundMeasurement[]): RoundMeasurement | undefined {
  let best: RoundMeasurement | undefined;
  for (const f of floors) {
    const distance = Math.abs(f.sequence - r.sequence);
    const bestDistance = best === undefined ? Number.POSITIVE_INFINITY : Math.abs(best.sequence - r.sequence);
    if (distance < bestDistance || (distance === bestDistance && f.sequence > r.sequence)) best = f;
  }
  return best;
}

function summarize(rounds: readonly RoundMeasurement[], floors: readonly RoundMeasurement[]): ScaleSummary {
  const first = rounds[0] as RoundMeasurement;
  const pick = (f: (r: RoundMeasurement) => number) => median(rounds.map(f));
  const pickNullable = (f: (r: RoundMeasurement) => number | null) => {
    const values = rounds.map(f).filter((v): v is number => v !== null);
    return values.length === 0 ? null : median(values);
  };
  // Comparisons with the floor are made round by round against its nearest floor round, then the median.
  const paired = (f: (r: RoundMeasurement, floor: RoundMeasurement) => number) => {
    if (first.server === "floor" || floors.length === 0) return null;
    return median(rounds.map((r) => f(r, partner(r, floors) as RoundMeasurement)));
  };
  const writes = rounds.map((r) => r.kvWrites).filter((v): v is number => v !== null);
  return {
    server: first.server,
    clients: first.clients,
    rounds: rounds.length,
    okPerSecond: pick((r) => r.okPerSecond),
    p50Ms: pick((r) => r.p50Ms),
    p99Ms: pick((r) => r.p99Ms),
    cpuUsPerRequest: pick((r) => r.cpuUsPerRequest),
    ownCpuUs: paired((r, f) => r.cpuUsPerRequest - f.cpuUsPerRequest),
    ratioToFloor: paired((r, f) => r.okPerSecond / f.okPerSecond),
    p99RatioToFloor: paired((r, f) => r.p99Ms / f.p99Ms),
    kvReadsPerToken: pickNullable((r) => r.kvReadsPerToken),
    kvWrites: writes.length === 0 ? null : writes.reduce((a, b) => a + b, 0),
    errors: rounds.reduce((sum, r) => sum + r.non2xx + r.errors, 0),
    loadGeneratorCores: pick((r) => r.loadGeneratorCores),
  };
}

/**
 * Medians per server and scale point. The floor ignores clients, so all its rounds form one scale point;
 * ratios and own CPU compare each round with the floor round nearest to it in time.
 */
export function summarizeRounds(rounds: readonly RoundMeasurement[]): ScaleSummary[] {
  const floors = rounds.filter((r) => r.server === "floor");
  const out: ScaleSummary[] = [];
  const keymintScales = [...new Set(rounds.filter((r) => r.server === "keymint").map((r) => r.clients))].sort(
    (a, b) => a - b,
  );
  for (const clients of keymintScales) {
    out.push(
      summarize(
        rounds.filter((r) => r.server === "keymint" && r.clients === clients),
        floors,
      ),
    );
  }
  if (floors.length > 0) out.push(summarize(floors, floors));
  const hono = rounds.filter((r) => r.server === "hono-floor");
  if (hono.length > 0) out.push(summarize(hono, floors));
  return out;
}

export const TARGETS = {
  throughputRatio: 0.7,
  ownCpuUs: 40,
  p99Ratio: 1.5,
  kvReadsPerToken: 0.05,
  microUs: 30,
} as const;

/** The issue's targets, evaluated on the medians (at 1 and 1 000 clients where a scale applies). */
export function evaluateTargets(
  summaries: readonly ScaleSummary[],
  rounds: readonly RoundMeasurement[],
  micro: MicroResult | null,
  windowSeconds: number,
): Target[] {
  const targets: Target[] = [];
  const keymint = (clients: number) => summaries.find((s) => s.server === "keymint" && s.clients === clients);
  for (const clients of [1, 1000]) {
    const s = keymint(clients);
    if (s === undefined || s.ratioToFloor === null) continue;
    targets.push({
      name: `tokens/s >= ${TARGETS.throughputRatio} x floor req/s (${clients} client${clients === 1 ? "" : "s"})`,
      pass: s.ratioToFloor >= TARGETS.throughputRatio,
      actual: `${s.ratioToFloor.toFixed(2)} x`,
    });
  }
  const keymintRounds = rounds.filter((r) => r.server === "keymint");
  const errors = keymintRounds.reduce((sum, r) => sum + r.non2xx + r.errors, 0);
  targets.push({
    name: "0 errors (non-2xx + socket errors, every keymint round)",
    pass: errors === 0,
    actual: `${errors}`,
  });
  for (const clients of [1, 1000]) {
    const s = keymint(clients);
    if (s === undefined || s.ownCpuUs === null) continue;
    targets.push({
      name: `own CPU per token <= ${TARGETS.ownCpuUs} µs (${clients} client${clients === 1 ? "" : "s"})`,
      pass: s.ownCpuUs <= TARGETS.ownCpuUs,
      actual: `${s.ownCpuUs.toFixed(1)} µs`,
    });
  }
  for (const clients of [1, 1000]) {
    const s = keymint(clients);
    if (s === undefined || s.p99RatioToFloor === null) continue;
    targets.push({
      name: `p99 <= ${TARGETS.p99Ratio} x floor p99 (${clients} client${clients === 1 ? "" : "s"})`,
      pass: s.p99RatioToFloor <= TARGETS.p99Ratio,
      actual: `${s.p99RatioToFloor.toFixed(2)} x`,
    });
  }
  const thousand = keymint(1000);
  if (thousand?.kvReadsPerToken !== null && thousand?.kvReadsPerToken !== undefined) {
    targets.push({
      name: `KV reads per token <= ${TARGETS.kvReadsPerToken} (1 000 clients, steady state)`,
      pass: thousand.kvReadsPerToken <= TARGETS.kvReadsPerToken,
      actual:
        thousand.kvReadsPerToken.toFixed(4) +
        (windowSeconds < CLIENT_CACHE_TTL_SECONDS
          ? ` (window < ${CLIENT_CACHE_TTL_SECONDS} s cache TTL: not steady state)`
          : ""),
    });
  }
  const writes = keymintRounds.reduce((sum, r) => sum + (r.kvWrites ?? 0), 0);
  targets.push({ name: "0 KV writes", pass: writes === 0, actual: `${writes}` });
  if (micro !== null) {
    targets.push({
      name: `microbenchmark: authenticate + decide + sign < ${TARGETS.microUs} µs/token`,
      pass: micro.usPerOp.token < TARGETS.microUs,
      actual: `${micro.usPerOp.token.toFixed(2)} µs`,
    });
  }
  return targets;
}

// ---------------------------------------------------------------------------------------------------------
// Rendering

/** One line about a round, for the progress log. */
export function describeRound(r: RoundMeasurement): string {
  const kv =
    r.kvReadsPerToken === null
      ? ""
      : `; KV ${r.kvReads} reads (${r.kvReadsPerToken.toFixed(4)}/token), ${r.kvWrites} writes`;
  return (
    `${Math.round(r.okPerSecond)} ok/s, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms, ` +
    `${r.non2xx} non-2xx, ${r.errors} errors; CPU ${r.cpuUsPerRequest.toFixed(1)} µs/req; ` +
    `load generator ${r.loadGeneratorCores.toFixed(2)} cores, other processes ${(r.otherCores + r.stealCores).toFixed(2)} cores${kv}`
  );
}

function fmt(value: number | null, digits: number): string {
  if (value === null || !Number.isFinite(value)) return "–";
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function label(s: { server: ServerKind; clients: number }): string {
  if (s.server === "keymint")
    return `keymint, ${s.clients.toLocaleString("en-US")} client${s.clients === 1 ? "" : "s"}`;
  return s.server === "floor" ? "floor (bare Worker)" : "Hono floor";
}

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  const align = header.map((_, i) => (i === 0 ? "---" : "---:"));
  return [line(header), line(align), ...rows.map(line)].join("\n");
}

export function summaryTable(summaries: readonly ScaleSummary[]): string {
  return table(
    [
      "server",
      "rounds",
      "tokens/s (req/s)",
      "p50 ms",
      "p99 ms",
      "CPU µs/req",
      "own CPU µs",
      "ratio to floor",
      "KV reads/token",
      "KV writes",
      "errors",
    ],
    summaries.map((s) => [
      label(s),
      `${s.rounds}`,
      fmt(s.okPerSecond, 0),
      fmt(s.p50Ms, 2),
      fmt(s.p99Ms, 2),
      fmt(s.cpuUsPerRequest, 1),
      fmt(s.ownCpuUs, 1),
      s.ratioToFloor === null ? "–" : `${fmt(s.ratioToFloor, 2)}`,
      fmt(s.kvReadsPerToken, 4),
      s.kvWrites === null ? "–" : `${s.kvWrites}`,
      `${s.errors}`,
    ]),
  );
}

export function targetsTable(targets: readonly Target[]): string {
  return table(
    ["target", "result", "measured"],
    targets.map((t) => [t.name, t.pass ? "PASS" : "MISS", t.actual]),
  );
}

export function roundsTable(rounds: readonly RoundMeasurement[]): string {
  return table(
    [
      "round",
      "server",
      "ok/s",
      "p50 ms",
      "p99 ms",
      "CPU µs/req",
      "KV reads/token",
      "KV µs/read",
      "audit B/token",
      "load gen cores",
      "other cores",
      "errors",
    ],
    rounds.map((r) => [
      `${r.round}`,
      label(r),
      fmt(r.okPerSecond, 0),
      fmt(r.p50Ms, 2),
      fmt(r.p99Ms, 2),
      fmt(r.cpuUsPerRequest, 1),
      fmt(r.kvReadsPerToken, 4),
      fmt(r.kvCpuUsPerRead, 1),
      fmt(r.auditBytesPerToken, 0),
      fmt(r.loadGeneratorCores, 2),
      fmt(r.otherCores + r.stealCores, 2),
      `${r.non2xx + r.errors}`,
    ]),
  );
}

export function microTable(micro: MicroResult): string {
  const rows: [string, number][] = [
    ["authenticate + decide + sign (one token)", micro.usPerOp.token],
    ["verifyClientSecret", micro.usPerOp.verify],
    ["decideClientCredentials (with crypto.randomUUID jti)", micro.usPerOp.decide],
    ["signJwt", micro.usPerOp.sign],
    ["prepare a KV value (cache miss: JSON.parse + parseRecord + base64)", micro.usPerOp.prepare],
    ["a token Request: read its body, build a constant Response (what any endpoint pays)", micro.usPerOp.request],
    ["the whole token endpoint on that Request (audit log on)", micro.usPerOp.endpoint],
    ["the whole token endpoint, AUDIT_LOG=off", micro.usPerOp["endpoint-quiet"]],
    ["keymint's own work per token (whole endpoint − request)", micro.usPerOp.endpoint - micro.usPerOp.request],
  ];
  return table(
    ["operation (inside workerd)", "µs per op"],
    rows.map(([name, us]) => [name, fmt(us, 2)]),
  );
}

/** The console summary printed at the end of a run. */
export function consoleReport(report: Report): string {
  const parts = ["", summaryTable(report.summaries), "", targetsTable(report.targets)];
  if (report.micro !== null) parts.push("", microTable(report.micro));
  parts.push("", `total ${Math.round(report.totalSeconds)} s`);
  if (report.failures.length > 0) parts.push("", "FAILED:", ...report.failures.map((f) => `- ${f.what}`));
  return parts.join("\n");
}

function failureSection(failures: readonly Failure[]): string {
  if (failures.length === 0) return "";
  const lines = [...new Set(failures.flatMap((f) => f.logLines))].slice(0, 12);
  return `## Run FAILED

${failures.map((f) => `- ${f.what}`).join("\n")}

The server's log during the failing rounds (lines other than issued tokens, duplicates removed):

\`\`\`text
${lines.join("\n") || "(nothing)"}
\`\`\`

`;
}

/** BENCHMARK.md. */
export function markdownReport(report: Report): string {
  const { environment: env, settings } = report;
  const m = env.machine;
  const largest = settings.scales[settings.scales.length - 1] ?? 0;
  return `# keymint load benchmark

Generated by \`${settings.command}\` (bench/run.ts); do not edit by hand, run it again.

- **Date:** ${env.date}
- **Machine:** ${m.cores} cores, ${m.cpuModel}, ${m.memoryGiB} GiB RAM, Linux ${m.kernel}
- **Versions:** Node ${env.node}, ${env.workerd}, wrangler ${env.wrangler}, autocannon ${env.autocannon}, hono ${env.hono}; keymint commit ${env.commit}
- **Load:** ${settings.connections} connections, ${settings.warmupSeconds} s warm-up + ${settings.durationSeconds} s measured per round, ${settings.rounds} rounds alternating keymint and the floor (${largest.toLocaleString("en-US")} clients: ${settings.roundsAtLargestScale} round${settings.roundsAtLargestScale === 1 ? "" : "s"}); run took ${Math.round(report.totalSeconds)} s
- **Set-up:** each Worker bundled by \`wrangler deploy --dry-run\`, served by bare workerd on 127.0.0.1; keymint's \`CLIENTS\` bound to an in-memory KV service in its own process; the vars of wrangler.toml (\`ISSUER\` empty, \`CLIENT_CACHE_TTL\` 10 s), audit log on

${failureSection(report.failures)}## Results (medians over rounds)

${summaryTable(report.summaries)}

## Targets

${targetsTable(report.targets)}
${
  report.micro === null
    ? ""
    : `
## Microbenchmark: the token hot path inside workerd

${microTable(report.micro)}

workerd CPU time around one request that runs the operation ${report.micro.iterations.toLocaleString("en-US")} times, minus an empty loop of as many iterations, median of ${report.micro.repetitions} (clock: ${report.micro.clock}).
`
}
## Every round

${roundsTable(report.rounds)}

## How to read it

- **floor (bare Worker)** is a plain \`fetch\` handler (bench/workers/floor.ts) that answers \`POST /oauth2/token\` with a constant, token-shaped JSON body and keymint's headers. It costs what any Worker costs here: workerd, HTTP parsing, loopback. keymint cannot be faster than it. It is run between keymint's rounds, and every comparison (**ratio to floor**, **own CPU**, the p99 ratio) pairs a keymint round with the floor round nearest to it in time, then takes the median: this machine's speed drifts by tens of percent over minutes (a shared VM), which pairing cancels and comparing independent medians would not.
- **Hono floor** is the same constant answer through a minimal \`hono/tiny\` app: its own CPU is what the router costs.
- **CPU µs/req** is the workerd process's user + system CPU time (all threads, /proc/<pid>/stat) over the measured window, divided by the responses in it. It is the number that matters on Workers, which bill and limit CPU time. **own CPU µs** subtracts the floor's: what keymint's code (Hono, form parsing, client lookup, SHA-256, HMAC, JSON, the audit log line) costs per token.
- **tokens/s and latency** come from a closed loop of ${settings.connections} connections on the same ${m.cores} cores as the server. workerd runs a Worker on one thread, so throughput is about 1 ÷ CPU per request and latency is mostly queueing (≈ connections ÷ throughput): compare them with the floor, not as absolute numbers. **load gen cores** is the CPU autocannon itself used; **other cores** is CPU used by anything else on the machine during the round (above ~0.1 the round was disturbed).
- **KV reads/token** counts the GETs the KV service received per token issued. keymint caches each client record in the isolate for \`CLIENT_CACHE_TTL\` (10 s), up to 10 000 records: with 1 or 1 000 clients each record is read about once per 10 s (the measured window must be at least that long to see it), so reads per token fall as throughput rises; with ${largest.toLocaleString("en-US")} clients used round-robin the cache cannot hold them and every token reads KV (a worst case: real traffic is rarely spread that evenly). On Workers a KV read is a network hop, slower than this loopback one, and workerd's CPU for it here is part of CPU µs/req.
- **KV writes** counts every non-GET request the KV service received: the token path must never write.
- **errors** are non-2xx responses plus socket errors and timeouts; any error fails the run.
- The **microbenchmark** isolates authenticate (\`verifyClientSecret\`), decide (\`decideClientCredentials\`) and sign (\`signJwt\`) from HTTP, routing and logging.
`;
}

/** Rounds a measurement's numbers for the JSON file. */
export function tidy(r: RoundMeasurement): RoundMeasurement {
  const nullable = (v: number | null, d: number) => (v === null ? null : round(v, d));
  return {
    ...r,
    seconds: round(r.seconds, 3),
    okPerSecond: round(r.okPerSecond, 1),
    p50Ms: round(r.p50Ms, 3),
    p90Ms: round(r.p90Ms, 3),
    p99Ms: round(r.p99Ms, 3),
    maxMs: round(r.maxMs, 3),
    cpuUsPerRequest: round(r.cpuUsPerRequest, 2),
    loadGeneratorCores: round(r.loadGeneratorCores, 3),
    otherCores: round(r.otherCores, 3),
    stealCores: round(r.stealCores, 3),
    kvReadsPerToken: nullable(r.kvReadsPerToken, 5),
    kvCpuUsPerRead: nullable(r.kvCpuUsPerRead, 1),
    auditBytesPerToken: nullable(r.auditBytesPerToken, 1),
  };
}
