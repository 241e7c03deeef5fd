/** Helpers for tests that run keymint's real processes: the CLI, npm start / wrangler dev, wrangler deploy. */

import { type ChildProcess, spawn } from "node:child_process";
import { copyFile, mkdir, mkdtemp, symlink } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "../..");
const BIN = join(ROOT, "node_modules", ".bin");

/** The environment every child gets: Node 22 and the project's tools first on PATH, no telemetry, no colour. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PATH: `${BIN}:${process.env.PATH ?? ""}`,
    WRANGLER_SEND_METRICS: "false",
    NO_COLOR: "1",
    FORCE_COLOR: "0",
    ...extra,
  };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(
  command: string,
  args: string[],
  options: { cwd?: string; input?: string; env?: Record<string, string> } = {},
): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: options.cwd ?? ROOT, env: childEnv(options.env), stdio: "pipe" });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolvePromise({ code: code ?? 1, stdout, stderr }));
    // A child that exits without reading its input closes the pipe (EPIPE): that is its business, not an error.
    child.stdin.on("error", () => {});
    child.stdin.end(options.input ?? "");
  });
}

/** `npm run -s clients -- ...args` in a project directory. */
export function clients(cwd: string, args: string[], options: { input?: string; env?: Record<string, string> } = {}) {
  return run("npm", ["run", "-s", "clients", "--", ...args], { cwd, ...options });
}

/** A scratch copy of the project (sources symlinked) so tests never touch the developer's .dev.vars or state. */
export async function scratchProject(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "keymint-test-"));
  for (const entry of [
    "src",
    "cli",
    "scripts",
    "examples",
    "node_modules",
    "tsconfig.json",
    "worker-configuration.d.ts",
  ]) {
    await symlink(join(ROOT, entry), join(dir, entry));
  }
  for (const file of ["wrangler.toml", "package.json", ".dev.vars.example"]) {
    await copyFile(join(ROOT, file), join(dir, file));
  }
  await mkdir(join(dir, ".wrangler"), { recursive: true });
  return dir;
}

export function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address !== null ? resolvePromise(address.port) : reject(new Error("no port")),
      );
    });
  });
}

export interface Server {
  url: string;
  output(): string;
  stop(): Promise<void>;
}

/** Starts a long-running command (npm start / wrangler dev) in its own process group and waits until it is ready. */
export async function startServer(command: string, args: string[], cwd: string, port: number): Promise<Server> {
  const child: ChildProcess = spawn(command, args, {
    cwd,
    env: childEnv(),
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  child.stdout?.on("data", (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    output += d.toString();
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.pid === undefined) return;
    const exited = new Promise((r) => child.once("exit", r));
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-(child.pid as number), "SIGKILL");
      } catch {}
    }, 5000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited early (${child.exitCode}):\n${output}`);
    try {
      const res = await fetch(`${url}/.well-known/keymint-probe`);
      await res.body?.cancel();
      return { url, output: () => output, stop };
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  await stop();
  throw new Error(`server did not start within 60 s:\n${output}`);
}

/**
 * The Worker's JSON log lines in a server's output. wrangler dev prints `console.log` lines as they are and
 * prefixes `console.error` / `console.warn` ones (`✘ [ERROR] {...}`), so the object is taken from each line.
 */
export function jsonLines(output: string): Record<string, unknown>[] {
  return output.split("\n").flatMap((raw) => {
    const line = raw.replace(/\u001b\[[0-9;]*m/g, "");
    const start = line.indexOf("{");
    const end = line.lastIndexOf("}");
    if (start === -1 || end < start) return [];
    try {
      const parsed: unknown = JSON.parse(line.slice(start, end + 1));
      return typeof parsed === "object" && parsed !== null ? [parsed as Record<string, unknown>] : [];
    } catch {
      return [];
    }
  });
}

/** Waits until `found` returns something for the server's output (log lines arrive after the response). */
export async function waitForOutput<T>(server: Server, found: (output: string) => T | undefined): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const result = found(server.output());
    if (result !== undefined) return result;
    if (Date.now() > deadline) throw new Error(`not found in the server output:\n${server.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs curl with the given arguments and returns its stdout (the response body). */
export async function curl(args: string[]): Promise<{ code: number; body: string; stderr: string }> {
  const result = await run("curl", ["-sS", ...args]);
  return { code: result.code, body: result.stdout, stderr: result.stderr };
}
