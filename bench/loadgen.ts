/**
 * Load generator process (forked by bench/lib/load.ts; see there for the protocol). Drives one scenario per
 * round with wrk, the C load generator the outside benchmark uses (one thread, N keep-alive connections): the
 * round's `RequestPlan` (bench/lib/requests.ts) is rendered into raw HTTP requests before the warm-up (one cycle
 * of a reusable plan; for single-use plans a pool sized from the expected rate, separate for warm-up and
 * window), which bench/wrk.lua replays in order. wrk takes a fraction of the CPU a Node load generator takes on
 * the same two cores (the reason `npm run bench` and the outside benchmark once disagreed: BENCHMARK.md).
 */

import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rootPath } from "./lib/bundle.ts";
import type { ChildMessage, LoadResult, ParentMessage, RoundSpec } from "./lib/load.ts";
import { isSingleUse, type RequestSource, requestSource } from "./lib/requests.ts";

let seed = "";
let onGo: (() => void) | undefined;
let dir: string | undefined;

function send(message: ChildMessage): void {
  process.send?.(message);
}

/** CPU time of this process's reaped children (wrk), microseconds: /proc/self/stat cutime + cstime. */
function childrenCpuMicros(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[13]) + Number(fields[14])) * 1_000_000) / 100;
}

/** `count` requests of the source as raw HTTP/1.1 requests, in the records bench/wrk.lua reads. */
function render(source: RequestSource, host: string, count: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const item = source.next();
    const body = item.body === undefined ? Buffer.alloc(0) : Buffer.from(item.body);
    let head = `${source.method} ${source.path} HTTP/1.1\r\nHost: ${host}\r\n`;
    for (const [name, value] of Object.entries(item.headers)) head += `${name}: ${value}\r\n`;
    if (item.body !== undefined) head += `Content-Length: ${body.length}\r\n`;
    const request = Buffer.concat([Buffer.from(`${head}\r\n`), body]);
    parts.push(Buffer.from(`${request.length}\n`), request);
  }
  return Buffer.concat(parts);
}

interface WrkRun {
  result: Record<string, number>;
  cpuMicros: number;
}

async function runWrk(spec: RoundSpec, requests: Buffer, seconds: number, name: string): Promise<WrkRun> {
  dir ??= await mkdtemp(join(tmpdir(), "keymint-loadgen-"));
  const file = join(dir, `${name}.requests`);
  await writeFile(file, requests);
  const cpuBefore = childrenCpuMicros();
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn(
      "wrk",
      // wrk wants whole seconds and a URL with a path (the requests themselves come from the file).
      [
        "-t1",
        `-c${spec.connections}`,
        `-d${Math.max(1, Math.round(seconds))}s`,
        "--timeout",
        "10s",
        "-s",
        rootPath("bench/wrk.lua"),
        `${new URL(spec.url).origin}/`,
      ],
      { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, BENCH_REQUESTS: file } },
    );
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.once("error", (err) =>
      reject(new Error(`cannot run wrk (${err.message}): install it (Debian: apt-get install -y wrk)`)),
    );
    child.once("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`wrk failed (${code}): ${out}`))));
  });
  const line = output.split("\n").find((l) => l.startsWith("RESULT "));
  if (line === undefined) throw new Error(`wrk printed no RESULT line: ${output.slice(0, 500)}`);
  const result: Record<string, number> = {};
  for (const pair of line.slice(7).split(" ")) {
    const [key = "", value = ""] = pair.split("=");
    result[key] = Number(value);
  }
  return { result, cpuMicros: childrenCpuMicros() - cpuBefore };
}

function summarize(run: WrkRun): LoadResult {
  const r = run.result;
  const responses = r.requests ?? 0;
  const non2xx = r.non2xx ?? 0;
  const ms = (key: string) => (r[key] ?? Number.NaN) / 1000;
  return {
    seconds: (r.duration_us ?? 0) / 1e6,
    responses,
    ok: responses - non2xx,
    non2xx,
    errors: r.sock_errors ?? 0,
    statusCodes: { "2xx": responses - non2xx, "non-2xx": non2xx },
    lateItems: 0,
    generatorCpuMicros: run.cpuMicros,
    latencyMs: { p50: ms("p50_us"), p90: ms("p90_us"), p99: ms("p99_us"), max: ms("max_us"), mean: ms("mean_us") },
  };
}

async function round(spec: RoundSpec): Promise<void> {
  const host = new URL(spec.url).host;
  // Single-use requests: enough for each part at the expected rate, with a margin (a reused one would be refused,
  // which fails the run); reusable ones: one cycle.
  const single = isSingleUse(spec.plan);
  const need = (seconds: number) => Math.ceil(spec.expectedRate * seconds * 1.5) + 1000;
  const poolSize = single ? need(spec.warmupSeconds) + need(spec.durationSeconds) : 0;
  const source = requestSource(spec.plan, seed, poolSize);
  const count = (seconds: number) => (single ? need(seconds) : (source.cycle ?? 1));
  if (spec.warmupSeconds > 0) {
    await runWrk(spec, render(source, host, count(spec.warmupSeconds)), spec.warmupSeconds, "warmup");
  }
  const measured = render(source, host, count(spec.durationSeconds));
  const go = new Promise<void>((resolve) => {
    onGo = resolve;
  });
  send({ type: "warmed" });
  await go;
  const run = await runWrk(spec, measured, spec.durationSeconds, "window");
  send({ type: "result", result: summarize(run) });
}

process.on("message", (message: ParentMessage) => {
  switch (message.type) {
    case "init":
      seed = message.seed;
      send({ type: "ready" });
      break;
    case "round":
      round(message.spec).catch((err: unknown) =>
        send({ type: "error", message: err instanceof Error ? err.message : String(err) }),
      );
      break;
    case "go": {
      const resolve = onGo;
      onGo = undefined;
      resolve?.();
      break;
    }
  }
});

async function leave(): Promise<void> {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  process.exit(0);
}

// The orchestrator owns this process: leave when it goes away.
process.on("disconnect", () => void leave());
process.on("SIGTERM", () => void leave());
