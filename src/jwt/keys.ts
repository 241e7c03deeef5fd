/**
 * Signing and verification keys as WebCrypto `CryptoKey`s, each bound to exactly one JWS algorithm: HMAC keys
 * from secret strings (HS256, RFC 7518 §3.2) and key pairs from JWKs (ES256, EdDSA, RS256).
 */

import { base64urlEncode, base64urlEncodeText, UTF8 } from "../util/base64url.ts";
import {
  type AsymmetricAlg,
  algorithmOf,
  type CryptoParams,
  checkJwk,
  importParams,
  type Jwk,
  JwkError,
  PRIVATE_MEMBERS,
  type PublicJwk,
  publicJwk,
  publicMembers,
  signParams,
  TOKEN_SIGNING_ALGS,
} from "./jwk.ts";

export type { JwsAlg } from "./jwk.ts";

import type { JwsAlg } from "./jwk.ts";

/** A key that verifies signatures of exactly one algorithm. */
export interface VerificationKey {
  readonly kid: string;
  readonly alg: JwsAlg;
  readonly cryptoKey: CryptoKey;
}

/** A key that signs access tokens, with its JWS header encoded once. */
export interface SigningKey {
  readonly kid: string;
  readonly alg: JwsAlg;
  readonly cryptoKey: CryptoKey;
  /** WebCrypto parameters for `crypto.subtle.sign`. */
  readonly params: CryptoParams | "HMAC";
  /** base64url of the JSON header `{"alg":…,"typ":"at+jwt","kid":…}`. */
  readonly encodedHeader: string;
}

/** Shortest HMAC key keymint accepts: 32 characters (RFC 7518 §3.2 asks for at least 256 bits of key). */
export const MIN_KEY_LENGTH = 32;

function accessTokenHeader(alg: JwsAlg, kid: string): string {
  return base64urlEncodeText(JSON.stringify({ alg, typ: "at+jwt", kid }));
}

/**
 * The `kid` of an HMAC key: base64url of the first 12 bytes of SHA-256("keymint-kid:" ‖ key). It names the key
 * without revealing it (a signed token already exposes far more about the key than this hash).
 */
export async function deriveKid(secret: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", UTF8.encode(`keymint-kid:${secret}`));
  return base64urlEncode(new Uint8Array(digest, 0, 12));
}

/** Imports an HMAC key string (its UTF-8 bytes are the key) for HS256 signing and verification. */
export async function importHmacKey(secret: string): Promise<SigningKey> {
  const [kid, cryptoKey] = await Promise.all([
    deriveKid(secret),
    crypto.subtle.importKey("raw", UTF8.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]),
  ]);
  return { kid, alg: "HS256", cryptoKey, params: "HMAC", encodedHeader: accessTokenHeader("HS256", kid) };
}

/**
 * The keys of a multi-line secret such as `TOKEN_VERIFICATION_KEYS`: one per line, CRLF tolerated, blank lines
 * ignored. Shared by keymint and the resource-server kit so both read the secret the same way.
 */
export function parseKeyList(text: string): string[] {
  return text
    .split("\n")
    .map((line) => line.replace(/\r$/, ""))
    .filter((line) => line.trim() !== "");
}

/** Imports HMAC keys and indexes them by `kid` (a later duplicate of a key replaces the earlier one). */
export async function importHmacKeysByKid(keys: readonly string[]): Promise<Map<string, VerificationKey>> {
  const imported = await Promise.all(keys.map(importHmacKey));
  return new Map(imported.map((key) => [key.kid, key]));
}

