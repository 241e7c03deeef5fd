/**
 * Revoked token ids in KV (RFC 7009): `revoked:<jti>` with an expiration equal to the token's own `exp`,
 * so nothing stays forever (see docs/storage.md). Lookups are cached per isolate: a revocation is final, so a
 * "revoked" answer is kept until the token expires; a "not revoked" answer only for `cacheTtlMs`
 * (CLIENT_CACHE_TTL), which is the revocation window an isolate adds on top of KV's own propagation.
 */

import { withTimeout } from "../clients/kv-store.ts";
import { StoreUnavailableError } from "../clients/store.ts";
import { setBounded } from "../util/bounded.ts";

export const REVOKED_PREFIX = "revoked:";
/** KV refuses expirations less than 60 s ahead. */
const KV_MIN_EXPIRATION_AHEAD = 60;
/** Revocation lookups use KV's shortest edge cache, so a revocation propagates as fast as KV allows. */
const REVOKED_CACHE_TTL = 30;
/** Most lookups remembered per isolate; the oldest go first. */
const MAX_ENTRIES = 10_000;

/** A remembered lookup: the answer, and until when (ms since the epoch) it may be reused. */
interface Known {
  revoked: boolean;
  until: number;
}

/** One cache per KV binding object, like the client cache (a test's wrapped binding never sees another's). */
const caches = new WeakMap<KVNamespace, Map<string, Known>>();

function cacheFor(kv: KVNamespace): Map<string, Known> {
  let cache = caches.get(kv);
  if (cache === undefined) {
    cache = new Map();
    caches.set(kv, cache);
  }
  return cache;
}

/** Counts of KV revocation reads, for the benchmark's and tests' assertions about the hot path. */
export const revocationStats = { reads: 0 };

function key(jti: string): string {
  return `${REVOKED_PREFIX}${jti}`;
}

export interface RevocationLookup {
  kv: KVNamespace;
  timeoutMs: number;
  /** How long a "not revoked" answer is reused in this isolate (CLIENT_CACHE_TTL); 0: never. */
  cacheTtlMs: number;
}

/**
 * Whether a token id has been revoked; `exp` is the token's own (Unix seconds), the longest a "revoked" answer
 * needs keeping. Answers synchronously from the isolate's cache when it can; otherwise returns the pending KV
 * read, which rejects with `StoreUnavailableError` when KV fails.
 */
export function isRevoked(lookup: RevocationLookup, jti: string, exp: number): boolean | Promise<boolean> {
  if (jti.length === 0 || jti.length > 128) return false;
  const cache = cacheFor(lookup.kv);
  const known = cache.get(jti);
  if (known !== undefined && known.until > Date.now() && (known.revoked || lookup.cacheTtlMs > 0)) return known.revoked;
  return readRevoked(lookup, cache, jti, exp);
}

async function readRevoked(
  lookup: RevocationLookup,
  cache: Map<string, Known>,
  jti: string,
  exp: number,
): Promise<boolean> {
  revocationStats.reads++;
  let revoked: boolean;
  try {
    const value = await withTimeout(
      lookup.kv.get(key(jti), { type: "text", cacheTtl: REVOKED_CACHE_TTL }),
      lookup.timeoutMs,
    );
    revoked = value !== null;
  } catch (err) {
    if (err instanceof StoreUnavailableError) throw err;
    throw new StoreUnavailableError(
      `KV read of a revocation failed: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (revoked) remember(cache, jti, true, exp * 1000);
  else if (lookup.cacheTtlMs > 0) remember(cache, jti, false, Date.now() + lookup.cacheTtlMs);
  return revoked;
}

function remember(cache: Map<string, Known>, jti: string, revoked: boolean, until: number): void {
  setBounded(cache, jti, { revoked, until }, MAX_ENTRIES);
}

/** Records a revocation until the token would have expired anyway; this isolate sees it at once. */
export async function revoke(
  kv: KVNamespace,
  revocation: { jti: string; clientId: string; exp: number; now: number },
  timeoutMs: number,
): Promise<void> {
  const { jti, clientId, exp, now } = revocation;
  const expiration = Math.max(exp, now + KV_MIN_EXPIRATION_AHEAD);
  const value = JSON.stringify({ client_id: clientId, revoked_at: now, exp });
  try {
    await withTimeout(kv.put(key(jti), value, { expiration }), timeoutMs);
  } catch (err) {
    if (err instanceof StoreUnavailableError) throw err;
    throw new StoreUnavailableError(
      `KV write of a revocation failed: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  remember(cacheFor(kv), jti, true, exp * 1000);
}
