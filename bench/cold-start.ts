/**
 * `npm run -s bench:cold [-- --runs N --baseline REF --bundles NAME=DIR,…]`: what a Worker bundle costs an isolate
 * that starts cold. Each run starts a fresh bare workerd per bundle (in rotating order, so the machine's drift is
 * shared) and measures, from the spawn: the wall time and workerd's CPU time (all threads, /proc schedstat) until
 * the first token answer (200; the floor Worker answers any request), and then the CPU of the first admin call
 * (`GET /admin/clients` without a token: 401, which imports the lazily loaded admin API) and of the first
 * `GET /admin/openapi.json` (assembling the document). Prints one line per bundle with medians (and min–max), and
 * the JSON of every sample with `--json`.
 *
 * The bundles: the current tree (`wrangler deploy --dry-run`, as deploy builds it), the floor Worker (what workerd
 * itself costs to start), `--baseline REF` (the tree at a git revision) and `--bundles NAME=DIR,…` (directories
 * written by `wrangler deploy --dry-run --outdir DIR`). CPU time is far less sensitive to other work on the machine
 * than wall time; both are printed.
 */

import { writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { booleanFlag, integerFlag, parseFlags, stringFlag, UsageError, usage } from "./lib/args.ts";
import { type Bundle, bundleProjectAt, collectModules, projectCompatibility } from "./lib/bundle.ts";
import { basicAuthorization, benchCredentials, newSeed, TOKEN_PATH, TOKEN_REQUEST_BODY } from "./lib/clients.ts";
import { startKvService } from "./lib/kv.ts";
import { exitOnSignals, fileSize, freePort, info, makeTempDir, runMain, sleep, spawnLogged } from "./lib/process.ts";
import { processCpuNanos } from "./lib/procfs.ts";
import { bundleFloor, bundleKeymint, keymintVars, randomSigningKey } from "./lib/servers.ts";
import { median, round } from "./lib/stats.ts";
import { type Binding, capnpConfig, workerdBinary } from "./lib/workerd.ts";

const FLAGS = {
  runs: { kind: "number", help: "fresh starts per bundle (default 20)" },
  baseline: { kind: "string", help: "also the tree at this git revision (e.g. main)" },
  bundles: { kind: "string", help: "also these wrangler --outdir bundles: NAME=DIR,NAME=DIR" },
  json: { kind: "boolean", help: "print every sample as JSON on stdout" },
  help: { kind: "boolean", help: "show this help" },
} as const;

interface Subject {
  name: string;
  bundle: Bundle;
  /** keymint (token request, admin calls) or the floor Worker (any request). */
  keymint: boolean;
  /** index.js size in bytes. */
  bytes: number;
}

interface Sample {
  name: string;
  /** Spawn to the first token answer. */
  readyMs: number;
  /** workerd's CPU time at the first token answer. */
  cpuMs: number;
  /** CPU of the first admin call (lazy import) and of the first OpenAPI document; null for the floor. */
  adminCpuMs: number | null;
  openapiCpuMs: number | null;
}

function cpuMs(pid: number): number {
  return processCpuNanos(pid).nanos / 1e6;
}

async function answered(url: string, init: RequestInit): Promise<number> {
  try {
    const response = await fetch(url, init);
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

/** One cold start of a subject; the process is stopped before it returns. */
async function coldStart(subject: Subject, dir: string, kvPort: number, seed: string, run: number): Promise<Sample> {
  const port = await freePort();
  const bindings: Binding[] = subject.keymint
    ? [
        { name: "CLIENTS", kvNamespace: "kv" },
        { name: "TOKEN_SIGNING_KEY", text: randomSigningKey() },
        ...Object.entries(keymintVars()).map(([name, text]) => ({ name, text })),
      ]
    : [];
  const configPath = join(subject.bundle.dir, `cold-${port}.capnp`);
  await writeFile(
    configPath,
    capnpConfig({
      bundle: subject.bundle,
      port,
      bindings,
      externals: subject.keymint ? { kv: `127.0.0.1:${kvPort}` } : {},
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const token: RequestInit = {
    method: "POST",
    headers: {
      authorization: basicAuthorization(benchCredentials(seed, 0)),
      "content-type": "application/x-www-form-urlencoded",
    },
    body: TOKEN_REQUEST_BODY,
  };
  const started = performance.now();
  const proc = spawnLogged({
    name: `${subject.name}-${run}`,
    command: workerdBinary(),
    args: ["serve", configPath, "config"],
    logPath: join(dir, `${subject.name}.log`),
    cwd: subject.bundle.dir,
  });
  try {
    for (;;) {
      proc.assertRunning();
      if ((await answered(`${url}${TOKEN_PATH}`, token)) === 200) break;
      if (performance.now() - started > 30_000) throw proc.failure("issued no token within 30 s");
      await sleep(2);
    }
    const readyMs = performance.now() - started;
    const cpuReady = cpuMs(proc.pid);
    if (!subject.keymint) return { name: subject.name, readyMs, cpuMs: cpuReady, adminCpuMs: null, openapiCpuMs: null };
    const admin = await answered(`${url}/admin/clients`, {});
    const cpuAdmin = cpuMs(proc.pid);
    const openapi = await answered(`${url}/admin/openapi.json`, {});
    const cpuOpenapi = cpuMs(proc.pid);
    return {
      name: subject.name,
      readyMs,
      cpuMs: cpuReady,
      adminCpuMs: admin === 401 ? cpuAdmin - cpuReady : null,
      openapiCpuMs: openapi === 200 ? cpuOpenapi - cpuAdmin : null,
    };
  } finally {
    await proc.stop();
  }
}

async function dirBundle(name: string, dir: string): Promise<Subject> {
  const bundle: Bundle = { dir, modules: await collectModules(dir, "index.js"), ...(await projectCompatibility()) };
  return { name, bundle, keymint: true, bytes: fileSize(join(dir, "index.js")) };
}

function spread(values: number[]): string {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return "n/a";
  return `${round(median(finite), 1)} (${round(Math.min(...finite), 1)}–${round(Math.max(...finite), 1)})`;
}

async function main(): Promise<undefined> {
  const flags = parseFlags(process.argv.slice(2), FLAGS);
  if (booleanFlag(flags, "help")) {
    process.stderr.write(`${usage("npm run -s bench:cold --", FLAGS)}\n`);
    return;
  }
  const runs = integerFlag(flags, "runs") ?? 20;
  exitOnSignals();
  const dir = await makeTempDir("keymint-cold");
  const seed = newSeed();
  const [kv, current, floor] = await Promise.all([
    startKvService(dir, seed, 1),
    bundleKeymint(dir),
    bundleFloor(dir, "bare-floor"),
  ]);
  const subjects: Subject[] = [
    { name: "floor", bundle: floor, keymint: false, bytes: fileSize(join(floor.dir, "bare-floor.js")) },
    { name: "current", bundle: current, keymint: true, bytes: fileSize(join(current.dir, "index.js")) },
  ];
  const baseline = stringFlag(flags, "baseline");
  if (baseline !== undefined) {
    const at = await bundleProjectAt(baseline, dir);
    subjects.push({
      name: `baseline ${at.commit}`,
      bundle: at,
      keymint: true,
      bytes: fileSize(join(at.dir, "index.js")),
    });
  }
  for (const entry of (stringFlag(flags, "bundles") ?? "").split(",").filter((e) => e !== "")) {
    const eq = entry.indexOf("=");
    if (eq <= 0) throw new UsageError(`--bundles wants NAME=DIR, got ${entry}`);
    subjects.push(await dirBundle(entry.slice(0, eq), resolve(entry.slice(eq + 1))));
  }
  const samples: Sample[] = [];
  for (let run = 0; run < runs; run++) {
    for (let i = 0; i < subjects.length; i++) {
      const subject = subjects[(run + i) % subjects.length] as Subject;
      samples.push(await coldStart(subject, dir, kv.port, seed, run));
    }
    info(`run ${run + 1}/${runs} done`);
  }
  process.stderr.write(
    `\n${runs} cold starts each; median (min–max). CPU: workerd's, all threads, from spawn to the first token answer.\n`,
  );
  process.stderr.write(
    `${"bundle".padEnd(22)} ${"index.js KiB".padStart(12)}  ${"CPU to first token, ms".padEnd(24)} ${"wall to first token, ms".padEnd(24)} ${"1st admin call CPU ms".padEnd(22)} 1st openapi.json CPU ms\n`,
  );
  for (const subject of subjects) {
    const mine = samples.filter((s) => s.name === subject.name);
    process.stderr.write(
      `${subject.name.padEnd(22)} ${(subject.bytes / 1024).toFixed(1).padStart(12)}  ${spread(mine.map((s) => s.cpuMs)).padEnd(24)} ${spread(mine.map((s) => s.readyMs)).padEnd(24)} ${spread(mine.map((s) => s.adminCpuMs ?? Number.NaN)).padEnd(22)} ${spread(mine.map((s) => s.openapiCpuMs ?? Number.NaN))}\n`,
    );
  }
  if (booleanFlag(flags, "json"))
    process.stdout.write(
      `${JSON.stringify({ subjects: subjects.map((s) => ({ name: s.name, bytes: s.bytes })), samples })}\n`,
    );
  return undefined;
}

runMain("bench:cold", usage("npm run -s bench:cold --", FLAGS), main, (err) => err instanceof UsageError);
