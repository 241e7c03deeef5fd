/**
 * The replay guard: a SQLite-backed Durable Object that accepts each one-time id (a client assertion's or a DPoP
 * proof's `jti`) exactly once for as long as it could be presented, in every Cloudflare location at once. Each
 * object holds one shard (one client's assertions, or one DPoP key's proofs: see src/replay/claim.ts), so a busy
 * client never queues behind another. Expired ids are deleted by the object's alarm, so storage holds only ids
 * still inside their lifetime. Storage: docs/storage.md ("The replay guard").
 */

import { DurableObject } from "cloudflare:workers";

/**
 * Seconds an id is kept beyond the last second it could be accepted: the Worker that checked the id's time and
 * this object read different clocks, and a replay must not slip through the difference.
 */
export const CLOCK_MARGIN = 60;
/** While ids remain, the alarm runs at most this often (seconds): one sweep deletes many. */
export const SWEEP_INTERVAL = 30;
/** Longest id accepted (a `jti` of at most 256 characters, with its scope). */
export const MAX_ID_LENGTH = 4096;
/** Furthest ahead an id may be claimed for, in seconds (assertions and proofs live minutes). */
export const MAX_LIFETIME = 3600;

const SCHEMA = "CREATE TABLE IF NOT EXISTS used (id TEXT PRIMARY KEY, until INTEGER NOT NULL) WITHOUT ROWID";
// No index on `until`: it would cost every claim a second B-tree write, while the sweep that scans the table runs
// at most every SWEEP_INTERVAL seconds over ids of the last few minutes.
// A new id is inserted; an existing one is taken over only once it expired (plus the margin), atomically.
// `rowsWritten` tells which happened: 1 for an insert or a takeover, 0 for a live id (a replay).
const CLAIM = `INSERT INTO used (id, until) VALUES (?1, ?2)
  ON CONFLICT (id) DO UPDATE SET until = excluded.until WHERE used.until + ?3 < ?4`;
const SWEEP = "DELETE FROM used WHERE until + ?1 < ?2";
const EARLIEST = "SELECT MIN(until) AS until FROM used";

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

interface PendingClaim {
  id: string;
  until: number;
  claimed: boolean;
  resolve(claimed: boolean): void;
  reject(err: unknown): void;
}

export class ReplayGuard extends DurableObject<unknown> {
  readonly #sql: SqlStorage;
  /** The scheduled alarm (ms since the epoch), or `null`; read once when the object starts. */
  #alarm: number | null = null;
  /** Claims received since the last write, decided together by the next one (see `claim`). */
  #pending: PendingClaim[] = [];

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    this.#sql.exec(SCHEMA);
    void ctx.blockConcurrencyWhile(async () => {
      this.#alarm = await ctx.storage.getAlarm();
    });
  }

  /**
   * Claims `id` until `until` (Unix seconds, the last second it could be accepted, inclusive). `true`: this is
   * its first use. `false`: it was claimed before and has not expired (a replay).
   *
   * Claims are decided in batches: the first claim of a batch schedules one write for the next turn of the
   * event loop, and every claim that arrives before it joins that write. The batch is one SQLite transaction
   * with no await inside it, each id checked and inserted by one statement in arrival order, so concurrent claims
   * of one id cannot both win (the later one meets the earlier one's row). One transaction is one commit: under
   * load, many claims share the commit (its WAL write and sync), which is most of a claim's cost. No answer
   * leaves the object before its commit is durable (the Durable Object output gate).
   */
  claim(id: string, until: number): Promise<boolean> {
    const now = nowSeconds();
    if (typeof id !== "string" || id.length === 0 || id.length > MAX_ID_LENGTH) throw new RangeError("invalid id");
    if (!Number.isSafeInteger(until) || until > now + MAX_LIFETIME) throw new RangeError("invalid expiry");
    return new Promise<boolean>((resolve, reject) => {
      if (this.#pending.push({ id, until, claimed: false, resolve, reject }) === 1) setTimeout(() => this.#decide(), 0);
    });
  }

  /** Decides every pending claim in one transaction, then answers each. */
  #decide(): void {
    const batch = this.#pending;
    this.#pending = [];
    const now = nowSeconds();
    let latest = 0;
    try {
      this.ctx.storage.transactionSync(() => {
        for (const c of batch) {
          c.claimed = this.#sql.exec(CLAIM, c.id, c.until, CLOCK_MARGIN, now).rowsWritten > 0;
          if (c.claimed) latest = Math.max(latest, c.until);
        }
      });
    } catch (err) {
      for (const c of batch) c.reject(err);
      return;
    }
    const answer = () => {
      for (const c of batch) c.resolve(c.claimed);
    };
    if (latest === 0 || this.#alarm !== null) answer();
    else
      this.#schedule(latest + CLOCK_MARGIN + 1, now).then(answer, (err: unknown) => {
        for (const c of batch) c.reject(err);
      });
  }

  /** Deletes every expired id, then schedules the next sweep while ids remain. */
  override async alarm(): Promise<void> {
    this.#alarm = null;
    const now = nowSeconds();
    this.#sql.exec(SWEEP, CLOCK_MARGIN, now);
    const earliest = this.#sql.exec<{ until: number | null }>(EARLIEST).one().until;
    if (earliest !== null) await this.#schedule(earliest + CLOCK_MARGIN + 1, now);
  }

  async #schedule(at: number, now: number): Promise<void> {
    const ms = Math.max(at, now + SWEEP_INTERVAL) * 1000;
    this.#alarm = ms;
    await this.ctx.storage.setAlarm(ms);
  }
}
