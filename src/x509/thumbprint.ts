/**
 * Certificate thumbprints for registering a self_signed_tls_client_auth client (RFC 8705 §2.2): the RFC 8705 §3.1
 * `x5t#S256` (base64url SHA-256 of the DER certificate) of a PEM certificate, of a JWK's `x5c` (RFC 7517 §4.7), or
 * of a SHA-256 fingerprint written in hex. Shared by every door (CLI, admin API, RFC 7591): WebCrypto only.
 */

import { base64Decode, base64urlEncode } from "../util/base64url.ts";
import { hexToThumbprint } from "./presented.ts";

/** A value that is not a usable certificate or fingerprint; the message names it. */
export class CertificateError extends Error {
  override readonly name = "CertificateError";
}

const THUMBPRINT = /^[A-Za-z0-9_-]{43}$/;
const HEX_FINGERPRINT = /^[0-9a-fA-F]{2}(:?[0-9a-fA-F]{2}){31}$/;
const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** Whether `value` has the form of an `x5t#S256` (43 base64url characters). */
export function isThumbprint(value: unknown): value is string {
  return typeof value === "string" && THUMBPRINT.test(value);
}

/** RFC 8705 §3.1 `x5t#S256` of a DER certificate. */
export async function thumbprintOf(der: Uint8Array): Promise<string> {
  return base64urlEncode(new Uint8Array(await crypto.subtle.digest("SHA-256", der)));
}

/**
 * A fingerprint as the operator has it: the SHA-256 in hex (`openssl x509 -fingerprint -sha256` prints it with
 * colons; Cloudflare's dashboard without), or already an `x5t#S256`. Throws `CertificateError`.
 */
export function normalizeFingerprint(value: string): string {
  const text = value.trim();
  if (HEX_FINGERPRINT.test(text)) return hexToThumbprint(text.replace(/:/g, ""));
  if (THUMBPRINT.test(text)) return text;
  throw new CertificateError(
    `${JSON.stringify(value)} is not a SHA-256 certificate fingerprint (64 hex digits, or an x5t#S256 value)`,
  );
}

/** The DER certificates of the `CERTIFICATE` blocks of a PEM text (RFC 7468). Throws `CertificateError`. */
export function pemCertificates(pem: string): Uint8Array[] {
  const ders: Uint8Array[] = [];
  for (const [, label, body] of pem.matchAll(PEM_BLOCK)) {
    if (label === "PRIVATE KEY" || label?.endsWith(" PRIVATE KEY")) {
      throw new CertificateError("the PEM holds a private key: register only the certificate");
    }
    if (label !== "CERTIFICATE") continue;
    const der = base64Decode((body ?? "").replace(/\s+/g, ""), "base64");
    if (der === null || der.length < 16 || der[0] !== 0x30)
      throw new CertificateError("a CERTIFICATE block is not base64 DER");
    ders.push(der);
  }
  if (ders.length === 0) throw new CertificateError("no -----BEGIN CERTIFICATE----- block found");
  return ders;
}

/**
 * The thumbprint of each key's certificate in a JWK Set (RFC 8705 §2.2.2: the first `x5c` entry is the client's
 * certificate), or its `x5t#S256` member when it has no `x5c`. When both are there they must agree. Throws
 * `CertificateError` naming the key.
 */
export async function jwksThumbprints(jwks: unknown): Promise<string[]> {
  const keys = (jwks as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0) throw new CertificateError('jwks must be a JWK Set {"keys":[…]}');
  const out: string[] = [];
  for (const [i, jwk] of keys.entries()) {
    if (typeof jwk !== "object" || jwk === null) throw new CertificateError(`jwks key ${i} is not a JSON object`);
    const { x5c, "x5t#S256": x5t } = jwk as Record<string, unknown>;
    if ("d" in jwk) throw new CertificateError(`jwks key ${i} holds private key material ("d")`);
    let fromCertificate: string | undefined;
    if (x5c !== undefined) {
      const first = Array.isArray(x5c) ? x5c[0] : undefined;
      const der = typeof first === "string" ? base64Decode(first, "base64") : null;
      if (der === null || der[0] !== 0x30)
        throw new CertificateError(`jwks key ${i}: x5c[0] is not a base64 DER certificate`);
      fromCertificate = await thumbprintOf(der);
    }
    if (x5t !== undefined && !isThumbprint(x5t)) throw new CertificateError(`jwks key ${i}: x5t#S256 is malformed`);
    if (fromCertificate !== undefined && x5t !== undefined && x5t !== fromCertificate) {
      throw new CertificateError(`jwks key ${i}: x5t#S256 is not the thumbprint of x5c[0]`);
    }
    const thumbprint = fromCertificate ?? x5t;
    if (thumbprint === undefined) throw new CertificateError(`jwks key ${i} has neither x5c nor x5t#S256`);
    out.push(thumbprint as string);
  }
  return out;
}
