/**
 * The client registry as raw records in Workers KV (`client:<id>`, docs/storage.md), for the admin API's reads and
 * writes. Unlike the token path's cached lookups (kv-store.ts) it reads KV with its shortest edge cache, and every
 * KV failure or timeout is a `StoreUnavailableError` (503 `temporarily_unavailable`).
 */

import { withTimeout } from "./kv-store.ts";
import type { RecordStore } from "./operations.ts";
import { CLIENT_KEY_PREFIX, clientKey } from "./record.ts";
import { StoreUnavailableError } from "./store.ts";

/** KV's shortest edge cache: an admin read sees a write from another location as soon as KV allows. */
const ADMIN_CACHE_TTL = 30;
/** Most keys one KV bulk read takes. */
const BULK_GET_MAX = 100;

async function guarded<T>(what: string, operation: Promise<T>, timeoutMs: number): Promise<T> {
  try {
    return await withTimeout(operation, timeoutMs);
  } catch (err) {
    if (err instanceof StoreUnavailableError) throw err;
    throw new StoreUnavailableError(`KV ${what} failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** A `RecordStore` over the CLIENTS binding: one list page, then bulk reads of up to 100 keys in parallel. */
export function kvRecordStore(kv: KVNamespace, timeoutMs: number): RecordStore {
  return {
    label: "registry",
    async getMany(ids) {
      const out = new Map<string, string | null>();
      const chunks: string[][] = [];
      for (let i = 0; i < ids.length; i += BULK_GET_MAX) chunks.push(ids.slice(i, i + BULK_GET_MAX));
      const results = await Promise.all(
        chunks.map((chunk) =>
          guarded("read", kv.get(chunk.map(clientKey), { type: "text", cacheTtl: ADMIN_CACHE_TTL }), timeoutMs),
        ),
      );
      for (const [i, chunk] of chunks.entries()) {
        const values = results[i] as Map<string, string | null>;
        for (const id of chunk) out.set(id, values.get(clientKey(id)) ?? null);
      }
      return out;
    },
    async put(id, value) {
      await guarded("write", kv.put(clientKey(id), value), timeoutMs);
    },
    async putMany(entries) {
      await Promise.all(entries.map(({ id, value }) => guarded("write", kv.put(clientKey(id), value), timeoutMs)));
    },
    async delete(id) {
      await guarded("delete", kv.delete(clientKey(id)), timeoutMs);
    },
    async listPage({ cursor, limit }) {
      const page = await guarded(
        "list",
        kv.list(
          cursor === undefined ? { prefix: CLIENT_KEY_PREFIX, limit } : { prefix: CLIENT_KEY_PREFIX, limit, cursor },
        ),
        timeoutMs,
      );
      const ids = page.keys.map((key) => key.name.slice(CLIENT_KEY_PREFIX.length));
      return page.list_complete ? { ids } : { ids, cursor: page.cursor };
    },
  };
}
