/**
 * Microbenchmark of the token hot path inside workerd (bench/workers/micro.ts). Inside workerd the clocks
 * stand still during pure CPU work, so the cost is measured from outside: workerd's CPU time (all
 * threads, /proc) around one request that runs the hot path `n` times, minus the same around a request
 * that runs an empty loop of `n` iterations, divided by `n`. Modes are interleaved across repetitions and
 * the median is reported.
 */

import { createHmac } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { iterationsFor, MICRO_MODES, type MicroMode, type MicroResponse } from "../workers/micro.ts";
import { bundleEntry, rootPath } from "./bundle.ts";
import { BENCH_CLAIMS, benchCredentials, benchRecord, newSeed } from "./clients.ts";
import { gcRecordsIn } from "./gc.ts";
import { edgeCf, mtlsRecord } from "./mtls.ts";
import { fileSize, freePort, info, type ManagedProcess } from "./process.ts";
import { processCpuNanos } from "./procfs.ts";
import { bundleClaimsHook, claimsHookVars, randomSigningKey } from "./servers.ts";
import { median, round } from "./stats.ts";
import { startWorkerd } from "./workerd.ts";

export interface MicroOptions {
  /** Hot-path iterations per measured request. */
  iterations: number;
  /** Measured requests per mode. */
  repetitions: number;
  /**
   * Also measure V8 heap bytes allocated per operation (workerd with --expose-gc --trace-gc-nvp: a full GC
   * before and after each loop, and the GC trace's `allocated` summed in between). Exact, unlike sampling.
   */
  allocation?: boolean;
}

export interface MicroResult {
  iterations: number;
  repetitions: number;
  clock: "schedstat" | "stat";
  /** Microseconds per operation, net of the empty loop (median over repetitions). */
  usPerOp: Record<Exclude<MicroMode, "empty">, number>;
  /** The empty loop itself, µs per iteration (request overhead spread over n). */
  emptyUsPerIteration: number;
  /** Every measurement, µs per iteration, gross. */
  samples: Record<MicroMode, number[]>;
  /** V8 heap bytes allocated per operation, net of the empty loop (with `allocation`). */
  bytesPerOp?: Record<Exclude<MicroMode, "empty">, number>;
}

const ISSUER = "http://127.0.0.1:40000";

function base64url(buffer: Buffer): string {
  return buffer.toString("base64url");
}

/** Checks a token from the worker: a valid HS256 signature with the key, and the expected claims. */
function checkToken(token: string, signingKey: string, { clientId }: { clientId: string }): Record<string, unknown> {
  const [header, payload, signature] = token.split(".");
  if (header === undefined || payload === undefined || signature === undefined) throw new Error("token is not a JWS");
  const expected = base64url(createHmac("sha256", signingKey).update(`${header}.${payload}`).digest());
  if (expected !== signature) throw new Error("micro worker's token signature does not verify");
  const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
  if (claims.sub !== clientId || claims.client_id !== clientId || claims.iss !== ISSUER) {
    throw new Error(`micro worker's token has unexpected claims: ${JSON.stringify(claims)}`);
  }
  return claims;
}

async function call(
  proc: ManagedProcess,
  url: string,
  mode: MicroMode,
  n: number,
): Promise<{ nanos: number; source: "schedstat" | "stat"; body: MicroResponse }> {
  proc.assertRunning();
  const before = processCpuNanos(proc.pid);
  const response = await fetch(`${url}/run?mode=${mode}&n=${n}`);
  const text = await response.text();
  const after = processCpuNanos(proc.pid);
  if (response.status !== 200) throw proc.failure(`answered ${response.status} to mode ${mode}: ${text}`);
  return {
    nanos: after.nanos - before.nanos,
    source: after.source,
    body: JSON.parse(text) as MicroResponse,
  };
}

