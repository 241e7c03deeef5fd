/** The resource-server kit (requireToken) through the example API Worker, with tokens issued by keymint. */

import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import * as jose from "jose";
import { describe, expect, it } from "vitest";
import api, { type ApiEnv } from "../../examples/resource-server/src/index.ts";
import { deriveKid } from "../../src/jwt/keys.ts";
import { nowSeconds, ORIGIN, requestToken, seedClient } from "./helpers.ts";

const AUDIENCE = "https://api.example.com";
const apiEnv: ApiEnv = { KEYMINT_ISSUER: ORIGIN, API_AUDIENCE: AUDIENCE, TOKEN_SIGNING_KEY: env.TOKEN_SIGNING_KEY };

async function token(scopes: string[], audiences = [AUDIENCE]): Promise<string> {
  const client = await seedClient({ scopes, audiences });
  return ((await (await requestToken(client)).json()) as { access_token: string }).access_token;
}

async function callApi(method: string, bearer: string | null, envOverride: Partial<ApiEnv> = {}) {
  const headers = bearer === null ? undefined : { Authorization: `Bearer ${bearer}` };
  const res = await api.fetch(
    new Request("https://api.example.com/reports", { method, headers }),
    { ...apiEnv, ...envOverride },
    createExecutionContext(),
  );
  return {
    status: res.status,
    challenge: res.headers.get("www-authenticate"),
    body: (await res.json()) as Record<string, unknown>,
  };
}

describe("requireToken", () => {
  it("admits a keymint token with the required scope and exposes its claims", async () => {
    const res = await callApi("GET", await token(["read"]));
    expect(res.status).toBe(200);
    expect(res.body.reports).toEqual(["q1", "q2"]);
  });

  it("answers 401 with a Bearer challenge without a token (RFC 6750 §3)", async () => {
    const res = await callApi("GET", null);
    expect(res.status).toBe(401);
    expect(res.challenge).toBe(`Bearer realm="${AUDIENCE}"`);
  });

  it("answers 403 insufficient_scope naming the missing scope", async () => {
    const res = await callApi("POST", await token(["read"]));
    expect(res.status).toBe(403);
    expect(res.challenge).toMatch(/error="insufficient_scope".*scope="write"/);
    expect(res.body.error).toBe("insufficient_scope");
  });

  it("rejects a token for another audience, an expired, a forged and an alg:none token with invalid_token", async () => {
    const now = nowSeconds();
    const kid = await deriveKid(env.TOKEN_SIGNING_KEY);
    const claims = { iss: ORIGIN, sub: "c", client_id: "c", aud: AUDIENCE, scope: "read", iat: now, jti: "j" };
    const key = new TextEncoder().encode(env.TOKEN_SIGNING_KEY);
    const sign = (c: object, k = key, header: jose.JWTHeaderParameters = { alg: "HS256", typ: "at+jwt", kid }) =>
      new jose.SignJWT({ ...c }).setProtectedHeader(header).sign(k);
    const none = `${jose.base64url.encode(JSON.stringify({ alg: "none", typ: "at+jwt", kid }))}.${jose.base64url.encode(JSON.stringify({ ...claims, exp: now + 60 }))}.`;
    const cases = {
      "other audience": await token(["read"], ["https://other.example.com"]),
      expired: await sign({ ...claims, iat: now - 7200, exp: now - 3600 }),
      "wrong key": await sign(
        { ...claims, exp: now + 60 },
        new TextEncoder().encode("attacker-key-0123456789abcdefghijklmnop"),
      ),
      "alg none": none,
      "other issuer": await sign({ ...claims, iss: "https://evil.example", exp: now + 60 }),
      "ten-year lifetime (forged with a leaked key)": await sign({ ...claims, exp: now + 10 * 365 * 86_400 }),
    };
    for (const [name, t] of Object.entries(cases)) {
      const res = await callApi("GET", t);
      expect(res.status, name).toBe(401);
      expect(res.challenge, name).toMatch(/error="invalid_token"/);
    }
    // Control: the same construction with valid claims is accepted.
    expect((await callApi("GET", await sign({ ...claims, exp: now + 60 }))).status).toBe(200);
  });

  it("accepts tokens of a previous key listed in TOKEN_VERIFICATION_KEYS during a rotation", async () => {
    const old = await token(["read"]);
    const rotated = {
      TOKEN_SIGNING_KEY: "the-next-signing-key-0123456789abcdefghij",
      TOKEN_VERIFICATION_KEYS: env.TOKEN_SIGNING_KEY,
    };
    expect((await callApi("GET", old, rotated)).status).toBe(200);
    expect((await callApi("GET", old, { TOKEN_SIGNING_KEY: rotated.TOKEN_SIGNING_KEY })).status).toBe(401);
  });

  it("fails closed with 500 when no key is configured", async () => {
    const res = await callApi("GET", await token(["read"]), { TOKEN_SIGNING_KEY: "" });
    expect(res.status).toBe(500);
  });
});
