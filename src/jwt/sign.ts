/** Access-token signing (RFC 7515 compact serialization): HS256 or a key pair, one `crypto.subtle.sign` each. */

import { base64urlEncode, base64urlEncodeText, utf8Scratch } from "../util/base64url.ts";
import type { AccessTokenClaims } from "./claims.ts";
import type { SigningKey } from "./keys.ts";

/**
 * Signs claims into `header.payload.signature` with the key's precomputed header. WebCrypto's ECDSA and Ed25519
 * signatures are already in JWS form (RFC 7518 §3.4: r ‖ s), so every algorithm takes the same path.
 */
export async function signJwt(key: SigningKey, claims: AccessTokenClaims): Promise<string> {
  const signingInput = `${key.encodedHeader}.${base64urlEncodeText(JSON.stringify(claims))}`;
  const signature = await crypto.subtle.sign(key.params, key.cryptoKey, utf8Scratch(signingInput));
  return `${signingInput}.${base64urlEncode(new Uint8Array(signature))}`;
}
