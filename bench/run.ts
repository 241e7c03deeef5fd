/**
 * `npm run bench [-- flags]`: keymint's load benchmark (issues 6 and 13).
 *
 * Bundles keymint, the example API (examples/resource-server) and two floor Workers as `wrangler deploy`
 * would, serves each on bare workerd (generated capnp configs in a temp dir), binds keymint's CLIENTS to an
 * in-memory KV service in its own process (which also plays the federated client's outside issuer), and drives
 * every scenario of bench/lib/scenarios.ts with wrk (driven by its own process) over loopback. Each round runs
 * the scenarios with a bare-floor window next to each and one Hono-floor window; figures are paired per round
 * (scenario ÷ nearest floor window) and reported as medians with their min–max. A window disturbed by other
 * load on the machine is repeated, and flagged and left out of the medians if it stays disturbed. Runs the
 * hot-path microbenchmark; prints the results and writes bench/results/latest.json and BENCHMARK.md.
 *
 * Exits non-zero when a server fails, any response is not 2xx, or a scenario that must not write to KV does;
 * missed targets are reported, not fatal.
 */

import { execFileSync } from "node:child_process";
import type { JsonWebKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { booleanFlag, integerFlag, numberFlag, parseFlags, stringFlag, UsageError, usage } from "./lib/args.ts";
import { type Bundle, bundleProjectAt, rootPath } from "./lib/bundle.ts";
import { basicAuthorization, benchCredentials, type Credentials, newSeed, TOKEN_PATH } from "./lib/clients.ts";
import { keyPair } from "./lib/fixtures.ts";
import { gcRecordsIn, summarizeGc } from "./lib/gc.ts";
import { type KvService, type KvStats, kvDelta, startKvService } from "./lib/kv.ts";
import { LoadGenerator } from "./lib/load.ts";
import { type MicroResult, runMicro } from "./lib/micro.ts";
import { exitOnSignals, fileSize, grepRange, info, makeTempDir, runMain, sleep } from "./lib/process.ts";
import { machineInfo, processCpuMicros, type SystemCpu, systemCpu } from "./lib/procfs.ts";
import {
  BARE_FLOOR,
  baselineComparison,
  consoleReport,
  DISTURBED_OTHER_CORES,
  DISTURBED_STEAL_CORES,
  describeRound,
  evaluateTargets,
  type Failure,
  FLOOR,
  firstRoundCheck,
  markdownReport,
  type Report,
  type RoundMeasurement,
  type RowId,
  type RunSettings,
  summarizeRounds,
  tidy,
} from "./lib/report.ts";
import { dpopProof, type RequestPlan, requestSource } from "./lib/requests.ts";
import {
  clientsNeeded,
  DEFAULT_SCENARIOS,
  OPT_IN_SCENARIOS,
  type PlanContext,
  SCENARIOS,
  type Scenario,
  type ServerId,
  scenarioById,
} from "./lib/scenarios.ts";
import {
  bundleClaimsHook,
  bundleFloor,
  bundleKeymint,
  bundleResourceServer,
  randomSigningKey,
  type Server,
  startFloor,
  startKeymint,
  startResourceServer,
} from "./lib/servers.ts";
import { workerdVersion } from "./lib/workerd.ts";

const FLAGS = {
  quick: { kind: "boolean", help: "smoke test: 1 round, 2 s initial + 1 s warm-up + 3 s per window, short micro" },
  only: {
    kind: "string",
    help: `scenarios, comma-separated (default: ${DEFAULT_SCENARIOS.join(",")}; also ${OPT_IN_SCENARIOS.join(",")})`,
  },
  duration: { kind: "number", help: "measured seconds per window (default 6)" },
  warmup: { kind: "number", help: "warm-up seconds before each window, not measured (default 2)" },
  "initial-warmup": { kind: "number", help: "warm-up seconds per server before round 1 (default 10)" },
  connections: { kind: "number", help: "concurrent connections (default 32)" },
  rounds: { kind: "number", help: "rounds of the primary scenarios, hs256 and hs256-1000 (default 5)" },
  "secondary-rounds": { kind: "number", help: "rounds of every other scenario (default 3)" },
  retries: { kind: "number", help: "times a disturbed window is repeated (default 2)" },
  "max-wait": {
    kind: "number",
    help: "seconds to wait, before a window, for other load on the machine to end (default 180 per run)",
  },
  "no-micro": { kind: "boolean", help: "skip the microbenchmark" },
  baseline: {
    kind: "string",
    help: "also serve keymint as it was at this git revision and run its HS256 secret rows next to the current ones (same-run before/after)",
  },
  report: {
    kind: "string",
    help: "re-summarize a results file (bench/results/latest.json) with the current report code, and rewrite BENCHMARK.md from it when it is a full run; runs nothing",
  },
  help: { kind: "boolean", help: "show this help" },
} as const;

const COMMAND = "npm run bench";

function parseSettings(argv: readonly string[]): RunSettings {
  const flags = parseFlags(argv, FLAGS);
  const quick = booleanFlag(flags, "quick");
  const only = stringFlag(flags, "only");
  const scenarios = only === undefined ? DEFAULT_SCENARIOS : [...new Set(only.split(",").map((s) => s.trim()))];
  for (const id of scenarios) {
    if (scenarioById(id) === undefined) {
      throw new UsageError(`unknown scenario ${id} (known: ${SCENARIOS.map((s) => s.id).join(", ")})`);
    }
  }
  const rounds = integerFlag(flags, "rounds") ?? (quick ? 1 : 5);
  return {
    command: argv.length === 0 ? COMMAND : `${COMMAND} -- ${argv.join(" ")}`,
    quick,
    connections: integerFlag(flags, "connections") ?? 32,
    durationSeconds: numberFlag(flags, "duration") ?? (quick ? 3 : 6),
    warmupSeconds: numberFlag(flags, "warmup") ?? (quick ? 1 : 2),
    initialWarmupSeconds: numberFlag(flags, "initial-warmup") ?? (quick ? 2 : 10),
    rounds,
    secondaryRounds: Math.min(rounds, integerFlag(flags, "secondary-rounds") ?? (quick ? 1 : 3)),
    scenarios,
    retries: integerFlag(flags, "retries") ?? (quick ? 0 : 2),
    maxWaitSeconds: numberFlag(flags, "max-wait") ?? (quick ? 10 : 180),
    skipped: [],
    baseline: stringFlag(flags, "baseline") ?? null,
    micro: !booleanFlag(flags, "no-micro"),
  };
}

type ServerName = ServerId | typeof FLOOR | typeof BARE_FLOOR;

/** Scenarios added for this run (the `@baseline` twins of --baseline). */
const extraScenarios = new Map<string, Scenario>();

function scenario(id: string): Scenario | undefined {
  return extraScenarios.get(id) ?? scenarioById(id);
}

interface Step {
  sequence: number;
  row: RowId;
  round: number;
}

/**
 * Each round: the floor, the Hono floor, then the round's scenarios with a floor window after every second
 * one, so every scenario window is next to a floor window. Secondary scenarios run in the first rounds only.
 */
function schedule(settings: RunSettings, scenarios: readonly Scenario[]): Step[] {
  const steps: Step[] = [];
  const push = (row: RowId, round: number) => steps.push({ sequence: steps.length, row, round });
  for (let round = 1; round <= settings.rounds; round++) {
    const these = scenarios.filter((s) => s.primary || round <= settings.secondaryRounds);
    push(FLOOR, round);
    push(BARE_FLOOR, round);
    these.forEach((s, i) => {
      push(s.id, round);
      if (i % 2 === 1 || i === these.length - 1) push(FLOOR, round);
    });
  }
  return steps;
}

/** `wrk -v`'s first line, e.g. "wrk debian/4.1.0-3+b2 [epoll]". */
function wrkVersion(): string {
  try {
    return execFileSync("wrk", ["-v"], { encoding: "utf8" }).split("\n")[0]?.trim() ?? "wrk";
  } catch (err) {
    // wrk -v exits 1 after printing its version.
    const out = (err as { stdout?: string }).stdout ?? "";
    return out.split("\n")[0]?.trim() || "wrk (version unknown)";
  }
}

function packageVersion(name: string): string {
  try {
    const json = JSON.parse(readFileSync(rootPath("node_modules", name, "package.json"), "utf8")) as {
      version?: unknown;
    };
    return typeof json.version === "string" ? json.version : "unknown";
  } catch {
    return "unknown";
  }
}

function commit(): string {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: rootPath(), encoding: "utf8" }).trim();
    // Only changes to what is measured count (bench/ itself and untracked files do not).
    const dirty = execFileSync(
      "git",
      [
        "status",
        "--porcelain",
        "--untracked-files=no",
        "--",
        "src",
        "examples",
        "wrangler.toml",
        "package.json",
        "package-lock.json",
      ],
      { cwd: rootPath(), encoding: "utf8" },
    ).trim();
    return dirty === "" ? head : `${head} (with uncommitted changes to src or config)`;
  } catch {
    return "unknown";
  }
}

