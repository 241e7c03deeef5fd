/**
 * Revoked token ids in KV (RFC 7009): `revoked:<jti>` with an expiration equal to the token's own `exp`,
 * so nothing stays forever (see docs/storage.md).
 */

import { withTimeout } from "../clients/kv-store.ts";
import { StoreUnavailableError } from "../clients/store.ts";

export const REVOKED_PREFIX = "revoked:";
/** KV refuses expirations less than 60 s ahead. */
const KV_MIN_EXPIRATION_AHEAD = 60;
/** Revocation lookups use KV's shortest edge cache, so a revocation propagates as fast as KV allows. */
const REVOKED_CACHE_TTL = 30;

function key(jti: string): string {
  return `${REVOKED_PREFIX}${jti}`;
}

/** Whether a token id has been revoked. Throws `StoreUnavailableError` when KV fails. */
export async function isRevoked(kv: KVNamespace, jti: string, timeoutMs: number): Promise<boolean> {
  if (jti.length === 0 || jti.length > 128) return false;
  try {
    return (await withTimeout(kv.get(key(jti), { type: "text", cacheTtl: REVOKED_CACHE_TTL }), timeoutMs)) !== null;
  } catch (err) {
    if (err instanceof StoreUnavailableError) throw err;
    throw new StoreUnavailableError(
      `KV read of a revocation failed: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

/** Records a revocation until the token would have expired anyway. */
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
}
