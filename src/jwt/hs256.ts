/** HS256 JWS compact serialization (RFC 7515, RFC 7518 §3.2) with WebCrypto. */

import {
  base64Decode,
  base64urlEncode,
  base64urlEncodeText,
  UTF8,
  UTF8_STRICT,
  utf8Scratch,
} from "../util/base64url.ts";
import { type AccessTokenClaims, type AccessTokenHeader, asAccessTokenClaims } from "./claims.ts";

/** An imported HMAC key with its precomputed `kid` and encoded JWS header. */
export interface SigningKey {
  readonly kid: string;
  readonly cryptoKey: CryptoKey;
  /** base64url of the JSON header `{"alg":"HS256","typ":"at+jwt","kid":...}`. */
  readonly encodedHeader: string;
}

/** Shortest key keymint accepts: 32 characters (RFC 7518 §3.2 asks for at least 256 bits of key). */
export const MIN_KEY_LENGTH = 32;

/**
 * The `kid` of a key: base64url of the first 12 bytes of SHA-256("keymint-kid:" ‖ key). It names the key
 * without revealing it (a signed token already exposes far more about the key than this hash).
 */
export async function deriveKid(secret: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", UTF8.encode(`keymint-kid:${secret}`));
  return base64urlEncode(new Uint8Array(digest, 0, 12));
}

/** Imports a key string (its UTF-8 bytes are the HMAC key). Callers cache the result per isolate. */
export async function importSigningKey(secret: string): Promise<SigningKey> {
  const [kid, cryptoKey] = await Promise.all([
    deriveKid(secret),
    crypto.subtle.importKey("raw", UTF8.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]),
  ]);
  const header: AccessTokenHeader = { alg: "HS256", typ: "at+jwt", kid };
  return { kid, cryptoKey, encodedHeader: base64urlEncodeText(JSON.stringify(header)) };
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

/** Imports keys and indexes them by `kid` (a later duplicate of a key replaces the earlier one). */
export async function importKeysByKid(keys: readonly string[]): Promise<Map<string, SigningKey>> {
  const imported = await Promise.all(keys.map(importSigningKey));
  return new Map(imported.map((key) => [key.kid, key]));
}

/** Signs claims into a compact JWS `header.payload.signature`. */
export async function signJwt(key: SigningKey, claims: AccessTokenClaims): Promise<string> {
  const signingInput = `${key.encodedHeader}.${base64urlEncodeText(JSON.stringify(claims))}`;
  const signature = await crypto.subtle.sign("HMAC", key.cryptoKey, utf8Scratch(signingInput));
  return `${signingInput}.${base64urlEncode(new Uint8Array(signature))}`;
}

/** Why a token was refused; for logs and tests only, never shown to callers of introspection. */
export type VerifyError =
  | "malformed"
  | "unsupported_alg"
  | "wrong_typ"
  | "unknown_kid"
  | "bad_signature"
  | "bad_claims";

export type JwtVerifyResult = { ok: true; claims: AccessTokenClaims; kid: string } | { ok: false; error: VerifyError };

const MAX_TOKEN_LENGTH = 8192;

function decodeJsonSegment(segment: string): unknown {
  const bytes = base64Decode(segment, "base64url");
  if (bytes === null) return undefined;
  try {
    return JSON.parse(UTF8_STRICT.decode(bytes));
  } catch {
    return undefined;
  }
}

/**
 * Verifies structure, header and signature of a keymint access token. Only `alg: HS256` is accepted (so
 * `none` and algorithm confusion are impossible), `typ` must be `at+jwt` (RFC 9068 §4), and the key is
 * chosen strictly by `kid`. Time and issuer checks are the caller's, with its own clock.
 */
export async function verifyJwt(token: string, keys: ReadonlyMap<string, SigningKey>): Promise<JwtVerifyResult> {
  if (token.length > MAX_TOKEN_LENGTH) return { ok: false, error: "malformed" };
  const parts = token.split(".");
  if (parts.length !== 3) return { ok: false, error: "malformed" };
  const [encodedHeader, encodedPayload, encodedSignature] = parts as [string, string, string];
  const header = decodeJsonSegment(encodedHeader);
  if (typeof header !== "object" || header === null || Array.isArray(header)) return { ok: false, error: "malformed" };
  const { alg, typ, kid, crit } = header as Record<string, unknown>;
  if (alg !== "HS256") return { ok: false, error: "unsupported_alg" };
  if (typeof typ !== "string" || !/^(application\/)?at\+jwt$/i.test(typ)) return { ok: false, error: "wrong_typ" };
  if (crit !== undefined) return { ok: false, error: "malformed" };
  const key = typeof kid === "string" ? keys.get(kid) : undefined;
  if (key === undefined) return { ok: false, error: "unknown_kid" };
  const signature = base64Decode(encodedSignature, "base64url");
  // Only the canonical encoding of a signature is accepted, so one token has exactly one valid spelling.
  if (signature === null || signature.length !== 32 || base64urlEncode(signature) !== encodedSignature) {
    return { ok: false, error: "bad_signature" };
  }
  const valid = await crypto.subtle.verify(
    "HMAC",
    key.cryptoKey,
    signature,
    UTF8.encode(`${encodedHeader}.${encodedPayload}`),
  );
  if (!valid) return { ok: false, error: "bad_signature" };
  const claims = asAccessTokenClaims(decodeJsonSegment(encodedPayload));
  if (claims === null) return { ok: false, error: "bad_claims" };
  return { ok: true, claims, kid: key.kid };
}
