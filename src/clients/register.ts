/** A new client record for a plaintext secret: the one way the CLI, `npm start`, tests and the benchmark make one. */

import { type NewClient, newClientRecord } from "./lifecycle.ts";
import type { ClientRecord } from "./record.ts";
import { generateSalt, hashSecretForRecord } from "./secrets.ts";

export type NewClientWithSecret = Omit<NewClient, "salt" | "secretHash"> & { secret: string };

/** Draws a fresh salt, stores only the salted hash of `secret`, and builds the record (see `newClientRecord`). */
export async function recordForNewClient(input: NewClientWithSecret, now: number): Promise<ClientRecord> {
  const { secret, ...client } = input;
  const salt = generateSalt();
  return newClientRecord({ ...client, salt, secretHash: await hashSecretForRecord(secret, salt) }, now);
}
