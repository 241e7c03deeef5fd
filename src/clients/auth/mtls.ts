/**
 * Client authentication with a TLS client certificate (RFC 8705 §2), as Cloudflare's edge reports it:
 * `tls_client_auth` (the certificate chains to a CA the zone trusts and has the one registered subject: DN or
 * SAN) and `self_signed_tls_client_auth` (the certificate is one of the client's registered ones). No crypto at
 * all: the edge did the handshake and the chain check; keymint compares strings. Each failure is one `detail`
 * for the log; the caller answers the same 401 as for a wrong secret.
 */

import { parseIp } from "../../util/cidr.ts";
import { canonicalDn } from "../../x509/dn.ts";
import { certificateProblem, leafDer, type PresentedCertificate } from "../../x509/presented.ts";
import { type SubjectAltNames, subjectAltNames } from "../../x509/san.ts";
import { type ClientRecord, isMtlsMethod } from "../record.ts";
import type { PreparedClient } from "../store.ts";

export type MtlsResult = { ok: true; client: PreparedClient } | { ok: false; reason: string };

/** The canonical form of each registered subject DN, computed once per cached record. */
const registeredDns = new WeakMap<ClientRecord, string | null>();

function registeredDn(record: ClientRecord): string | null {
  let dn = registeredDns.get(record);
  if (dn === undefined) {
    dn = record.tls_client_auth_subject_dn === null ? null : canonicalDn(record.tls_client_auth_subject_dn);
    registeredDns.set(record, dn);
  }
  return dn;
}

/** IP address text as the bytes a certificate's iPAddress holds: 4 for IPv4, 16 for IPv6 (RFC 5952 §8). */
function ipBytes(text: string): Uint8Array | null {
  const groups = parseIp(text);
  if (groups === null) return null;
  if (!text.includes(":")) return Uint8Array.of(groups[6]! >> 8, groups[6]! & 255, groups[7]! >> 8, groups[7]! & 255);
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 255;
  });
  return bytes;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** RFC 5280 §7.5: the local part of an e-mail address is case-sensitive, its domain is not. */
function sameEmail(registered: string, presented: string): boolean {
  const r = registered.lastIndexOf("@");
  const p = presented.lastIndexOf("@");
  return (
    r > 0 &&
    p > 0 &&
    registered.slice(0, r) === presented.slice(0, p) &&
    registered.slice(r + 1).toLowerCase() === presented.slice(p + 1).toLowerCase()
  );
}

/** Whether the certificate has the SAN the record expects (RFC 8705 §2.1.2: one of its entries of that type). */
function sanMatches(record: ClientRecord, names: SubjectAltNames): boolean {
  if (record.tls_client_auth_san_dns !== null) {
    const expected = record.tls_client_auth_san_dns.toLowerCase();
    return names.dns.some((name) => name.toLowerCase() === expected);
  }
  if (record.tls_client_auth_san_uri !== null) return names.uri.includes(record.tls_client_auth_san_uri);
  if (record.tls_client_auth_san_ip !== null) {
    const expected = ipBytes(record.tls_client_auth_san_ip);
    return expected !== null && names.ip.some((ip) => sameBytes(ip, expected));
  }
  const email = record.tls_client_auth_san_email;
  return email !== null && names.email.some((name) => sameEmail(email, name));
}

/** tls_client_auth (RFC 8705 §2.1): the certificate has the one registered subject. */
function subjectMatches(record: ClientRecord, certificate: PresentedCertificate): boolean {
  const registered = record.tls_client_auth_subject_dn;
  if (registered !== null) {
    // The common case, the DN registered exactly as Cloudflare prints it, needs no parsing.
    return certificate.subjectDn === registered || canonicalDn(certificate.subjectDn) === registeredDn(record);
  }
  const der = leafDer(certificate);
  const names = der === null ? null : subjectAltNames(der);
  return names !== null && sanMatches(record, names);
}

/**
 * Authenticates `client` (or nobody: `null`) with the presented certificate. Checks, in order: the client uses
 * an mTLS method, the certificate is neither revoked nor outside its validity period, then (tls_client_auth)
 * Cloudflare verified its chain and its subject is the registered one, or (self_signed_tls_client_auth) it is
 * one of the registered certificates; a disabled client is refused last, as after a valid secret. An unknown
 * client's request does the same string work against nothing.
 */
export function verifyClientCertificate(
  client: PreparedClient | null,
  certificate: PresentedCertificate,
  now: number,
): MtlsResult {
  const record = client?.record;
  if (record === undefined || !isMtlsMethod(record.token_endpoint_auth_method)) {
    // Same parsing as a real check, against nothing.
    canonicalDn(certificate.subjectDn);
    return { ok: false, reason: record === undefined ? "unknown_client" : "certificate_for_non_mtls_client" };
  }
  const problem = certificateProblem(certificate, now);
  if (problem !== null) return { ok: false, reason: problem };
  if (record.token_endpoint_auth_method === "tls_client_auth") {
    if (certificate.verification !== "SUCCESS") return { ok: false, reason: "certificate_not_verified" };
    if (!subjectMatches(record, certificate)) return { ok: false, reason: "certificate_wrong_subject" };
  } else if (!record.tls_client_certificate_thumbprints.includes(certificate.thumbprint)) {
    return { ok: false, reason: "certificate_not_registered" };
  }
  if (!record.enabled) return { ok: false, reason: "client_disabled" };
  return { ok: true, client: client as PreparedClient };
}
