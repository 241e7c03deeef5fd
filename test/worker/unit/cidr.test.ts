/** CIDR parsing and matching (RFC 4632, RFC 4291 §2.2, §2.5.5.2) for THROTTLE_EXEMPT_CIDRS. */

import { describe, expect, it } from "vitest";
import { type Cidr, inCidrs, mappedIpv4, parseCidr, parseCidrList, parseIp } from "../../../src/util/cidr.ts";

function ranges(raw: string): Cidr[] {
  const { cidrs, invalid } = parseCidrList(raw);
  expect(invalid).toEqual([]);
  return cidrs;
}

describe("inCidrs", () => {
  it("matches IPv4 ranges, including /32 and /0", () => {
    const list = ranges("203.0.113.0/24 198.51.100.7/32");
    expect(inCidrs(list, "203.0.113.0")).toBe(true);
    expect(inCidrs(list, "203.0.113.255")).toBe(true);
    expect(inCidrs(list, "203.0.114.0")).toBe(false);
    expect(inCidrs(list, "198.51.100.7")).toBe(true);
    expect(inCidrs(list, "198.51.100.8")).toBe(false);
    const all4 = ranges("0.0.0.0/0");
    expect(inCidrs(all4, "255.255.255.255")).toBe(true);
    expect(inCidrs(all4, "2001:db8::1")).toBe(false);
  });

  it("matches IPv4-mapped IPv6 spellings of an address against IPv4 ranges", () => {
    const list = ranges("203.0.113.0/24");
    for (const ip of ["::ffff:203.0.113.9", "::FFFF:cb00:7109", "0:0:0:0:0:ffff:203.0.113.9", "0::ffff:cb00:7109"]) {
      expect(inCidrs(list, ip)).toBe(true);
    }
    expect(inCidrs(list, "::203.0.113.9")).toBe(false);
    expect(inCidrs(ranges("::ffff:0:0/96"), "192.0.2.1")).toBe(true);
  });

  it("matches IPv6 ranges in compressed, expanded and upper-case forms, including /128 and /0", () => {
    const list = ranges("2001:DB8:0:0::/48 2001:db8:ffff::1/128");
    for (const ip of ["2001:db8::1", "2001:0db8:0000:ffff:0:0:0:1", "2001:DB8:0:AB::"])
      expect(inCidrs(list, ip)).toBe(true);
    expect(inCidrs(list, "2001:db8:1::")).toBe(false);
    expect(inCidrs(list, "2001:db8:ffff::1")).toBe(true);
    expect(inCidrs(list, "2001:db8:ffff::2")).toBe(false);
    const all = ranges("::/0");
    expect(inCidrs(all, "::")).toBe(true);
    expect(inCidrs(all, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")).toBe(true);
  });

  it("matches prefixes that end inside a 16-bit group", () => {
    const list = ranges("2001:db8:8000::/33 10.0.0.0/9");
    expect(inCidrs(list, "2001:db8:8000::1")).toBe(true);
    expect(inCidrs(list, "2001:db8:ffff::1")).toBe(true);
    expect(inCidrs(list, "2001:db8:7fff::1")).toBe(false);
    expect(inCidrs(list, "10.127.255.255")).toBe(true);
    expect(inCidrs(list, "10.128.0.0")).toBe(false);
  });

  it("treats a bare address as a single host and never matches what is not an address", () => {
    const list = ranges("192.0.2.1 2001:db8::1");
    expect(inCidrs(list, "192.0.2.1")).toBe(true);
    expect(inCidrs(list, "192.0.2.2")).toBe(false);
    expect(inCidrs(list, "2001:db8::1")).toBe(true);
    for (const junk of ["", "unknown", "192.0.2", "fe80::1%eth0"])
      expect(inCidrs(ranges("::/0 0.0.0.0/0"), junk)).toBe(false);
    expect(inCidrs([], "192.0.2.1")).toBe(false);
  });
});

describe("parseCidr / parseCidrList", () => {
  it("refuses malformed entries with a reason, and reports every one of them", () => {
    for (const bad of [
      "300.1.1.1/8",
      "1.2.3.4/33",
      "2001:db8::/129",
      "2001:db8:::1/64",
      "1:2:3:4:5:6:7:8:9/64",
      "1:2:3:4:5:6:7/64",
      "1.2.3.0/24/1",
      "1.2.3.4/",
      "/24",
      "1.2.3.4/024",
      "01.2.3.4",
      "1.2.3.4::/64",
      "example.com",
      "203.0.113.7/24",
    ]) {
      expect(typeof parseCidr(bad), bad).toBe("string");
    }
    expect(parseCidr("203.0.113.7/24")).toContain("host bits");
    const { cidrs, invalid } = parseCidrList("  10.0.0.0/8  nope 2001:db8::/32\tbad/1  ");
    expect(cidrs).toHaveLength(2);
    expect(invalid).toEqual([expect.stringMatching(/^nope: /), expect.stringMatching(/^bad\/1: /)]);
  });

  it("accepts every spelling of an IPv6 address (RFC 4291 §2.2) and the edge prefixes", () => {
    expect(parseIp("::")).toEqual(new Uint16Array(8));
    expect(parseIp("1:2:3:4:5:6:7::")).toEqual(Uint16Array.of(1, 2, 3, 4, 5, 6, 7, 0));
    expect(parseIp("::2:3:4:5:6:7:8")).toEqual(Uint16Array.of(0, 2, 3, 4, 5, 6, 7, 8));
    expect(parseIp("1:2:3:4:5:6:1.2.3.4")).toEqual(Uint16Array.of(1, 2, 3, 4, 5, 6, 0x0102, 0x0304));
    for (const ok of ["0.0.0.0/0", "255.255.255.255/32", "::/0", "::1/128", "::ffff:0:0/96"]) {
      expect(typeof parseCidr(ok), ok).toBe("object");
    }
    expect(mappedIpv4("::ffff:c000:201")).toBe("192.0.2.1");
    expect(mappedIpv4("2001:db8::1")).toBeNull();
    expect(mappedIpv4("192.0.2.1")).toBeNull();
  });
});