interface Context {
  settings: RunSettings;
  kv: KvService;
  load: LoadGenerator;
  servers: Partial<Record<ServerName, Server>>;
  plans: Map<RowId, RequestPlan>;
  /** Last measured rate per row, to size pools of single-use requests. */
  rates: Map<RowId, number>;
  /** Time spent so far waiting for other load to end, ms. */
  waitedMs: number;
}

/** CPU counters sampled right before and right after a measured window. */
interface Sample {
  server: number;
  generator: number;
  kv: number;
  others: number;
  system: SystemCpu;
  log: number;
}

function sample(ctx: Context, server: Server): Sample {
  let others = 0;
  for (const s of Object.values(ctx.servers))
    if (s !== undefined && s !== server) others += processCpuMicros(s.proc.pid);
  return {
    log: fileSize(server.proc.logPath),
    kv: processCpuMicros(ctx.kv.proc.pid),
    generator: processCpuMicros(ctx.load.pid),
    others,
    system: systemCpu(),
    server: processCpuMicros(server.proc.pid),
  };
}

const FLOOR_PLAN: RequestPlan = { kind: "basic", path: TOKEN_PATH, body: "grant_type=client_credentials", clients: 1 };

function rowServer(row: RowId): ServerName {
  if (row === FLOOR || row === BARE_FLOOR) return row;
  return (scenario(row) as Scenario).server;
}

