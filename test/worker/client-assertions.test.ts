/**
 * Clients without shared secrets, through the worker's fetch: private_key_jwt (RFC 7523 §2.2, §3; RFC 7521 §4.2)
 * with registered keys or a jwks_uri, and federated workload identity (an outside OpenID Connect issuer's token,
 * keys found by discovery). Outside documents are served by a stub of the Worker's outbound `fetch`.
 */

import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import * as jose from "jose";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type ClientKeys, newKeyClientRecord, setEnabled } from "../../src/clients/lifecycle.ts";
import type { ClientRecord } from "../../src/clients/record.ts";
import { keySetStats } from "../../src/remote/key-set.ts";
import { assertionShard } from "../../src/replay/claim.ts";
import {
  basicAuth,
  freshMinute,
  INVALID_CLIENT_BODY,
  nowSeconds,
  ORIGIN,
  post,
  putRecord,
  randomIp,
  seedClient,
  TOKEN_URL,
} from "./helpers.ts";

const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
type Alg = "ES256" | "EdDSA" | "RS256" | "PS256";

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

interface TestKey {
  alg: Alg;
  kid: string;
  publicJwk: jose.JWK;
  privateKey: CryptoKey;
}

async function makeKey(alg: Alg, kid = `${alg}-${crypto.randomUUID().slice(0, 8)}`): Promise<TestKey> {
  const pair = await jose.generateKeyPair(alg, { extractable: true, crv: alg === "EdDSA" ? "Ed25519" : undefined });
  return { alg, kid, publicJwk: { ...(await jose.exportJWK(pair.publicKey)), kid, alg }, privateKey: pair.privateKey };
}

async function keyClient(keys: ClientKeys, extra: Partial<ClientRecord> = {}): Promise<string> {
  const clientId = `kc-${crypto.randomUUID()}`;
  const record = newKeyClientRecord(
    { clientId, keys, settings: { name: "key client", scopes: ["read"] } },
    nowSeconds(),
  );
  await putRecord({ ...record, ...extra });
  return clientId;
}

/** A client assertion as RFC 7523 §3 describes it, with any claim or header overridden. */
function assertion(
  key: TestKey,
  clientId: string,
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
): Promise<string> {
  const now = nowSeconds();
  return new jose.SignJWT({
    iss: clientId,
    sub: clientId,
    aud: ORIGIN,
    iat: now,
    exp: now + 60,
    jti: crypto.randomUUID(),
    ...claims,
  })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, ...header } as jose.JWTHeaderParameters)
    .sign(key.privateKey);
}

function withAssertion(jwt: string, fields: Record<string, string> = {}, options: { ip?: string; url?: string } = {}) {
  return post(
    new URLSearchParams({
      grant_type: "client_credentials",
      client_assertion_type: JWT_BEARER,
      client_assertion: jwt,
      ...fields,
    }),
    { headers: { "CF-Connecting-IP": options.ip ?? randomIp() }, url: options.url ?? TOKEN_URL },
  );
}

async function expectInvalidClient(res: Response): Promise<void> {
  expect(res.status).toBe(401);
  expect(res.headers.get("www-authenticate")).toBeNull();
  expect(await res.json()).toEqual(INVALID_CLIENT_BODY);
}

async function expectToken(res: Response): Promise<string> {
  const body = (await res.json()) as Record<string, unknown>;
  expect(res.status, JSON.stringify(body)).toBe(200);
  expect(body.token_type).toBe("Bearer");
  return body.access_token as string;
}

/** The ids stored by a client's replay guard object (docs/storage.md, "The replay guard"). */
function usedIds(clientId: string): Promise<{ id: string; until: number }[]> {
  return runInDurableObject(env.REPLAY_GUARD.getByName(assertionShard(clientId)), (_, state) =>
    state.storage.sql.exec<{ id: string; until: number }>("SELECT id, until FROM used").toArray(),
  );
}

/** Stubs the Worker's outbound fetch with fixed documents per URL, counting the calls to each. */
function serve(routes: Record<string, () => Response | Promise<Response>>) {
  const calls: Record<string, number> = {};
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL) => {
    const url = input instanceof Request ? input.url : String(input);
    calls[url] = (calls[url] ?? 0) + 1;
    const route = routes[url];
    return route === undefined ? new Response("not found", { status: 404 }) : route();
  });
  return calls;
}

