/**
 * `npm run bench [-- flags]`: keymint's load benchmark (issue 6).
 *
 * Bundles keymint and two floor Workers as `wrangler deploy` would, serves each on bare workerd (generated
 * capnp configs in a temp dir), binds keymint's CLIENTS to an in-memory KV service in its own process, and
 * drives `POST /oauth2/token` with autocannon (in its own process) over loopback: rounds alternate keymint
 * (1, 1 000 and 100 000 registered clients, requests round-robin over them) with the floor. Measures
 * tokens/s, latency, errors, workerd CPU per request, KV reads per token; runs the hot-path
 * microbenchmark; prints the results and writes bench/results/latest.json and BENCHMARK.md.
 *
 * Exits non-zero when a server fails or any response is not 2xx; missed targets are reported, not fatal.
 */

import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { booleanFlag, integerFlag, numberFlag, parseFlags, stringFlag, UsageError, usage } from "./lib/args.ts";
import { rootPath } from "./lib/bundle.ts";
import { benchCredentials, newSeed } from "./lib/clients.ts";
import { type KvService, type KvStats, kvDelta, startKvService } from "./lib/kv.ts";
import { LoadGenerator } from "./lib/load.ts";
import { type MicroResult, runMicro } from "./lib/micro.ts";
import { cleanupAll, exitOnSignals, fileSize, grepRange, info, isStopping, makeTempDir } from "./lib/process.ts";
import { machineInfo, processCpuMicros, type SystemCpu, systemCpu } from "./lib/procfs.ts";
import {
  consoleReport,
  describeRound,
  evaluateTargets,
  type Failure,
  markdownReport,
  type Report,
  type RoundMeasurement,
  type RunSettings,
  type ServerKind,
  summarizeRounds,
  tidy,
} from "./lib/report.ts";
import { bundleFloor, bundleKeymint, randomSigningKey, type Server, startFloor, startKeymint } from "./lib/servers.ts";
import { workerdVersion } from "./lib/workerd.ts";

const FLAGS = {
  quick: { kind: "boolean", help: "smoke test: 1 round of 1 s warm-up + 3 s, short microbenchmark" },
  duration: { kind: "number", help: "measured seconds per round (default 10)" },
  warmup: { kind: "number", help: "warm-up seconds before each round, not measured (default 2)" },
  connections: { kind: "number", help: "concurrent connections (default 32)" },
  rounds: { kind: "number", help: "rounds per scale point (default 3)" },
  scales: { kind: "string", help: "registered clients per scale point (default 1,1000,100000)" },
  "rounds-largest": { kind: "number", help: "rounds at the largest scale point (default: --rounds)" },
  "no-hono": { kind: "boolean", help: "skip the Hono floor" },
  "no-micro": { kind: "boolean", help: "skip the microbenchmark" },
  help: { kind: "boolean", help: "show this help" },
} as const;

const COMMAND = "npm run bench";

function parseSettings(argv: readonly string[]): RunSettings {
  const flags = parseFlags(argv, FLAGS);
  const quick = booleanFlag(flags, "quick");
  const scalesRaw = stringFlag(flags, "scales") ?? "1,1000,100000";
  const scales = [...new Set(scalesRaw.split(",").map((s) => Number(s.trim())))].sort((a, b) => a - b);
  if (scales.length === 0 || scales.some((s) => !Number.isInteger(s) || s < 1 || s > 1_000_000)) {
    throw new UsageError("--scales must be a comma-separated list of client counts between 1 and 1000000");
  }
  const rounds = integerFlag(flags, "rounds") ?? (quick ? 1 : 3);
  return {
    command: argv.length === 0 ? COMMAND : `${COMMAND} -- ${argv.join(" ")}`,
    quick,
    connections: integerFlag(flags, "connections") ?? 32,
    durationSeconds: numberFlag(flags, "duration") ?? (quick ? 3 : 10),
    warmupSeconds: numberFlag(flags, "warmup") ?? (quick ? 1 : 2),
    rounds,
    scales,
    roundsAtLargestScale: Math.min(rounds, integerFlag(flags, "rounds-largest") ?? rounds),
    hono: !booleanFlag(flags, "no-hono"),
    micro: !booleanFlag(flags, "no-micro"),
  };
}

interface Step {
  sequence: number;
  kind: ServerKind;
  clients: number;
  round: number;
}

