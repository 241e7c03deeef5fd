/**
 * Single use of one-time ids across the whole network: a cheap per-isolate first check, then the replay guard
 * (src/replay/guard.ts), the one authority. Used for client assertions' `jti` (RFC 7523 §3) and DPoP proofs'
 * `jti` (RFC 9449 §11.1), at the token endpoint and, when it binds the guard, at the resource-server kit.
 */

import { ExpiringSet } from "../util/bounded.ts";
import type { ReplayGuard } from "./guard.ts";

/** The replay guard could not be asked (unreachable, failing or too slow): 503, never an unchecked pass. */
export class ReplayGuardUnavailableError extends Error {
  override readonly name = "ReplayGuardUnavailableError";
}

/** A Durable Object namespace bound to the `ReplayGuard` class (`[[durable_objects.bindings]]`). */
export type ReplayGuardNamespace = DurableObjectNamespace<ReplayGuard>;

/** The object that holds a client's assertion ids: one per client, so a busy client never slows another. */
export function assertionShard(clientId: string): string {
  return `assertions ${clientId}`;
}

/** The object that holds the proof ids of one DPoP key (its RFC 7638 thumbprint), whoever presents them. */
export function proofShard(jkt: string): string {
  return `dpop ${jkt}`;
}

/** Ids remembered per isolate: a replay seen here is refused without a round trip. */
const LOCAL_MAX = 100_000;

export interface OneTimeIds {
  /**
   * Claims `id` in the object `shard` until `until` (Unix seconds, inclusive): `true` on its first use anywhere,
   * `false` for a replay. Throws `ReplayGuardUnavailableError` when the guard cannot answer within the timeout.
   */
  claim(shard: string, id: string, until: number, now: number): Promise<boolean>;
}

/**
 * One-time ids backed by `namespace`. A replay already seen in this isolate (or a simultaneous request with the
 * same id) is refused at once; every first sighting is decided by the guard, so this isolate's memory can only
 * refuse, never accept. When the guard fails, the local claim is released: the id was not accepted, and a retry
 * after the 503 is decided by the guard again.
 */
export function oneTimeIds(namespace: ReplayGuardNamespace, timeoutMs: number): OneTimeIds {
  const local = new ExpiringSet(LOCAL_MAX);
  return {
    async claim(shard, id, until, now) {
      const localId = `${shard}\n${id}`;
      if (!local.claim(localId, until, now)) return false;
      try {
        return await askGuard(namespace, shard, id, until, timeoutMs);
      } catch (err) {
        local.release(localId);
        throw err;
      }
    },
  };
}

async function askGuard(
  namespace: ReplayGuardNamespace,
  shard: string,
  id: string,
  until: number,
  timeoutMs: number,
): Promise<boolean> {
  let timer: number | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new ReplayGuardUnavailableError(`the replay guard did not answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    const claimed = await Promise.race([namespace.getByName(shard).claim(id, until), timeout]);
    if (typeof claimed !== "boolean") throw new ReplayGuardUnavailableError("the replay guard answered no boolean");
    return claimed;
  } catch (err) {
    if (err instanceof ReplayGuardUnavailableError) throw err;
    throw new ReplayGuardUnavailableError(
      `the replay guard failed: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`,
    );
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