const json = (value: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(value), { status: 200, headers: { "Content-Type": "application/json", ...headers } });

describe("private_key_jwt with registered keys (RFC 7523 §2.2)", () => {
  for (const alg of ["ES256", "EdDSA", "RS256", "PS256"] as const) {
    it(`issues a token for an ${alg} assertion, with no secret stored`, async () => {
      const key = await makeKey(alg);
      const clientId = await keyClient({ jwks: { keys: [key.publicJwk] } });
      const token = await expectToken(await withAssertion(await assertion(key, clientId)));
      expect(jose.decodeJwt(token)).toMatchObject({ sub: clientId, client_id: clientId, scope: "read" });
    });
  }

  it("accepts aud = the issuer, the token endpoint URL, or an array containing one (RFC 7523 §3)", async () => {
    const key = await makeKey("ES256");
    const clientId = await keyClient({ jwks: { keys: [key.publicJwk] } });
    for (const aud of [ORIGIN, TOKEN_URL, [ORIGIN, "https://other.example"]]) {
      await expectToken(await withAssertion(await assertion(key, clientId, { aud })));
    }
  });

  it("requires aud = the issuer alone for an explicitly typed client-authentication+jwt (draft-ietf-oauth-rfc7523bis)", async () => {
    const key = await makeKey("ES256");
    const clientId = await keyClient({ jwks: { keys: [key.publicJwk] } });
    const typ = { typ: "client-authentication+jwt" };
    await expectToken(await withAssertion(await assertion(key, clientId, { aud: ORIGIN }, typ)));
    await expectInvalidClient(await withAssertion(await assertion(key, clientId, { aud: TOKEN_URL }, typ)));
    await expectInvalidClient(await withAssertion(await assertion(key, clientId, { aud: [ORIGIN] }, typ)));
  });

  it("accepts a matching client_id parameter and refuses a different one with 401", async () => {
    const key = await makeKey("EdDSA");
    const clientId = await keyClient({ jwks: { keys: [key.publicJwk] } });
    await expectToken(await withAssertion(await assertion(key, clientId), { client_id: clientId }));
    const other = await keyClient({ jwks: { keys: [key.publicJwk] } });
    await expectInvalidClient(await withAssertion(await assertion(key, clientId), { client_id: other }));
  });

  it("picks the key by kid among several, or the only key of the assertion's alg without a kid", async () => {
    const [a, b] = await Promise.all([makeKey("ES256"), makeKey("EdDSA")]);
    const clientId = await keyClient({ jwks: { keys: [a.publicJwk, b.publicJwk] } });
    await expectToken(await withAssertion(await assertion(b, clientId)));
    await expectToken(await withAssertion(await assertion(a, clientId, {}, { kid: undefined })));
  });

  it("refuses a replayed assertion (jti single use until exp), spent in the client's replay guard object, not in KV", async () => {
    const key = await makeKey("ES256");
    const clientId = await keyClient({ jwks: { keys: [key.publicJwk] } });
    const jti = crypto.randomUUID();
    const jwt = await assertion(key, clientId, { jti });
    await expectToken(await withAssertion(jwt));
    await expectInvalidClient(await withAssertion(jwt));
    expect((await env.CLIENTS.list({ prefix: "jti:" })).keys).toEqual([]);
    expect((await usedIds(clientId)).map((row) => row.id)).toEqual([jti]);
  });

  it("remembers a used jti for as long as the assertion could pass the time checks (exp plus the leeway)", async () => {
    const key = await makeKey("ES256");
    const clientId = await keyClient({ jwks: { keys: [key.publicJwk] } });
    const now = nowSeconds();
    const jti = crypto.randomUUID();
    const exp = now + 200;
    const jwt = await assertion(key, clientId, { iat: now, exp, jti });
    await expectToken(await withAssertion(jwt));
    // docs/storage.md: the id is kept until exp + 30 s (the leeway), the last second the assertion could pass.
    expect(await usedIds(clientId)).toEqual([{ id: jti, until: exp + 30 }]);
    // 10 s after exp the assertion is still within the leeway: it is not accepted a second time.
    vi.useFakeTimers({ now: (exp + 10) * 1000, toFake: ["Date"] });
    await expectInvalidClient(await withAssertion(jwt));
  });

  it("lets only one of two simultaneous requests with the same assertion through", async () => {
    const key = await makeKey("EdDSA");
    const clientId = await keyClient({ jwks: { keys: [key.publicJwk] } });
    const jwt = await assertion(key, clientId);
    const statuses = (await Promise.all([withAssertion(jwt), withAssertion(jwt), withAssertion(jwt)])).map(
      (r) => r.status,
    );
    expect(statuses.sort()).toEqual([200, 401, 401]);
  });

  it("skips a registered key WebCrypto cannot import (a point off the curve): 401 and an error log, not 500", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const key = await makeKey("ES256");
    const offCurve = { ...key.publicJwk, kid: "bad", y: jose.base64url.encode(new Uint8Array(32).fill(7)) };
    const clientId = await keyClient({ jwks: { keys: [offCurve, key.publicJwk] } });
    await expectInvalidClient(await withAssertion(await assertion(key, clientId, {}, { kid: "bad" })));
    await expectToken(await withAssertion(await assertion(key, clientId)));
    expect(errors.mock.calls.map((c) => String(c[0])).join("\n")).toMatch(/client_key_unusable.*update .* --jwks/);
  });

  describe("answers every failure with the same 401 invalid_client", async () => {
    const key = await makeKey("ES256");
    const other = await makeKey("ES256", key.kid);
    const now = nowSeconds();
    const cases: [string, (clientId: string) => Promise<string>][] = [
      ["signed by another key under the registered kid", (c) => assertion(other, c)],
      ["unknown kid", (c) => assertion(key, c, {}, { kid: "nope" })],
      ["expired", (c) => assertion(key, c, { iat: now - 600, exp: now - 120 })],
      ["no exp", (c) => assertion(key, c, { exp: undefined })],
      ["lives longer than 5 minutes", (c) => assertion(key, c, { exp: now + 3600 })],
      ["expires more than 5 minutes ahead (no iat)", (c) => assertion(key, c, { iat: undefined, exp: now + 3600 })],
      ["iat older than the 5-minute lifetime allows", (c) => assertion(key, c, { iat: now - 400, exp: now + 30 })],
      ["iat in the future", (c) => assertion(key, c, { iat: now + 600, exp: now + 660 })],
      ["nbf in the future", (c) => assertion(key, c, { nbf: now + 120 })],
      ["aud of another server", (c) => assertion(key, c, { aud: "https://evil.example" })],
      ["iss is not the client", (c) => assertion(key, c, { iss: "someone-else" })],
      ["sub is not the client", (c) => assertion(key, c, { sub: "someone-else" })],
      ["no jti", (c) => assertion(key, c, { jti: undefined })],
      ["typ at+jwt (an access token, not an assertion)", (c) => assertion(key, c, {}, { typ: "at+jwt" })],
      ["typ dpop+jwt", (c) => assertion(key, c, {}, { typ: "dpop+jwt" })],
      [
        "alg none",
        async (c) =>
          `${jose.base64url.encode(JSON.stringify({ alg: "none", kid: key.kid }))}.${jose.base64url.encode(
            JSON.stringify({ iss: c, sub: c, aud: ORIGIN, exp: now + 60, jti: "x" }),
          )}.`,
      ],
      [
        "HS256 with the public key as the secret",
        (c) =>
          new jose.SignJWT({ iss: c, sub: c, aud: ORIGIN, exp: now + 60, jti: crypto.randomUUID() })
            .setProtectedHeader({ alg: "HS256", kid: key.kid })
            .sign(new TextEncoder().encode(JSON.stringify(key.publicJwk))),
      ],
      [
        "EdDSA signature under the ES256 key's kid",
        async (c) => assertion({ ...(await makeKey("EdDSA")), kid: key.kid }, c),
      ],
      ["garbage", async () => "not-a-jwt"],
    ];
    for (const [name, make] of cases) {
      it(name, async () => {
        const clientId = await keyClient({ jwks: { keys: [key.publicJwk] } });
        await expectInvalidClient(await withAssertion(await make(clientId), { client_id: clientId }));
      });
    }
    it("control: the same construction with valid claims gets a token", async () => {
      const clientId = await keyClient({ jwks: { keys: [key.publicJwk] } });
      await expectToken(await withAssertion(await assertion(key, clientId)));
    });
    it("unknown client", async () => {
      await expectInvalidClient(await withAssertion(await assertion(key, `kc-${crypto.randomUUID()}`)));
    });
    it("a disabled key client, even with a valid assertion", async () => {
      const clientId = await keyClient({ jwks: { keys: [key.publicJwk] } }, { enabled: false });
      await expectInvalidClient(await withAssertion(await assertion(key, clientId)));
    });
    it("a secret client presenting an assertion", async () => {
      const secretClient = await seedClient();
      await expectInvalidClient(await withAssertion(await assertion(key, secretClient.clientId)));
    });
    it("a key client presenting a secret (401 with the Basic challenge, as for any Basic failure)", async () => {
      const clientId = await keyClient({ jwks: { keys: [key.publicJwk] } });
      const res = await post("grant_type=client_credentials", {
        auth: basicAuth(clientId, "any-secret-0123456789abcdefghijklmnop"),
      });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toMatch(/^Basic /);
      expect(await res.json()).toEqual(INVALID_CLIENT_BODY);
    });
  });

  it("re-enabling a disabled key client makes its assertions work again", async () => {
    const key = await makeKey("ES256");
    const clientId = await keyClient({ jwks: { keys: [key.publicJwk] } }, { enabled: false });
    await expectInvalidClient(await withAssertion(await assertion(key, clientId)));
    const record = JSON.parse((await env.CLIENTS.get(`client:${clientId}`)) as string) as ClientRecord;
    await putRecord(setEnabled(record, true, nowSeconds()));
    await expectToken(await withAssertion(await assertion(key, clientId)));
  });
});

