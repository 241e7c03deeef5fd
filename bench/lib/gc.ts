/**
 * V8 garbage-collection statistics of a workerd process, from the `--trace-gc-nvp` lines it writes to its log
 * (`BENCH_V8_FLAGS="--trace-gc-nvp"`): one JSON object per collection with its kind (`s` scavenge, `mc`
 * mark-compact, `mmc` memory-reducing mark-compact), pause, bytes allocated since the previous collection,
 * bytes promoted to the old generation, and the old-generation and global (JS + C++ wrapper heap) sizes.
 */

import { grepRange } from "./process.ts";
import { round } from "./stats.ts";

/** One `--trace-gc-nvp` record (the fields used here). */
export interface GcRecord {
  gc: string;
  pause: number;
  allocated?: number;
  promoted?: number;
  new_space_survived?: number;
  start_object_size?: number;
  end_object_size?: number;
  start_global_consumed_size?: number;
  end_global_consumed_size?: number;
  new_space_capacity?: number;
  reason?: string;
  collector_reason?: string;
  heap?: unknown;
}

export interface GcSummary {
  requests: number;
  scavenges: number;
  markCompacts: number;
  /** Requests served per scavenge. */
  requestsPerScavenge: number;
  /** V8 heap bytes allocated per request (the `allocated` of every collection, summed). */
  allocatedBytesPerRequest: number;
  /** Bytes promoted to the old generation per scavenge, and per request. */
  promotedBytesPerScavenge: number;
  promotedBytesPerRequest: number;
  /** Young-generation bytes that survived a scavenge (in flight when it ran), per scavenge. */
  survivedBytesPerScavenge: number;
  /** Total pause of scavenges and of mark-compacts per 1 000 requests, ms. */
  scavengePauseMsPer1000: number;
  markCompactPauseMsPer1000: number;
  /** Longest single pause of each kind, ms. */
  maxScavengePauseMs: number;
  maxMarkCompactPauseMs: number;
  /** Global heap (JS + C++ wrappers) freed by the mark-compacts, per request: garbage only a full GC frees. */
  freedByMarkCompactBytesPerRequest: number;
  /** Of which outside the JS heap (C++ objects of the runtime: Request, Response, Headers...). */
  freedOutsideJsHeapBytesPerRequest: number;
  /** Semi-space capacity at the end (bytes). */
  newSpaceCapacity: number;
  /** Why each mark-compact ran (V8's reason, and the collector's), with counts. */
  markCompactReasons: Record<string, number>;
}

function parseRecords(lines: readonly string[]): GcRecord[] {
  const out: GcRecord[] = [];
  for (const line of lines) {
    const at = line.indexOf("GC: {");
    if (at === -1) continue;
    try {
      out.push(JSON.parse(line.slice(at + 4)) as GcRecord);
    } catch {
      // a line cut by a concurrent writer: skip it
    }
  }
  return out;
}

/** The GC records a workerd log holds in the byte range [start, end). */
export function gcRecordsIn(logPath: string, start: number, end: number): GcRecord[] {
  return parseRecords(grepRange(logPath, start, end, (line) => line.includes("GC: {"), 1_000_000));
}

/** Summarizes the collections of a window in which `requests` requests were served. */
export function summarizeGc(records: readonly GcRecord[], requests: number): GcSummary {
  const scavenges = records.filter((r) => r.gc === "s");
  const full = records.filter((r) => r.gc === "mc" || r.gc === "mmc");
  const sum = (list: readonly GcRecord[], f: (r: GcRecord) => number) => list.reduce((s, r) => s + f(r), 0);
  const max = (list: readonly GcRecord[]) => list.reduce((m, r) => Math.max(m, r.pause), 0);
  const per = (value: number, n: number) => (n > 0 ? value / n : Number.NaN);
  const freedGlobal = sum(full, (r) => (r.start_global_consumed_size ?? 0) - (r.end_global_consumed_size ?? 0));
  const freedJs = sum(full, (r) => (r.start_object_size ?? 0) - (r.end_object_size ?? 0));
  return {
    requests,
    scavenges: scavenges.length,
    markCompacts: full.length,
    requestsPerScavenge: round(per(requests, scavenges.length), 0),
    allocatedBytesPerRequest: round(
      per(
        sum(records, (r) => r.allocated ?? 0),
        requests,
      ),
      0,
    ),
    promotedBytesPerScavenge: round(
      per(
        sum(scavenges, (r) => r.promoted ?? 0),
        scavenges.length,
      ),
      0,
    ),
    promotedBytesPerRequest: round(
      per(
        sum(scavenges, (r) => r.promoted ?? 0),
        requests,
      ),
      0,
    ),
    survivedBytesPerScavenge: round(
      per(
        sum(scavenges, (r) => r.new_space_survived ?? 0),
        scavenges.length,
      ),
      0,
    ),
    scavengePauseMsPer1000: round(
      per(
        sum(scavenges, (r) => r.pause),
        requests,
      ) * 1000,
      2,
    ),
    markCompactPauseMsPer1000: round(
      per(
        sum(full, (r) => r.pause),
        requests,
      ) * 1000,
      2,
    ),
    maxScavengePauseMs: round(max(scavenges), 1),
    maxMarkCompactPauseMs: round(max(full), 1),
    freedByMarkCompactBytesPerRequest: round(per(freedGlobal, requests), 0),
    freedOutsideJsHeapBytesPerRequest: round(per(freedGlobal - freedJs, requests), 0),
    newSpaceCapacity: records.at(-1)?.new_space_capacity ?? 0,
    markCompactReasons: countReasons(full),
  };
}

function countReasons(records: readonly GcRecord[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of records) {
    const key = [r.reason, r.collector_reason].filter((s) => s !== undefined && s !== "").join(" / ");
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}
