/** The local registry's retry on a busy store (cli/registry.ts `retryingWhileBusy`): which failures, how often. */

import { describe, expect, it } from "vitest";
import { CliError, type KvLike, retryingWhileBusy } from "../../cli/registry.ts";

/** A store whose `put` fails with `error` for the first `failures` calls, then stores. */
function flakyStore(failures: number, error: Error) {
  const stored = new Map<string, string>();
  let calls = 0;
  const kv: KvLike = {
    get: async (key) => stored.get(key) ?? null,
    put: async (key, value) => {
      calls++;
      if (calls <= failures) throw error;
      stored.set(key, value);
    },
    delete: async (key) => {
      stored.delete(key);
    },
    list: async () => ({ keys: [...stored.keys()].map((name) => ({ name })), list_complete: true }),
  };
  return { kv, stored, calls: () => calls };
}

const BUSY = new Error("KV PUT failed: 500 Internal Server Error");

describe("retryingWhileBusy", () => {
  it("retries a put that met another process's lock until it is stored", async () => {
    const store = flakyStore(2, BUSY);
    await retryingWhileBusy(store.kv, "local registry", [0, 0, 0]).put("k", "v");
    expect(store.calls()).toBe(3);
    expect(store.stored.get("k")).toBe("v");
  });

  it("gives up after the last wait with a one-line error that says what to do", async () => {
    const store = flakyStore(10, BUSY);
    const put = retryingWhileBusy(store.kv, "local registry (.wrangler/state)", [0, 0]).put("k", "v");
    await expect(put).rejects.toThrow(CliError);
    await expect(put).rejects.toThrow(/local registry \(\.wrangler\/state\) stayed busy .*run the command again/);
    expect(store.calls()).toBe(3);
    expect(store.stored.size).toBe(0);
  });

  it("never retries any other failure", async () => {
    const store = flakyStore(1, new Error("KV PUT failed: 413 Payload Too Large"));
    await expect(retryingWhileBusy(store.kv, "local registry", [0, 0]).put("k", "v")).rejects.toThrow(/413/);
    expect(store.calls()).toBe(1);
  });
});
