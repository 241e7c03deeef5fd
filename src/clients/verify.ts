/**
 * Constant-work client secret verification (RFC 6749 §2.3.1, RFC 9700 §4.x).
 *
 * Every attempt, whether the client exists, is disabled or holds one or two secrets, costs exactly one
 * SHA-256 and MAX_SECRETS constant-time comparisons, so neither timing nor the response tells an unknown
 * client from a wrong secret.
 */

import { timingSafeEqual } from "../util/ct.ts";
import { MAX_SECRETS } from "./record.ts";
import { hashSecret } from "./secrets.ts";
import type { PreparedClient } from "./store.ts";

export type VerifyFailure = "unknown_client" | "wrong_secret" | "secret_expired" | "client_disabled";
/** On success, `slot` says which secret matched: 0 the current one, 1 the previous one (rotation grace). */
export type VerifyResult = { ok: true; client: PreparedClient; slot: number } | { ok: false; reason: VerifyFailure };

/** Counters of the crypto work done, so tests can prove every path does the same amount. */
export const verifyWork = { digests: 0, comparisons: 0 };

// Stand-ins for a missing client or an empty secret slot: random, so nothing can ever match them.
// Made on first use: Workers forbid random values in global scope.
let dummy: { salt: Uint8Array; hash: Uint8Array } | undefined;
function dummies(): { salt: Uint8Array; hash: Uint8Array } {
  dummy ??= { salt: crypto.getRandomValues(new Uint8Array(16)), hash: crypto.getRandomValues(new Uint8Array(32)) };
  return dummy;
}

/**
 * Checks a presented secret against a client (or against nothing, for an unknown id) doing the same work
 * in every case. `now` is Unix seconds.
 */
export async function verifyClientSecret(
  client: PreparedClient | null,
  presentedSecret: string,
  now: number,
): Promise<VerifyResult> {
  const stand = dummies();
  const digest = new Uint8Array(await hashSecret(presentedSecret, client?.salt ?? stand.salt));
  verifyWork.digests++;
  let matched = -1;
  for (let i = 0; i < MAX_SECRETS; i++) {
    const stored = client?.hashes[i];
    const equal = timingSafeEqual(digest, stored ?? stand.hash);
    verifyWork.comparisons++;
    if (equal && stored !== undefined && matched === -1) matched = i;
  }
  if (client === null) return { ok: false, reason: "unknown_client" };
  if (matched === -1) return { ok: false, reason: "wrong_secret" };
  const expiresAt = client.record.secrets[matched]?.expires_at ?? null;
  if (expiresAt !== null && expiresAt <= now) return { ok: false, reason: "secret_expired" };
  if (!client.record.enabled) return { ok: false, reason: "client_disabled" };
  return { ok: true, client, slot: matched };
}
