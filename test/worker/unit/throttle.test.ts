/** The throttle's pure parts: source keys (IPv4, IPv6 /64) and the one classification of failure details. */

import { describe, expect, it } from "vitest";
import { failureKind, ipv6Prefix64, sourceIp } from "../../../src/http/throttle.ts";

const from = (ip: string) => new Request("https://x", { headers: { "CF-Connecting-IP": ip } });

describe("throttling key of the source address (CF-Connecting-IP)", () => {
  it("keys IPv4 by address and IPv6 by its /64 prefix", () => {
    expect(sourceIp(from("203.0.113.7"))).toBe("203.0.113.7");
    expect(sourceIp(from("2001:db8:1:2:aaaa::1"))).toBe("2001:db8:1:2::/64");
    expect(sourceIp(from("2001:DB8:1:2:ffff:ffff:ffff:ffff"))).toBe("2001:db8:1:2::/64");
    expect(ipv6Prefix64("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(ipv6Prefix64("::1")).toBe("0:0:0:0::/64");
    expect(sourceIp(new Request("https://x"))).toBe("unknown");
  });

  it("keys an IPv4-mapped IPv6 address as its IPv4 address (RFC 4291 §2.5.5.2), in any spelling", () => {
    expect(sourceIp(from("::ffff:203.0.113.7"))).toBe("203.0.113.7");
    expect(sourceIp(from("::FFFF:cb00:7107"))).toBe("203.0.113.7");
    expect(sourceIp(from("0:0:0:0:0:ffff:203.0.113.7"))).toBe("203.0.113.7");
  });
});

describe("failureKind: which failed authentications the throttle counts", () => {
  it("counts unknown ids per source, does not count a matched secret, and counts everything else as a guess", () => {
    expect(failureKind("unknown_client")).toBe("unknown");
    expect(failureKind("client_disabled")).toBe("not_a_guess");
    expect(failureKind("secret_expired")).toBe("not_a_guess");
    expect(failureKind("wrong_secret")).toBe("guess");
    expect(failureKind("corrupt_record")).toBe("guess");
  });

  it("treats a detail it does not know as a guess (fail safe for new authentication methods)", () => {
    for (const detail of ["something_new", "replayed", "", undefined]) {
      expect(failureKind(detail)).toBe("guess");
    }
  });

  it("counts assertions whose signature failed as guesses, and not those whose signature verified (RFC 7523)", () => {
    for (const detail of [
      "assertion_bad_signature",
      "assertion_malformed",
      "assertion_unsupported_alg",
      "assertion_wrong_typ",
      "unknown_key",
      "assertion_for_secret_client",
      "secret_for_key_client",
    ]) {
      expect(failureKind(detail), detail).toBe("guess");
    }
    for (const detail of ["assertion_expired", "assertion_wrong_audience", "assertion_replayed", "assertion_no_jti"]) {
      expect(failureKind(detail), detail).toBe("not_a_guess");
    }
  });
});
