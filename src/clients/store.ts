/** The client registry as the Worker sees it: look up one client by id. */

import type { ClientRecord } from "./record.ts";

/** A client record with its salt and hashes decoded once, ready for constant-time verification. */
export interface PreparedClient {
  readonly record: ClientRecord;
  readonly salt: Uint8Array;
  /** Decoded SHA-256 hashes, aligned with `record.secrets`. */
  readonly hashes: readonly Uint8Array[];
}

/** Registry read failed or timed out (maps to 503 `temporarily_unavailable`). */
export class StoreUnavailableError extends Error {
  override readonly name = "StoreUnavailableError";
}

/** A stored record is not valid JSON or not a valid record (maps to `invalid_client` plus an error log). */
export class CorruptRecordError extends Error {
  override readonly name = "CorruptRecordError";
  readonly clientId: string;
  /** What is wrong with it (a field name and a rule; never a value). */
  readonly reason: string;
  constructor(clientId: string, reason: string) {
    super(`client record "${clientId}" is corrupt: ${reason}`);
    this.clientId = clientId;
    this.reason = reason;
  }
}

export interface ClientStore {
  /**
   * The client with this id, or `null` when there is none. Throws `StoreUnavailableError` or
   * `CorruptRecordError`.
   */
  find(clientId: string): PreparedClient | null | Promise<PreparedClient | null>;
}