describe("client assertion parameters (RFC 7521 §4.2, RFC 6749 §2.3)", () => {
  it("refuses a half-present, unsupported or doubled client authentication with 400 invalid_request", async () => {
    const key = await makeKey("ES256");
    const clientId = await keyClient({ jwks: { keys: [key.publicJwk] } });
    const jwt = await assertion(key, clientId);
    const cases: [string, URLSearchParams, string | undefined][] = [
      [
        "assertion without type",
        new URLSearchParams({ grant_type: "client_credentials", client_assertion: jwt }),
        undefined,
      ],
      [
        "type without assertion",
        new URLSearchParams({ grant_type: "client_credentials", client_assertion_type: JWT_BEARER }),
        undefined,
      ],
      [
        "unsupported type",
        new URLSearchParams({
          grant_type: "client_credentials",
          client_assertion_type: "urn:x:saml",
          client_assertion: jwt,
        }),
        undefined,
      ],
      [
        "assertion and client_secret",
        new URLSearchParams({
          grant_type: "client_credentials",
          client_assertion_type: JWT_BEARER,
          client_assertion: jwt,
          client_secret: "s",
        }),
        undefined,
      ],
      [
        "assertion and Basic",
        new URLSearchParams({
          grant_type: "client_credentials",
          client_assertion_type: JWT_BEARER,
          client_assertion: jwt,
        }),
        basicAuth(clientId, "s"),
      ],
    ];
    for (const [name, body, auth] of cases) {
      const res = await post(body, auth === undefined ? {} : { auth });
      expect(res.status, name).toBe(400);
      expect(((await res.json()) as { error: string }).error, name).toBe("invalid_request");
    }
  });

  it("authenticates at introspection and revocation with an assertion too", async () => {
    const key = await makeKey("EdDSA");
    const introspector = await keyClient({ jwks: { keys: [key.publicJwk] } }, { can_introspect: true });
    const owner = await seedClient();
    const token = (
      (await (
        await post("grant_type=client_credentials", { auth: basicAuth(owner.clientId, owner.secret) })
      ).json()) as {
        access_token: string;
      }
    ).access_token;
    const introspected = await withAssertion(
      await assertion(key, introspector),
      { token },
      { url: `${ORIGIN}/oauth2/introspect` },
    );
    expect(introspected.status).toBe(200);
    expect(((await introspected.json()) as { active: boolean }).active).toBe(true);
    const selfToken = await expectToken(await withAssertion(await assertion(key, introspector)));
    const revoked = await withAssertion(
      await assertion(key, introspector),
      { token: selfToken },
      { url: `${ORIGIN}/oauth2/revoke` },
    );
    expect(revoked.status).toBe(200);
    const after = await withAssertion(
      await assertion(key, introspector),
      { token: selfToken },
      { url: `${ORIGIN}/oauth2/introspect` },
    );
    expect(await after.json()).toEqual({ active: false });
  });
});

