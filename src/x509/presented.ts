/**
 * The TLS client certificate of a request, as Cloudflare's edge reports it in `request.cf.tlsClientAuth` once
 * mTLS is enabled for the hostname (the Worker never sees the handshake itself). Read defensively: any field
 * missing or not in the documented form means "no certificate presented".
 */

import { base64Decode, base64urlEncode } from "../util/base64url.ts";

/** What keymint uses of a presented certificate. */
export interface PresentedCertificate {
  /** RFC 8705 §3.1 `x5t#S256`: base64url SHA-256 of the DER certificate (Cloudflare's `certFingerprintSHA256`). */
  readonly thumbprint: string;
  /** `certVerified`: `SUCCESS` when it chains to a CA the zone trusts, else `FAILED:reason`. */
  readonly verification: string;
  /** `certRevoked` is `"1"`. */
  readonly revoked: boolean;
  /** `certNotBefore` and `certNotAfter` as Unix seconds. */
  readonly notBefore: number;
  readonly notAfter: number;
  /** `certSubjectDNRFC2253` ("" when the certificate has an empty subject). */
  readonly subjectDn: string;
  /** `certRFC9440` without its colons: the base64 DER leaf, "" when Cloudflare left it out (over 10 KiB). */
  readonly leaf: string;
}

const MONTHS: Readonly<Record<string, number>> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
};
/** OpenSSL's `ASN1_TIME_print` form, which Cloudflare uses: `Dec 22 19:39:00 2018 GMT` (day padded with a space). */
const CERT_TIME = /^([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4}) GMT$/;
const FINGERPRINT = /^[0-9a-fA-F]{64}$/;
const RFC9440 = /^:([A-Za-z0-9+/]+={0,2}):$/;

/** Unix seconds of a certificate time as Cloudflare prints it, or `null`. */
export function parseCertificateTime(text: unknown): number | null {
  if (typeof text !== "string") return null;
  const m = CERT_TIME.exec(text);
  if (m === null) return null;
  const month = MONTHS[m[1] as string];
  const day = Number(m[2]);
  const hour = Number(m[3]);
  const minute = Number(m[4]);
  const second = Number(m[5]);
  const year = Number(m[6]);
  if (month === undefined || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return null;
  const ms = Date.UTC(year, month, day, hour, minute, second);
  // Date.UTC rolls over (Feb 31 → Mar 3): refuse a date that does not exist.
  if (new Date(ms).getUTCDate() !== day) return null;
  return ms / 1000;
}

/** Cloudflare's hex SHA-256 fingerprint as an RFC 8705 `x5t#S256` (base64url of the same 32 bytes). */
export function hexToThumbprint(hex: string): string {
  const bytes = new Uint8Array(32);
  for (let i = 0; i < 32; i++) bytes[i] = (nibble(hex.charCodeAt(2 * i)) << 4) | nibble(hex.charCodeAt(2 * i + 1));
  return base64urlEncode(bytes);
}

/** The value of one hex digit's character code (the caller has checked it is one). */
function nibble(code: number): number {
  return code <= 0x39 ? code - 0x30 : (code | 0x20) - 0x57;
}

/**
 * The certificate a request presented, from its `cf` object, or `null` when none was (no mTLS on the hostname,
 * `certPresented` not `"1"`, or any field keymint relies on missing or malformed).
 */
export function presentedCertificate(cf: unknown): PresentedCertificate | null {
  if (typeof cf !== "object" || cf === null) return null;
  const auth = (cf as { tlsClientAuth?: unknown }).tlsClientAuth;
  if (typeof auth !== "object" || auth === null) return null;
  const a = auth as Record<string, unknown>;
  if (a.certPresented !== "1") return null;
  const fingerprint = a.certFingerprintSHA256;
  if (typeof fingerprint !== "string" || !FINGERPRINT.test(fingerprint)) return null;
  const verification = a.certVerified;
  if (typeof verification !== "string" || verification === "" || verification === "NONE") return null;
  if (a.certRevoked !== "0" && a.certRevoked !== "1") return null;
  const notBefore = parseCertificateTime(a.certNotBefore);
  const notAfter = parseCertificateTime(a.certNotAfter);
  if (notBefore === null || notAfter === null) return null;
  const subjectDn = typeof a.certSubjectDNRFC2253 === "string" ? a.certSubjectDNRFC2253 : "";
  const leaf = typeof a.certRFC9440 === "string" ? (RFC9440.exec(a.certRFC9440)?.[1] ?? "") : "";
  return {
    thumbprint: hexToThumbprint(fingerprint),
    verification,
    revoked: a.certRevoked === "1",
    notBefore,
    notAfter,
    subjectDn,
    leaf,
  };
}

/** Why a presented certificate cannot be used at `now` (Unix seconds), or `null`: revoked, expired, not yet valid. */
export function certificateProblem(
  certificate: PresentedCertificate,
  now: number,
): "certificate_revoked" | "certificate_expired" | "certificate_not_yet_valid" | null {
  if (certificate.revoked) return "certificate_revoked";
  // RFC 5280 §4.1.2.5: both dates are part of the validity period.
  if (now > certificate.notAfter) return "certificate_expired";
  if (now < certificate.notBefore) return "certificate_not_yet_valid";
  return null;
}

/** The DER bytes of the presented leaf certificate, or `null` when Cloudflare did not include it. */
export function leafDer(certificate: PresentedCertificate): Uint8Array | null {
  return certificate.leaf === "" ? null : base64Decode(certificate.leaf, "base64");
}