/** Bundles and serves the micro worker in `dir`, measures, stops it. */
export async function runMicro(dir: string, options: MicroOptions): Promise<MicroResult> {
  const outDir = join(dir, "micro");
  await mkdir(outDir, { recursive: true });
  const [bundle, hook] = await Promise.all([
    bundleEntry(rootPath("bench/workers/micro-entry.js"), "keymint-bench-micro", outDir),
    bundleClaimsHook(dir),
  ]);
  const seed = newSeed();
  const credentials = benchCredentials(seed, 0);
  const [, record] = await benchRecord(seed, 0, Math.floor(Date.now() / 1000));
  const claimsCredentials = benchCredentials(seed, 1);
  const [, claimsRecord] = await benchRecord(seed, 1, Math.floor(Date.now() / 1000), { claims: BENCH_CLAIMS });
  const signingKey = randomSigningKey();
  const port = await freePort();
  const savedFlags = process.env.BENCH_V8_FLAGS;
  if (options.allocation === true) {
    process.env.BENCH_V8_FLAGS = `${savedFlags ?? ""} --expose-gc --trace-gc-nvp`.trim();
  }
  const proc = await startWorkerd("micro", {
    bundle,
    port,
    bindings: [
      { name: "CLIENT_RECORD", text: record },
      { name: "CLIENT_SECRET", text: credentials.secret },
      { name: "CLAIMS_RECORD", text: claimsRecord },
      { name: "CLAIMS_SECRET", text: claimsCredentials.secret },
      { name: "TOKEN_SIGNING_KEY", text: signingKey },
      { name: "ISSUER", text: ISSUER },
      {
        name: "MTLS_CLIENT_RECORD",
        text: mtlsRecord(benchCredentials(seed, 1).clientId, Math.floor(Date.now() / 1000))[1],
      },
      { name: "MTLS_CF", text: JSON.stringify(edgeCf()) },
      { name: "CLAIMS_HOOK", service: "claims-hook" },
    ],
    workers: [{ name: "claims-hook", bundle: hook, bindings: claimsHookVars() }],
  }).finally(() => {
    if (savedFlags === undefined) delete process.env.BENCH_V8_FLAGS;
    else process.env.BENCH_V8_FLAGS = savedFlags;
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    // Warm-up (JIT, key import) and correctness: the token must verify in Node.
    for (const mode of MICRO_MODES) {
      const { body } = await call(proc, url, mode, Math.min(2000, options.iterations));
      if (mode === "token" || mode === "token-claims") {
        if (body.token === undefined) throw new Error("micro worker returned no token");
        const claims = checkToken(body.token, signingKey, mode === "token" ? credentials : claimsCredentials);
        if (mode === "token-claims" && claims.tenant !== BENCH_CLAIMS.tenant) {
          throw new Error(`micro worker's claims token lacks its static claims: ${JSON.stringify(claims)}`);
        }
      }
    }
    const samples = Object.fromEntries(MICRO_MODES.map((m) => [m, [] as number[]])) as Record<MicroMode, number[]>;
    const measuredCalls: MicroMode[] = [];
    let clock: "schedstat" | "stat" = "schedstat";
    for (let rep = 0; rep < options.repetitions; rep++) {
      for (const mode of MICRO_MODES) {
        const { nanos, source } = await call(proc, url, mode, options.iterations);
        clock = source;
        samples[mode].push(nanos / 1000 / iterationsFor(mode, options.iterations));
        measuredCalls.push(mode);
      }
    }
    const empty = median(samples.empty);
    const net = (mode: Exclude<MicroMode, "empty">) => round(median(samples[mode]) - empty, 2);
    const result: MicroResult = {
      iterations: options.iterations,
      repetitions: options.repetitions,
      clock,
      usPerOp: {
        token: net("token"),
        "token-claims": net("token-claims"),
        verify: net("verify"),
        decide: net("decide"),
        sign: net("sign"),
        prepare: net("prepare"),
        request: net("request"),
        endpoint: net("endpoint"),
        "endpoint-quiet": net("endpoint-quiet"),
        "endpoint-mtls": net("endpoint-mtls"),
        "request-mtls": net("request-mtls"),
        "endpoint-claims": net("endpoint-claims"),
        "hook-floor": net("hook-floor"),
        "hook-call": net("hook-call"),
        "endpoint-hook": net("endpoint-hook"),
        form: net("form"),
        "audit-log": net("audit-log"),
        "audit-line": net("audit-line"),
      },
      emptyUsPerIteration: round(empty, 3),
      samples,
    };
    if (options.allocation === true) {
      // Every call ran gc() before and after its loop (reason "testing" in the trace). workerd buffers its
      // output, so the log is read once the process has stopped: the warm-up calls' pairs come first, then one
      // pair per measured call, in order; a call's allocation is what the trace reports after its first forced
      // collection, up to and including its second.
      // A few more calls push the last lines out of workerd's buffer before it stops.
      for (let i = 0; i < 4; i++) await call(proc, url, "empty", 1);
      await proc.stop();
      const records = gcRecordsIn(proc.logPath, 0, fileSize(proc.logPath));
      const forced = records.flatMap((r, i) => (r.reason === "testing" ? [i] : []));
      const offset = MICRO_MODES.length * 2;
      if (forced.length < offset + measuredCalls.length * 2) {
        throw new Error(
          `micro: expected ${offset + measuredCalls.length * 2} forced GCs in the trace, found ${forced.length}`,
        );
      }
      const bytes = Object.fromEntries(MICRO_MODES.map((m) => [m, [] as number[]])) as Record<MicroMode, number[]>;
      measuredCalls.forEach((mode, k) => {
        const from = (forced[offset + 2 * k] as number) + 1;
        const to = (forced[offset + 2 * k + 1] as number) + 1;
        const allocated = records.slice(from, to).reduce((sum, r) => sum + (r.allocated ?? 0), 0);
        bytes[mode].push(allocated / iterationsFor(mode, options.iterations));
      });
      const emptyBytes = median(bytes.empty);
      result.bytesPerOp = Object.fromEntries(
        MICRO_MODES.filter((m) => m !== "empty").map((m) => [m, round(median(bytes[m]) - emptyBytes, 0)]),
      ) as Record<Exclude<MicroMode, "empty">, number>;
      info(`micro: V8 heap bytes allocated per op: ${JSON.stringify(result.bytesPerOp)}`);
    }
    info(
      `micro: ${result.usPerOp.token} µs/token (verify ${result.usPerOp.verify}, decide ${result.usPerOp.decide}, ` +
        `sign ${result.usPerOp.sign}; cache-miss prepare ${result.usPerOp.prepare}); whole endpoint ` +
        `${result.usPerOp.endpoint} (audit off ${result.usPerOp["endpoint-quiet"]}, tls_client_auth ${result.usPerOp["endpoint-mtls"]}) vs request+constant response ` +
        `${result.usPerOp.request}; with 3 static claims ${result.usPerOp["token-claims"]} µs/token, whole endpoint ` +
        `${result.usPerOp["endpoint-claims"]}; through the claims hook ${result.usPerOp["endpoint-hook"]} (hook call ` +
        `${result.usPerOp["hook-call"]}, bare service-binding round trip ${result.usPerOp["hook-floor"]}) [${clock}]`,
    );
    return result;
  } finally {
    await proc.stop();
  }
}
