/** Summaries, targets and rendering (console, JSON, BENCHMARK.md) of a benchmark run. */

import type { GcSummary } from "./gc.ts";
import type { MicroResult } from "./micro.ts";
import type { MachineInfo } from "./procfs.ts";
import { median, round } from "./stats.ts";

/** A scenario id (bench/lib/scenarios.ts), or one of the floors. */
export type RowId = string;
export const FLOOR = "floor";
export const BARE_FLOOR = "bare-floor";

/** A round is disturbed when other processes used more CPU than this during it (cores), or the VM stole this much. */
export const DISTURBED_OTHER_CORES = 0.15;
export const DISTURBED_STEAL_CORES = 0.05;

/** One measured window against one server. */
export interface RoundMeasurement {
  row: RowId;
  label: string;
  /** Position of the window in the run (0-based), to pair a scenario with the floor window nearest in time. */
  sequence: number;
  round: number;
  /** Earlier tries of this window that were disturbed and repeated. */
  retries: number;
  seconds: number;
  responses: number;
  ok: number;
  non2xx: number;
  errors: number;
  statusCodes: Record<string, number>;
  okPerSecond: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  /** workerd CPU (user + system, all threads) per response, µs. */
  cpuUsPerRequest: number;
  loadGeneratorCores: number;
  /** CPU used by anything but the server, the load generator and the KV service, in cores. */
  otherCores: number;
  stealCores: number;
  /** Set when other load or steal passed the thresholds: the round is reported but left out of medians. */
  disturbed: boolean;
  kvReads: number | null;
  kvWrites: number | null;
  issuerRequests: number | null;
  /** Single-use requests the load generator had to sign during the window (its pool ran dry). */
  lateItems: number;
  /** Audit log bytes per response (keymint). */
  logBytesPerRequest: number | null;
  gc: GcSummary | null;
  logRange: [start: number, end: number];
}

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export interface RowSummary {
  row: RowId;
  label: string;
  rounds: number;
  /** Rounds left out of the medians because they were disturbed. */
  disturbed: number;
  okPerSecond: Spread;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerRequest: number;
  /** CPU per request minus that of the paired floor round. */
  ownCpuUs: Spread | null;
  /** okPerSecond ÷ that of the paired floor round. */
  ratioToFloor: Spread | null;
  /** p99 ÷ the p99 of the paired floor windows. */
  p99RatioToHono: Spread | null;
  kvReadsPerRequest: number | null;
  kvWritesPerRequest: number | null;
  errors: number;
  allocatedBytesPerRequest: number | null;
  promotedBytesPerRequest: number | null;
  requestsPerScavenge: number | null;
  maxMarkCompactMs: number | null;
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
  initialWarmupSeconds: number;
  rounds: number;
  secondaryRounds: number;
  scenarios: string[];
  retries: number;
  maxWaitSeconds: number;
  micro: boolean;
  /** Scenarios left out, and why (DPoP rows on a keymint without DPoP). */
  skipped: string[];
  /** --baseline: the git revision served as the "before" keymint, and its commit. */
  baseline: string | null;
  baselineCommit?: string;
}

/** A scenario against its `@baseline` twin, round by round (the twin runs right after it). */
export interface BaselineRow {
  row: RowId;
  rounds: number;
  /** CPU µs per request: this checkout minus the baseline, per round. */
  cpuDiffUs: Spread | null;
  /** Requests per second: this checkout ÷ the baseline, per round. */
  throughputRatio: Spread | null;
  /** p99: this checkout ÷ the baseline, per round. */
  p99Ratio: Spread | null;
  /** V8 heap bytes allocated per request: this checkout minus the baseline, per round. */
  allocatedDiffBytes: Spread | null;
}

