/**
 * Load generator process (forked by bench/lib/load.ts; see there for the protocol). Drives one scenario per
 * round with autocannon: the round's `RequestPlan` (bench/lib/requests.ts) is turned into requests before the
 * warm-up (Basic headers, token lists, or a pool of single-use signed assertions), so the per-request cost in
 * the measured window is one rebuilt request buffer. Latency is recorded per response (every status) with
 * sub-millisecond precision.
 */

import autocannon, { type AutocannonRequest, type AutocannonResult } from "autocannon";
import type { ChildMessage, LoadResult, ParentMessage, RoundSpec } from "./lib/load.ts";
import { isSingleUse, type RequestSource, requestSource } from "./lib/requests.ts";
import { percentileOfSorted, SampleBuffer } from "./lib/stats.ts";

let seed = "";
let onGo: (() => void) | undefined;

function send(message: ChildMessage): void {
  process.send?.(message);
}

interface Run {
  result: AutocannonResult;
  seconds: number;
  latencies: SampleBuffer;
}

function runAutocannon(spec: RoundSpec, source: RequestSource, seconds: number, record: boolean): Promise<Run> {
  const request: AutocannonRequest = {
    method: source.method,
    path: source.path,
    setupRequest: (req) => {
      const item = source.next();
      req.headers = item.headers;
      if (item.body !== undefined) req.body = item.body;
      return req;
    },
  };
  const latencies = new SampleBuffer();
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const instance = autocannon(
      { url: spec.url, connections: spec.connections, duration: seconds, timeout: 10, requests: [request] },
      (err, result) => {
        if (err !== null) reject(err);
        else resolve({ result, seconds: (performance.now() - started) / 1000, latencies });
      },
    );
    if (record) instance.on("response", (_client, _status, _bytes, responseTime) => latencies.push(responseTime));
  });
}

function summarize(run: Run, lateItems: number): LoadResult {
  const { result, latencies } = run;
  const sorted = latencies.sorted();
  let sum = 0;
  for (const value of sorted) sum += value;
  const statusCodes: Record<string, number> = {};
  for (const [code, stat] of Object.entries(result.statusCodeStats)) statusCodes[code] = stat.count;
  return {
    seconds: run.seconds,
    responses: sorted.length,
    ok: result["2xx"],
    non2xx: result.non2xx,
    errors: result.errors,
    statusCodes,
    lateItems,
    latencyMs: {
      p50: percentileOfSorted(sorted, 50),
      p90: percentileOfSorted(sorted, 90),
      p99: percentileOfSorted(sorted, 99),
      max: sorted.length > 0 ? (sorted[sorted.length - 1] as number) : Number.NaN,
      mean: sorted.length > 0 ? sum / sorted.length : Number.NaN,
    },
  };
}

async function round(spec: RoundSpec): Promise<void> {
  // Single-use requests: sign enough for the warm-up and the window at the expected rate, with a margin.
  const poolSize = isSingleUse(spec.plan)
    ? Math.ceil(spec.expectedRate * (spec.warmupSeconds + spec.durationSeconds) * 1.25) + 1000
    : 0;
  const source = requestSource(spec.plan, seed, poolSize);
  if (spec.warmupSeconds > 0) await runAutocannon(spec, source, spec.warmupSeconds, false);
  const lateBefore = source.lateItems;
  const go = new Promise<void>((resolve) => {
    onGo = resolve;
  });
  send({ type: "warmed" });
  await go;
  const run = await runAutocannon(spec, source, spec.durationSeconds, true);
  send({ type: "result", result: summarize(run, source.lateItems - lateBefore) });
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

// The orchestrator owns this process: leave when it goes away.
process.on("disconnect", () => process.exit(0));