/** Rounds alternate keymint and the floor: K@1, F, K@1000, F, Hono floor, K@100000, then again. */
function schedule(settings: RunSettings): Step[] {
  const steps: Step[] = [];
  const largest = settings.scales[settings.scales.length - 1] as number;
  const single = settings.scales.length === 1;
  const floorScales = single ? settings.scales : settings.scales.filter((s) => s !== largest);
  for (let round = 1; round <= settings.rounds; round++) {
    for (const clients of settings.scales) {
      if (!single && clients === largest && round > settings.roundsAtLargestScale) continue;
      steps.push({ sequence: steps.length, kind: "keymint", clients, round });
      if (floorScales.includes(clients)) {
        steps.push({ sequence: steps.length, kind: "floor", clients, round });
        if (settings.hono && clients === floorScales[floorScales.length - 1]) {
          steps.push({ sequence: steps.length, kind: "hono-floor", clients, round });
        }
      }
    }
  }
  return steps;
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
  servers: Record<ServerKind, Server | undefined>;
}

/** CPU counters sampled right before and right after a measured window. */
interface Sample {
  server: number;
  generator: number;
  kv: number;
  system: SystemCpu;
  log: number;
}

function sample(ctx: Context, server: Server): Sample {
  return {
    log: fileSize(server.proc.logPath),
    kv: processCpuMicros(ctx.kv.proc.pid),
    generator: processCpuMicros(ctx.load.pid),
    system: systemCpu(),
    server: processCpuMicros(server.proc.pid),
  };
}

async function measure(ctx: Context, step: Step): Promise<RoundMeasurement> {
  const server = ctx.servers[step.kind];
  if (server === undefined) throw new Error(`${step.kind} is not running`);
  const { kv, load, settings } = ctx;
  const keymint = step.kind === "keymint";
  let kvBefore: KvStats | undefined;
  let before: Sample | undefined;
  const result = await load.round(
    {
      url: server.url,
      connections: settings.connections,
      warmupSeconds: settings.warmupSeconds,
      durationSeconds: settings.durationSeconds,
      clients: step.clients,
    },
    async () => {
      if (keymint) kvBefore = await kv.stats();
      before = sample(ctx, server);
    },
  );
  const after = sample(ctx, server);
  const kvStats = keymint && kvBefore !== undefined ? kvDelta(kvBefore, await kv.stats()) : undefined;
  server.proc.assertRunning();
  if (before === undefined) throw new Error("the load generator skipped the measurement hook");
  const cpu = after.server - before.server;
  const generator = after.generator - before.generator;
  const kvCpu = after.kv - before.kv;
  const wallMicros = result.seconds * 1e6;
  const systemBusy = after.system.busyMicros - before.system.busyMicros;
  const responses = result.ok + result.non2xx;
  return {
    server: step.kind,
    sequence: step.sequence,
    clients: step.clients,
    round: step.round,
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
    otherCores: Math.max(0, systemBusy - cpu - generator - kvCpu) / wallMicros,
    stealCores: (after.system.stealMicros - before.system.stealMicros) / wallMicros,
    kvReads: kvStats?.gets ?? null,
    kvReadsPerToken: kvStats === undefined || result.ok === 0 ? null : kvStats.gets / result.ok,
    kvWrites: kvStats?.nonGets ?? null,
    // Only meaningful when reads dominate the KV service's work (not its idle time and counter requests).
    kvCpuUsPerRead: kvStats === undefined || kvStats.gets < 1000 ? null : kvCpu / kvStats.gets,
    auditBytesPerToken: keymint && result.ok > 0 ? (after.log - before.log) / result.ok : null,
    logRange: [before.log, after.log],
  };
}

function stepName(step: Step): string {
  if (step.kind !== "keymint") return step.kind;
  return `keymint @ ${step.clients.toLocaleString("en-US")} client${step.clients === 1 ? "" : "s"}`;
}

/** A round with errors: its status counts and the server's log lines that are not issued tokens. */
function failureOf(step: Step, measured: RoundMeasurement, server: Server): Failure {
  // The audit log has one line per request; keep this round's other lines (errors, warnings, rejections).
  const lines = grepRange(
    server.proc.logPath,
    measured.logRange[0],
    measured.logRange[1],
    (line) => line.trim() !== "" && !line.includes('"outcome":"issued"'),
    200,
  );
  return {
    what:
      `round ${step.round} ${stepName(step)}: ${measured.non2xx} non-2xx responses (status counts ` +
      `${JSON.stringify(measured.statusCodes)}), ${measured.errors} socket errors/timeouts`,
    logLines: [...new Set(lines.map((line) => line.slice(0, 400)))].slice(0, 12),
  };
}

