/** The resource-server kit (requireToken) through the example API Worker, with tokens issued by keymint. */

import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import * as jose from "jose";
import { describe, expect, it, vi } from "vitest";
import api, { type ApiEnv } from "../../examples/resource-server/src/index.ts";
import worker from "../../src/index.ts";
import { deriveKid } from "../../src/jwt/keys.ts";
import { keySetStats } from "../../src/remote/key-set.ts";
import { hmacKeyLookup, verifyAccessToken } from "../../src/resource-server/index.ts";
import { basicAuth, FORM, nowSeconds, ORIGIN, requestToken, seedClient } from "./helpers.ts";

const AUDIENCE = "https://api.example.com";
const apiEnv: ApiEnv = {
  KEYMINT_ISSUER: ORIGIN,
  API_AUDIENCE: AUDIENCE,
  KEYMINT_JWKS_URL: "",
  TOKEN_SIGNING_KEY: env.TOKEN_SIGNING_KEY,
};

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

describe("requireToken with the shared HMAC key", () => {
  it("admits a keymint token with the required scope and exposes its claims", async () => {
    const res = await callApi("GET", await token(["read"]));
    expect(res.status).toBe(200);
    expect(res.body.reports).toEqual(["q1", "q2"]);
  });

  it("answers 401 with a Bearer and a DPoP challenge without a token (RFC 6750 §3, RFC 9449 §7.1)", async () => {
    const res = await callApi("GET", null);
    expect(res.status).toBe(401);
    expect(res.challenge).toBe(`Bearer realm="${AUDIENCE}", DPoP algs="ES256 EdDSA RS256 PS256 Ed25519"`);
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

describe("requireToken with keymint's JWKS (key-pair mode, no secret in the API)", async () => {
  const signing = await jose.generateKeyPair("ES256", { extractable: true });
  const kid = "es-1";
  const jwk = { ...(await jose.exportJWK(signing.privateKey)), kid, alg: "ES256" };
  const keymintSecrets = { TOKEN_SIGNING_JWK: JSON.stringify(jwk) };
  let fetches = 0;
  /** A service binding to keymint (signing with the ES256 key above), counting the JWKS fetches. */
  const binding = {
    async fetch(request: Request) {
      fetches++;
      return worker.fetch(request, { ...env, ...keymintSecrets } as typeof env, createExecutionContext());
    },
  };

  async function es256Token(scopes: string[]): Promise<string> {
    const client = await seedClient({ scopes, audiences: [AUDIENCE] });
    const res = await worker.fetch(
      new Request(`${ORIGIN}/oauth2/token`, {
        method: "POST",
        headers: { "Content-Type": FORM, Authorization: basicAuth(client.clientId, client.secret) },
        body: "grant_type=client_credentials",
      }),
      { ...env, ...keymintSecrets } as typeof env,
      createExecutionContext(),
    );
    return ((await res.json()) as { access_token: string }).access_token;
  }

  /** The example API in key-pair mode; each test uses its own JWKS URL so caches never meet. */
  function jwksApi(url: string) {
    return (method: string, bearer: string) =>
      callApi(method, bearer, { KEYMINT_JWKS_URL: url, KEYMINT: binding, TOKEN_SIGNING_KEY: undefined });
  }

  it("accepts keymint's ES256 tokens and rejects HS256, forged and foreign ones", async () => {
    const call = jwksApi(`https://keymint.test/.well-known/jwks.json?case=accept`);
    const es256 = await es256Token(["read"]);
    expect(jose.decodeProtectedHeader(es256)).toMatchObject({ alg: "ES256", kid });
    const ok = await call("GET", es256);
    expect(ok.status).toBe(200);
    expect(ok.body.reports).toEqual(["q1", "q2"]);
    expect((await call("POST", es256)).status).toBe(403);
    const now = nowSeconds();
    const claims = { iss: ORIGIN, sub: "c", client_id: "c", aud: AUDIENCE, scope: "read", iat: now, exp: now + 60 };
    const other = await jose.generateKeyPair("ES256");
    const rejected = {
      "an HS256 token (the API holds no HMAC key)": await token(["read"]),
      "signed by another key under keymint's kid": await new jose.SignJWT(claims)
        .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid })
        .sign(other.privateKey),
      "HS256 'signed' with keymint's public key": await new jose.SignJWT(claims)
        .setProtectedHeader({ alg: "HS256", typ: "at+jwt", kid })
        .sign(new TextEncoder().encode(JSON.stringify(await jose.exportJWK(signing.publicKey)))),
      "another issuer": await new jose.SignJWT({ ...claims, iss: "https://evil.example" })
        .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid })
        .sign(signing.privateKey),
    };
    for (const [name, t] of Object.entries(rejected)) {
      const res = await call("GET", t);
      expect(res.status, name).toBe(401);
      expect(res.challenge, name).toMatch(/error="invalid_token"/);
    }
  });

  it("fetches the JWKS once for many requests and refetches an unknown kid at most once a minute", async () => {
    const call = jwksApi(`https://keymint.test/.well-known/jwks.json?case=cache`);
    const token = await es256Token(["read"]);
    fetches = 0;
    for (let i = 0; i < 5; i++) expect((await call("GET", token)).status).toBe(200);
    expect(fetches).toBe(1);
    const now = nowSeconds();
    const unknown = await new jose.SignJWT({
      iss: ORIGIN,
      aud: AUDIENCE,
      sub: "c",
      client_id: "c",
      iat: now,
      exp: now + 60,
    })
      .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: "not-published" })
      .sign(signing.privateKey);
    // The first fetch was just now: within the cool-down, an unknown kid causes no refetch.
    for (let i = 0; i < 3; i++) expect((await call("GET", unknown)).status).toBe(401);
    expect(fetches).toBe(1);
  });

  it("refetches on an unknown kid after the cool-down, so a newly published key works without waiting for max-age", async () => {
    const url = "https://keymint.test/.well-known/jwks.json?case=refetch";
    const call = jwksApi(url);
    fetches = 0;
    expect((await call("GET", await es256Token(["read"]))).status).toBe(200);
    expect(fetches).toBe(1);
    // keymint switches to a new key; the API has the old set cached (fresh for max-age=300).
    const next = await jose.generateKeyPair("EdDSA", { extractable: true });
    const nextJwk = { ...(await jose.exportJWK(next.privateKey)), kid: "ed-2", alg: "EdDSA" };
    keymintSecrets.TOKEN_SIGNING_JWK = JSON.stringify(nextJwk);
    try {
      const fresh = await es256Token(["read"]);
      expect(jose.decodeProtectedHeader(fresh).kid).toBe("ed-2");
      vi.useFakeTimers({ now: Date.now() + 61_000, toFake: ["Date"] });
      const before = keySetStats.fetches;
      expect((await call("GET", fresh)).status).toBe(200);
      expect(fetches).toBe(2);
      expect(keySetStats.fetches - before).toBe(1);
    } finally {
      vi.useRealTimers();
      keymintSecrets.TOKEN_SIGNING_JWK = JSON.stringify(jwk);
    }
  });

  it("answers 503 (not 401) when the JWKS cannot be fetched and nothing is cached", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const down = { fetch: async () => new Response("oops", { status: 502 }) };
    const res = await callApi("GET", await es256Token(["read"]), {
      KEYMINT_JWKS_URL: `https://keymint.test/.well-known/jwks.json?case=down`,
      KEYMINT: down,
    });
    expect(res.status).toBe(503);
    expect(res.body.error).toBe("temporarily_unavailable");
    expect(errors.mock.calls.map((c) => String(c[0])).join("\n")).toMatch(/jwks_unavailable.*HTTP status 502/);
    errors.mockRestore();
  });

  it("fails closed with 500 on a jwksUrl that is not https (or loopback http)", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const res = await callApi("GET", await es256Token(["read"]), { KEYMINT_JWKS_URL: "http://keymint.example/jwks" });
    expect(res.status).toBe(500);
    expect(errors.mock.calls.map((c) => String(c[0])).join("\n")).toMatch(/must use https/);
    errors.mockRestore();
  });
});

describe("verifyAccessToken called directly (outside the middleware)", () => {
  it("refuses a DPoP-bound token when no presentation is given: it came as Bearer (RFC 9449 §7.1)", async () => {
    const now = nowSeconds();
    const kid = await deriveKid(env.TOKEN_SIGNING_KEY);
    const claims = { iss: ORIGIN, sub: "c", client_id: "c", aud: AUDIENCE, iat: now, exp: now + 60, jti: "j" };
    const sign = (c: object) =>
      new jose.SignJWT({ ...c })
        .setProtectedHeader({ alg: "HS256", typ: "at+jwt", kid })
        .sign(new TextEncoder().encode(env.TOKEN_SIGNING_KEY));
    const expect_ = { keys: await hmacKeyLookup([env.TOKEN_SIGNING_KEY]), issuer: ORIGIN, audience: AUDIENCE };
    expect((await verifyAccessToken(await sign(claims), expect_, now)).ok).toBe(true);
    const bound = await verifyAccessToken(await sign({ ...claims, cnf: { jkt: "abc" } }), expect_, now);
    expect(bound).toMatchObject({ ok: false, status: 401, error: "invalid_token", dpop: true });
  });
});
