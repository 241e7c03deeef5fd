/** Access-token signing (RFC 7515 compact serialization): HS256 or a key pair, one `crypto.subtle.sign` each. */

import { base64urlEncode, base64urlEncodeText, UTF8, utf8Scratch } from "../util/base64url.ts";
import type { AccessTokenClaims } from "./claims.ts";
import type { SigningKey } from "./keys.ts";

/** The UTF-8 bytes of each key's `header.`, made once per key. */
const headerPrefixes = new WeakMap<SigningKey, Uint8Array>();

function headerPrefix(key: SigningKey): Uint8Array {
  let prefix = headerPrefixes.get(key);
  if (prefix === undefined) {
    prefix = UTF8.encode(`${key.encodedHeader}.`);
    headerPrefixes.set(key, prefix);
  }
  return prefix;
}

/**
 * Signs claims into `header.payload.signature` with the key's precomputed header. The signing input is written
 * as bytes (header prefix, then the payload) into the scratch buffer, never built as a string of its own: the
 * only long strings are the payload and the token. WebCrypto's ECDSA and Ed25519 signatures are already in JWS
 * form (RFC 7518 §3.4: r ‖ s), so every algorithm takes the same path.
 */
export async function signJwt(key: SigningKey, claims: AccessTokenClaims): Promise<string> {
  const payload = base64urlEncodeText(JSON.stringify(claims));
  const signature = await crypto.subtle.sign(key.params, key.cryptoKey, utf8Scratch(payload, headerPrefix(key)));
  return `${key.encodedHeader}.${payload}.${base64urlEncode(new Uint8Array(signature))}`;
}