function rowLabel(row: RowId): string {
  if (row === FLOOR) return "floor (Hono, reads the body, constant answer: the outside bench's floor-workerd)";
  if (row === BARE_FLOOR) return "bare floor (no framework)";
  return (scenario(row) as Scenario).label;
}

function planOf(ctx: Context, row: RowId): RequestPlan {
  return ctx.plans.get(row) ?? FLOOR_PLAN;
}

async function measureOnce(
  ctx: Context,
  step: Step,
  warmupSeconds: number,
  retries: number,
): Promise<RoundMeasurement> {
  const server = ctx.servers[rowServer(step.row)];
  if (server === undefined) throw new Error(`${rowServer(step.row)} is not running`);
  const { kv, load, settings } = ctx;
  let kvBefore: KvStats | undefined;
  let before: Sample | undefined;
  const def = scenario(step.row);
  const result = await load.round(
    {
      url: server.url,
      connections: settings.connections,
      warmupSeconds,
      durationSeconds: settings.durationSeconds,
      plan: planOf(ctx, step.row),
      expectedRate: ctx.rates.get(step.row) ?? def?.expectedRate ?? 10_000,
    },
    async () => {
      kvBefore = await kv.stats();
      before = sample(ctx, server);
    },
  );
  const after = sample(ctx, server);
  const kvStats = kvBefore === undefined ? undefined : kvDelta(kvBefore, await kv.stats());
  server.proc.assertRunning();
  if (before === undefined) throw new Error("the load generator skipped the measurement hook");
  const cpu = after.server - before.server;
  const generator = after.generator - before.generator + result.generatorCpuMicros;
  const ours = after.kv - before.kv + (after.others - before.others);
  const wallMicros = result.seconds * 1e6;
  const systemBusy = after.system.busyMicros - before.system.busyMicros;
  const otherCores = Math.max(0, systemBusy - cpu - generator - ours) / wallMicros;
  const stealCores = (after.system.stealMicros - before.system.stealMicros) / wallMicros;
  const responses = result.ok + result.non2xx;
  const keymint = rowServer(step.row).startsWith("keymint");
  if (result.ok > 0) ctx.rates.set(step.row, result.ok / result.seconds);
  return {
    row: step.row,
    label: rowLabel(step.row),
    sequence: step.sequence,
    round: step.round,
    retries,
    seconds: result.seconds,
    responses,
    ok: result.ok,
    non2xx: result.non2xx,
    errors: result.errors,
    statusCodes: result.statusCodes,
    okPerSecond: result.ok / result.seconds,
    p50Ms: result.latencyMs.p50,
    p90Ms: result.latencyMs.p90,
    p99Ms: result.latencyMs.p99,
    maxMs: result.latencyMs.max,
    cpuUsPerRequest: responses > 0 ? cpu / responses : Number.NaN,
    loadGeneratorCores: generator / wallMicros,
    otherCores,
    stealCores,
    disturbed: otherCores > DISTURBED_OTHER_CORES || stealCores > DISTURBED_STEAL_CORES,
    kvReads: keymint ? (kvStats?.gets ?? null) : null,
    kvWrites: kvStats?.nonGets ?? null,
    issuerRequests: kvStats?.issuerRequests ?? null,
    lateItems: result.lateItems,
    logBytesPerRequest: keymint && responses > 0 ? (after.log - before.log) / responses : null,
    gc: summarizeGc(gcRecordsIn(server.proc.logPath, before.log, after.log), responses),
    logRange: [before.log, after.log],
  };
}

