/**
 * The console as deployed: `wrangler deploy --dry-run` bundles its files as text modules, and the bundle served by
 * bare workerd (`npm run -s bench:serve`, the production runtime) answers /console with the same security headers.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { afterAll, beforeAll, expect, it } from "vitest";
import { childEnv, freePort, ROOT } from "./helpers.ts";

let child: ChildProcess;
let url: string;

beforeAll(async () => {
  const port = await freePort();
  child = spawn("npm", ["run", "-s", "bench:serve", "--", "--port", String(port)], {
    cwd: ROOT,
    env: childEnv(),
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let stdout = "";
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on("data", (d: Buffer) => {
      stdout += d.toString();
      const line = stdout.split("\n").find((l) => l.startsWith("{"));
      if (line !== undefined) resolve((JSON.parse(line) as { url: string }).url);
    });
    child.on("exit", (code) => reject(new Error(`bench:serve exited (${code}):\n${stderr}`)));
  });
});

afterAll(async () => {
  if (child?.exitCode === null && child.pid !== undefined) {
    const exited = new Promise((r) => child.once("exit", r));
    // bench:serve stops workerd and its KV service on SIGTERM; the whole group gets it.
    process.kill(-child.pid, "SIGTERM");
    await exited;
  }
});

it("serves the console from the deploy bundle on bare workerd with its CSP and headers", async () => {
  for (const [path, type] of [
    ["/console", "text/html; charset=utf-8"],
    ["/console/console.js", "text/javascript; charset=utf-8"],
    ["/console/console.css", "text/css; charset=utf-8"],
  ] as const) {
    const res = await fetch(`${url}${path}`);
    expect(res.status, path).toBe(200);
    expect(res.headers.get("Content-Type")).toBe(type);
    expect(res.headers.get("Content-Security-Policy")).toContain("script-src 'self';");
    expect(res.headers.get("Content-Security-Policy")).toContain("frame-ancestors 'none'");
    expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
    expect(res.headers.get("Referrer-Policy")).toBe("no-referrer");
    const body = await res.text();
    // The text itself, not a module wrapper.
    if (path === "/console") expect(body.startsWith("<!doctype html>")).toBe(true);
    if (path === "/console/console.js") expect(body.startsWith("// @ts-check")).toBe(true);
  }
  const home = await fetch(`${url}/`, { headers: { Accept: "text/html" } });
  expect(home.status).toBe(200);
  expect(await home.text()).toContain('href="/console"');
});
