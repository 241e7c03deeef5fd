/**
 * Distinguished names as strings (RFC 4514, and RFC 2253 as Cloudflare reports them), compared the way RFC 4517
 * §4.2.15 `distinguishedNameMatch` compares them: the same RDNs in the same order, each RDN the same set of
 * attribute type and value pairs, types by name or OID alike, values by `caseIgnoreMatch` (RFC 4518: case, Unicode
 * compatibility forms and insignificant spaces do not count).
 */

import { UTF8_STRICT as UTF8 } from "../util/base64url.ts";

/** Attribute type names (RFC 4514 §3, RFC 4519, PKCS #9 `emailAddress`) and their OIDs, lowercased, to one name. */
const TYPES: Readonly<Record<string, string>> = {
  cn: "cn",
  commonname: "cn",
  "2.5.4.3": "cn",
  sn: "sn",
  surname: "sn",
  "2.5.4.4": "sn",
  serialnumber: "serialnumber",
  "2.5.4.5": "serialnumber",
  c: "c",
  countryname: "c",
  "2.5.4.6": "c",
  l: "l",
  localityname: "l",
  "2.5.4.7": "l",
  st: "st",
  s: "st",
  stateorprovincename: "st",
  "2.5.4.8": "st",
  street: "street",
  streetaddress: "street",
  "2.5.4.9": "street",
  o: "o",
  organizationname: "o",
  "2.5.4.10": "o",
  ou: "ou",
  organizationalunitname: "ou",
  "2.5.4.11": "ou",
  title: "title",
  "2.5.4.12": "title",
  postalcode: "postalcode",
  "2.5.4.17": "postalcode",
  givenname: "givenname",
  gn: "givenname",
  "2.5.4.42": "givenname",
  initials: "initials",
  "2.5.4.43": "initials",
  generationqualifier: "generationqualifier",
  "2.5.4.44": "generationqualifier",
  dnqualifier: "dnqualifier",
  "2.5.4.46": "dnqualifier",
  pseudonym: "pseudonym",
  "2.5.4.65": "pseudonym",
  organizationidentifier: "organizationidentifier",
  "2.5.4.97": "organizationidentifier",
  dc: "dc",
  domaincomponent: "dc",
  "0.9.2342.19200300.100.1.25": "dc",
  uid: "uid",
  userid: "uid",
  "0.9.2342.19200300.100.1.1": "uid",
  emailaddress: "emailaddress",
  email: "emailaddress",
  e: "emailaddress",
  "1.2.840.113549.1.9.1": "emailaddress",
};

const DESCR = /^[A-Za-z][A-Za-z0-9-]*$/;
const NUMERICOID = /^(0|[1-9]\d*)(\.(0|[1-9]\d*))+$/;
const HEX = /^[0-9A-Fa-f]{2}$/;
/** Characters RFC 4514 §2.4 lets a backslash escape (besides a pair of hex digits). */
const ESCAPABLE = new Set([" ", '"', "#", "+", ",", ";", "<", "=", ">", "\\"]);
const HEX_MARK = "\u0000#";

/** Longest distinguished name accepted, in characters. */
export const DN_MAX = 1024;

function attributeType(text: string): string | null {
  const type = text.trim();
  const bare = /^oid\./i.test(type) ? type.slice(4) : type;
  if (!DESCR.test(bare) && !NUMERICOID.test(bare)) return null;
  return TYPES[bare.toLowerCase()] ?? bare.toLowerCase();
}

/** RFC 4518 preparation, as far as comparison needs it: NFKC, case folded, insignificant spaces removed. */
function prepared(value: string): string {
  return value.normalize("NFKC").toUpperCase().toLowerCase().replace(/\s+/g, " ").trim();
}

interface Cursor {
  text: string;
  at: number;
}

/** Reads an attribute value up to an unescaped `,`, `;` or `+` (RFC 4514 §3), undoing its escapes. */
function attributeValue(c: Cursor): string | null {
  while (c.text[c.at] === " ") c.at++;
  if (c.text[c.at] === "#") {
    const hex = /^#((?:[0-9A-Fa-f]{2})+)/.exec(c.text.slice(c.at));
    if (hex === null) return null;
    c.at += hex[0].length;
    // A BER-encoded value (RFC 4514 §2.4 hexstring) stays as its hex, marked by a NUL no string value can hold:
    // it equals only the same encoding.
    return `${HEX_MARK}${(hex[1] as string).toLowerCase()}`;
  }
  let out = "";
  let bytes: number[] = [];
  const flush = (): boolean => {
    if (bytes.length === 0) return true;
    try {
      out += UTF8.decode(Uint8Array.from(bytes));
    } catch {
      return false;
    }
    bytes = [];
    return true;
  };
  while (c.at < c.text.length) {
    const ch = c.text[c.at] as string;
    if (ch === "," || ch === ";" || ch === "+") break;
    if (ch === "\\") {
      const pair = c.text.slice(c.at + 1, c.at + 3);
      if (HEX.test(pair)) {
        bytes.push(Number.parseInt(pair, 16));
        c.at += 3;
        continue;
      }
      const next = c.text[c.at + 1];
      if (next === undefined || !ESCAPABLE.has(next)) return null;
      if (!flush()) return null;
      out += next;
      c.at += 2;
      continue;
    }
    if (ch === '"' || ch === "<" || ch === ">" || ch === "\u0000") return null;
    if (!flush()) return null;
    out += ch;
    c.at++;
  }
  return flush() ? out : null;
}

/**
 * Parses a distinguished name string (RFC 4514 §3; the RFC 2253 `;` separator and spaces around separators are
 * accepted too) into its RDNs, each a list of `[type, value]` with the type normalized and the value unescaped.
 * `null` when it is not one.
 */
export function parseDn(text: string): [string, string][][] | null {
  if (text.length === 0 || text.length > DN_MAX) return null;
  const c: Cursor = { text, at: 0 };
  const rdns: [string, string][][] = [];
  let rdn: [string, string][] = [];
  for (;;) {
    const equals = text.indexOf("=", c.at);
    if (equals === -1) return null;
    const type = attributeType(text.slice(c.at, equals));
    if (type === null) return null;
    c.at = equals + 1;
    const value = attributeValue(c);
    if (value === null) return null;
    rdn.push([type, value]);
    const separator = text[c.at];
    c.at++;
    if (separator === "+") continue;
    rdns.push(rdn);
    rdn = [];
    if (separator === undefined) return rdns;
  }
}

/**
 * The canonical form of a distinguished name for `distinguishedNameMatch`: two DNs match exactly when their
 * canonical forms are equal. `null` when `text` is not a distinguished name.
 */
export function canonicalDn(text: string): string | null {
  const rdns = parseDn(text);
  if (rdns === null) return null;
  return rdns
    .map((rdn) =>
      rdn
        .map(([type, value]) => `${type}=${JSON.stringify(value.startsWith(HEX_MARK) ? value : prepared(value))}`)
        .sort()
        .join("+"),
    )
    .join(",");
}
