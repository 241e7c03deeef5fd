/** The keys CLI as a real process: generate private JWKs for each algorithm, print public JWK Sets. */

import * as jose from "jose";
import { describe, expect, it } from "vitest";
import { run } from "./helpers.ts";

function keys(args: string[], input?: string) {
  return run("npm", ["run", "-s", "keys", "--", ...args], input === undefined ? {} : { input });
}

describe("npm run -s keys -- generate", () => {
  for (const alg of ["ES256", "EdDSA", "RS256"] as const) {
    it(`prints one private ${alg} JWK line whose kid is its RFC 7638 thumbprint, and that signs`, async () => {
      const result = await keys(["generate", "--alg", alg]);
      expect(result.code, result.stderr).toBe(0);
      const lines = result.stdout.trim().split("\n");
      expect(lines).toHaveLength(1);
      const jwk = JSON.parse(lines[0] as string) as jose.JWK & { kid: string };
      expect(jwk.alg).toBe(alg);
      expect(jwk.use).toBe("sig");
      expect(typeof jwk.d).toBe("string");
      expect(jwk.key_ops).toBeUndefined();
      const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = jwk;
      expect(jwk.kid).toBe(await jose.calculateJwkThumbprint(pub));
      const token = await new jose.SignJWT({ a: 1 }).setProtectedHeader({ alg }).sign(await jose.importJWK(jwk, alg));
      await expect(jose.compactVerify(token, await jose.importJWK(pub, alg))).resolves.toBeDefined();
    });
  }

  it("defaults to ES256 and refuses unsupported algorithms and weak RSA sizes", async () => {
    const plain = await keys(["generate"]);
    expect(JSON.parse(plain.stdout).alg).toBe("ES256");
    const hs = await keys(["generate", "--alg", "HS256"]);
    expect(hs.code).toBe(2);
    expect(hs.stderr).toMatch(/--alg must be one of ES256, EdDSA, RS256/);
    const weak = await keys(["generate", "--alg", "RS256", "--bits", "1024"]);
    expect(weak.code).toBe(2);
    expect(weak.stdout).toBe("");
  });
});

describe("npm run -s keys -- public", () => {
  it("prints the public JWKS of a private JWK or JWKS from stdin, without any private member", async () => {
    const a = JSON.parse((await keys(["generate", "--alg", "RS256"])).stdout) as jose.JWK;
    const b = JSON.parse((await keys(["generate", "--alg", "EdDSA"])).stdout) as jose.JWK;
    const single = await keys(["public"], JSON.stringify(a));
    expect(single.code, single.stderr).toBe(0);
    expect(JSON.parse(single.stdout)).toEqual({
      keys: [{ kty: "RSA", e: a.e, n: a.n, kid: a.kid, alg: "RS256", use: "sig" }],
    });
    const set = await keys(["public"], JSON.stringify({ keys: [a, b] }));
    const out = JSON.parse(set.stdout) as { keys: Record<string, unknown>[] };
    expect(out.keys.map((k) => k.kid)).toEqual([a.kid, b.kid]);
    for (const member of ["d", "p", "q", "dp", "dq", "qi"]) expect(set.stdout).not.toContain(`"${member}"`);
  });

  it("explains what is wrong with an unusable key and exits 1", async () => {
    const result = await keys(["public"], '{"kty":"EC","crv":"P-256"}');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: the key cannot be used: key 0 needs "alg"/);
    const notJson = await keys(["public"], "nope");
    expect(notJson.code).toBe(1);
    expect(notJson.stderr).toMatch(/not valid JSON/);
  });
});
