/**
 * The subject alternative names of an X.509 certificate (RFC 5280 §4.2.1.6), read from its DER with a minimal,
 * bounds-checked reader: only the path Certificate → tbsCertificate → extensions → subjectAltName is walked, and
 * any malformed length or structure on it means "no names" (never an exception, never a partial answer).
 */

/** The SAN values RFC 8705 §2.1.2 can register: dNSName, uniformResourceIdentifier, iPAddress, rfc822Name. */
export interface SubjectAltNames {
  dns: string[];
  uri: string[];
  /** Each 4 (IPv4) or 16 (IPv6) bytes. */
  ip: Uint8Array[];
  email: string[];
}

interface Tlv {
  tag: number;
  /** First byte of the contents. */
  start: number;
  /** One past the last byte of the contents. */
  end: number;
}

/** One DER tag-length-value at `at`, inside `[at, limit)`; `null` when it does not fit or is not DER-shaped. */
function tlv(der: Uint8Array, at: number, limit: number): Tlv | null {
  if (at + 2 > limit) return null;
  const tag = der[at] as number;
  // Multi-byte tags never occur on the path walked here.
  if ((tag & 0x1f) === 0x1f) return null;
  let length = der[at + 1] as number;
  let start = at + 2;
  if (length & 0x80) {
    const octets = length & 0x7f;
    if (octets === 0 || octets > 3 || start + octets > limit) return null;
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + (der[start + i] as number);
    start += octets;
  }
  const end = start + length;
  return end > limit ? null : { tag, start, end };
}

/** The children of a constructed value, or `null` when they do not exactly fill it. */
function children(der: Uint8Array, parent: Tlv): Tlv[] | null {
  const out: Tlv[] = [];
  let at = parent.start;
  while (at < parent.end) {
    const child = tlv(der, at, parent.end);
    if (child === null) return null;
    out.push(child);
    at = child.end;
  }
  return out;
}

const SEQUENCE = 0x30;
const OID = 0x06;
const BOOLEAN = 0x01;
const OCTET_STRING = 0x04;
const EXTENSIONS = 0xa3;
/** id-ce-subjectAltName, 2.5.29.17. */
const SAN_OID = [0x55, 0x1d, 0x11];

function ia5(der: Uint8Array, value: Tlv): string | null {
  let text = "";
  for (let i = value.start; i < value.end; i++) {
    const byte = der[i] as number;
    if (byte < 0x20 || byte > 0x7e) return null;
    text += String.fromCharCode(byte);
  }
  return text;
}

function isSanOid(der: Uint8Array, oid: Tlv): boolean {
  return oid.end - oid.start === SAN_OID.length && SAN_OID.every((byte, i) => der[oid.start + i] === byte);
}

/** The `extnValue` of the certificate's subjectAltName extension; `undefined` without one, `null` when malformed. */
function sanExtension(der: Uint8Array): Tlv | null | undefined {
  const certificate = tlv(der, 0, der.length);
  if (certificate === null || certificate.tag !== SEQUENCE || certificate.end !== der.length) return null;
  const tbs = tlv(der, certificate.start, certificate.end);
  if (tbs === null || tbs.tag !== SEQUENCE) return null;
  const fields = children(der, tbs);
  if (fields === null) return null;
  const wrapper = fields.find((f) => f.tag === EXTENSIONS);
  if (wrapper === undefined) return undefined;
  const list = tlv(der, wrapper.start, wrapper.end);
  if (list === null || list.tag !== SEQUENCE || list.end !== wrapper.end) return null;
  const extensions = children(der, list);
  if (extensions === null) return null;
  let found: Tlv | undefined;
  for (const extension of extensions) {
    if (extension.tag !== SEQUENCE) return null;
    const parts = children(der, extension);
    const [oid, second, third] = parts ?? [];
    if (oid === undefined || oid.tag !== OID) return null;
    if (!isSanOid(der, oid)) continue;
    // RFC 5280 §4.2: a certificate must not hold an extension twice.
    if (found !== undefined) return null;
    const value = second?.tag === BOOLEAN ? third : second;
    if (value === undefined || value.tag !== OCTET_STRING) return null;
    found = value;
  }
  return found;
}

/**
 * The subject alternative names of a DER certificate; all lists empty when it has none, `null` when the
 * certificate (on the path to them) or the extension is malformed. Other name forms (otherName, directoryName…)
 * are skipped.
 */
export function subjectAltNames(der: Uint8Array): SubjectAltNames | null {
  const extension = sanExtension(der);
  const names: SubjectAltNames = { dns: [], uri: [], ip: [], email: [] };
  if (extension === undefined) return names;
  if (extension === null) return null;
  const general = tlv(der, extension.start, extension.end);
  if (general === null || general.tag !== SEQUENCE || general.end !== extension.end) return null;
  const entries = children(der, general);
  if (entries === null) return null;
  for (const entry of entries) {
    // GeneralName (RFC 5280 §4.2.1.6), context-specific implicit tags: [1] rfc822Name, [2] dNSName,
    // [6] uniformResourceIdentifier (IA5String), [7] iPAddress (OCTET STRING).
    if (entry.tag === 0x87) {
      const length = entry.end - entry.start;
      if (length !== 4 && length !== 16) return null;
      names.ip.push(der.slice(entry.start, entry.end));
      continue;
    }
    const list =
      entry.tag === 0x81 ? names.email : entry.tag === 0x82 ? names.dns : entry.tag === 0x86 ? names.uri : null;
    if (list === null) continue;
    const text = ia5(der, entry);
    if (text === null) return null;
    list.push(text);
  }
  return names;
}