describe("throttling of assertion failures", () => {
  it("counts bad signatures like wrong secrets (429 for the pair) but not validly signed, expired assertions", async () => {
    await freshMinute(20);
    const key = await makeKey("ES256");
    const forger = await makeKey("ES256", key.kid);
    const clientId = await keyClient({ jwks: { keys: [key.publicJwk] } });
    const ip = randomIp();
    const now = nowSeconds();
    // Forty validly signed but expired assertions: refused, never counted.
    for (let i = 0; i < 40; i++) {
      await expectInvalidClient(
        await withAssertion(await assertion(key, clientId, { iat: now - 600, exp: now - 300 }), {}, { ip }),
      );
    }
    await expectToken(await withAssertion(await assertion(key, clientId), {}, { ip }));
    // Forged assertions from one source: the pair is blocked after its limit.
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await withAssertion(await assertion(forger, clientId), {}, { ip });
      statuses.push(res.status);
      await res.arrayBuffer();
    }
    expect(statuses.slice(0, 10).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(10)).toEqual([429, 429]);
    // The client itself, from another source, is not slowed down.
    await expectToken(await withAssertion(await assertion(key, clientId)));
  }, 70_000);
});

describe("private_key_jwt with a jwks_uri", () => {
  it("fetches the client's JWKS once for many requests, and again for an unknown kid after the cool-down", async () => {
    const url = `https://client.example/${crypto.randomUUID()}/jwks.json`;
    const [first, second] = await Promise.all([makeKey("ES256"), makeKey("ES256")]);
    let published = [first.publicJwk];
    const calls = serve({ [url]: () => json({ keys: published }, { "Cache-Control": "max-age=600" }) });
    const clientId = await keyClient({ jwksUri: url });
    for (let i = 0; i < 5; i++) await expectToken(await withAssertion(await assertion(first, clientId)));
    expect(calls[url]).toBe(1);
    // The client rotates: a new kid is unknown; within the cool-down no refetch, after it one.
    published = [first.publicJwk, second.publicJwk];
    await expectInvalidClient(await withAssertion(await assertion(second, clientId)));
    expect(calls[url]).toBe(1);
    vi.useFakeTimers({ now: Date.now() + 61_000, toFake: ["Date"] });
    await expectToken(await withAssertion(await assertion(second, clientId)));
    expect(calls[url]).toBe(2);
    // Made-up kids cannot make keymint fetch more than once per cool-down.
    for (let i = 0; i < 5; i++)
      await expectInvalidClient(await withAssertion(await assertion(second, clientId, {}, { kid: `x${i}` })));
    expect(calls[url]).toBe(2);
  });

  describe("answers 503 temporarily_unavailable (never 500, never a token) when the JWKS cannot be used", () => {
    const cases: [string, () => Response | Promise<Response>][] = [
      ["HTTP 500", () => new Response("oops", { status: 500 })],
      [
        "a redirect (not followed)",
        () => new Response(null, { status: 302, headers: { Location: "http://evil.example/" } }),
      ],
      ["not JSON", () => new Response("<html>", { status: 200 })],
      ["not a JWKS", () => json({ keys: "nope" })],
      ["larger than 256 KiB", () => json({ keys: [], padding: "x".repeat(300 * 1024) })],
      ["a fetch that fails", () => Promise.reject(new TypeError("network connection lost"))],
    ];
    for (const [name, respond] of cases) {
      it(name, async () => {
        const errors = vi.spyOn(console, "error").mockImplementation(() => {});
        const url = `https://client.example/${crypto.randomUUID()}/jwks.json`;
        serve({ [url]: respond });
        const key = await makeKey("ES256");
        const clientId = await keyClient({ jwksUri: url });
        const res = await withAssertion(await assertion(key, clientId));
        expect(res.status).toBe(503);
        expect(res.headers.get("retry-after")).toBe("5");
        expect(await res.json()).toEqual({
          error: "temporarily_unavailable",
          error_description: "The authorization server is temporarily unavailable, retry later",
        });
        expect(errors.mock.calls.map((c) => String(c[0])).join("\n")).toMatch(/remote_document_unavailable.*fix/);
      });
    }

    it("a JWKS that does not answer in time", async () => {
      vi.spyOn(console, "error").mockImplementation(() => {});
      const url = `https://client.example/${crypto.randomUUID()}/jwks.json`;
      vi.spyOn(globalThis, "fetch").mockImplementation(
        (_input, init) =>
          new Promise((_, reject) => {
            (init as RequestInit | undefined)?.signal?.addEventListener("abort", () => reject(new Error("aborted")));
          }),
      );
      const key = await makeKey("ES256");
      const clientId = await keyClient({ jwksUri: url });
      const res = await withAssertion(await assertion(key, clientId));
      expect(res.status).toBe(503);
    }, 10_000);
  });

  it("backs off after a failed fetch: one fetch per 10 s per isolate, whatever the request rate", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const url = `https://client.example/${crypto.randomUUID()}/jwks.json`;
    const calls = serve({ [url]: () => new Response("down", { status: 503 }) });
    const key = await makeKey("ES256");
    const clientId = await keyClient({ jwksUri: url });
    for (let i = 0; i < 4; i++) expect((await withAssertion(await assertion(key, clientId))).status).toBe(503);
    expect(calls[url]).toBe(1);
    vi.useFakeTimers({ now: Date.now() + 11_000, toFake: ["Date"] });
    expect((await withAssertion(await assertion(key, clientId))).status).toBe(503);
    expect(calls[url]).toBe(2);
  });

  it("answers 401, not 503, for a made-up kid while the JWKS URL is down (a refetch that fails finds no key)", async () => {
    const url = `https://client.example/${crypto.randomUUID()}/jwks.json`;
    const key = await makeKey("ES256");
    let up = true;
    serve({ [url]: () => (up ? json({ keys: [key.publicJwk] }) : new Response("", { status: 500 })) });
    const clientId = await keyClient({ jwksUri: url });
    await expectToken(await withAssertion(await assertion(key, clientId)));
    up = false;
    vi.useFakeTimers({ now: Date.now() + 61_000, toFake: ["Date"] });
    await expectInvalidClient(await withAssertion(await assertion(key, clientId, {}, { kid: "made-up" })));
  });

  it("matches an RSA key without alg for RS256 and PS256 alike (RFC 7517 makes alg optional)", async () => {
    const url = `https://client.example/${crypto.randomUUID()}/jwks.json`;
    const pair = await jose.generateKeyPair("PS256", { extractable: true });
    const { alg: _alg, ...noAlg } = { ...(await jose.exportJWK(pair.publicKey)), kid: "rsa", alg: undefined };
    serve({ [url]: () => json({ keys: [noAlg] }) });
    const clientId = await keyClient({ jwksUri: url });
    const ps256 = { alg: "PS256" as const, kid: "rsa", publicJwk: noAlg, privateKey: pair.privateKey };
    await expectToken(await withAssertion(await assertion(ps256, clientId)));
  });

  it("keeps serving from the cached keys when a refresh fails", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const url = `https://client.example/${crypto.randomUUID()}/jwks.json`;
    const key = await makeKey("EdDSA");
    let up = true;
    serve({
      [url]: () =>
        up ? json({ keys: [key.publicJwk] }, { "Cache-Control": "max-age=60" }) : new Response("", { status: 503 }),
    });
    const clientId = await keyClient({ jwksUri: url });
    await expectToken(await withAssertion(await assertion(key, clientId)));
    up = false;
    vi.useFakeTimers({ now: Date.now() + 120_000, toFake: ["Date"] });
    await expectToken(await withAssertion(await assertion(key, clientId)));
    expect(warn.mock.calls.map((c) => String(c[0])).join("\n")).toMatch(/remote_keys_stale/);
  });
});

