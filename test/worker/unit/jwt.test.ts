/** Pure JWS/JWK helpers and remote-document rules: typ matching, JWK checks, thumbprints, Cache-Control, URLs. */

import * as jose from "jose";
import { describe, expect, it } from "vitest";
import { algorithmOf, checkJwk, JwkError, jwkThumbprint, publicJwk } from "../../../src/jwt/jwk.ts";
import { peekJws, typIs } from "../../../src/jwt/verify.ts";
import { freshnessSeconds, remoteUrlProblem } from "../../../src/remote/fetch-json.ts";

describe("typIs (RFC 7515 §4.1.9)", () => {
  it("compares case-insensitively and allows the application/ prefix to be omitted", () => {
    for (const typ of ["at+jwt", "AT+JWT", "application/at+jwt", "Application/At+Jwt"]) {
      expect(typIs(typ, "at+jwt"), typ).toBe(true);
    }
    for (const typ of [undefined, "", "jwt", "at+jwt ", "application/jwt", "text/at+jwt", 1]) {
      expect(typIs(typ, "at+jwt"), String(typ)).toBe(false);
    }
  });
});

describe("JWK rules", () => {
  it("infers the algorithm only where the key type allows exactly one, and honours an explicit alg", () => {
    expect(algorithmOf({ kty: "EC", crv: "P-256" })).toBe("ES256");
    expect(algorithmOf({ kty: "OKP", crv: "Ed25519" })).toBe("EdDSA");
    expect(algorithmOf({ kty: "RSA" })).toBe("RS256");
    expect(algorithmOf({ kty: "RSA", alg: "PS256" })).toBe("PS256");
    expect(algorithmOf({ kty: "EC", crv: "P-384" })).toBeNull();
    expect(algorithmOf({ kty: "OKP", crv: "X25519" })).toBeNull();
    expect(algorithmOf({ kty: "oct", alg: "HS256" })).toBeNull();
    expect(algorithmOf({ kty: "RSA", alg: "PS256" }, ["ES256", "EdDSA", "RS256"])).toBeNull();
    // RFC 9864's fully-specified name for EdDSA on Ed25519.
    expect(algorithmOf({ kty: "OKP", crv: "Ed25519", alg: "Ed25519" })).toBe("EdDSA");
  });

  it("refuses RSA moduli under 2048 bits, counting bits exactly", async () => {
    const rsa = (bits: number) => {
      const n = new Uint8Array(Math.ceil(bits / 8) + 1); // a leading zero byte must not count
      n[1] = 0x80 >> ((8 - (bits % 8)) % 8);
      return { kty: "RSA", n: jose.base64url.encode(n), e: "AQAB" };
    };
    expect(() => checkJwk(rsa(2048), "RS256", false)).not.toThrow();
    expect(() => checkJwk(rsa(2047), "RS256", false)).toThrow(/2047 bits; at least 2048/);
    expect(() => checkJwk(rsa(1024), "RS256", false)).toThrow(JwkError);
  });

  it("requires private material for signing and refuses it where a public key is expected", () => {
    const x = jose.base64url.encode(new Uint8Array(32).fill(1));
    const pub = { kty: "OKP", crv: "Ed25519", x };
    expect(() => checkJwk(pub, "EdDSA", true)).toThrow(/public only/);
    expect(() => checkJwk({ ...pub, d: x }, "EdDSA", false)).toThrow(/private members/);
    expect(() => checkJwk({ ...pub, use: "enc" }, "EdDSA", false)).toThrow(/"use"/);
    expect(() => checkJwk({ ...pub, x: "AAAA" }, "EdDSA", false)).toThrow(/32-byte x/);
  });

  it("computes RFC 7638 thumbprints exactly as jose does, ignoring private and extra members", async () => {
    for (const alg of ["ES256", "EdDSA", "RS256"] as const) {
      const pair = await jose.generateKeyPair(alg, { extractable: true, crv: alg === "EdDSA" ? "Ed25519" : undefined });
      const priv = { ...(await jose.exportJWK(pair.privateKey)), kid: "x", use: "sig", foo: 1 };
      expect(await jwkThumbprint(priv, alg)).toBe(
        await jose.calculateJwkThumbprint(await jose.exportJWK(pair.publicKey)),
      );
      expect(Object.keys(publicJwk(priv, alg)).sort()).toEqual(
        [
          ...(alg === "RS256" ? ["n", "e"] : alg === "ES256" ? ["crv", "x", "y"] : ["crv", "x"]),
          "kty",
          "kid",
          "alg",
          "use",
        ].sort(),
      );
    }
  });

  it("peeks at header and payload without trusting them, and refuses anything but three JSON parts", () => {
    const token = `${jose.base64url.encode('{"alg":"ES256"}')}.${jose.base64url.encode('{"sub":"a"}')}.sig`;
    expect(peekJws(token)).toEqual({ header: { alg: "ES256" }, payload: { sub: "a" } });
    expect(peekJws("a.b")).toBeNull();
    expect(peekJws(`${jose.base64url.encode("[]")}.${jose.base64url.encode("{}")}.x`)).toBeNull();
  });
});

describe("remote documents", () => {
  const lifetime = { min: 60, max: 86_400, fallback: 600 };

  it("honours Cache-Control max-age within bounds, and falls back without one", () => {
    expect(freshnessSeconds(null, lifetime)).toBe(600);
    expect(freshnessSeconds("public, max-age=300", lifetime)).toBe(300);
    expect(freshnessSeconds("max-age=5", lifetime)).toBe(60);
    expect(freshnessSeconds("max-age=9999999", lifetime)).toBe(86_400);
    expect(freshnessSeconds("no-store", lifetime)).toBe(60);
    expect(freshnessSeconds("private, no-cache", lifetime)).toBe(60);
    expect(freshnessSeconds("s-maxage=100", lifetime)).toBe(600);
    expect(freshnessSeconds('max-age="120"', lifetime)).toBe(120);
  });

  it("allows https, and plain http only on loopback hosts", () => {
    expect(remoteUrlProblem("https://issuer.example.com/.well-known/jwks.json")).toBeNull();
    expect(remoteUrlProblem("http://127.0.0.1:8787/jwks")).toBeNull();
    expect(remoteUrlProblem("http://localhost:9000/x")).toBeNull();
    expect(remoteUrlProblem("http://[::1]:9000/x")).toBeNull();
    expect(remoteUrlProblem("http://issuer.example.com/jwks")).toMatch(/https/);
    expect(remoteUrlProblem("http://127.0.0.1.evil.example/jwks")).toMatch(/https/);
    expect(remoteUrlProblem("ftp://issuer.example.com/jwks")).toMatch(/https/);
    expect(remoteUrlProblem("https://user:pw@issuer.example.com/")).toMatch(/credentials/);
    expect(remoteUrlProblem("https://issuer.example.com/#x")).toMatch(/fragment/);
    expect(remoteUrlProblem("/relative")).toMatch(/absolute/);
  });
});