export function baselineComparison(rounds: readonly RoundMeasurement[], rows: readonly RowId[]): BaselineRow[] {
  const out: BaselineRow[] = [];
  for (const row of rows) {
    if (row.endsWith("@baseline") || !rows.includes(`${row}@baseline`)) continue;
    const all = rounds
      .filter((r) => r.row === row)
      .flatMap((r) => {
        const base = rounds.find((b) => b.row === `${row}@baseline` && b.round === r.round);
        return base === undefined ? [] : [[r, base] as const];
      });
    // Undisturbed pairs, unless fewer than half of them are (then all, as `counted` does for rows).
    const clean = all.filter(([r, b]) => !r.disturbed && !b.disturbed);
    const pairs = clean.length > 0 && clean.length * 2 >= all.length ? clean : all;
    out.push({
      row,
      rounds: pairs.length,
      cpuDiffUs: spread(pairs.map(([r, b]) => r.cpuUsPerRequest - b.cpuUsPerRequest)),
      throughputRatio: spread(pairs.map(([r, b]) => r.okPerSecond / b.okPerSecond)),
      p99Ratio: spread(pairs.map(([r, b]) => r.p99Ms / b.p99Ms)),
      allocatedDiffBytes: spread(
        pairs.map(
          ([r, b]) => (r.gc?.allocatedBytesPerRequest ?? Number.NaN) - (b.gc?.allocatedBytesPerRequest ?? Number.NaN),
        ),
      ),
    });
  }
  return out;
}

export function baselineTable(rows: readonly BaselineRow[], commit: string | undefined): string {
  return table(
    [
      `scenario: this checkout vs ${commit ?? "the baseline"}, same rounds`,
      "rounds",
      "CPU µs/req difference (min–max)",
      "req/s ratio (min–max)",
      "p99 ratio (min–max)",
      "allocated B/req difference (min–max)",
    ],
    rows.map((r) => [
      `\`${r.row}\``,
      String(r.rounds),
      fmtSpread(r.cpuDiffUs, 1),
      fmtSpread(r.throughputRatio, 2),
      fmtSpread(r.p99Ratio, 2),
      fmtSpread(r.allocatedDiffBytes, 0),
    ]),
  );
}

export interface Environment {
  date: string;
  machine: MachineInfo;
  node: string;
  workerd: string;
  wrangler: string;
  /** The load generator and its version (`autocannon` in results files from before issue 24). */
  loadGenerator?: string;
  autocannon?: string;
  hono: string;
  commit: string;
}

/** A round with non-2xx responses or socket errors (or unexpected KV writes), with the server's log lines. */
export interface Failure {
  what: string;
  logLines: string[];
}

export interface Report {
  environment: Environment;
  settings: RunSettings;
  summaries: RowSummary[];
  /** The floor's first round against the median of its others: does the warm-up do its job? */
  firstRound: { floorRatio: number | null; bareRatio: number | null };
  targets: Target[];
  /** --baseline: each scenario against its twin served by the baseline revision. */
  baseline?: BaselineRow[];
  micro: MicroResult | null;
  rounds: RoundMeasurement[];
  totalSeconds: number;
  /** Seconds spent waiting for other load on the machine to end. */
  waitedSeconds: number;
  failures: Failure[];
}

/**
 * The floor as it ran around `r`: the mean of the nearest floor window before it and the nearest after it (one of
 * them at the ends of the run). This machine's speed drifts by tens of percent within a minute; bracketing a
 * window by floor windows on both sides cancels a linear drift, which a single nearest window does not.
 */
function partner(r: RoundMeasurement, floors: readonly RoundMeasurement[]): RoundMeasurement | undefined {
  let before: RoundMeasurement | undefined;
  let after: RoundMeasurement | undefined;
  for (const f of floors) {
    if (f.sequence < r.sequence && (before === undefined || f.sequence > before.sequence)) before = f;
    if (f.sequence > r.sequence && (after === undefined || f.sequence < after.sequence)) after = f;
  }
  if (before === undefined || after === undefined) return before ?? after;
  return {
    ...after,
    okPerSecond: (before.okPerSecond + after.okPerSecond) / 2,
    cpuUsPerRequest: (before.cpuUsPerRequest + after.cpuUsPerRequest) / 2,
    p99Ms: (before.p99Ms + after.p99Ms) / 2,
  };
}

function spread(values: readonly number[]): Spread | null {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return null;
  return { median: median(finite), min: Math.min(...finite), max: Math.max(...finite) };
}

/** The rounds medians are taken over: the undisturbed ones, unless fewer than half the rounds are. */
function counted(rounds: readonly RoundMeasurement[]): RoundMeasurement[] {
  const clean = rounds.filter((r) => !r.disturbed);
  return clean.length * 2 >= rounds.length && clean.length > 0 ? clean : [...rounds];
}

