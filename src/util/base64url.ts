/** base64url without padding (RFC 4648 §5), shared by the Worker (workerd) and the CLI (Node). */

interface Base64Capable {
  toBase64?: (options: { alphabet: "base64url"; omitPadding: boolean }) => string;
}
interface Base64Constructor {
  fromBase64?: (
    s: string,
    options: { alphabet: "base64" | "base64url"; lastChunkHandling: "strict" | "loose" },
  ) => Uint8Array;
}

const B64URL_TEXT = /^[A-Za-z0-9_-]*$/;
const B64_TEXT = /^[A-Za-z0-9+/]*={0,2}$/;
const NATIVE_ENCODE = typeof (Uint8Array.prototype as Base64Capable).toBase64 === "function";
const NATIVE_DECODE = typeof (Uint8Array as Base64Constructor).fromBase64 === "function";

/** Encodes bytes as unpadded base64url. */
export function base64urlEncode(bytes: Uint8Array): string {
  if (NATIVE_ENCODE) {
    return (bytes as Base64Capable).toBase64!({ alphabet: "base64url", omitPadding: true });
  }
  let binary = "";
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i] as number);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * Whether `text` is well-formed base64 (padding optional) or unpadded base64url: only the alphabet's
 * characters (no whitespace, which decoders would skip) and a length a decoder can complete.
 */
export function isBase64Text(text: string, alphabet: "base64" | "base64url"): boolean {
  return (alphabet === "base64url" ? B64URL_TEXT : B64_TEXT).test(text) && text.length % 4 !== 1;
}

/** Decodes base64 (`alphabet: "base64"`, padding optional) or unpadded base64url; `null` when malformed. */
export function base64Decode(text: string, alphabet: "base64" | "base64url"): Uint8Array | null {
  if (!isBase64Text(text, alphabet)) return null;
  try {
    if (NATIVE_DECODE) {
      return (Uint8Array as Base64Constructor).fromBase64!(text, { alphabet, lastChunkHandling: "loose" });
    }
    const std = alphabet === "base64url" ? text.replace(/-/g, "+").replace(/_/g, "/") : text;
    const binary = atob(std);
    const out = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}

/**
 * A per-isolate scratch buffer for short-lived encodings on the hot path (JSON payloads, signing inputs,
 * salted secrets). Every caller fills it and hands it to its consumer (toBase64, or a WebCrypto call that
 * reads its input before returning — the WebCrypto spec takes "a copy of the bytes" at call time) in one
 * synchronous block, with no `await` in between; JavaScript does not interleave requests inside such a block,
 * so reuse is safe. It spares the allocation (and garbage collection) of a fresh ArrayBuffer per use.
 */
const SCRATCH = new Uint8Array(8192);

/** The UTF-8 bytes of `prefix` followed by `text`, in the scratch buffer when they fit (valid until the next await). */
export function utf8Scratch(text: string, prefix?: Uint8Array): Uint8Array {
  const offset = prefix?.length ?? 0;
  const needed = offset + text.length * 3;
  const buffer = needed <= SCRATCH.length ? SCRATCH : new Uint8Array(needed);
  if (prefix !== undefined) buffer.set(prefix, 0);
  const { written } = UTF8.encodeInto(text, offset === 0 ? buffer : buffer.subarray(offset));
  return buffer.subarray(0, offset + written);
}

/** Encodes a string's UTF-8 bytes as unpadded base64url. */
export function base64urlEncodeText(text: string): string {
  return base64urlEncode(utf8Scratch(text));
}

export const UTF8 = new TextEncoder();
/** Strict UTF-8 decoder: invalid byte sequences throw instead of becoming U+FFFD. */
export const UTF8_STRICT = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
