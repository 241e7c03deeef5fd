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
import { withTimeout } from "../kv-store.ts";
import { StoreUnavailableError } from "../store.ts";

/** KV key prefix of a used assertion id. */
export const JTI_PREFIX = "jti:";
const KV_MIN_EXPIRATION_AHEAD = 60;
const MAX_SEEN = 100_000;

/** Assertion ids seen in this isolate, with the Unix second they may be forgotten. */
const seen = new Map<string, number>();

/** The KV key of an assertion id: a hash of client id and `jti`, so any `jti` fits KV's key limit. */
async function keyOf(clientId: string, jti: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", UTF8.encode(`${clientId}\n${jti}`));
  return `${JTI_PREFIX}${base64urlEncode(new Uint8Array(digest))}`;
}

/** Remembers an id; when the set is full, expired ids go first, then the oldest (KV still knows them). */
function remember(key: string, exp: number, now: number): void {
  if (seen.size >= MAX_SEEN) {
    for (const [k, until] of seen) if (until <= now) seen.delete(k);
    for (const k of seen.keys()) {
      if (seen.size < MAX_SEEN) break;
      seen.delete(k);
    }
  }
  seen.set(key, exp);
}

export interface ReplayStore {
  kv: KVNamespace;
  timeoutMs: number;
  /** Lets the KV write finish after the response (ExecutionContext.waitUntil); awaited when absent. */
  waitUntil?: ((promise: Promise<unknown>) => void) | undefined;
}

/**
 * Marks an assertion id as used until `exp`. Returns `false` when it was used before (a replay). A KV read that
 * fails is `StoreUnavailableError` (503): replay protection fails closed; a failed write is logged.
 */
export async function claimAssertionId(
  store: ReplayStore,
  clientId: string,
  jti: string,
  exp: number,
  now: number,
): Promise<boolean> {
  const key = await keyOf(clientId, jti);
  const until = seen.get(key);
  if (until !== undefined && until > now) return false;
  let stored: string | null;
  try {
    stored = await withTimeout(store.kv.get(key, { type: "text" }), store.timeoutMs);
  } catch (err) {
    if (err instanceof StoreUnavailableError) throw err;
    throw new StoreUnavailableError(
      `KV read of an assertion id failed: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (stored !== null) {
    remember(key, exp, now);
    return false;
  }
  remember(key, exp, now);
  const write = store.kv
    .put(key, String(exp), { expiration: Math.max(Math.ceil(exp), now + KV_MIN_EXPIRATION_AHEAD) })
    .catch((err: unknown) => {
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
