/**
 * Single use of client assertions (RFC 7523 §3: "The authorization server MAY ensure that JWTs are not replayed
 * by maintaining the set of used jti values"): a per-isolate set plus a KV entry per assertion that expires with
 * it (see docs/storage.md, `jti:`).
 *
 * KV is eventually consistent: an entry written in one location is visible in others within about 60 seconds.
 * So a replay in the same isolate is always refused, in another isolate of the same location once KV has the
 * write, and in another location once it has propagated. Assertions live at most five minutes and travel only
 * over TLS to keymint, so the window is small; it is documented in SECURITY.md.
 */

import { log } from "../../log.ts";
import { base64urlEncode, UTF8 } from "../../util/base64url.ts";
import { ExpiringSet } from "../../util/bounded.ts";
import { withTimeout } from "../kv-store.ts";
import { StoreUnavailableError } from "../store.ts";

/** KV key prefix of a used assertion id. */
export const JTI_PREFIX = "jti:";
const KV_MIN_EXPIRATION_AHEAD = 60;

/** Assertion ids seen in this isolate. */
const seen = new ExpiringSet(100_000);

/** The KV key of an assertion id: a hash of client id and `jti`, so any `jti` fits KV's key limit. */
async function keyOf(clientId: string, jti: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", UTF8.encode(`${clientId}\n${jti}`));
  return `${JTI_PREFIX}${base64urlEncode(new Uint8Array(digest))}`;
}

export interface ReplayStore {
  kv: KVNamespace;
  timeoutMs: number;
  /** Lets the KV write finish after the response (ExecutionContext.waitUntil); awaited when absent. */
  waitUntil?: ((promise: Promise<unknown>) => void) | undefined;
}

/**
 * Marks an assertion id as used until `until` (Unix seconds: the last second the assertion could be accepted,
 * its `exp` plus the clock leeway). Returns `false` when it was used before (a replay). The id is claimed in the
 * isolate before KV is read, so two simultaneous requests with one assertion cannot both pass. A KV read that
 * fails is `StoreUnavailableError` (503): replay protection fails closed; a failed write is logged.
 */
export async function claimAssertionId(
  store: ReplayStore,
  clientId: string,
  jti: string,
  until: number,
  now: number,
): Promise<boolean> {
  const key = await keyOf(clientId, jti);
  if (!seen.claim(key, until, now)) return false;
  let stored: string | null;
  try {
    stored = await withTimeout(store.kv.get(key, { type: "text" }), store.timeoutMs);
  } catch (err) {
    if (err instanceof StoreUnavailableError) throw err;
    throw new StoreUnavailableError(
      `KV read of an assertion id failed: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (stored !== null) return false;
  // KV refuses expirations less than 60 s ahead; the entry outlives the assertion by at most that.
  const expiration = Math.max(Math.ceil(until) + 1, now + KV_MIN_EXPIRATION_AHEAD);
  const write = store.kv.put(key, String(until), { expiration }).catch((err: unknown) => {
    log("warn", "assertion_id_not_stored", {
      client_id: clientId,
      cause: err instanceof Error ? err.message : String(err),
      fix: "check Workers KV status; replays of this assertion in other locations are not detected until it expires",
    });
  });
  if (store.waitUntil !== undefined) store.waitUntil(write);
  else await write;
  return true;
}
