/** IP addresses and CIDR ranges (RFC 4632, RFC 4291 §2.2–2.5): strict parsing and prefix matching. */

/**
 * An address range. IPv4 is held in the IPv6 space as IPv4-mapped (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2), so
 * an IPv4 range matches both `a.b.c.d` and its mapped IPv6 spellings.
 */
export interface Cidr {
  /** The network address as eight 16-bit groups. */
  readonly groups: Uint16Array;
  /** Prefix length in the 128-bit space (an IPv4 `/n` is `/96+n`). */
  readonly bits: number;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const HEX_GROUP = /^[0-9a-f]{1,4}$/;
const PREFIX = /^(0|[1-9]\d{0,2})$/;

/** The two 16-bit groups of a dotted IPv4 address; `null` unless it is four decimal octets without leading zeros. */
function parseIpv4(text: string): [number, number] | null {
  const match = IPV4.exec(text);
  if (match === null) return null;
  const octets: number[] = [];
  for (const part of match.slice(1)) {
    if (part.length > 1 && part.startsWith("0")) return null;
    const octet = Number(part);
    if (octet > 255) return null;
    octets.push(octet);
  }
  const [a = 0, b = 0, c = 0, d = 0] = octets;
  return [(a << 8) | b, (c << 8) | d];
}

function parseGroups(part: string): number[] | null {
  if (part === "") return [];
  const groups: number[] = [];
  const pieces = part.split(":");
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i] as string;
    if (i === pieces.length - 1 && piece.includes(".")) {
      const v4 = parseIpv4(piece);
      if (v4 === null) return null;
      groups.push(...v4);
    } else if (HEX_GROUP.test(piece)) groups.push(Number.parseInt(piece, 16));
    else return null;
  }
  return groups;
}

/** An IPv6 address (any RFC 4291 §2.2 spelling, without a zone) as eight groups, or `null`. */
function parseIpv6(text: string): Uint16Array | null {
  const halves = text.toLowerCase().split("::");
  if (halves.length > 2) return null;
  const head = parseGroups(halves[0] as string);
  const tail = halves.length === 2 ? parseGroups(halves[1] as string) : [];
  if (head === null || tail === null) return null;
  // A dotted quad may only end the address.
  if (halves.length === 2 && head.length > 0 && (halves[0] as string).includes(".")) return null;
  const explicit = head.length + tail.length;
  if (halves.length === 1 ? explicit !== 8 : explicit > 7) return null;
  const groups = new Uint16Array(8);
  groups.set(head, 0);
  groups.set(tail, 8 - tail.length);
  return groups;
}

/** Any IPv4 or IPv6 address as eight groups (IPv4 as IPv4-mapped), or `null` when it is not one. */
export function parseIp(text: string): Uint16Array | null {
  if (!text.includes(":")) {
    const v4 = parseIpv4(text);
    return v4 === null ? null : Uint16Array.of(0, 0, 0, 0, 0, 0xffff, v4[0], v4[1]);
  }
  return parseIpv6(text);
}

/** The dotted IPv4 address an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, any spelling) stands for, else `null`. */
export function mappedIpv4(text: string): string | null {
  const g = text.includes(":") ? parseIpv6(text) : null;
  if (g === null || g[0] || g[1] || g[2] || g[3] || g[4] || g[5] !== 0xffff) return null;
  const [hi = 0, lo = 0] = [g[6], g[7]];
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** Whether the first `bits` bits of two addresses are equal. */
function samePrefix(a: Uint16Array, b: Uint16Array, bits: number): boolean {
  for (let i = 0; i < 8; i++) {
    const left = bits - i * 16;
    if (left <= 0) return true;
    const mask = left >= 16 ? 0xffff : (0xffff << (16 - left)) & 0xffff;
    if (((a[i] as number) & mask) !== ((b[i] as number) & mask)) return false;
  }
  return true;
}

/**
 * Parses one `address/prefix` (a bare address is a single host). Returns the range, or why it is not one: a
 * prefix longer than the family allows, or host bits set after the prefix (`203.0.113.7/24` is refused, not
 * silently read as `203.0.113.0/24`: it is more often a typo for `/32`).
 */
export function parseCidr(text: string): Cidr | string {
  const slash = text.indexOf("/");
  const address = slash === -1 ? text : text.slice(0, slash);
  const prefix = slash === -1 ? null : text.slice(slash + 1);
  const groups = parseIp(address);
  if (groups === null) return `${JSON.stringify(address)} is not an IPv4 or IPv6 address`;
  const v4 = !address.includes(":");
  const max = v4 ? 32 : 128;
  if (prefix !== null && !PREFIX.test(prefix)) return `${JSON.stringify(`/${prefix}`)} is not a prefix length`;
  const length = prefix === null ? max : Number(prefix);
  if (length > max) return `/${length} is longer than ${max} bits`;
  const bits = v4 ? 96 + length : length;
  for (let bit = bits; bit < 128; bit++) {
    if ((((groups[bit >> 4] as number) >> (15 - (bit & 15))) & 1) === 1) {
      return `host bits are set after /${length} (did you mean ${address}/${max}?)`;
    }
  }
  return { groups, bits };
}

/** Parses a space-separated list of CIDRs; every malformed entry is reported with its reason. */
export function parseCidrList(raw: string): { cidrs: Cidr[]; invalid: string[] } {
  const cidrs: Cidr[] = [];
  const invalid: string[] = [];
  for (const entry of raw.split(/\s+/)) {
    if (entry === "") continue;
    const parsed = parseCidr(entry);
    if (typeof parsed === "string") invalid.push(`${entry}: ${parsed}`);
    else cidrs.push(parsed);
  }
  return { cidrs, invalid };
}

/** Whether `ip` (IPv4, IPv6 or IPv4-mapped IPv6) lies in any of the ranges; `false` for anything else. */
export function inCidrs(cidrs: readonly Cidr[], ip: string): boolean {
  if (cidrs.length === 0) return false;
  const groups = parseIp(ip.trim());
  if (groups === null) return false;
  return cidrs.some((cidr) => samePrefix(groups, cidr.groups, cidr.bits));
}