/** CPU cores used over `ms` by processes other than this run's. */
async function otherLoad(ctx: Context, ms: number): Promise<number> {
  const ours = () =>
    [ctx.kv.proc.pid, ctx.load.pid, process.pid, ...Object.values(ctx.servers).map((s) => s?.proc.pid ?? 0)]
      .filter((pid) => pid > 0)
      .reduce((sum, pid) => sum + processCpuMicros(pid), 0);
  const before = { system: systemCpu().busyMicros, ours: ours() };
  await sleep(ms);
  const busy = systemCpu().busyMicros - before.system - (ours() - before.ours);
  return Math.max(0, busy) / (ms * 1000);
}

/**
 * Waits (within the run's budget of --max-wait seconds) until other processes leave the machine alone: a
 * window measured while another test suite runs would measure that suite.
 */
async function waitForQuiet(ctx: Context): Promise<void> {
  let load = await otherLoad(ctx, 500);
  if (load <= DISTURBED_OTHER_CORES || ctx.waitedMs >= ctx.settings.maxWaitSeconds * 1000) return;
  info(
    `  other processes use ${load.toFixed(2)} cores: waiting for them (budget ${Math.round(ctx.settings.maxWaitSeconds - ctx.waitedMs / 1000)} s)`,
  );
  while (load > DISTURBED_OTHER_CORES && ctx.waitedMs < ctx.settings.maxWaitSeconds * 1000) {
    const started = Date.now();
    load = await otherLoad(ctx, 2000);
    ctx.waitedMs += Date.now() - started;
  }
}

/** Measures a window; repeats it (up to --retries times) while other load disturbed it. */
async function measure(ctx: Context, step: Step): Promise<RoundMeasurement> {
  await waitForQuiet(ctx);
  let measured = await measureOnce(ctx, step, ctx.settings.warmupSeconds, 0);
  for (let retry = 1; measured.disturbed && retry <= ctx.settings.retries; retry++) {
    info(`  disturbed (${measured.otherCores.toFixed(2)} other cores): repeating the window`);
    await waitForQuiet(ctx);
    measured = await measureOnce(ctx, step, ctx.settings.warmupSeconds, retry);
  }
  return measured;
}

