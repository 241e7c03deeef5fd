/**
 * Server-provided DPoP nonces (RFC 9449 §8), stateless: a nonce is a time window and an HMAC of it under a key
 * derived from TOKEN_SIGNING_KEY, so every isolate and location accepts every other's nonces without storage.
 * A nonce is valid in its window and the next one (60 to 120 seconds).
 */

import { base64Decode, base64urlEncode, UTF8 } from "../util/base64url.ts";
import { timingSafeEqual } from "../util/ct.ts";

/** Seconds per nonce window. */
export const NONCE_WINDOW = 60;

/** The HMAC key for nonces: SHA-256 of a label and the signing key, so nonces never use the signing key itself. */
export async function deriveNonceKey(signingKey: string): Promise<CryptoKey> {
  const material = await crypto.subtle.digest("SHA-256", UTF8.encode(`keymint-dpop-nonce\n${signingKey}`));
  return crypto.subtle.importKey("raw", material, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
}

async function mac(key: CryptoKey, window: number): Promise<Uint8Array> {
  const full = new Uint8Array(await crypto.subtle.sign("HMAC", key, UTF8.encode(`dpop-nonce:${window}`)));
  return full.subarray(0, 16);
}

/** The nonce of the current window (`now` in Unix seconds). */
export async function currentNonce(key: CryptoKey, now: number): Promise<string> {
  const window = Math.floor(now / NONCE_WINDOW);
  return `${window.toString(36)}.${base64urlEncode(await mac(key, window))}`;
}

/** Whether `nonce` is one this server issued in the current or the previous window (constant-time MAC check). */
export async function isFreshNonce(key: CryptoKey, nonce: unknown, now: number): Promise<boolean> {
  if (typeof nonce !== "string" || nonce.length > 64) return false;
  const [windowText = "", macText = ""] = nonce.split(".");
  const window = Number.parseInt(windowText, 36);
  const current = Math.floor(now / NONCE_WINDOW);
  if (!/^[0-9a-z]{1,12}$/.test(windowText) || (window !== current && window !== current - 1)) return false;
  const presented = base64Decode(macText, "base64url");
  if (presented === null) return false;
  return timingSafeEqual(presented, await mac(key, window));
}
