/**
 * KV-backed client store with a bounded in-isolate cache (positive and negative) and a read timeout. Keys
 * and values are documented in docs/storage.md (revocations live in src/tokens/revocation-store.ts).
 *
 * Concurrent misses for the same id are deliberately not coalesced: a KV read belongs to the request that
 * started it, and workerd forbids awaiting it from another request (it cancels both).
 */

import { base64Decode } from "../util/base64url.ts";
import { setBounded } from "../util/bounded.ts";
import { clientKey, isValidClientId, parseRecord, RecordError } from "./record.ts";
import { type ClientStore, CorruptRecordError, type PreparedClient, StoreUnavailableError } from "./store.ts";

export interface KvClientStoreOptions {
  /** Milliseconds a looked-up record (or its absence) is reused inside this isolate; 0 disables. */
  cacheTtlMs: number;
  /** Seconds the KV edge cache may keep the value (`cacheTtl`, minimum 30). */
  kvCacheTtl: number;
  /** Give up on a KV read after this many milliseconds. */
  timeoutMs: number;
  /** Most entries kept; the oldest is dropped first. */
  maxEntries: number;
}

type Outcome = { client: PreparedClient | null } | { corrupt: CorruptRecordError };
interface Entry {
  outcome: Outcome;
  expires: number;
}

interface IsolateCache {
  entries: Map<string, Entry>;
}

/** One cache per KV binding object, so a test that wraps the binding never sees another binding's entries. */
const caches = new WeakMap<KVNamespace, IsolateCache>();

function cacheFor(kv: KVNamespace): IsolateCache {
  let cache = caches.get(kv);
  if (cache === undefined) {
    cache = { entries: new Map() };
    caches.set(kv, cache);
  }
  return cache;
}

/**
 * Drops a client from this isolate's lookup cache after keymint itself changed it (the admin API), so this isolate
 * sees the change at once; other isolates see it within CLIENT_CACHE_TTL plus KV's propagation.
 */
export function forgetClient(kv: KVNamespace, clientId: string): void {
  caches.get(kv)?.entries.delete(clientId);
}

/** Counts of registry reads, exposed for the benchmark's and tests' assertions about the hot path. */
export const kvStoreStats = { reads: 0 };

function prepare(clientId: string, raw: string): PreparedClient {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new CorruptRecordError(clientId, "value is not JSON");
  }
  try {
    const record = parseRecord(json, clientId);
    const salt = base64Decode(record.salt, "base64url");
    const hashes = record.secrets.map((secret) => base64Decode(secret.hash, "base64url"));
    if (salt === null || hashes.some((h) => h === null || h.length !== 32)) {
      throw new RecordError("salt or hash is not base64url SHA-256");
    }
    return { record, salt, hashes: hashes as Uint8Array[] };
  } catch (err) {
    if (err instanceof RecordError) throw new CorruptRecordError(clientId, err.message);
    throw err;
  }
}

function unwrap(outcome: Outcome): PreparedClient | null {
  if ("corrupt" in outcome) throw outcome.corrupt;
  return outcome.client;
}

/** Rejects with `StoreUnavailableError` when `promise` has not settled within `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: number | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreUnavailableError(`KV read timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => {
    if (timer !== undefined) clearTimeout(timer);
  });
}

export class KvClientStore implements ClientStore {
  readonly #kv: KVNamespace;
  readonly #options: KvClientStoreOptions;
  readonly #cache: IsolateCache;

  constructor(kv: KVNamespace, options: KvClientStoreOptions) {
    this.#kv = kv;
    this.#options = options;
    this.#cache = cacheFor(kv);
  }

  /**
   * The client, `null` when there is none. Answers synchronously from the cache when it can (no promise, no
   * microtask on the hot path); otherwise returns the pending KV read.
   */
  find(clientId: string): PreparedClient | null | Promise<PreparedClient | null> {
    // An id that cannot exist never reaches KV (and cannot exceed KV's 512-byte key limit).
    if (!isValidClientId(clientId)) return null;
    const cached = this.#options.cacheTtlMs > 0 ? this.#cache.entries.get(clientId) : undefined;
    if (cached !== undefined && cached.expires > Date.now()) {
      return unwrap(cached.outcome);
    }
    return this.#read(clientId).then(unwrap);
  }

  async #read(clientId: string): Promise<Outcome> {
    kvStoreStats.reads++;
    let raw: string | null;
    try {
      raw = await withTimeout(
        this.#kv.get(clientKey(clientId), { type: "text", cacheTtl: this.#options.kvCacheTtl }),
        this.#options.timeoutMs,
      );
    } catch (err) {
      if (err instanceof StoreUnavailableError) throw err;
      throw new StoreUnavailableError(`KV read failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    let outcome: Outcome;
    try {
      outcome = { client: raw === null ? null : prepare(clientId, raw) };
    } catch (err) {
      if (!(err instanceof CorruptRecordError)) throw err;
      outcome = { corrupt: err };
    }
    this.#remember(clientId, outcome);
    return outcome;
  }

  #remember(clientId: string, outcome: Outcome): void {
    const { cacheTtlMs, maxEntries } = this.#options;
    if (cacheTtlMs <= 0) return;
    setBounded(this.#cache.entries, clientId, { outcome, expires: Date.now() + cacheTtlMs }, maxEntries);
  }
}