function summarize(rows: readonly RoundMeasurement[], all: readonly RoundMeasurement[]): RowSummary {
  const first = rows[0] as RoundMeasurement;
  const used = counted(rows);
  const floors = all.filter((r) => r.row === FLOOR);
  const pick = (f: (r: RoundMeasurement) => number) => median(used.map(f));
  const nullable = (f: (r: RoundMeasurement) => number | null) => {
    const values = used.map(f).filter((v): v is number => v !== null && Number.isFinite(v));
    return values.length === 0 ? null : median(values);
  };
  const isFloor = first.row === FLOOR;
  const paired = (f: (r: RoundMeasurement, floor: RoundMeasurement) => number) =>
    isFloor || floors.length === 0 ? null : spread(used.map((r) => f(r, partner(r, floors) as RoundMeasurement)));
  return {
    row: first.row,
    label: first.label,
    rounds: rows.length,
    disturbed: rows.filter((r) => r.disturbed).length,
    okPerSecond: spread(used.map((r) => r.okPerSecond)) as Spread,
    p50Ms: pick((r) => r.p50Ms),
    p99Ms: pick((r) => r.p99Ms),
    cpuUsPerRequest: pick((r) => r.cpuUsPerRequest),
    ownCpuUs: paired((r, f) => r.cpuUsPerRequest - f.cpuUsPerRequest),
    ratioToFloor: paired((r, f) => r.okPerSecond / f.okPerSecond),
    p99RatioToHono: paired((r, f) => r.p99Ms / f.p99Ms),
    kvReadsPerRequest: nullable((r) => (r.kvReads === null || r.ok === 0 ? null : r.kvReads / r.ok)),
    kvWritesPerRequest: nullable((r) => (r.kvWrites === null || r.ok === 0 ? null : r.kvWrites / r.ok)),
    errors: rows.reduce((sum, r) => sum + r.non2xx + r.errors, 0),
    allocatedBytesPerRequest: nullable((r) => r.gc?.allocatedBytesPerRequest ?? null),
    promotedBytesPerRequest: nullable((r) => r.gc?.promotedBytesPerRequest ?? null),
    requestsPerScavenge: nullable((r) => r.gc?.requestsPerScavenge ?? null),
    maxMarkCompactMs: nullable((r) => (r.gc === null || r.gc.markCompacts === 0 ? null : r.gc.maxMarkCompactPauseMs)),
  };
}

/** One summary per row, in the order the rows first ran, floors last. */
export function summarizeRounds(rounds: readonly RoundMeasurement[], order: readonly RowId[]): RowSummary[] {
  const ids = [...order.filter((id) => rounds.some((r) => r.row === id)), FLOOR, BARE_FLOOR].filter((id) =>
    rounds.some((r) => r.row === id),
  );
  return ids.map((id) =>
    summarize(
      rounds.filter((r) => r.row === id),
      rounds,
    ),
  );
}

/** Floor and bare floor round 1 ÷ the median of their later rounds (1.00: round 1 was no outlier). */
export function firstRoundCheck(rounds: readonly RoundMeasurement[]): Report["firstRound"] {
  const ratio = (row: RowId) => {
    const list = rounds.filter((r) => r.row === row);
    const first = list.filter((r) => r.round === 1);
    const later = list.filter((r) => r.round > 1);
    if (first.length === 0 || later.length === 0) return null;
    return median(first.map((r) => r.okPerSecond)) / median(later.map((r) => r.okPerSecond));
  };
  return { floorRatio: ratio(FLOOR), bareRatio: ratio(BARE_FLOOR) };
}

export const TARGETS = {
  ratioToFloor: 0.7,
  ownCpuUs: 40,
  p99RatioToHono: 2,
  microUs: 30,
  /** What 3 static claims may add to a token (issue 20), measured by the microbenchmark. */
  claimsUs: 5,
} as const;

/** The primary rows carry the issue's targets. */
export const TARGET_ROWS: readonly RowId[] = ["hs256", "hs256-1000"];

function rowName(s: RowSummary): string {
  return s.row;
}

