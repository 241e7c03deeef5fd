/** Process CPU time and machine facts from /proc (Linux). */

import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { availableParallelism, cpus, totalmem } from "node:os";

let ticksPerSecond: number | undefined;

/** USER_HZ, the unit of utime/stime in /proc/<pid>/stat (almost always 100). */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    try {
      const value = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
      ticksPerSecond = Number.isInteger(value) && value > 0 ? value : 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/**
 * CPU time (user + system, all threads) the process has used so far, in microseconds, from
 * /proc/<pid>/stat fields 14 and 15. The resolution is one clock tick (10 ms at USER_HZ = 100).
 */
export function processCpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) is in parentheses and may contain spaces: split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`cannot parse /proc/${pid}/stat`);
  return ((utime + stime) * 1_000_000) / clockTicksPerSecond();
}

/**
 * CPU time of all the process's threads in nanoseconds, summed from /proc/<pid>/task/<tid>/schedstat (the
 * scheduler's exact run time), or from /proc/<pid>/stat (clock-tick resolution) where schedstat is missing.
 * Time of threads that exit between two samples is lost, so use it only around short measurements.
 */
export function processCpuNanos(pid: number): { nanos: number; source: "schedstat" | "stat" } {
  try {
    let total = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const runNanos = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      if (!Number.isFinite(runNanos)) throw new Error("unparsable schedstat");
      total += runNanos;
    }
    if (total > 0) return { nanos: total, source: "schedstat" };
  } catch {
    // fall through to the tick-resolution counters
  }
  return { nanos: processCpuMicros(pid) * 1000, source: "stat" };
}

export interface SystemCpu {
  /**
   * CPU time all CPUs spent busy in processes (user, nice, system) or stolen by the hypervisor (steal), µs.
   * Interrupt and softirq time is left out: under load it is mostly the loopback traffic of the run itself, which
   * no process is charged for, and counting it would flag every busy window as disturbed.
   */
  busyMicros: number;
  /** Of which stolen by the hypervisor, µs. */
  stealMicros: number;
}

/** Machine-wide CPU time from the first line of /proc/stat. */
export function systemCpu(): SystemCpu {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
  const [, user, nice, system, , , , , steal] = line.trim().split(/\s+/).map(Number);
  const ticks = [user, nice, system, steal].reduce<number>((sum, v) => sum + (v ?? 0), 0);
  const scale = 1_000_000 / clockTicksPerSecond();
  return { busyMicros: ticks * scale, stealMicros: (steal ?? 0) * scale };
}

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
}

export function machineInfo(): MachineInfo {
  let cpuModel = cpus()[0]?.model ?? "unknown";
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (match?.[1] !== undefined) cpuModel = match[1].trim();
  } catch {
    // keep os.cpus()'s answer
  }
  let kernel = "unknown";
  try {
    kernel = readFileSync("/proc/sys/kernel/osrelease", "utf8").trim();
  } catch {
    // not Linux
  }
  return {
    cpuModel,
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel,
  };
}
