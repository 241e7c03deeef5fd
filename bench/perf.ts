/**
 * `npm run -s bench:perf [-- --seconds S --only keymint,floor,bare-floor]`: where workerd's CPU goes, by area,
 * with Linux `perf` (as root, or with perf_event_paranoid <= 1). Serves each server as `npm run bench` does
 * (V8 `--perf-basic-prof`, so JIT-compiled JavaScript has names), drives it with the same load, samples the workerd
 * process with `perf record` during the measured window, and splits the samples into areas: the kernel (sockets,
 * pipes, the log file), the runtime's C++ (kj, capnp, workerd's HTTP and APIs), V8's garbage collector, the rest of
 * V8 (interpreter, builtins, runtime calls, compiler), JavaScript (JIT code), crypto (BoringSSL), the allocator.
 * Multiplied by the measured CPU per request, each area's share is µs per request: the profile that shows where
 * the floor is and what keymint adds on top of it.
 */

import { spawn } from "node:child_process";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { booleanFlag, numberFlag, parseFlags, stringFlag, UsageError, usage } from "./lib/args.ts";
import { newSeed } from "./lib/clients.ts";
import { LoadGenerator } from "./lib/load.ts";
import { exitOnSignals, info, makeTempDir, runCommand, runMain } from "./lib/process.ts";
import { processCpuMicros } from "./lib/procfs.ts";
import { type FloorKind, SINGLE_CLIENT_PLAN, startSingleServer } from "./lib/servers.ts";

const FLAGS = {
  seconds: { kind: "number", help: "sampled seconds per server (default 8)" },
  warmup: { kind: "number", help: "warm-up seconds per server (default 8)" },
  only: { kind: "string", help: "servers, comma-separated (default keymint,floor,bare-floor)" },
  json: { kind: "boolean", help: "print JSON" },
  help: { kind: "boolean", help: "show this help" },
} as const;

const AREAS: [name: string, test: (dso: string, symbol: string) => boolean][] = [
  ["kernel (syscalls, TCP loopback, log writes)", (dso) => dso.includes("kernel")],
  [
    "JavaScript (JIT code and V8 builtins)",
    (dso, sym) =>
      dso.startsWith("perf-") ||
      /^(JS|Builtin|Function|LazyCompile|Script|Interpreted|Baseline|Maglev|Turbofan|RegExp|Stub|BytecodeHandler|Handler):/.test(
        sym,
      ),
  ],
  [
    "V8 garbage collection",
    (_, sym) =>
      /Scaveng|IsUnmodifiedApiObject|HeapTracer|ResetRoot|v8::internal::(Heap|Scavenge|Scaveng|MarkCompact|Marking|ConcurrentMarking|MinorMark|Sweep|Evacuat|Compactor|GCTracer|RememberedSet|SlotSet|FreeList|PagedSpace|NewSpace|SemiSpace|LargeObjectSpace|MemoryAllocator|TracedHandles|GlobalHandles|IncrementalMarking|MainMarking|ObjectStats|LiveObject|PretenuringHandler|ArrayBufferSweeper|Page|MemoryChunk|MutablePageMetadata|PageMetadata|EmbedderTracing|CppHeap|UnifiedHeap)|cppgc::|heap::base::/.test(
        sym,
      ),
  ],
  ["V8 (runtime, parser, compiler, API)", (_, sym) => /v8::|V8|Builtins_|^Runtime_/.test(sym)],
  [
    "crypto (BoringSSL)",
    (_, sym) =>
      /SHA|sha256|HMAC|hmac|EVP_|BN_|bn_|ec_|EC_|p256|ed25519|ED25519|x25519|RSA|rsa_|bssl|CRYPTO_|aes|gcm/.test(sym),
  ],
  ["allocator (tcmalloc)", (_, sym) => /tcmalloc|malloc|free|operator new|operator delete/.test(sym)],
  ["runtime C++ (kj, capnp, workerd)", (_, sym) => /kj::|capnp::|workerd::|jsg::|kj_|Kj|Capnp/.test(sym)],
];

interface AreaShare {
  area: string;
  percent: number;
  usPerRequest: number;
}

async function perfRecord(pid: number, seconds: number, output: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn(
      "perf",
      ["record", "-F", "1999", "-p", String(pid), "-o", output, "--", "sleep", String(seconds)],
      {
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let err = "";
    child.stderr.on("data", (chunk: Buffer) => {
      err += chunk.toString();
    });
    child.once("error", reject);
    child.once("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`perf record failed (${code}): ${err.trim()}`)),
    );
  });
}