/** Imports the public key of a JWK for verification with `alg` only (the CryptoKey is bound to one algorithm). */
export async function importPublicKey(jwk: Jwk, alg: AsymmetricAlg): Promise<CryptoKey> {
  checkJwk(jwk, alg, false);
  try {
    return await crypto.subtle.importKey(
      "jwk",
      { ...publicMembers(jwk, alg), ext: true } as unknown as JsonWebKey,
      importParams(alg),
      true,
      ["verify"],
    );
  } catch (err) {
    throw new JwkError(`the key cannot be imported: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Imports the private key of a JWK for signing with `alg` only (non-extractable). */
export async function importPrivateKey(jwk: Jwk, alg: AsymmetricAlg): Promise<CryptoKey> {
  checkJwk(jwk, alg, true);
  const material: Record<string, unknown> = { ...publicMembers(jwk, alg) };
  for (const member of PRIVATE_MEMBERS) {
    if (member !== "k" && member in jwk) material[member] = jwk[member];
  }
  try {
    return await crypto.subtle.importKey("jwk", material as unknown as JsonWebKey, importParams(alg), false, ["sign"]);
  } catch (err) {
    throw new JwkError(`the private key cannot be imported: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** A key-pair key: the private half for signing, the public half for verification and publication. */
export interface KeyPairKeys {
  signing: SigningKey;
  verification: VerificationKey;
  publicJwk: PublicJwk;
}

function requireKid(jwk: Jwk): string {
  const kid = jwk.kid;
  if (typeof kid !== "string" || kid.length === 0 || kid.length > 256 || !/^[\x21-\x7e]+$/.test(kid)) {
    throw new JwkError('it has no "kid" (a printable string)');
  }
  return kid;
}

/**
 * Imports a private JWK for access-token signing: `kid` required, `alg` ES256 (P-256), EdDSA (Ed25519) or RS256
 * (>= 2048 bits). Throws `JwkError` naming what is wrong.
 */
export async function importSigningJwk(jwk: Jwk): Promise<KeyPairKeys> {
  const kid = requireKid(jwk);
  if (jwk.alg === undefined) throw new JwkError(`it has no "alg" (one of ${TOKEN_SIGNING_ALGS.join(", ")})`);
  const alg = algorithmOf(jwk, TOKEN_SIGNING_ALGS);
  if (alg === null) {
    throw new JwkError(`alg ${JSON.stringify(jwk.alg)} is not supported (use one of ${TOKEN_SIGNING_ALGS.join(", ")})`);
  }
  const [privateKey, publicKey] = await Promise.all([
    importPrivateKey(jwk, alg),
    importPublicKey(publicJwk(jwk, alg), alg),
  ]);
  return {
    signing: { kid, alg, cryptoKey: privateKey, params: signParams(alg), encodedHeader: accessTokenHeader(alg, kid) },
    verification: { kid, alg, cryptoKey: publicKey },
    publicJwk: publicJwk(jwk, alg),
  };
}

/**
 * Imports the public part of a JWK (private members, if any, are ignored) for verification with one algorithm
 * out of `allowed`. keymint's own keys must name their `kid` and `alg` (`strict`); an outside key set may leave
 * them out (then `kid` is "" and the algorithm is inferred from the key type, see `algorithmOf`).
 */
export async function importVerificationJwk(
  jwk: Jwk,
  allowed: readonly AsymmetricAlg[],
  strict: boolean,
): Promise<{ key: VerificationKey; publicJwk: PublicJwk }> {
  const kid = strict ? requireKid(jwk) : typeof jwk.kid === "string" ? jwk.kid : "";
  if (strict && jwk.alg === undefined) throw new JwkError(`it has no "alg" (one of ${allowed.join(", ")})`);
  const alg = algorithmOf(jwk, allowed);
  if (alg === null) {
    throw new JwkError(
      `alg ${JSON.stringify(jwk.alg ?? `(none; kty ${String(jwk.kty)})`)} is not one of ${allowed.join(", ")}`,
    );
  }
  if (jwk.use !== undefined && jwk.use !== "sig") throw new JwkError(`"use" is ${JSON.stringify(jwk.use)}, not "sig"`);
  const pub = publicJwk(jwk, alg);
  return { key: { kid, alg, cryptoKey: await importPublicKey(pub, alg) }, publicJwk: pub };
}
