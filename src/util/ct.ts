/** Constant-time comparison of secrets and MACs (workerd's `crypto.subtle.timingSafeEqual`). */

/**
 * Compares two byte strings in time that depends only on their lengths. Callers compare fixed-length
 * digests (SHA-256, HMAC-SHA-256), so the length itself reveals nothing; unequal lengths are compared
 * against a copy of `expected` so the same amount of work is done before answering `false`.
 */
export function timingSafeEqual(actual: Uint8Array, expected: Uint8Array): boolean {
  const subtle = crypto.subtle as SubtleCrypto & {
    timingSafeEqual(a: ArrayBufferView | ArrayBuffer, b: ArrayBufferView | ArrayBuffer): boolean;
  };
  if (actual.byteLength !== expected.byteLength) {
    subtle.timingSafeEqual(expected, expected);
    return false;
  }
  return subtle.timingSafeEqual(actual, expected);
}
