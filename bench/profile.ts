/**
 * `npm run -s bench:profile [-- --seconds S --clients N]`: a V8 CPU profile of keymint under load, on the same
 * production-like set-up as the benchmark (bench:serve with workerd's inspector open). Prints the functions
 * with the most self time and the time by source area (keymint's modules, Hono, runtime/native), so the cost
 * of each part of the hot path can be read off instead of guessed.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import autocannon, { type AutocannonResult } from "autocannon";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
}

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "8" },
    clients: { type: "string", default: "1" },
    heap: { type: "boolean", default: false },
  },
});
const seconds = Number(values.seconds);
const inspectPort = 9229 + Math.floor(Math.random() * 500);
const port = 18_000 + Math.floor(Math.random() * 1000);

function startServer(): Promise<{ child: ChildProcess; url: string; id: string; secret: string }> {
  const child = spawn("node", ["bench/serve.ts", "--port", String(port), "--clients", String(values.clients)], {
    env: { ...process.env, BENCH_INSPECT_PORT: String(inspectPort) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`bench:serve exited with ${code}`)));
    createInterface({ input: child.stdout! }).once("line", (line) => {
      const ready = JSON.parse(line) as { url: string; client_id: string; client_secret: string };
      resolve({ child, url: ready.url, id: ready.client_id, secret: ready.client_secret });
    });
  });
}

async function inspector(): Promise<(method: string, params?: object) => Promise<Record<string, unknown>>> {
  const targets = (await (await fetch(`http://127.0.0.1:${inspectPort}/json`)).json()) as {
    webSocketDebuggerUrl: string;
  }[];
  const target = targets.find((t) => t.webSocketDebuggerUrl !== undefined);
  if (target === undefined) throw new Error("no inspector target");
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  let next = 1;
  const pending = new Map<number, (result: Record<string, unknown>) => void>();
  ws.onmessage = (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: Record<string, unknown> };
    if (message.id !== undefined) pending.get(message.id)?.(message.result ?? {});
  };
  return (method, params = {}) =>
    new Promise((resolve) => {
      const id = next++;
      pending.set(id, resolve);
      ws.send(JSON.stringify({ id, method, params }));
    });
}

function area(url: string, name: string): string {
  if (url === "")
    return name === "(garbage collector)" ? "garbage collection" : name.startsWith("(") ? name : "runtime (native)";
  if (/node_modules\/hono|hono\/dist/.test(url) || /\bhono\b/.test(url)) return "hono";
  return "bundle";
}

interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapNode[];
}

/** Sampling heap profile: bytes allocated per request by allocating function (`--heap`). */
async function heapProfile(
  send: (method: string, params?: object) => Promise<Record<string, unknown>>,
  load: () => Promise<AutocannonResult>,
): Promise<void> {
  await send("HeapProfiler.enable");
  await send("HeapProfiler.startSampling", {
    samplingInterval: 512,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  const result = await load();
  const { profile } = (await send("HeapProfiler.stopSampling")) as unknown as { profile: { head: HeapNode } };
  const bySite = new Map<string, number>();
  let total = 0;
  const walk = (node: HeapNode) => {
    const { functionName, url, lineNumber } = node.callFrame;
    const key = `${functionName || "(anonymous)"} ${url ? `${url.split("/").pop()}:${lineNumber + 1}` : ""}`.trim();
    bySite.set(key, (bySite.get(key) ?? 0) + node.selfSize);
    total += node.selfSize;
    for (const child of node.children) walk(child);
  };
  walk(profile.head);
  const requests = result.requests.total;
  console.log(`${requests} requests; ${(total / requests).toFixed(0)} bytes allocated per request (sampled)`);
  for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, 30)) {
    console.log(`  ${(bytes / requests).toFixed(0).padStart(7)} B  ${site}`);
  }
}

const server = await startServer();
try {
  const send = await inspector();
  await send("Profiler.enable");
  await send("Profiler.setSamplingInterval", { interval: 100 });
  const auth = `Basic ${Buffer.from(`${server.id}:${server.secret}`).toString("base64")}`;
  const load = () =>
    new Promise<AutocannonResult>((resolve, reject) => {
      autocannon(
        {
          url: `${server.url}/oauth2/token`,
          method: "POST",
          connections: 32,
          duration: seconds,
          headers: { authorization: auth, "content-type": "application/x-www-form-urlencoded" },
          body: "grant_type=client_credentials",
        },
        (err, result) => (err === null ? resolve(result) : reject(err)),
      );
    });
  await load(); // warm-up
  if (values.heap) {
    await heapProfile(send, load);
    process.exit(0);
  }
  await send("Profiler.start");
  const result = await load();
  const { profile } = (await send("Profiler.stop")) as unknown as { profile: Profile };
  const interval =
    (profile.endTime - profile.startTime) /
    Math.max(
      1,
      profile.nodes.reduce((n, x) => n + (x.hitCount ?? 0), 0),
    );
  const bySelf = new Map<string, number>();
  const byArea = new Map<string, number>();
  let total = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) continue;
    total += hits;
    const { functionName, url, lineNumber } = node.callFrame;
    const key = `${functionName || "(anonymous)"} ${url ? `${url.split("/").pop()}:${lineNumber + 1}` : ""}`.trim();
    bySelf.set(key, (bySelf.get(key) ?? 0) + hits);
    const a = area(url, functionName);
    byArea.set(a, (byArea.get(a) ?? 0) + hits);
  }
  const requests = result.requests.total;
  const usPerReq = (hits: number) => ((hits * interval) / requests).toFixed(2);
  console.log(`${requests} requests in ${seconds} s (${Math.round(requests / seconds)}/s), ${total} samples`);
  console.log("\nSampled JS-thread time per request by area (µs):");
  for (const [a, hits] of [...byArea].sort((x, y) => y[1] - x[1])) console.log(`  ${a.padEnd(22)} ${usPerReq(hits)}`);
  console.log("\nTop functions by self time (µs per request):");
  for (const [name, hits] of [...bySelf].sort((x, y) => y[1] - x[1]).slice(0, 30)) {
    console.log(`  ${usPerReq(hits).padStart(7)}  ${name}`);
  }
} finally {
  server.child.kill("SIGTERM");
}