export function evaluateTargets(
  summaries: readonly RowSummary[],
  rounds: readonly RoundMeasurement[],
  micro: MicroResult | null,
  writers: ReadonlySet<RowId>,
): Target[] {
  const targets: Target[] = [];
  for (const s of summaries.filter((x) => TARGET_ROWS.includes(x.row))) {
    const ratio = s.ratioToFloor?.median ?? Number.NaN;
    const own = s.ownCpuUs?.median ?? Number.NaN;
    const p99 = s.p99RatioToHono?.median ?? Number.NaN;
    targets.push(
      {
        name: `own CPU per token <= ${TARGETS.ownCpuUs} µs above the floor (${rowName(s)})`,
        pass: own <= TARGETS.ownCpuUs,
        actual: `${fmt(own, 1)} µs`,
      },
      {
        name: `tokens/s >= ${TARGETS.ratioToFloor} x the floor (${rowName(s)})`,
        pass: ratio >= TARGETS.ratioToFloor,
        actual: `${fmt(ratio, 2)} x`,
      },
      {
        name: `p99 <= ${TARGETS.p99RatioToHono} x the floor's p99 (${rowName(s)})`,
        pass: p99 <= TARGETS.p99RatioToHono,
        actual: `${fmt(p99, 2)} x`,
      },
    );
  }
  const errors = rounds.reduce((sum, r) => sum + r.non2xx + r.errors, 0);
  targets.push({ name: "0 errors (non-2xx + socket errors, every round)", pass: errors === 0, actual: String(errors) });
  const writes = rounds.filter((r) => !writers.has(r.row)).reduce((sum, r) => sum + (r.kvWrites ?? 0), 0);
  targets.push({
    name: "0 KV writes (every scenario)",
    pass: writes === 0,
    actual: String(writes),
  });
  if (micro !== null) {
    targets.push({
      name: `microbenchmark: authenticate + decide + sign < ${TARGETS.microUs} µs/token`,
      pass: micro.usPerOp.token < TARGETS.microUs,
      actual: `${fmt(micro.usPerOp.token, 2)} µs`,
    });
    // Results files from before issue 20 have no claims modes.
    const claims = micro.usPerOp["endpoint-claims"];
    if (claims !== undefined) {
      const extra = claims - micro.usPerOp.endpoint;
      targets.push({
        name: `microbenchmark: a token with 3 static claims costs < ${TARGETS.claimsUs} µs over a plain one (whole endpoint)`,
        pass: extra < TARGETS.claimsUs,
        actual: `${fmt(extra, 2)} µs`,
      });
    }
  }
  return targets;
}

// ---------------------------------------------------------------------------------------------------------
// Rendering

function fmt(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function fmtSpread(s: Spread | null, digits: number): string {
  if (s === null) return "–";
  return `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const align = header.map((_, i) => (i === 0 ? "---" : "---:"));
  return [header, align, ...rows].map((cells) => `| ${cells.join(" | ")} |`).join("\n");
}

export function describeRound(r: RoundMeasurement): string {
  const kv =
    r.kvReads === null ? "" : `; KV ${r.kvReads} reads, ${r.kvWrites ?? 0} writes, issuer ${r.issuerRequests ?? 0}`;
  const gc =
    r.gc === null
      ? ""
      : `; GC ${fmt(r.gc.allocatedBytesPerRequest)} B/req allocated, ${fmt(r.gc.promotedBytesPerRequest)} B/req promoted, ${r.gc.scavenges} scavenges, ${r.gc.markCompacts} mark-compacts (max ${fmt(r.gc.maxMarkCompactPauseMs, 1)} ms)`;
  return (
    `${fmt(r.okPerSecond)} ok/s, p50 ${fmt(r.p50Ms, 2)} ms, p99 ${fmt(r.p99Ms, 2)} ms, ${r.non2xx} non-2xx, ` +
    `${r.errors} errors; CPU ${fmt(r.cpuUsPerRequest, 1)} µs/req; load generator ${fmt(r.loadGeneratorCores, 2)} ` +
    `cores, other ${fmt(r.otherCores, 2)} cores${r.disturbed ? " (DISTURBED)" : ""}${kv}${gc}` +
    (r.lateItems > 0 ? `; ${r.lateItems} requests signed late` : "")
  );
}

export function summaryTable(summaries: readonly RowSummary[]): string {
  return table(
    [
      "scenario",
      "rounds (disturbed)",
      "req/s",
      "CPU µs/req",
      "own CPU µs (min–max)",
      "ratio to floor (min–max)",
      "p99 ms",
      "p99 ÷ floor p99 (min–max)",
      "KV reads/req",
      "KV writes/req",
      "errors",
    ],
    summaries.map((s) => [
      `${s.label} \`${s.row}\``,
      `${s.rounds} (${s.disturbed})`,
      fmt(s.okPerSecond.median),
      fmt(s.cpuUsPerRequest, 1),
      fmtSpread(s.ownCpuUs, 1),
      fmtSpread(s.ratioToFloor, 2),
      fmt(s.p99Ms, 2),
      fmtSpread(s.p99RatioToHono, 2),
      fmt(s.kvReadsPerRequest, 4),
      fmt(s.kvWritesPerRequest, 3),
      String(s.errors),
    ]),
  );
}

