/**
 * Child processes, temp dirs, ports and clean-up for the bench scripts.
 *
 * Every child is registered with the clean-up list, so an error, SIGINT or SIGTERM ends all of them (by
 * their own pid) and removes the temp dirs before the orchestrator exits.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Logs go to stderr: stdout is reserved for machine-readable output (serve.ts prints one JSON line). */
export function info(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------------------------------------
// Clean-up

type Cleanup = () => Promise<void>;
const cleanups: Cleanup[] = [];
let cleaning: Promise<void> | undefined;

/** Registers a clean-up step; they run in reverse order of registration. */
export function onCleanup(step: Cleanup): void {
  cleanups.push(step);
}

/** Runs every registered clean-up step once (later calls wait for the first run). */
export function cleanupAll(): Promise<void> {
  cleaning ??= (async () => {
    while (cleanups.length > 0) {
      const step = cleanups.pop() as Cleanup;
      try {
        await step();
      } catch (err) {
        info(`clean-up step failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  })();
  return cleaning;
}

let stopping = false;

/** True once a signal asked the process to stop (children exiting then is expected, not a failure). */
export function isStopping(): boolean {
  return stopping;
}

/**
 * On SIGINT/SIGTERM: clean up, then exit with `exitCode`, or 128 + the signal number when it is omitted.
 */
export function exitOnSignals(exitCode?: number): void {
  const handler = (reason: string, number: number) => {
    if (stopping) return;
    stopping = true;
    info(`${reason}: stopping child processes`);
    void cleanupAll().finally(() => process.exit(exitCode ?? 128 + number));
  };
  process.once("SIGINT", () => handler("SIGINT", 2));
  process.once("SIGTERM", () => handler("SIGTERM", 15));
  // `npm run` starts scripts through `sh -c`; terminating npm ends sh, which does not pass the signal on.
  // An orphaned script would keep its servers running, so losing the parent counts as a SIGTERM too.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) handler("parent process gone", 15);
  }, 500).unref();
}

/** A fresh temp dir, removed by `cleanupAll` unless `BENCH_KEEP_TMP=1`. */
export async function makeTempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `${prefix}-`));
  onCleanup(async () => {
    if (process.env.BENCH_KEEP_TMP === "1") info(`kept ${dir}`);
    else await rm(dir, { recursive: true, force: true });
  });
  return dir;
}

// ---------------------------------------------------------------------------------------------------------
// Ports

/** A currently free TCP port on 127.0.0.1 (the kernel picks it; there is a small race until it is used). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error("no free port"))));
    });
  });
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
    socket.connect(port, "127.0.0.1");
  });
}

// ---------------------------------------------------------------------------------------------------------
// Log files

/** The last `maxLines` lines of a (possibly large) file, read from its end. */
export function tailFile(path: string, maxLines = 30, maxBytes = 16_384): string {
  let fd: number | undefined;
  try {
    const size = statSync(path).size;
    const length = Math.min(size, maxBytes);
    const buffer = Buffer.alloc(length);
    fd = openSync(path, "r");
    readSync(fd, buffer, 0, length, size - length);
    const lines = buffer.toString("utf8").split("\n");
    if (length < size) lines.shift();
    while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
    return lines.slice(-maxLines).join("\n");
  } catch {
    return "(no log)";
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Up to `max` lines of the byte range [start, end) of a file that `keep` selects, read in chunks (a round's
 * part of a large audit log).
 */
export function grepRange(
  path: string,
  start: number,
  end: number,
  keep: (line: string) => boolean,
  max = 10,
): string[] {
  const found: string[] = [];
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    const chunk = Buffer.alloc(1 << 20);
    let position = start;
    let carry = "";
    while (position < end && found.length < max) {
      const read = readSync(fd, chunk, 0, Math.min(chunk.length, end - position), position);
      if (read <= 0) break;
      position += read;
      const lines = (carry + chunk.toString("utf8", 0, read)).split("\n");
      carry = lines.pop() ?? "";
      for (const line of lines) if (keep(line) && found.length < max) found.push(line);
    }
    if (carry !== "" && keep(carry) && found.length < max) found.push(carry);
  } catch {
    // a missing log has no lines
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return found;
}

export function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Managed child processes

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A child process whose stdout/stderr go to a log file, stopped by pid on clean-up. */
export class ManagedProcess {
  readonly name: string;
  readonly logPath: string;
  readonly child: ChildProcess;
  readonly exited: Promise<ExitStatus>;
  #exit: ExitStatus | undefined;

  constructor(name: string, child: ChildProcess, logPath: string) {
    this.name = name;
    this.child = child;
    this.logPath = logPath;
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.#exit = { code, signal };
        resolve(this.#exit);
      });
      child.once("error", (err) => {
        info(`${name}: ${err.message}`);
        this.#exit ??= { code: -1, signal: null };
        resolve(this.#exit);
      });
    });
    onCleanup(() => this.stop());
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`${this.name} has no pid (it failed to start)`);
    return this.child.pid;
  }

  get exitStatus(): ExitStatus | undefined {
    return this.#exit;
  }

  /** Throws (with the log tail) when the process has already exited. */
  assertRunning(): void {
    if (this.#exit !== undefined) throw this.failure(`exited (${describeExit(this.#exit)})`);
  }

  /** An error that names the process and carries the tail of its log. */
  failure(what: string): Error {
    return new Error(`${this.name} ${what}; last lines of ${this.logPath}:\n${tailFile(this.logPath)}`);
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.#exit !== undefined || this.child.pid === undefined) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => {
      if (this.#exit === undefined) this.child.kill("SIGKILL");
    }, graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

export function describeExit(status: ExitStatus): string {
  return status.signal !== null ? `signal ${status.signal}` : `exit code ${status.code}`;
}

export interface SpawnLoggedOptions {
  name: string;
  command: string;
  args: readonly string[];
  logPath: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Keep stdout as a pipe (for a child that prints its address) instead of sending it to the log. */
  pipeStdout?: boolean;
}

/** Spawns a process with stdin closed and its output appended to `logPath`. */
export function spawnLogged(options: SpawnLoggedOptions): ManagedProcess {
  const fd = openSync(options.logPath, "a");
  try {
    const child = spawn(options.command, options.args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["ignore", options.pipeStdout === true ? "pipe" : fd, fd],
    });
    return new ManagedProcess(options.name, child, options.logPath);
  } finally {
    closeSync(fd);
  }
}

/** Resolves with the first line the child prints on stdout (fails if it exits or times out first). */
export function firstStdoutLine(proc: ManagedProcess, timeoutMs: number): Promise<string> {
  const stdout = proc.child.stdout;
  if (stdout === null) return Promise.reject(new Error(`${proc.name} has no stdout pipe`));
  return new Promise((resolve, reject) => {
    let buffered = "";
    const timer = setTimeout(() => reject(proc.failure(`printed nothing within ${timeoutMs} ms`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      const newline = buffered.indexOf("\n");
      if (newline === -1) return;
      clearTimeout(timer);
      stdout.off("data", onData);
      resolve(buffered.slice(0, newline));
    };
    stdout.on("data", onData);
    void proc.exited.then((status) => {
      clearTimeout(timer);
      reject(proc.failure(`exited (${describeExit(status)}) before it was ready`));
    });
  });
}

/**
 * Polls `check` until it returns true; fails with the process's log tail if the process exits or the
 * deadline passes.
 */
export async function waitUntil(
  proc: ManagedProcess,
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    proc.assertRunning();
    if (await check()) return;
    if (Date.now() > deadline) throw proc.failure(`did not become ready (${what}) within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** Runs a command to completion, capturing its output; throws with the output when it fails. */
export function runCommand(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
    });
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      if (code === 0) resolve(output);
      else {
        const status = describeExit({ code, signal });
        reject(new Error(`${command} ${args.join(" ")} failed (${status}):\n${output.trim().slice(-4000)}`));
      }
    });
  });
}

/**
 * Runs a bench command's `main` and exits: with its code (0 when it returns nothing) after clean-up, or 1 with
 * the error on stderr (and `usageText` after a usage error). A stop by signal is left to `exitOnSignals`.
 */
export function runMain(
  name: string,
  usageText: string,
  main: () => Promise<number | undefined>,
  isUsageError: (err: unknown) => boolean,
): void {
  main()
    .then(async (code) => {
      await cleanupAll();
      process.exit(code ?? 0);
    })
    .catch(async (err: unknown) => {
      if (isStopping()) return;
      process.stderr.write(`${name}: ${err instanceof Error ? err.message : String(err)}\n`);
      if (isUsageError(err)) process.stderr.write(`${usageText}\n`);
      await cleanupAll();
      process.exit(1);
    });
}