/** A round with errors: its status counts and the server's log lines other than successful requests. */
function failureOf(measured: RoundMeasurement, server: Server): Failure {
  const lines = grepRange(
    server.proc.logPath,
    measured.logRange[0],
    measured.logRange[1],
    (line) =>
      line.trim() !== "" &&
      !line.includes("GC: {") &&
      !line.includes("Memory pool") &&
      !/"outcome":"(issued|active)"/.test(line),
    200,
  );
  return {
    what:
      `round ${measured.round} ${measured.row}: ${measured.non2xx} non-2xx responses (status counts ` +
      `${JSON.stringify(measured.statusCodes)}), ${measured.errors} socket errors/timeouts` +
      (measured.kvWrites !== null && measured.kvWrites > 0 ? `, ${measured.kvWrites} KV writes` : ""),
    logLines: [...new Set(lines.map((line) => line.slice(0, 400)))].slice(0, 12),
  };
}

async function runRounds(
  ctx: Context,
  scenarios: readonly Scenario[],
): Promise<{
  rounds: RoundMeasurement[];
  failures: Failure[];
}> {
  const rounds: RoundMeasurement[] = [];
  const failures: Failure[] = [];
  const writers = new Set(scenarios.filter((s) => s.writes).map((s) => s.id));
  const steps = schedule(ctx.settings, scenarios);
  for (const [i, step] of steps.entries()) {
    const measured = await measure(ctx, step);
    rounds.push(measured);
    info(`[${i + 1}/${steps.length}] round ${step.round} ${step.row}: ${describeRound(measured)}`);
    const badWrites = !writers.has(step.row) && (measured.kvWrites ?? 0) > 0;
    if (measured.non2xx > 0 || measured.errors > 0 || badWrites) {
      const server = ctx.servers[rowServer(step.row)] as Server;
      const failure = failureOf(measured, server);
      failures.push(failure);
      info(`${failure.what}; ${server.name}'s log during the round:\n${failure.logLines.join("\n") || "(nothing)"}`);
    }
  }
  return { rounds, failures };
}

/** Whether a keymint instance supports DPoP (RFC 9449 §5.1: `dpop_signing_alg_values_supported` in its metadata). */
async function supportsDpop(server: Server): Promise<boolean> {
  const response = await fetch(`${server.url}/.well-known/oauth-authorization-server`);
  const metadata = (await response.json()) as { dpop_signing_alg_values_supported?: unknown };
  return Array.isArray(metadata.dpop_signing_alg_values_supported);
}

/** Fetches `count` access tokens from a keymint instance for a client (Basic), DPoP-bound to `dpopKey` if given. */
async function fetchTokens(
  server: Server,
  credentials: Credentials,
  count: number,
  dpopKey?: JsonWebKey,
): Promise<string[]> {
  const tokens: string[] = [];
  for (let i = 0; i < count; i++) {
    const headers: Record<string, string> = {
      authorization: basicAuthorization(credentials),
      "content-type": "application/x-www-form-urlencoded",
    };
    if (dpopKey !== undefined) headers.dpop = dpopProof("ES256", dpopKey, "POST", `${server.url}${TOKEN_PATH}`);
    const response = await fetch(`${server.url}${TOKEN_PATH}`, {
      method: "POST",
      headers,
      body: "grant_type=client_credentials",
    });
    const body = (await response.json()) as { access_token?: string };
    if (response.status !== 200 || body.access_token === undefined) {
      throw new Error(`${server.name} refused a token for the bench: ${response.status} ${JSON.stringify(body)}`);
    }
    tokens.push(body.access_token);
  }
  return tokens;
}

/**
 * Checks that one request of a scenario succeeds, and means what the row says, before any load: a wrong set-up
 * fails fast and clearly. Single-use plans spend one fresh item.
 */
