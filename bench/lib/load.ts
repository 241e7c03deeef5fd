/**
 * The load generator as seen from the orchestrator: a separate Node process (bench/loadgen.ts) that renders each
 * round's requests and runs wrk on them, so that the orchestrator's own timers (CPU and KV counter sampling) fire
 * on time and the generator's CPU stays visibly apart from the servers'. The two talk over Node's IPC channel:
 *
 *   orchestrator → round  · generator warms up (not measured) → warmed
 *   orchestrator samples the counters → go · generator measures → result · orchestrator samples again
 */

import { type ChildProcess, fork } from "node:child_process";
import { rootPath } from "./bundle.ts";
import { onCleanup } from "./process.ts";
import type { RequestPlan } from "./requests.ts";

export interface RoundSpec {
  url: string;
  connections: number;
  warmupSeconds: number;
  durationSeconds: number;
  /** What to send (bench/lib/requests.ts). */
  plan: RequestPlan;
  /** Responses per second expected, to size pools of single-use requests. */
  expectedRate: number;
}

export interface LoadResult {
  /** Measured wall time, seconds. */
  seconds: number;
  /** Responses received (any status). */
  responses: number;
  ok: number;
  non2xx: number;
  /** Socket errors and timeouts. */
  errors: number;
  /** Single-use requests signed during the measured window because the pool ran dry (load-generator CPU). */
  lateItems: number;
  /** CPU time wrk (a child of the generator process) used in the measured window, microseconds. */
  generatorCpuMicros: number;
  statusCodes: Record<string, number>;
  /** Latency of every response, milliseconds. */
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
}

export type ParentMessage = { type: "init"; seed: string } | { type: "round"; spec: RoundSpec } | { type: "go" };

export type ChildMessage =
  | { type: "ready" }
  | { type: "warmed" }
  | { type: "result"; result: LoadResult }
  | { type: "error"; message: string };

export class LoadGenerator {
  readonly #child: ChildProcess;
  #waiting: { resolve: (message: ChildMessage) => void; reject: (err: Error) => void } | undefined;
  #exited = false;

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.on("message", (message: ChildMessage) => {
      const waiting = this.#waiting;
      this.#waiting = undefined;
      if (waiting === undefined) return;
      if (message.type === "error") waiting.reject(new Error(`load generator: ${message.message}`));
      else waiting.resolve(message);
    });
    child.once("exit", (code, signal) => {
      this.#exited = true;
      this.#waiting?.reject(new Error(`load generator exited (${signal ?? `code ${code}`})`));
      this.#waiting = undefined;
    });
    onCleanup(() => this.stop());
  }

  get pid(): number {
    if (this.#child.pid === undefined) throw new Error("load generator has no pid");
    return this.#child.pid;
  }

  /** Forks the generator for the run's seed (it derives the clients' credentials from it). */
  static async start(seed: string): Promise<LoadGenerator> {
    const child = fork(rootPath("bench/loadgen.ts"), [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    const generator = new LoadGenerator(child);
    await generator.#request({ type: "init", seed }, "ready");
    return generator;
  }

  #request(message: ParentMessage, expect: ChildMessage["type"]): Promise<ChildMessage> {
    if (this.#exited) return Promise.reject(new Error("load generator is not running"));
    return new Promise<ChildMessage>((resolve, reject) => {
      this.#waiting = { resolve, reject };
      this.#child.send(message);
    }).then((reply) => {
      if (reply.type !== expect) throw new Error(`load generator sent ${reply.type}, expected ${expect}`);
      return reply;
    });
  }

  /**
   * Runs one round: warm-up, then `beforeMeasure()` (sample counters), then the measured load, then
   * returns its result (the caller samples counters again right after).
   */
  async round(spec: RoundSpec, beforeMeasure: () => Promise<void>): Promise<LoadResult> {
    await this.#request({ type: "round", spec }, "warmed");
    await beforeMeasure();
    const reply = await this.#request({ type: "go" }, "result");
    if (reply.type !== "result") throw new Error("unreachable");
    return reply.result;
  }

  async stop(): Promise<void> {
    if (this.#exited) return;
    const exited = new Promise<void>((resolve) => this.#child.once("exit", () => resolve()));
    this.#child.kill("SIGTERM");
    await exited;
  }
}