describe("federated workload identity", () => {
  const issuer = "https://token.actions.example";
  let issuerKey: TestKey;
  beforeAll(async () => {
    issuerKey = await makeKey("RS256", "gh-1");
  });

  /** An outside issuer: discovery document and JWKS, served by the fetch stub. */
  function outsideIssuer(name: string, document: Record<string, unknown> = {}) {
    const base = `${issuer}/${name}`;
    const jwksUri = `${base}/.well-known/jwks`;
    const calls = serve({
      [`${base}/.well-known/openid-configuration`]: () => json({ issuer: base, jwks_uri: jwksUri, ...document }),
      [jwksUri]: () => json({ keys: [issuerKey.publicJwk] }),
    });
    return { base, jwksUri, calls };
  }

  function workloadToken(iss: string, claims: Record<string, unknown> = {}, key = issuerKey): Promise<string> {
    const now = nowSeconds();
    return new jose.SignJWT({
      iss,
      sub: "repo:acme/app:ref:refs/heads/main",
      aud: "https://keymint.example",
      iat: now,
      nbf: now,
      exp: now + 300,
      jti: crypto.randomUUID(),
      repository: "acme/app",
      ...claims,
    })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT" })
      .sign(key.privateKey);
  }

  async function federatedClient(base: string, audience: string | null = "https://keymint.example"): Promise<string> {
    return keyClient({ federation: { issuer: base, subject: "repo:acme/app:ref:refs/heads/main", audience } });
  }

  it("exchanges the workload's token for an access token, discovering and caching the issuer's keys", async () => {
    const { base, jwksUri, calls } = outsideIssuer(crypto.randomUUID());
    const clientId = await federatedClient(base);
    const before = keySetStats.fetches;
    for (let i = 0; i < 3; i++) {
      // The same outside token may be presented more than once while it is valid, like the platform's own.
      const outside = await workloadToken(base);
      const token = await expectToken(await withAssertion(outside, { client_id: clientId }));
      expect(jose.decodeJwt(token)).toMatchObject({ sub: clientId, client_id: clientId });
      await expectToken(await withAssertion(outside, { client_id: clientId }));
    }
    expect(calls[`${base}/.well-known/openid-configuration`]).toBe(1);
    expect(calls[jwksUri]).toBe(1);
    expect(keySetStats.fetches - before).toBe(1);
  });

  it("defaults the required audience to keymint's issuer, and accepts an aud array containing it", async () => {
    const { base } = outsideIssuer(crypto.randomUUID());
    const clientId = await federatedClient(base, null);
    await expectToken(await withAssertion(await workloadToken(base, { aud: ORIGIN }), { client_id: clientId }));
    await expectToken(
      await withAssertion(await workloadToken(base, { aud: ["sts.amazonaws.com", ORIGIN] }), { client_id: clientId }),
    );
    await expectInvalidClient(await withAssertion(await workloadToken(base), { client_id: clientId }));
  });

  describe("refuses with the same 401 invalid_client", () => {
    const cases: [string, (base: string) => Promise<string>][] = [
      ["another subject (another repository)", (b) => workloadToken(b, { sub: "repo:evil/app:ref:refs/heads/main" })],
      ["another issuer in iss", (b) => workloadToken(b, { iss: `${b}/other` })],
      ["another audience", (b) => workloadToken(b, { aud: "https://someone-else.example" })],
      ["expired", (b) => workloadToken(b, { iat: nowSeconds() - 900, exp: nowSeconds() - 300 })],
      ["no exp", (b) => workloadToken(b, { exp: undefined })],
      ["not yet valid", (b) => workloadToken(b, { nbf: nowSeconds() + 600 })],
      [
        "signed by another key under the issuer's kid",
        async (b) => workloadToken(b, {}, { ...(await makeKey("RS256")), kid: "gh-1" }),
      ],
    ];
    for (const [name, make] of cases) {
      it(name, async () => {
        const { base } = outsideIssuer(crypto.randomUUID());
        const clientId = await federatedClient(base);
        await expectInvalidClient(await withAssertion(await make(base), { client_id: clientId }));
      });
    }
  });

  it("answers 503 when an https issuer's discovery points at a plain-http jwks_uri", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const { base } = outsideIssuer(crypto.randomUUID(), { jwks_uri: "http://localhost:8080/keys" });
    const clientId = await federatedClient(base);
    expect((await withAssertion(await workloadToken(base), { client_id: clientId })).status).toBe(503);
  });

  it("answers 503 when discovery fails or names another issuer, never a token", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const wrong = outsideIssuer(crypto.randomUUID(), { issuer: "https://impostor.example" });
    const clientId = await federatedClient(wrong.base);
    expect((await withAssertion(await workloadToken(wrong.base), { client_id: clientId })).status).toBe(503);
    serve({});
    const down = `${issuer}/${crypto.randomUUID()}`;
    const downClient = await federatedClient(down);
    expect((await withAssertion(await workloadToken(down), { client_id: downClient })).status).toBe(503);
  });
});