async function probe(server: Server, row: RowId, plan: RequestPlan, seed: string): Promise<void> {
  if (plan.kind === "basic") return;
  const source = requestSource(plan, seed, 1);
  const item = source.next();
  const response = await fetch(`${server.url}${source.path}`, {
    method: source.method,
    headers: item.headers,
    body: item.body,
  });
  const text = await response.text();
  if (response.status !== 200)
    throw new Error(`${row}: the first request got ${response.status}: ${text.slice(0, 300)}`);
  if (row === "introspect" && !text.includes('"active":true')) throw new Error(`introspect: inactive token: ${text}`);
  if (row === "dpop" && !text.includes('"token_type":"DPoP"')) throw new Error(`dpop: not a DPoP-bound token: ${text}`);
  if (row === "hs256-claims" || row === "claims-hook") {
    // The row must measure what it says: static claims in the token, and the hook's claims through the hook.
    const token = String((JSON.parse(text) as { access_token?: string }).access_token);
    const claims = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8"));
    if (claims.tenant !== "acme")
      throw new Error(`${row}: the token lacks the static claims: ${JSON.stringify(claims)}`);
    if (row === "claims-hook" && claims.plan !== "enterprise") {
      throw new Error(`claims-hook: the token lacks the hook's claims: ${JSON.stringify(claims)}`);
    }
  }
}

