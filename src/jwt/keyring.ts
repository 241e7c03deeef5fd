/** The signing keyring: one active key and any number of verification-only keys, imported once per isolate. */

import { ConfigError } from "../config.ts";
import type { KeymintEnv } from "../env.ts";
import { importKeysByKid, importSigningKey, MIN_KEY_LENGTH, parseKeyList, type SigningKey } from "./hs256.ts";

export interface Keyring {
  /** Signs every new token. */
  readonly active: SigningKey;
  /** Every key a token may be verified with (the active one included), by `kid`. */
  readonly byKid: ReadonlyMap<string, SigningKey>;
}

/**
 * The imported keyring, kept as a value: a promise created by one request must not be awaited by another in
 * workerd, so concurrent first requests each import the keys and the first to finish stores them.
 */
let memo: { signing: string; verification: string; ring: Keyring } | undefined;

function checkKey(key: string, name: string): void {
  if (key.length < MIN_KEY_LENGTH) {
    throw new ConfigError(
      `${name} is ${key.length === 0 ? "missing" : `only ${key.length} characters`}; at least ${MIN_KEY_LENGTH} are required`,
      name === "TOKEN_SIGNING_KEY"
        ? "run `wrangler secret put TOKEN_SIGNING_KEY` with a random value of at least 32 characters (locally: put it in .dev.vars; `npm start` creates one)"
        : "run `wrangler secret put TOKEN_VERIFICATION_KEYS` with one key of at least 32 characters per line",
    );
  }
}

async function build(signing: string, verification: string): Promise<Keyring> {
  checkKey(signing, "TOKEN_SIGNING_KEY");
  const others = parseKeyList(verification);
  for (const key of others) checkKey(key, "TOKEN_VERIFICATION_KEYS");
  const [active, byKid] = await Promise.all([importSigningKey(signing), importKeysByKid(others)]);
  byKid.set(active.kid, active);
  return { active, byKid };
}

/** The keyring already imported for these secrets, or `undefined` (then call `getKeyring`). */
export function cachedKeyring(env: KeymintEnv): Keyring | undefined {
  const m = memo;
  return m !== undefined &&
    m.signing === env.TOKEN_SIGNING_KEY &&
    m.verification === (env.TOKEN_VERIFICATION_KEYS ?? "")
    ? m.ring
    : undefined;
}

/**
 * The keyring for this isolate's secrets. The CryptoKeys are imported on first use and reused until the
 * secrets change (a new deployment), so no request after the first pays for `importKey`.
 */
export async function getKeyring(env: KeymintEnv): Promise<Keyring> {
  const signing = typeof env.TOKEN_SIGNING_KEY === "string" ? env.TOKEN_SIGNING_KEY : "";
  const verification = typeof env.TOKEN_VERIFICATION_KEYS === "string" ? env.TOKEN_VERIFICATION_KEYS : "";
  if (memo !== undefined && memo.signing === signing && memo.verification === verification) return memo.ring;
  const ring = await build(signing, verification);
  memo = { signing, verification, ring };
  return ring;
}
