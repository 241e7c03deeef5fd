/**
 * THE one place that checks a JWS (RFC 7515 compact serialization): access tokens at introspection and in the
 * resource-server kit, client assertions, outside issuers' tokens and DPoP proofs all come through here. Each
 * use states its policy — accepted `typ`, algorithms, and how a header picks its key — and checks its own
 * claims afterwards with its own clock.
 */

import { base64Decode, base64urlEncode, UTF8, UTF8_STRICT } from "../util/base64url.ts";
import { type CryptoParams, canonicalAlg, isObject, signParams } from "./jwk.ts";
import type { JwsAlg, VerificationKey } from "./keys.ts";

/** Why a JWS was refused; for logs and tests only. */
export type JwsError = "malformed" | "unsupported_alg" | "wrong_typ" | "unknown_kid" | "bad_signature";

/** The protected header, as decoded (any members). */
export type JwsHeader = Record<string, unknown> & { alg: string };

export interface JwsPolicy {
  /** Whether the header's `typ` (undefined when absent) is acceptable for this use. */
  typ(typ: unknown): boolean;
  /** Algorithms this use accepts at all (`none` and anything unlisted are refused before any key lookup). */
  algorithms: readonly JwsAlg[];
  /**
   * The key a header designates (by `kid`, or by this use's own rule), or `undefined`; `alg` is the header's
   * algorithm in canonical form. Whatever it returns, that `alg` must equal the key's own: a key is never used
   * with another algorithm.
   */
  key(header: JwsHeader, alg: JwsAlg): VerificationKey | undefined | Promise<VerificationKey | undefined>;
  /** Longest token accepted, in characters (default 8192). */
  maxLength?: number;
}

export type JwsResult =
  | { ok: true; header: JwsHeader; payload: Record<string, unknown>; key: VerificationKey }
  | { ok: false; error: JwsError; header?: JwsHeader };

const DEFAULT_MAX_LENGTH = 8192;

/**
 * Whether a `typ` value names `mediaType` (RFC 7515 §4.1.9: case-insensitive, `application/` may be omitted).
 */
export function typIs(typ: unknown, mediaType: string): boolean {
  if (typeof typ !== "string") return false;
  const lower = typ.toLowerCase();
  return lower === mediaType || lower === `application/${mediaType}`;
}

function decodeJson(segment: string): unknown {
  const bytes = base64Decode(segment, "base64url");
  if (bytes === null) return undefined;
  try {
    return JSON.parse(UTF8_STRICT.decode(bytes));
  } catch {
    return undefined;
  }
}

/** Bytes a signature of this key must have: HMAC-SHA-256 32, ES256 and EdDSA 64, RSA the modulus length. */
function signatureLength(key: VerificationKey): number {
  if (key.alg === "HS256") return 32;
  if (key.alg === "ES256" || key.alg === "EdDSA") return 64;
  return Math.ceil((key.cryptoKey.algorithm as unknown as { modulusLength: number }).modulusLength / 8);
}

function verifyParams(alg: JwsAlg): CryptoParams | "HMAC" {
  return alg === "HS256" ? "HMAC" : signParams(alg);
}

/**
 * Verifies a compact JWS under `policy`: structure and size, a header without `crit` (keymint understands no
 * extension), an allowed `alg` (`Ed25519`, RFC 9864, counts as `EdDSA`), an acceptable `typ`, the key the policy designates with exactly that `alg`, a
 * canonically encoded signature of the right length, and the signature itself (WebCrypto). The payload must be
 * a JSON object; its claims are the caller's to check.
 */
export async function verifyJws(token: string, policy: JwsPolicy): Promise<JwsResult> {
  if (token.length > (policy.maxLength ?? DEFAULT_MAX_LENGTH)) return { ok: false, error: "malformed" };
  const first = token.indexOf(".");
  const second = token.indexOf(".", first + 1);
  if (first === -1 || second === -1 || token.indexOf(".", second + 1) !== -1) return { ok: false, error: "malformed" };
  const encodedHeader = token.slice(0, first);
  const encodedSignature = token.slice(second + 1);
  const header = decodeJson(encodedHeader);
  if (!isObject(header) || typeof header.alg !== "string") return { ok: false, error: "malformed" };
  const jwsHeader = header as JwsHeader;
  if (header.crit !== undefined) return { ok: false, error: "malformed", header: jwsHeader };
  const alg = canonicalAlg(header.alg) as string;
  if (!(policy.algorithms as readonly string[]).includes(alg)) {
    return { ok: false, error: "unsupported_alg", header: jwsHeader };
  }
  if (!policy.typ(header.typ)) return { ok: false, error: "wrong_typ", header: jwsHeader };
  const key = await policy.key(jwsHeader, alg as JwsAlg);
  if (key === undefined) return { ok: false, error: "unknown_kid", header: jwsHeader };
  if (key.alg !== alg) return { ok: false, error: "unsupported_alg", header: jwsHeader };
  const signature = base64Decode(encodedSignature, "base64url");
  // Only the canonical encoding of a signature is accepted, so one token has exactly one valid spelling.
  if (
    signature === null ||
    signature.length !== signatureLength(key) ||
    base64urlEncode(signature) !== encodedSignature
  ) {
    return { ok: false, error: "bad_signature", header: jwsHeader };
  }
  const valid = await crypto.subtle.verify(
    verifyParams(key.alg),
    key.cryptoKey,
    signature,
    UTF8.encode(token.slice(0, second)),
  );
  if (!valid) return { ok: false, error: "bad_signature", header: jwsHeader };
  const payload = decodeJson(token.slice(first + 1, second));
  if (!isObject(payload)) return { ok: false, error: "malformed", header: jwsHeader };
  return { ok: true, header: jwsHeader, payload, key };
}

/** The unverified header and payload of a compact JWS, for routing only (never trust them before `verifyJws`). */
export function peekJws(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } | null {
  if (token.length > DEFAULT_MAX_LENGTH) return null;
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  const header = decodeJson(parts[0] as string);
  const payload = decodeJson(parts[1] as string);
  return isObject(header) && isObject(payload) ? { header, payload } : null;
}