async function startServers(
  dir: string,
  seed: string,
  scenarios: readonly Scenario[],
  kv: KvService,
  signingKey: string,
  baseline: Bundle | undefined,
): Promise<Partial<Record<ServerName, Server>>> {
  const needed = new Set<ServerName>(scenarios.map((s) => s.server));
  if (needed.has("api-hmac")) needed.add("keymint");
  if (needed.has("api-jwks")) needed.add("keymint-es256");
  const api = needed.has("api-hmac") || needed.has("api-jwks");
  const [keymintBundle, floorBundle, bareBundle, apiBundle, hookBundle] = await Promise.all([
    bundleKeymint(dir),
    bundleFloor(dir, "floor"),
    bundleFloor(dir, "bare-floor"),
    api ? bundleResourceServer(dir) : Promise.resolve(undefined),
    needed.has("keymint-hook") ? bundleClaimsHook(dir) : Promise.resolve(undefined),
  ]);
  const servers: Partial<Record<ServerName, Server>> = {};
  const probeClient = benchCredentials(seed, 0);
  const pairs: [ServerName, "ES256" | "EdDSA" | "RS256" | null][] = [
    ["keymint", null],
    ["keymint-audit-off", null],
    ["keymint-es256", "ES256"],
    ["keymint-eddsa", "EdDSA"],
    ["keymint-rs256", "RS256"],
    ["keymint-hook", null],
  ];
  for (const [name, alg] of pairs) {
    if (!needed.has(name)) continue;
    servers[name] = await startKeymint({
      name,
      bundle: keymintBundle,
      kvPort: kv.port,
      signingKey,
      signingJwk: alg === null ? undefined : JSON.stringify(keyPair(alg).privateJwk),
      vars: name === "keymint-audit-off" ? { AUDIT_LOG: "off" } : {},
      probe: probeClient,
      claimsHook: name === "keymint-hook" ? hookBundle : undefined,
    });
  }
  if (apiBundle !== undefined && servers.keymint !== undefined && needed.has("api-hmac")) {
    servers["api-hmac"] = await startResourceServer({
      name: "api-hmac",
      bundle: apiBundle,
      issuer: servers.keymint.url,
      signingKey,
    });
  }
  const es = servers["keymint-es256"];
  if (apiBundle !== undefined && es !== undefined && needed.has("api-jwks")) {
    servers["api-jwks"] = await startResourceServer({
      name: "api-jwks",
      bundle: apiBundle,
      issuer: es.url,
      jwksUrl: `${es.url}/.well-known/jwks.json`,
    });
  }
  if (baseline !== undefined) {
    servers["keymint-baseline"] = await startKeymint({
      name: "keymint-baseline",
      bundle: baseline,
      kvPort: kv.port,
      signingKey,
      probe: probeClient,
    });
  }
  servers[FLOOR] = await startFloor("floor", floorBundle);
  servers[BARE_FLOOR] = await startFloor("bare-floor", bareBundle);
  return servers;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.includes("--help")) {
    process.stderr.write(`${usage(COMMAND, FLAGS)}\n`);
    return 0;
  }
  const reportFile = stringFlag(parseFlags(argv, FLAGS), "report");
  if (reportFile !== undefined) {
    const old = JSON.parse(readFileSync(reportFile, "utf8")) as Report;
    const summaries = summarizeRounds(old.rounds, old.settings.scenarios);
    const writers = new Set(SCENARIOS.filter((s) => s.writes).map((s) => s.id));
    const again: Report = {
      ...old,
      summaries,
      firstRound: firstRoundCheck(old.rounds),
      targets: evaluateTargets(summaries, old.rounds, old.micro, writers),
    };
    process.stdout.write(`${consoleReport(again)}\n`);
    const ran = new Set(old.settings.scenarios);
    if (old.settings.quick || !DEFAULT_SCENARIOS.every((id) => ran.has(id))) return 0;
    // A full run's file: BENCHMARK.md again, with the current report code (its text, tables and notes).
    await writeFile(rootPath("BENCHMARK.md"), markdownReport(again));
    info(`wrote BENCHMARK.md from ${reportFile}`);
    return 0;
  }
  const settings = parseSettings(argv);
  let scenarios = settings.scenarios.map((id) => scenarioById(id) as Scenario);
  exitOnSignals();
  const started = performance.now();
  const environment = {
    date: new Date().toISOString(),
    machine: machineInfo(),
    node: process.version,
    workerd: workerdVersion(),
    wrangler: packageVersion("wrangler"),
    loadGenerator: wrkVersion(),
    hono: packageVersion("hono"),
    commit: commit(),
  };
  info(
    `scenarios ${settings.scenarios.join(", ")}; ${settings.rounds} round(s) (others ${settings.secondaryRounds}), ` +
      `${settings.connections} connections, ${settings.warmupSeconds} s warm-up + ${settings.durationSeconds} s per window`,
  );
  // V8's GC trace in every server's log: the GC columns of the report.
  process.env.BENCH_V8_FLAGS = `${process.env.BENCH_V8_FLAGS ?? ""} --trace-gc-nvp`.trim();

  const dir = await makeTempDir("keymint-bench");
  const seed = newSeed();
  const signingKey = randomSigningKey();
  info("bundling keymint, the example API and the floors (wrangler deploy --dry-run), seeding the KV service");
  const kv = await startKvService(dir, seed, clientsNeeded(scenarios));
  let baselineBundle: Bundle | undefined;
  if (settings.baseline !== null) {
    const bundled = await bundleProjectAt(settings.baseline, dir);
    baselineBundle = bundled;
    settings.baselineCommit = bundled.commit;
    // Every HS256 secret-path row gets a twin served by the baseline, run right after it in each round.
    const twins: Scenario[] = [];
    for (const s of scenarios) {
      if (s.server !== "keymint") continue;
      if (!["hs256", "hs256-1000", "hs256-100000", "hs256-audit-off"].includes(s.id)) continue;
      const twin: Scenario = {
        ...s,
        id: `${s.id}@baseline`,
        label: `${s.label} — baseline ${bundled.commit}`,
        server: "keymint-baseline",
      };
      extraScenarios.set(twin.id, twin);
      twins.push(twin);
    }
    scenarios = scenarios.flatMap((s) => [s, ...twins.filter((t) => t.id === `${s.id}@baseline`)]);
    settings.scenarios = scenarios.map((s) => s.id);
  }
  const servers = await startServers(dir, seed, scenarios, kv, signingKey, baselineBundle);
  info(
    `workerd: ${Object.entries(servers)
      .map(([name, s]) => `${name} ${s?.proc.pid} (${s?.url})`)
      .join(", ")}`,
  );
  const fixtures = await kv.fixtures();
  // DPoP rows need a keymint that supports DPoP (RFC 9449): skipped otherwise, or an error when asked for by name.
  const dpop = servers.keymint === undefined ? false : await supportsDpop(servers.keymint);
  const unsupported = scenarios.filter((s) => s.needs === "dpop" && !dpop);
  if (unsupported.length > 0) {
    const note = `${unsupported.map((s) => s.id).join(", ")}: skipped, this keymint has no DPoP (no dpop_signing_alg_values_supported in its metadata)`;
    if (argv.some((a) => a.startsWith("--only"))) throw new UsageError(note);
    info(note);
    settings.skipped.push(note);
    scenarios = scenarios.filter((s) => !unsupported.includes(s));
    settings.scenarios = scenarios.map((s) => s.id);
  }
  const ids = new Set(settings.scenarios);
  const dpopKey = keyPair("ES256").privateJwk;
  const planContext: PlanContext = {
    fixtures,
    issuers: Object.fromEntries(Object.entries(servers).map(([name, s]) => [name, s?.url])),
    tokens: {
      apiHs256: ids.has("api-hs256") && servers.keymint ? await fetchTokens(servers.keymint, fixtures.api, 50) : [],
      apiEs256:
        ids.has("api-es256") && servers["keymint-es256"]
          ? await fetchTokens(servers["keymint-es256"], fixtures.api, 50)
          : [],
      introspect:
        ids.has("introspect") && servers.keymint
          ? await fetchTokens(servers.keymint, benchCredentials(seed, 0), 50)
          : [],
      apiDpop:
        ids.has("api-dpop") && servers.keymint ? await fetchTokens(servers.keymint, fixtures.api, 50, dpopKey) : [],
    },
    dpopKey,
    urls: Object.fromEntries(Object.entries(servers).map(([name, s]) => [name, s?.url])),
    basicClient: benchCredentials(seed, 0),
  };
  const plans = new Map<RowId, RequestPlan>();
  for (const s of scenarios) {
    const plan = s.plan(planContext);
    plans.set(s.id, plan);
    await probe(servers[s.server] as Server, s.id, plan, seed);
  }
  const load = await LoadGenerator.start(seed);
  const ctx: Context = { settings, kv, load, servers, plans, rates: new Map(), waitedMs: 0 };

  // Initial warm-up: every server under its own load (JIT, caches, heap sizing) before round 1.
  if (settings.initialWarmupSeconds > 0) {
    info(`warming up every server for ${settings.initialWarmupSeconds} s`);
    const warmRows: RowId[] = [FLOOR, BARE_FLOOR];
    for (const s of scenarios) if (!warmRows.some((r) => rowServer(r) === s.server)) warmRows.push(s.id);
    for (const row of warmRows) {
      const server = servers[rowServer(row)] as Server;
      await load.round(
        {
          url: server.url,
          connections: settings.connections,
          warmupSeconds: settings.initialWarmupSeconds,
          durationSeconds: 0.5,
          plan: planOf(ctx, row),
          expectedRate: scenario(row)?.expectedRate ?? 10_000,
        },
        async () => {},
      );
    }
  }

  const { rounds, failures } = await runRounds(ctx, scenarios);
  await load.stop();

  let micro: MicroResult | null = null;
  if (settings.micro) {
    info("microbenchmark of the token hot path");
    micro = await runMicro(dir, {
      iterations: settings.quick ? 10_000 : 40_000,
      repetitions: settings.quick ? 2 : 5,
    });
  }

  const summaries = summarizeRounds(rounds, settings.scenarios);
  const writers = new Set(scenarios.filter((s) => s.writes).map((s) => s.id));
  const report: Report = {
    environment,
    settings,
    summaries,
    firstRound: firstRoundCheck(rounds),
    targets: evaluateTargets(summaries, rounds, micro, writers),
    baseline: baselineComparison(rounds, settings.scenarios),
    micro,
    rounds: rounds.map(tidy),
    totalSeconds: (performance.now() - started) / 1000,
    waitedSeconds: ctx.waitedMs / 1000,
    failures,
  };
  await mkdir(rootPath("bench/results"), { recursive: true });
  await writeFile(rootPath("bench/results/latest.json"), `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`${consoleReport(report)}\n`);
  if (settings.quick || argv.some((a) => a.startsWith("--only"))) {
    info("wrote bench/results/latest.json (BENCHMARK.md is only written by full runs of every default scenario)");
  } else {
    await writeFile(rootPath("BENCHMARK.md"), markdownReport(report));
    info("wrote bench/results/latest.json and BENCHMARK.md");
  }
  return failures.length > 0 ? 1 : 0;
}

runMain("bench", usage(COMMAND, FLAGS), main, (err) => err instanceof UsageError);