async function runRounds(ctx: Context): Promise<{ rounds: RoundMeasurement[]; failures: Failure[] }> {
  const rounds: RoundMeasurement[] = [];
  const failures: Failure[] = [];
  const steps = schedule(ctx.settings);
  for (const [i, step] of steps.entries()) {
    const measured = await measure(ctx, step);
    rounds.push(measured);
    info(`[${i + 1}/${steps.length}] round ${step.round} ${stepName(step)}: ${describeRound(measured)}`);
    if (measured.non2xx > 0 || measured.errors > 0) {
      const server = ctx.servers[step.kind] as Server;
      const failure = failureOf(step, measured, server);
      failures.push(failure);
      info(`${failure.what}; ${server.name}'s log during the round:\n${failure.logLines.join("\n") || "(nothing)"}`);
    }
  }
  return { rounds, failures };
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.includes("--help")) {
    process.stderr.write(`${usage(COMMAND, FLAGS)}\n`);
    return 0;
  }
  const settings = parseSettings(argv);
  exitOnSignals();
  const started = performance.now();
  const largest = settings.scales[settings.scales.length - 1] as number;
  const environment = {
    date: new Date().toISOString(),
    machine: machineInfo(),
    node: process.version,
    workerd: workerdVersion(),
    wrangler: packageVersion("wrangler"),
    autocannon: packageVersion("autocannon"),
    hono: packageVersion("hono"),
    commit: commit(),
  };
  info(
    `${settings.rounds} round(s), ${settings.connections} connections, ${settings.warmupSeconds} s warm-up + ` +
      `${settings.durationSeconds} s per round; scales ${settings.scales.join(", ")}`,
  );

  const dir = await makeTempDir("keymint-bench");
  const seed = newSeed();
  info("bundling keymint and the floors (wrangler deploy --dry-run), seeding the KV service");
  const [kv, keymintBundle, floorBundle, honoBundle] = await Promise.all([
    startKvService(dir, seed, largest),
    bundleKeymint(dir),
    bundleFloor(dir, "floor"),
    settings.hono ? bundleFloor(dir, "hono-floor") : Promise.resolve(undefined),
  ]);
  const keymint = await startKeymint({
    bundle: keymintBundle,
    kvPort: kv.port,
    signingKey: randomSigningKey(),
    probe: benchCredentials(seed, 0),
  });
  const floor = await startFloor("floor", floorBundle);
  const hono = honoBundle === undefined ? undefined : await startFloor("hono-floor", honoBundle);
  info(
    `workerd pids: keymint ${keymint.proc.pid} (${keymint.url}), floor ${floor.proc.pid}` +
      (hono === undefined ? "" : `, hono-floor ${hono.proc.pid}`),
  );
  const load = await LoadGenerator.start(seed, largest);
  const ctx: Context = { settings, kv, load, servers: { keymint, floor, "hono-floor": hono } };

  const { rounds, failures } = await runRounds(ctx);
  await load.stop();

  let micro: MicroResult | null = null;
  if (settings.micro) {
    info("microbenchmark of the token hot path");
    micro = await runMicro(dir, {
      iterations: settings.quick ? 10_000 : 40_000,
      repetitions: settings.quick ? 2 : 5,
    });
  }

  const summaries = summarizeRounds(rounds);
  const report: Report = {
    environment,
    settings,
    summaries,
    targets: evaluateTargets(summaries, rounds, micro, settings.durationSeconds),
    micro,
    rounds: rounds.map(tidy),
    totalSeconds: (performance.now() - started) / 1000,
    failures,
  };
  await mkdir(rootPath("bench/results"), { recursive: true });
  await writeFile(rootPath("bench/results/latest.json"), `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`${consoleReport(report)}\n`);
  if (settings.quick) {
    info("wrote bench/results/latest.json (BENCHMARK.md is only written by full runs)");
  } else {
    await writeFile(rootPath("BENCHMARK.md"), markdownReport(report));
    info("wrote bench/results/latest.json and BENCHMARK.md");
  }
  return failures.length > 0 ? 1 : 0;
}

main()
  .then(async (code) => {
    await cleanupAll();
    process.exit(code);
  })
  .catch(async (err: unknown) => {
    if (isStopping()) return;
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    if (err instanceof UsageError) process.stderr.write(`${usage(COMMAND, FLAGS)}\n`);
    await cleanupAll();
    process.exit(1);
  });
