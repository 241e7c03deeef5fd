/**
 * The signing keyring, imported once per isolate: the active signing key (HS256 from `TOKEN_SIGNING_KEY`, or a
 * key pair from `TOKEN_SIGNING_JWK`), every key a token may still be verified with, and the public JWKS.
 */

import { ConfigError } from "../config.ts";
import type { KeymintEnv } from "../env.ts";
import { isObject, JwkError, jwksKeys, type PublicJwk, parseJwk, TOKEN_SIGNING_ALGS } from "./jwk.ts";
import {
  importHmacKey,
  importHmacKeysByKid,
  importSigningJwk,
  importVerificationJwk,
  MIN_KEY_LENGTH,
  parseKeyList,
  type SigningKey,
  type VerificationKey,
} from "./keys.ts";

export interface Keyring {
  /** Signs every new token. */
  readonly active: SigningKey;
  /** Every key a token may be verified with (the active one included), by `kid`. */
  readonly byKid: ReadonlyMap<string, VerificationKey>;
  /** The JWKS document served at `/.well-known/jwks.json`: public parts of the key-pair keys only. */
  readonly jwks: string;
}

interface Secrets {
  signing: string;
  verification: string;
  signingJwk: string;
  verificationJwks: string;
}

/**
 * The imported keyring, kept as a value: a promise created by one request must not be awaited by another in
 * workerd, so concurrent first requests each import the keys and the first to finish stores them.
 */
let memo: { secrets: Secrets; ring: Keyring } | undefined;

function text(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function secretsOf(env: KeymintEnv): Secrets {
  return {
    signing: text(env.TOKEN_SIGNING_KEY),
    verification: text(env.TOKEN_VERIFICATION_KEYS),
    signingJwk: text(env.TOKEN_SIGNING_JWK),
    verificationJwks: text(env.TOKEN_VERIFICATION_JWKS),
  };
}

function sameSecrets(a: Secrets, env: KeymintEnv): boolean {
  return (
    a.signing === env.TOKEN_SIGNING_KEY &&
    a.verification === (env.TOKEN_VERIFICATION_KEYS ?? "") &&
    a.signingJwk === (env.TOKEN_SIGNING_JWK ?? "") &&
    a.verificationJwks === (env.TOKEN_VERIFICATION_JWKS ?? "")
  );
}

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

const GENERATE_FIX =
  "generate one with `npm run -s keys -- generate --alg ES256` and `wrangler secret put TOKEN_SIGNING_JWK`";

async function signingJwkKeys(text: string) {
  try {
    return await importSigningJwk(parseJwk(text));
  } catch (err) {
    if (!(err instanceof JwkError)) throw err;
    throw new ConfigError(
      `TOKEN_SIGNING_JWK is unusable: ${err.message}`,
      `set TOKEN_SIGNING_JWK to a private JWK with "kid" and "alg" ${TOKEN_SIGNING_ALGS.join(" | ")} (RSA >= 2048 bits): ${GENERATE_FIX}`,
    );
  }
}

async function verificationJwksKeys(text: string) {
  let keys: Record<string, unknown>[];
  try {
    keys = jwksKeys(JSON.parse(text));
  } catch (err) {
    const reason = err instanceof JwkError ? err.message : "it is not valid JSON";
    throw new ConfigError(
      `TOKEN_VERIFICATION_JWKS is unusable: ${reason}`,
      'set TOKEN_VERIFICATION_JWKS to a JWKS {"keys":[…]} of retired keys, each with "kid" and "alg" (`npm run -s keys -- public` prints one)',
    );
  }
  return Promise.all(
    keys.map(async (jwk, i) => {
      try {
        return await importVerificationJwk(jwk, TOKEN_SIGNING_ALGS, true);
      } catch (err) {
        if (!(err instanceof JwkError)) throw err;
        const kid = isObject(jwk) && typeof jwk.kid === "string" ? ` (kid ${JSON.stringify(jwk.kid)})` : "";
        throw new ConfigError(
          `TOKEN_VERIFICATION_JWKS key ${i}${kid} is unusable: ${err.message}`,
          `fix or remove that key in TOKEN_VERIFICATION_JWKS; every key needs "kid" and "alg" ${TOKEN_SIGNING_ALGS.join(" | ")}`,
        );
      }
    }),
  );
}

function addKey(byKid: Map<string, VerificationKey>, key: VerificationKey, source: string): void {
  const existing = byKid.get(key.kid);
  if (existing !== undefined && existing.alg !== key.alg) {
    throw new ConfigError(
      `${source} has kid ${JSON.stringify(key.kid)}, already used by a ${existing.alg} key`,
      "give every signing and verification key its own kid",
    );
  }
  byKid.set(key.kid, key);
}

async function build(secrets: Secrets): Promise<Keyring> {
  checkKey(secrets.signing, "TOKEN_SIGNING_KEY");
  const hmacKeys = parseKeyList(secrets.verification);
  for (const key of hmacKeys) checkKey(key, "TOKEN_VERIFICATION_KEYS");
  const [hmacActive, hmacByKid, pair, retired] = await Promise.all([
    importHmacKey(secrets.signing),
    importHmacKeysByKid(hmacKeys),
    secrets.signingJwk.trim() === "" ? null : signingJwkKeys(secrets.signingJwk),
    secrets.verificationJwks.trim() === "" ? [] : verificationJwksKeys(secrets.verificationJwks),
  ]);
  const byKid = new Map<string, VerificationKey>(hmacByKid);
  byKid.set(hmacActive.kid, hmacActive);
  const published: PublicJwk[] = [];
  if (pair !== null) {
    addKey(byKid, pair.verification, "TOKEN_SIGNING_JWK");
    published.push(pair.publicJwk);
  }
  for (const { key, publicJwk } of retired) {
    if (pair !== null && key.kid === pair.signing.kid) continue;
    addKey(byKid, key, "TOKEN_VERIFICATION_JWKS");
    published.push(publicJwk);
  }
  return { active: pair?.signing ?? hmacActive, byKid, jwks: JSON.stringify({ keys: published }) };
}

/** The keyring already imported for these secrets, or `undefined` (then call `getKeyring`). */
export function cachedKeyring(env: KeymintEnv): Keyring | undefined {
  const m = memo;
  return m !== undefined && sameSecrets(m.secrets, env) ? m.ring : undefined;
}

/**
 * The keyring for this isolate's secrets. The CryptoKeys are imported on first use and reused until the
 * secrets change (a new deployment), so no request after the first pays for `importKey`. A secret that cannot be
 * used is a `ConfigError` (500 `server_error` with the fix in the log): never an unsigned or weakly signed token.
 */
export async function getKeyring(env: KeymintEnv): Promise<Keyring> {
  const cached = cachedKeyring(env);
  if (cached !== undefined) return cached;
  const secrets = secretsOf(env);
  const ring = await build(secrets);
  memo = { secrets, ring };
  return ring;
}
