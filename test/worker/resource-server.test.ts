/** The resource-server kit (requireToken) through the example API Worker, with tokens issued by keymint. */

import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Hono } from "hono";
import * as jose from "jose";
import { describe, expect, it, vi } from "vitest";
import api, { type ApiEnv } from "../../examples/resource-server/src/index.ts";
import worker from "../../src/index.ts";
import { deriveKid } from "../../src/jwt/keys.ts";
import { keySetStats } from "../../src/remote/key-set.ts";
import {
  hmacKeyLookup,
  metadataUrlFor,
  protectedResourceMetadata,
  requireToken,
  type TokenVariables,
  verifyAccessToken,
} from "../../src/resource-server/index.ts";
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
    const metadata = `resource_metadata="${AUDIENCE}/.well-known/oauth-protected-resource"`;
    expect(res.challenge).toBe(
      `Bearer realm="${AUDIENCE}", ${metadata}, DPoP algs="ES256 EdDSA RS256 PS256 Ed25519", ${metadata}`,
    );
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

describe("RFC 9728 protected-resource metadata and resource_metadata challenges", async () => {
  const MCP = "https://mcp.example.com/mcp";
  const METADATA_URL = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp";
  const signing = await jose.generateKeyPair("ES256", { extractable: true });
  const es = { ...(await jose.exportJWK(signing.privateKey)), kid: "es-9728", alg: "ES256" };
  const keymintWithKeyPair = { ...env, TOKEN_SIGNING_JWK: JSON.stringify(es) } as typeof env;
  const binding = {
    fetch: async (request: Request) => worker.fetch(request, keymintWithKeyPair, createExecutionContext()),
  };

  type Options = Parameters<typeof requireToken>[0];
  /** A protected resource at a path, as an MCP server is: the kit's metadata handler and guarded routes. */
  function resourceApp(overrides: Partial<Options> = {}) {
    const options: Options = { issuer: ORIGIN, audience: MCP, scopes: ["mcp:read"], ...overrides };
    const app = new Hono<{ Variables: TokenVariables }>();
    const metadata = protectedResourceMetadata(options);
    app.get("/.well-known/oauth-protected-resource", metadata);
    app.get("/.well-known/oauth-protected-resource/*", metadata);
    app.all("/mcp", requireToken(options), (c) => c.json({ client: c.get("token").client_id }));
    return app;
  }

  async function send(app: Hono<{ Variables: TokenVariables }>, path: string, init: RequestInit = {}) {
    const res = await app.fetch(
      new Request(`https://mcp.example.com${path}`, init),
      { ...env },
      createExecutionContext(),
    );
    return { res, challenge: res.headers.get("www-authenticate"), text: await res.text() };
  }

  function bearer(token: string): RequestInit {
    return { method: "POST", headers: { Authorization: `Bearer ${token}` } };
  }

  it("derives the metadata URL by inserting the well-known segment before the path (RFC 9728 §3.1)", () => {
    expect(metadataUrlFor(MCP)).toBe(METADATA_URL);
    expect(metadataUrlFor("https://api.example.com")).toBe(
      "https://api.example.com/.well-known/oauth-protected-resource",
    );
    expect(metadataUrlFor("https://api.example.com/")).toBe(
      "https://api.example.com/.well-known/oauth-protected-resource",
    );
    expect(metadataUrlFor("http://127.0.0.1:8790/mcp")).toBe(
      "http://127.0.0.1:8790/.well-known/oauth-protected-resource/mcp",
    );
    expect(metadataUrlFor("https://h.example/a/b?tenant=1")).toBe(
      "https://h.example/.well-known/oauth-protected-resource/a/b?tenant=1",
    );
    // Not a resource identifier (RFC 9728 §1.2): no metadata URL.
    expect(metadataUrlFor("orders-api")).toBeNull();
    expect(metadataUrlFor("https://h.example/mcp#frag")).toBeNull();
    expect(metadataUrlFor("urn:example:api")).toBeNull();
  });

  it("serves the document at the path-suffixed and the bare well-known path (RFC 9728 §2, §3)", async () => {
    const app = resourceApp({ scopesSupported: ["mcp:read", "mcp:echo"], resourceName: "Echo MCP" });
    const expected = {
      resource: MCP,
      authorization_servers: [ORIGIN],
      scopes_supported: ["mcp:read", "mcp:echo"],
      bearer_methods_supported: ["header"],
      dpop_signing_alg_values_supported: ["ES256", "EdDSA", "RS256", "PS256", "Ed25519"],
      dpop_bound_access_tokens_required: false,
      resource_name: "Echo MCP",
    };
    for (const path of ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"]) {
      const { res, text } = await send(app, path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      expect(res.headers.get("access-control-allow-origin")).toBe("*");
      expect(res.headers.get("cache-control")).toBe("public, max-age=300");
      expect(JSON.parse(text), path).toEqual(expected);
    }
    const head = await send(app, "/.well-known/oauth-protected-resource/mcp", { method: "HEAD" });
    expect(head.res.status).toBe(200);
    expect(head.text).toBe("");
    // Another resource's path is not this resource's metadata.
    const other = await send(app, "/.well-known/oauth-protected-resource/other");
    expect(other.res.status).toBe(404);
    expect(JSON.parse(other.text).error).toBe("invalid_request");
  });

  it("publishes scopes_supported from a static scopes list, and dpop_bound_access_tokens_required when DPoP is required", async () => {
    const plain = JSON.parse((await send(resourceApp(), "/.well-known/oauth-protected-resource/mcp")).text);
    expect(plain.scopes_supported).toEqual(["mcp:read"]);
    const perRequest = resourceApp({ scopes: () => [] });
    expect(JSON.parse((await send(perRequest, "/.well-known/oauth-protected-resource/mcp")).text)).not.toHaveProperty(
      "scopes_supported",
    );
    const dpopOnly = resourceApp({ dpop: "required" });
    const doc = JSON.parse((await send(dpopOnly, "/.well-known/oauth-protected-resource/mcp")).text);
    expect(doc.dpop_bound_access_tokens_required).toBe(true);
  });

  it("names the metadata in every 401 and 403 challenge (RFC 9728 §5.1), and that URL serves this resource", async () => {
    const app = resourceApp();
    const rm = `resource_metadata="${METADATA_URL}"`;
    const none = await send(app, "/mcp", { method: "POST" });
    expect(none.res.status).toBe(401);
    expect(none.challenge).toBe(`Bearer realm="${MCP}", ${rm}, DPoP algs="ES256 EdDSA RS256 PS256 Ed25519", ${rm}`);
    const forged = await send(app, "/mcp", bearer("eyJhbGciOiJIUzI1NiJ9.e30.c2ln"));
    expect(forged.res.status).toBe(401);
    expect(forged.challenge).toBe(
      `Bearer realm="${MCP}", error="invalid_token", error_description="The access token is invalid", ${rm}`,
    );
    const client = await seedClient({ scopes: ["other"], audiences: [MCP] });
    const weak = ((await (await requestToken(client)).json()) as { access_token: string }).access_token;
    const forbidden = await send(app, "/mcp", bearer(weak));
    expect(forbidden.res.status).toBe(403);
    expect(forbidden.challenge).toBe(
      `Bearer realm="${MCP}", error="insufficient_scope", error_description="The access token lacks scope mcp:read", scope="mcp:read", ${rm}`,
    );
    const dpopOnly = await send(resourceApp({ dpop: "required" }), "/mcp", bearer(weak));
    expect(dpopOnly.res.status).toBe(401);
    expect(dpopOnly.challenge).toBe(`DPoP algs="ES256 EdDSA RS256 PS256 Ed25519", ${rm}`);
    // The advertised URL is this resource's own document, whose resource is what the kit checks aud against.
    const advertised = new URL(METADATA_URL);
    const doc = JSON.parse((await send(app, advertised.pathname)).text);
    expect(doc.resource).toBe(MCP);
  });

  it("binds tokens to the advertised resource: a token for another MCP server is refused (RFC 9728 §7.4, RFC 8707)", async () => {
    const app = resourceApp();
    const tokenFor = async (audiences: string[], fields: Record<string, string> = {}) => {
      const client = await seedClient({ scopes: ["mcp:read"], audiences });
      const res = await requestToken(client, fields);
      expect(res.status).toBe(200);
      return ((await res.json()) as { access_token: string }).access_token;
    };
    // Requested with resource= (as the MCP SDK does), and by default for a client with that one audience.
    expect((await send(app, "/mcp", bearer(await tokenFor([MCP], { resource: MCP })))).res.status).toBe(200);
    expect((await send(app, "/mcp", bearer(await tokenFor(["https://other.example.com/mcp", MCP])))).res.status).toBe(
      401,
    );
    const both = await tokenFor(["https://other.example.com/mcp", MCP], {
      resource: "https://other.example.com/mcp",
    });
    expect(jose.decodeJwt(both).aud).toBe("https://other.example.com/mcp");
    const refused = await send(app, "/mcp", bearer(both));
    expect(refused.res.status).toBe(401);
    expect(JSON.parse(refused.text)).toEqual({
      error: "invalid_token",
      error_description: "The access token is not meant for this resource",
    });
    // Exact match only: no trailing-slash, prefix or origin-only variant of the identifier passes.
    for (const near of [`${MCP}/`, "https://mcp.example.com", "https://mcp.example.com/mcp2"]) {
      expect((await send(app, "/mcp", bearer(await tokenFor([near])))).res.status, near).toBe(401);
    }
    // A token for this resource is refused by the other resource.
    const otherApp = resourceApp({ audience: "https://other.example.com/mcp" });
    expect((await send(otherApp, "/mcp", bearer(await tokenFor([MCP])))).res.status).toBe(401);
  });

  it("chooses scopes per request after the token verified, and names them in the 403 challenge", async () => {
    const seen: string[] = [];
    const app = resourceApp({
      scopes: (c) => {
        seen.push(c.req.query("tool") ?? "");
        return c.req.query("tool") === "echo" ? ["mcp:echo"] : [];
      },
    });
    const client = await seedClient({ scopes: ["mcp:read"], audiences: [MCP] });
    const token = ((await (await requestToken(client)).json()) as { access_token: string }).access_token;
    expect((await send(app, "/mcp?tool=list", bearer(token))).res.status).toBe(200);
    const echo = await send(app, "/mcp?tool=echo", bearer(token));
    expect(echo.res.status).toBe(403);
    expect(echo.challenge).toMatch(/error="insufficient_scope".*scope="mcp:echo", resource_metadata="/);
    // Never consulted for a request whose token does not verify.
    expect((await send(app, "/mcp?tool=forged", bearer("eyJhbGciOiJIUzI1NiJ9.e30.c2ln"))).res.status).toBe(401);
    expect(seen).toEqual(["list", "echo"]);
  });

  it("omits resource_metadata when told to, uses a given URL, and has none for an audience that is not a URL", async () => {
    const off = await send(resourceApp({ resourceMetadataUrl: false }), "/mcp", { method: "POST" });
    expect(off.challenge).not.toMatch(/resource_metadata/);
    const given = await send(
      resourceApp({ resourceMetadataUrl: (e) => String(e.META ?? "https://meta.example/prm") }),
      "/mcp",
      { method: "POST" },
    );
    expect(given.challenge).toMatch(/resource_metadata="https:\/\/meta\.example\/prm"/);
    const opaque = resourceApp({ audience: "orders-api" });
    expect((await send(opaque, "/mcp", { method: "POST" })).challenge).toBe(
      'Bearer realm="orders-api", DPoP algs="ES256 EdDSA RS256 PS256 Ed25519"',
    );
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const doc = await send(opaque, "/.well-known/oauth-protected-resource");
    expect(doc.res.status).toBe(500);
    expect(errors.mock.calls.map((c) => String(c[0])).join("\n")).toMatch(/RFC 9728 resource identifier/);
    errors.mockRestore();
  });

  it("verifies HS256 tokens with given keys and key-pair tokens with the JWKS when both are configured", async () => {
    const app = resourceApp({
      jwksUrl: "https://keymint.test/.well-known/jwks.json?case=both",
      fetcher: () => binding,
      keys: (e) => [String(e.TOKEN_SIGNING_KEY)],
    });
    const client = await seedClient({ scopes: ["mcp:read"], audiences: [MCP] });
    const hs = ((await (await requestToken(client)).json()) as { access_token: string }).access_token;
    expect(jose.decodeProtectedHeader(hs).alg).toBe("HS256");
    expect((await send(app, "/mcp", bearer(hs))).res.status).toBe(200);
    const res = await worker.fetch(
      new Request(`${ORIGIN}/oauth2/token`, {
        method: "POST",
        headers: { "Content-Type": FORM, Authorization: basicAuth(client.clientId, client.secret) },
        body: "grant_type=client_credentials",
      }),
      keymintWithKeyPair,
      createExecutionContext(),
    );
    const esToken = ((await res.json()) as { access_token: string }).access_token;
    expect(jose.decodeProtectedHeader(esToken).alg).toBe("ES256");
    expect((await send(app, "/mcp", bearer(esToken))).res.status).toBe(200);
    // keymint's default set-up publishes an empty JWKS: HS256 tokens still verify, without any JWKS fetch.
    const emptyJwks = resourceApp({
      jwksUrl: "https://keymint.test/.well-known/jwks.json?case=empty",
      fetcher: () => ({ fetch: async (r: Request) => worker.fetch(r, env, createExecutionContext()) }),
      keys: (e) => [String(e.TOKEN_SIGNING_KEY)],
    });
    const before = keySetStats.fetches;
    expect((await send(emptyJwks, "/mcp", bearer(hs))).res.status).toBe(200);
    expect(keySetStats.fetches).toBe(before);
    // Without keys, JWKS mode holds no HMAC key and refuses HS256 tokens as before.
    const jwksOnly = resourceApp({
      jwksUrl: "https://keymint.test/.well-known/jwks.json?case=both",
      fetcher: () => binding,
    });
    expect((await send(jwksOnly, "/mcp", bearer(hs))).res.status).toBe(401);
  });
});

describe("the example API's own metadata", () => {
  it("serves RFC 9728 metadata at the bare well-known path of its resource https://api.example.com", async () => {
    const res = await api.fetch(
      new Request("https://api.example.com/.well-known/oauth-protected-resource"),
      apiEnv,
      createExecutionContext(),
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      resource: AUDIENCE,
      authorization_servers: [ORIGIN],
      scopes_supported: ["read", "write"],
    });
  });
});