async function areasOf(
  file: string,
  cpuUsPerRequest: number,
): Promise<{ areas: AreaShare[]; top: string[]; bySymbol: Map<string, number> }> {
  const text = await runCommand("perf", [
    "report",
    "-i",
    file,
    "--no-children",
    "--sort",
    "dso,sym",
    "--stdio",
    "--percent-limit",
    "0",
  ]);
  const totals = new Map<string, number>();
  const top: string[] = [];
  const bySymbol = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^\s+([\d.]+)%\s+(.+?)\s+\[[.k]\]\s+(.*)$/.exec(line);
    if (m === null) continue;
    const percent = Number(m[1]);
    const dso = m[2] as string;
    const sym = (m[3] as string).trim();
    const area = AREAS.find(([, test]) => test(dso, sym))?.[0] ?? "other (libc, unresolved)";
    totals.set(area, (totals.get(area) ?? 0) + percent);
    // JIT frames are named per process (perf-<pid>.map): key them by symbol alone so servers compare.
    const key = dso.startsWith("[JIT]") || dso.startsWith("perf-") ? `JIT ${sym}` : `${dso} ${sym}`;
    bySymbol.set(key, (bySymbol.get(key) ?? 0) + (percent / 100) * cpuUsPerRequest);
    if (top.length < 25) top.push(`${percent.toFixed(2).padStart(6)}%  ${dso}  ${sym.slice(0, 110)}`);
  }
  const areas = [...totals]
    .sort((a, b) => b[1] - a[1])
    .map(([area, percent]) => ({ area, percent, usPerRequest: (percent / 100) * cpuUsPerRequest }));
  return { areas, top, bySymbol };
}

async function main(): Promise<undefined> {
  const flags = parseFlags(process.argv.slice(2), FLAGS);
  if (booleanFlag(flags, "help")) {
    process.stderr.write(`${usage("npm run -s bench:perf --", FLAGS)}\n`);
    return;
  }
  const only = (stringFlag(flags, "only") ?? "keymint,floor,bare-floor").split(",").map((s) => s.trim());
  for (const name of only) {
    if (!["keymint", "floor", "bare-floor"].includes(name)) throw new UsageError(`unknown server ${name}`);
  }
  const seconds = numberFlag(flags, "seconds") ?? 8;
  const warmup = numberFlag(flags, "warmup") ?? 8;
  exitOnSignals();
  process.env.BENCH_V8_FLAGS = `${process.env.BENCH_V8_FLAGS ?? ""} --perf-basic-prof`.trim();
  const dir = await makeTempDir("keymint-perf");
  const seed = newSeed();
  const load = await LoadGenerator.start(seed);
  const results: {
    server: string;
    cpuUsPerRequest: number;
    requests: number;
    areas: AreaShare[];
    top: string[];
    bySymbol: Map<string, number>;
  }[] = [];
  for (const name of only) {
    const server = await startSingleServer(name as "keymint" | FloorKind, dir, seed);
    const output = join(dir, `${name}.perf.data`);
    let recording: Promise<void> | undefined;
    let cpuBefore = 0;
    const result = await load.round(
      {
        url: server.url,
        connections: 32,
        warmupSeconds: warmup,
        durationSeconds: seconds,
        plan: SINGLE_CLIENT_PLAN,
        expectedRate: 10_000,
      },
      async () => {
        cpuBefore = processCpuMicros(server.proc.pid);
        recording = perfRecord(server.proc.pid, seconds, output);
      },
    );
    const cpu = processCpuMicros(server.proc.pid) - cpuBefore;
    await recording;
    await server.proc.stop();
    const cpuUsPerRequest = cpu / result.responses;
    const { areas, top, bySymbol } = await areasOf(output, cpuUsPerRequest);
    await rm(`/tmp/perf-${server.proc.pid}.map`, { force: true });
    results.push({ server: name, cpuUsPerRequest, requests: result.responses, areas, top, bySymbol });
    info(`${name}: ${result.responses} requests, ${cpuUsPerRequest.toFixed(1)} µs CPU/request`);
  }
  await load.stop();
  if (booleanFlag(flags, "json")) {
    process.stdout.write(
      `${JSON.stringify(
        results.map(({ bySymbol: _, ...r }) => r),
        null,
        2,
      )}\n`,
    );
    return;
  }
  const areaNames = [...new Set(results.flatMap((r) => r.areas.map((a) => a.area)))];
  const lines = [
    `| CPU µs per request, by area | ${results.map((r) => r.server).join(" | ")} |`,
    `| --- | ${results.map(() => "---:").join(" | ")} |`,
    ...areaNames.map(
      (area) =>
        `| ${area} | ${results
          .map((r) => {
            const a = r.areas.find((x) => x.area === area);
            return a === undefined ? "–" : `${a.usPerRequest.toFixed(1)} (${a.percent.toFixed(0)} %)`;
          })
          .join(" | ")} |`,
    ),
    `| **total (workerd CPU / request)** | ${results.map((r) => `**${r.cpuUsPerRequest.toFixed(1)}**`).join(" | ")} |`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  for (const r of results) process.stdout.write(`\n${r.server}: top symbols\n${r.top.join("\n")}\n`);
  const keymint = results.find((r) => r.server === "keymint");
  const floor = results.find((r) => r.server === "floor");
  if (keymint !== undefined && floor !== undefined) {
    const diff = [...keymint.bySymbol]
      .map(([sym, us]) => [sym, us - (floor.bySymbol.get(sym) ?? 0)] as const)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 30);
    process.stdout.write(
      `\nwhat keymint adds to the floor, µs per request by symbol (top 30):\n${diff.map(([sym, us]) => `${us.toFixed(2).padStart(7)}  ${sym.slice(0, 130)}`).join("\n")}\n`,
    );
  }
}

runMain("bench:perf", usage("npm run -s bench:perf --", FLAGS), main, (err) => err instanceof UsageError);