export function gcTable(summaries: readonly RowSummary[]): string {
  return table(
    ["scenario", "V8 heap allocated B/req", "promoted B/req", "requests per scavenge", "longest mark-compact ms"],
    summaries.map((s) => [
      `\`${s.row}\``,
      fmt(s.allocatedBytesPerRequest),
      fmt(s.promotedBytesPerRequest),
      fmt(s.requestsPerScavenge),
      fmt(s.maxMarkCompactMs, 1),
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
      "scenario",
      "req/s",
      "p50 ms",
      "p99 ms",
      "CPU µs/req",
      "alloc B/req",
      "load gen cores",
      "other cores",
      "disturbed",
      "KV reads/req",
      "KV writes",
      "errors",
    ],
    rounds.map((r) => [
      String(r.round),
      r.row,
      fmt(r.okPerSecond),
      fmt(r.p50Ms, 2),
      fmt(r.p99Ms, 2),
      fmt(r.cpuUsPerRequest, 1),
      fmt(r.gc?.allocatedBytesPerRequest),
      fmt(r.loadGeneratorCores, 2),
      fmt(r.otherCores, 2),
      r.disturbed ? "yes" : r.retries > 0 ? `repeated ${r.retries}x` : "",
      r.kvReads === null || r.ok === 0 ? "–" : fmt(r.kvReads / r.ok, 4),
      r.kvWrites === null ? "–" : String(r.kvWrites),
      String(r.non2xx + r.errors),
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
    ["the whole token endpoint for a tls_client_auth client (RFC 8705, request.cf)", micro.usPerOp["endpoint-mtls"]],
    [
      "keymint's own work per tls_client_auth token (whole endpoint − its request)",
      micro.usPerOp["endpoint-mtls"] - micro.usPerOp["request-mtls"],
    ],
  ];
  const claims = micro.usPerOp["endpoint-claims"];
  if (claims !== undefined) {
    rows.push(
      ["authenticate + decide + sign, client with 3 static claims", micro.usPerOp["token-claims"]],
      ["the whole token endpoint, client with 3 static claims", claims],
      ["what 3 static claims add (whole endpoint, claims − plain)", claims - micro.usPerOp.endpoint],
    );
  }
  return table(
    ["operation (inside workerd)", "µs per op"],
    rows.map(([name, us]) => [name, fmt(us, 2)]),
  );
}

/**
 * Where the HS256 token's CPU goes, by cause, from the microbenchmark's modes (inside workerd, no HTTP): what
 * any endpoint pays for its Request and Response, each platform call the token needs, the audit line, and the
 * rest (keymint's own JavaScript: form and Basic parsing, configuration, the cached client lookup, the token JSON).
 */
export function causesTable(micro: MicroResult): string {
  const u = micro.usPerOp;
  const audit = u.endpoint - u["endpoint-quiet"];
  const rest = u["endpoint-quiet"] - u.request - u.verify - u.decide - u.sign;
  const rows: [string, string, number][] = [
    ["read the Request's body, build a constant Response (any endpoint)", "`request`", u.request],
    ["client authentication: one SHA-256 (`crypto.subtle.digest`), two `timingSafeEqual`", "`verify`", u.verify],
    ["the token's claims, `crypto.randomUUID` for its `jti`", "`decide`", u.decide],
    ["HS256 signature (`crypto.subtle.sign`), base64url, JSON of the claims", "`sign`", u.sign],
    ["the audit line (fixed-shape object, `JSON.stringify`, `console.log`)", "`endpoint` − `endpoint-quiet`", audit],
    [
      "the rest: form and Basic parsing, configuration, cached client lookup, token JSON, headers",
      "`endpoint-quiet` − the rows above",
      rest,
    ],
    ["the whole token endpoint", "`endpoint`", u.endpoint],
  ];
  return table(
    ["cause (HS256 token, client_secret_basic)", "measured as (micro modes)", "µs", "share of the endpoint"],
    rows.map(([name, how, us]) => [name, how, fmt(us, 1), `${fmt((100 * us) / u.endpoint, 0)} %`]),
  );
}

/** Under load ÷ inside workerd: a row's CPU per request over a micro mode's (`hs256` ÷ `endpoint`, bare floor ÷ `request`). */
function loadFactor(report: Report, row: RowId, mode: "endpoint" | "request"): number {
  const summary = report.summaries.find((x) => x.row === row);
  return summary === undefined || report.micro === null
    ? Number.NaN
    : summary.cpuUsPerRequest / report.micro.usPerOp[mode];
}

function firstRoundLine(report: Report): string {
  const { floorRatio, bareRatio } = report.firstRound;
  if (floorRatio === null) return "First round: only one round was run.";
  return (
    `First round (after ${report.settings.initialWarmupSeconds} s of warm-up per server): the floor's round 1 ran at ` +
    `${fmt(floorRatio, 2)} x the median of its later rounds, the bare floor's at ${fmt(bareRatio, 2)} x.`
  );
}

/** The console summary printed at the end of a run. */
export function consoleReport(report: Report): string {
  const parts = [
    "",
    summaryTable(report.summaries),
    "",
    gcTable(report.summaries),
    "",
    targetsTable(report.targets),
    "",
    firstRoundLine(report),
  ];
  if (report.baseline !== undefined && report.baseline.length > 0) {
    parts.push("", baselineTable(report.baseline, report.settings.baselineCommit));
  }
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

The server's log during the failing rounds (lines other than successful requests, duplicates removed):

\`\`\`text
${lines.join("\n") || "(nothing)"}
\`\`\`

`;
}

/** BENCHMARK.md. */
export function markdownReport(report: Report): string {
  const { environment: env, settings } = report;
  const m = env.machine;
  const disturbed = report.rounds.filter((r) => r.disturbed).length;
  const retried = report.rounds.reduce((sum, r) => sum + r.retries, 0);
  return `# keymint load benchmark

Generated by \`${settings.command}\` (bench/run.ts); do not edit by hand, run it again.

- **Date:** ${env.date}
- **Machine:** ${m.cores} cores, ${m.cpuModel}, ${m.memoryGiB} GiB RAM, Linux ${m.kernel}
- **Versions:** Node ${env.node}, ${env.workerd}, wrangler ${env.wrangler}, load generator ${env.loadGenerator ?? `autocannon ${env.autocannon}`}, hono ${env.hono}; keymint commit ${env.commit}
- **Load:** ${settings.connections} connections; ${settings.initialWarmupSeconds} s of warm-up per server before round 1, then per window ${settings.warmupSeconds} s warm-up + ${settings.durationSeconds} s measured; ${settings.rounds} rounds of the primary scenarios (HS256 at 1 and 1 000 clients), ${settings.secondaryRounds} of the others, each scenario window bracketed by floor windows and one bare-floor window per round; run took ${Math.round(report.totalSeconds)} s
- **Disturbance:** a window in which other processes used more than ${DISTURBED_OTHER_CORES} cores (or the VM stole more than ${DISTURBED_STEAL_CORES}) is repeated up to ${settings.retries} times, and before each window the run waits for other load to end (${Math.round(report.waitedSeconds)} s of its ${settings.maxWaitSeconds} s budget spent); ${retried} window(s) were repeated, ${disturbed} stayed disturbed and are left out of the medians
${settings.skipped.map((note) => `- **Skipped:** ${note}\n`).join("")}- **Set-up:** each Worker bundled by \`wrangler deploy --dry-run\`, served by bare workerd on 127.0.0.1 (V8 \`--trace-gc-nvp\` on, for the GC columns); keymint's \`CLIENTS\` bound to an in-memory KV service in its own process, which also plays the federated client's OpenID Connect issuer; the vars of wrangler.toml (\`ISSUER\` empty, \`CLIENT_CACHE_TTL\` 10 s), audit log on

${failureSection(report.failures)}## Results (medians of per-round paired figures, min–max in parentheses)

${summaryTable(report.summaries)}

${firstRoundLine(report)}

## Garbage collection per scenario (V8's own trace, medians over rounds)

${gcTable(report.summaries)}

## Targets

${targetsTable(report.targets)}
${
  report.baseline === undefined || report.baseline.length === 0
    ? ""
    : `
## Before/after in the same run (\`--baseline ${settings.baseline}\`)

${baselineTable(report.baseline, settings.baselineCommit)}
`
}${
  report.micro === null
    ? ""
    : `
## Microbenchmark: the token hot path inside workerd

${microTable(report.micro)}

workerd CPU time around one request that runs the operation ${report.micro.iterations.toLocaleString("en-US")} times, minus an empty loop of as many iterations, median of ${report.micro.repetitions} (clock: ${report.micro.clock}).

## Where an HS256 token's CPU goes, by cause

${causesTable(report.micro)}

Inside workerd, without HTTP, so smaller than under load: there the \`hs256\` row costs ${fmt(loadFactor(report, "hs256", "endpoint"), 1)} times \`endpoint\` per request and the bare floor ${fmt(loadFactor(report, BARE_FLOOR, "request"), 1)} times \`request\` (the HTTP connection, the kernel's loopback TCP, the runtime's per-request objects and their garbage, colder caches). What no Worker can avoid is the \`request\` row plus the platform calls a token needs (digest, compares, UUID, HMAC, the log line); keymint's own JavaScript is in the last row but one. How this table was checked against cut points under wrk, and the reconciliation with the outside benchmark: [docs/performance.md](docs/performance.md).
`
}
## Every round

${roundsTable(report.rounds)}

## How to read it

- **floor** is the outside benchmark's \`floor-workerd\` (bench/workers/floor.ts): a Hono app that reads the form body with \`c.req.text()\` and answers a constant token JSON with \`c.json\`: the cheapest token endpoint with a router on this runtime. Floor windows bracket the scenario windows, and every comparison (**ratio to floor**, **own CPU**, the p99 ratio) pairs a scenario's window with the mean of the floor windows just before and just after it, then takes the median over rounds, with the min–max of the per-round figures: this machine's speed drifts by tens of percent within a minute (a shared VM), which bracketing cancels and comparing independent medians would not.
- **bare floor** is a plain \`fetch\` handler (bench/workers/bare-floor.ts) that reads the body and answers a constant, token-shaped JSON body with keymint's headers: what workerd, HTTP parsing and loopback cost, which no Worker can avoid. The floor minus the bare floor is what Hono and \`c.json\` cost.
- **CPU µs/req** is the workerd process's user + system CPU time (all threads, /proc/<pid>/stat) over the measured window, divided by the responses in it: the number that matters on Workers, which bill and limit CPU time. **own CPU µs** subtracts the paired floor's.
- **req/s and latency** come from wrk (one thread; bench/wrk.lua replays requests rendered before the window), a closed loop of ${settings.connections} connections on the same ${m.cores} cores as the server. workerd runs a Worker on one thread, so throughput is about 1 ÷ CPU per request and latency is mostly queueing (≈ connections ÷ throughput). In a closed loop a GC pause delays the requests in flight (${settings.connections}): when scavenges come more often than once per ${settings.connections * 100} requests, more than 1 % of requests wait for one and p99 becomes the scavenge pause. That is why **V8 heap allocated B/req** drives p99.
- **KV reads/req** counts the GETs the KV service received per successful response (client records are cached in the isolate for 10 s; introspection's revocation look-ups are cached as docs/introspection.md says). **KV writes/req** counts every other request to it: no scenario writes (one-time ids, private_key_jwt assertions' and DPoP proofs' \`jti\`, go to the replay guard, a SQLite-backed Durable Object served by the same workerd from local disk, whose CPU is counted in keymint's).
- Single-use requests (private_key_jwt assertions and DPoP proofs, each with its own \`jti\`) are signed by the load generator before the warm-up, in a pool sized from the expected rate; a run that had to sign more during a window says so in the log.
- **errors** are non-2xx responses plus socket errors and timeouts; any error fails the run.
- The **GC** columns come from V8's \`--trace-gc-nvp\` lines in each server's log over the window: bytes the JS heap allocated and promoted per request, requests per scavenge, the longest mark-compact.
`;
}

/** Rounds a measurement's numbers for the JSON file. */
export function tidy(r: RoundMeasurement): RoundMeasurement {
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
    logBytesPerRequest: r.logBytesPerRequest === null ? null : round(r.logBytesPerRequest, 1),
  };
}
