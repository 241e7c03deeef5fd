/**
 * Load generator process (forked by bench/lib/load.ts; see there for the protocol). Drives
 * `POST /oauth2/token` with autocannon; each request carries the Basic credentials of the next client,
 * round-robin over the round's clients (headers are precomputed, so the per-request cost is one rebuilt
 * request buffer). Latency is recorded per response (every status) with sub-millisecond precision.
 */

import autocannon, { type AutocannonRequest, type AutocannonResult } from "autocannon";
import {
  basicAuthorization,
  benchCredentials,
  FORM_CONTENT_TYPE,
  TOKEN_PATH,
  TOKEN_REQUEST_BODY,
} from "./lib/clients.ts";
import type { ChildMessage, LoadResult, ParentMessage, RoundSpec } from "./lib/load.ts";
import { percentileOfSorted, SampleBuffer } from "./lib/stats.ts";

let authorizations: string[] = [];
/** Index of the next client; the measured run continues where the warm-up stopped. */
let cursor = 0;
let onGo: (() => void) | undefined;

function send(message: ChildMessage): void {
  process.send?.(message);
}

interface Run {
  result: AutocannonResult;
  seconds: number;
  latencies: SampleBuffer;
}

function runAutocannon(spec: RoundSpec, seconds: number, record: boolean): Promise<Run> {
  const count = Math.max(1, Math.min(spec.clients, authorizations.length));
  const request: AutocannonRequest = {
    method: "POST",
    path: TOKEN_PATH,
    headers: { "content-type": FORM_CONTENT_TYPE },
    body: TOKEN_REQUEST_BODY,
    setupRequest: (req) => {
      (req.headers as Record<string, string>).authorization = authorizations[cursor] as string;
      cursor = cursor + 1 >= count ? 0 : cursor + 1;
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

function summarize(run: Run): LoadResult {
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
  cursor = 0;
  if (spec.warmupSeconds > 0) await runAutocannon(spec, spec.warmupSeconds, false);
  const go = new Promise<void>((resolve) => {
    onGo = resolve;
  });
  send({ type: "warmed" });
  await go;
  const run = await runAutocannon(spec, spec.durationSeconds, true);
  send({ type: "result", result: summarize(run) });
}

process.on("message", (message: ParentMessage) => {
  switch (message.type) {
    case "init":
      authorizations = Array.from({ length: message.maxClients }, (_, i) =>
        basicAuthorization(benchCredentials(message.seed, i)),
      );
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
