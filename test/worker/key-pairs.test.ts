/**
 * Key-pair signing (ES256, EdDSA, RS256) and the JWKS endpoint: tokens any API can verify with jose and the
 * published keys, rotation, every forgery and algorithm-confusion case, bad configuration.
 */

import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import fc from "fast-check";
import * as jose from "jose";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import worker from "../../src/index.ts";
import { PRIVATE_MEMBERS } from "../../src/jwt/jwk.ts";
import { deriveKid } from "../../src/jwt/keys.ts";
import { basicAuth, FORM, nowSeconds, ORIGIN, type SeededClient, seedClient } from "./helpers.ts";

type Alg = "ES256" | "EdDSA" | "RS256";
const ALGS: Alg[] = ["ES256", "EdDSA", "RS256"];
const JWKS_URL = `${ORIGIN}/.well-known/jwks.json`;
const INTROSPECT = `${ORIGIN}/oauth2/introspect`;

afterEach(() => {
  vi.restoreAllMocks();
});

interface TestKey {
  alg: Alg;
  kid: string;
  privateJwk: jose.JWK;
  publicJwk: jose.JWK;
  privateKey: CryptoKey;
}

/** A key pair made by jose (independently of keymint's code), with kid = its RFC 7638 thumbprint. */
async function makeKey(alg: Alg, kid?: string): Promise<TestKey> {
  const pair = await jose.generateKeyPair(alg, { extractable: true, crv: alg === "EdDSA" ? "Ed25519" : undefined });
  const publicJwk = await jose.exportJWK(pair.publicKey);
  const id = kid ?? (await jose.calculateJwkThumbprint(publicJwk));
  const privateJwk = { ...(await jose.exportJWK(pair.privateKey)), kid: id, alg };
  return { alg, kid: id, privateJwk, publicJwk: { ...publicJwk, kid: id, alg }, privateKey: pair.privateKey };
}

type Secrets = Record<string, string>;

async function call(url: string, init: RequestInit, secrets: Secrets): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("CF-Connecting-IP", `198.51.100.${1 + Math.floor(Math.random() * 250)}`);
  return worker.fetch(
    new Request(url, { ...init, headers }),
    { ...env, ...secrets } as typeof env,
    createExecutionContext(),
  );
}

function signingSecrets(key: TestKey, retired: TestKey[] = []): Secrets {
  const secrets: Secrets = { TOKEN_SIGNING_JWK: JSON.stringify(key.privateJwk) };
  if (retired.length > 0) secrets.TOKEN_VERIFICATION_JWKS = JSON.stringify({ keys: retired.map((k) => k.publicJwk) });
  return secrets;
}

function tokenRequest(client: SeededClient, secrets: Secrets): Promise<Response> {
  return call(
    `${ORIGIN}/oauth2/token`,
    {
      method: "POST",
      headers: { "Content-Type": FORM, Authorization: basicAuth(client.clientId, client.secret) },
      body: "grant_type=client_credentials",
    },
    secrets,
  );
}

async function issue(client: SeededClient, secrets: Secrets): Promise<string> {
  const res = await tokenRequest(client, secrets);
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

let caller: SeededClient;
let client: SeededClient;
beforeAll(async () => {
  caller = await seedClient({ canIntrospect: true, tokenGrant: false, scopes: [] });
  client = await seedClient({ scopes: ["read"], audiences: ["https://api.example.com"] });
});

async function active(token: string, secrets: Secrets): Promise<boolean> {
  const res = await call(
    INTROSPECT,
    {
      method: "POST",
      headers: { "Content-Type": FORM, Authorization: basicAuth(caller.clientId, caller.secret) },
      body: new URLSearchParams({ token }),
    },
    secrets,
  );
  expect(res.status).toBe(200);
  return ((await res.json()) as { active: boolean }).active;
}

/** jose's remote key set, fetching keymint's JWKS over HTTP through the Worker's fetch. */
function remoteJwks(secrets: Secrets) {
  return jose.createRemoteJWKSet(new URL(JWKS_URL), {
    [jose.customFetch]: (url, options) => call(url, { headers: options.headers, method: options.method }, secrets),
  });
}

describe("signing with TOKEN_SIGNING_JWK", () => {
  for (const alg of ALGS) {
    it(`signs with ${alg}; jose verifies the token against the JWKS fetched over HTTP`, async () => {
      const key = await makeKey(alg);
      const secrets = signingSecrets(key);
      const token = await issue(client, secrets);
      expect(jose.decodeProtectedHeader(token)).toEqual({ alg, typ: "at+jwt", kid: key.kid });
      const { payload, protectedHeader } = await jose.jwtVerify(token, remoteJwks(secrets), {
        issuer: ORIGIN,
        audience: "https://api.example.com",
        typ: "at+jwt",
        algorithms: [alg],
      });
      expect(protectedHeader.kid).toBe(key.kid);
      // Claims are exactly those of an HS256 token (RFC 9068 §2.2).
      expect(Object.keys(payload).sort()).toEqual(["aud", "client_id", "exp", "iat", "iss", "jti", "scope", "sub"]);
      expect(payload).toMatchObject({ sub: client.clientId, client_id: client.clientId, scope: "read" });
      expect(await active(token, secrets)).toBe(true);
    });
  }

  it("keeps HS256 tokens issued before the switch valid (TOKEN_SIGNING_KEY stays a verification key)", async () => {
    const hs256 = await issue(client, {});
    expect(jose.decodeProtectedHeader(hs256).alg).toBe("HS256");
    const secrets = signingSecrets(await makeKey("ES256"));
    expect(await active(hs256, secrets)).toBe(true);
  });
});

describe("GET /.well-known/jwks.json (RFC 7517 §5)", () => {
  it("publishes the public parts of the signing key and every retired key, cacheable, CORS *", async () => {
    const [current, retired] = await Promise.all([makeKey("EdDSA"), makeKey("RS256")]);
    const res = await call(JWKS_URL, {}, signingSecrets(current, [retired]));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(res.headers.get("cache-control")).toBe("public, max-age=300");
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    const body = (await res.json()) as { keys: jose.JWK[] };
    expect(body).toEqual({
      keys: [
        { kty: "OKP", crv: "Ed25519", x: current.publicJwk.x, kid: current.kid, alg: "EdDSA", use: "sig" },
        { kty: "RSA", n: retired.publicJwk.n, e: retired.publicJwk.e, kid: retired.kid, alg: "RS256", use: "sig" },
      ],
    });
  });

  it('answers {"keys":[]} when only HMAC signing is configured', async () => {
    const res = await call(JWKS_URL, {}, {});
    expect(await res.json()).toEqual({ keys: [] });
  });

  it("answers HEAD without a body and other methods with 405 and Allow", async () => {
    const head = await call(JWKS_URL, { method: "HEAD" }, {});
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
    const postRes = await call(JWKS_URL, { method: "POST", body: "x" }, {});
    expect(postRes.status).toBe(405);
    expect(postRes.headers.get("allow")).toBe("GET, HEAD");
    expect(((await postRes.json()) as { error: string }).error).toBe("invalid_request");
  });

  it("is linked from the metadata as jwks_uri", async () => {
    const res = await call(`${ORIGIN}/.well-known/oauth-authorization-server`, {}, {});
    expect(((await res.json()) as { jwks_uri: string }).jwks_uri).toBe(JWKS_URL);
  });

  it("never publishes a private or symmetric member, whatever extra members the configured keys carry", async () => {
    const pool = await Promise.all(ALGS.map((alg) => makeKey(alg)));
    const junk = fc.dictionary(
      fc.oneof(fc.constantFrom(...PRIVATE_MEMBERS, "key_ops", "ext", "x5c", "secret"), fc.string({ maxLength: 6 })),
      fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
      { maxKeys: 6 },
    );
    await fc.assert(
      fc.asyncProperty(fc.nat(pool.length - 1), fc.nat(pool.length - 1), junk, junk, async (a, b, extraA, extraB) => {
        const signing = pool[a] as TestKey;
        const other = pool[b] as TestKey;
        // Extra members after the key's own, so the key material itself stays intact.
        const retired = { ...extraB, ...other.privateJwk, kid: `retired-${other.kid}` };
        const secrets = {
          TOKEN_SIGNING_JWK: JSON.stringify({ ...extraA, ...signing.privateJwk }),
          TOKEN_VERIFICATION_JWKS: JSON.stringify({ keys: [retired] }),
        };
        const res = await call(JWKS_URL, {}, secrets);
        const text = await res.text();
        if (res.status !== 200) return; // a junk "use" or similar is a configuration error, tested below
        const { keys } = JSON.parse(text) as { keys: Record<string, unknown>[] };
        for (const key of keys) {
          for (const member of Object.keys(key)) {
            expect(["kty", "crv", "x", "y", "n", "e", "kid", "alg", "use"]).toContain(member);
          }
        }
        expect(text).not.toContain(String(signing.privateJwk.d));
        expect(text).not.toContain(String(other.privateJwk.d));
      }),
      { numRuns: 60 },
    );
  });
});

describe("rotation of key-pair keys", () => {
  it("accepts a retired key's tokens while it is listed in TOKEN_VERIFICATION_JWKS, and not once removed", async () => {
    const [first, second] = await Promise.all([makeKey("ES256"), makeKey("ES256")]);
    // 1. Publish the next key ahead of the switch.
    const published = signingSecrets(first, [second]);
    const oldToken = await issue(client, published);
    const jwks = (await (await call(JWKS_URL, {}, published)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.map((k) => k.kid)).toEqual([first.kid, second.kid]);
    // 2. Switch: the new key signs, the old one is retired but still accepted.
    const switched = signingSecrets(second, [first]);
    const newToken = await issue(client, switched);
    expect(jose.decodeProtectedHeader(newToken).kid).toBe(second.kid);
    expect(await active(oldToken, switched)).toBe(true);
    expect(await active(newToken, switched)).toBe(true);
    // 3. Retire: tokens of the removed key are inactive.
    const retired = signingSecrets(second);
    expect(await active(oldToken, retired)).toBe(false);
    expect(await active(newToken, retired)).toBe(true);
    const after = (await (await call(JWKS_URL, {}, retired)).json()) as { keys: { kid: string }[] };
    expect(after.keys.map((k) => k.kid)).toEqual([second.kid]);
  });
});

describe("forged key-pair tokens are inactive (no algorithm confusion)", async () => {
  const victim = await makeKey("ES256");
  const attacker = await makeKey("ES256");
  const secrets = signingSecrets(victim, [await makeKey("EdDSA", "retired-ed"), await makeKey("RS256", "retired-rs")]);
  const now = nowSeconds();
  const claims = () => ({
    iss: ORIGIN,
    sub: client.clientId,
    client_id: client.clientId,
    aud: ORIGIN,
    iat: now,
    exp: now + 600,
    jti: crypto.randomUUID(),
  });
  const sign = (payload: object, key: CryptoKey | Uint8Array, header: jose.JWTHeaderParameters) =>
    new jose.SignJWT({ ...payload }).setProtectedHeader(header).sign(key);
  const b64 = (value: object) => jose.base64url.encode(JSON.stringify(value));
  const header = { alg: "ES256", typ: "at+jwt", kid: victim.kid };
  const publicBytes = new TextEncoder().encode(JSON.stringify(victim.publicJwk));
  const cases: [string, () => Promise<string>][] = [
    [
      "tampered payload",
      async () => {
        const [h, , s] = (await sign(claims(), victim.privateKey, header)).split(".");
        return `${h}.${b64({ ...claims(), scope: "admin" })}.${s}`;
      },
    ],
    ["signed by another key under the victim's kid", () => sign(claims(), attacker.privateKey, header)],
    ["alg none", async () => `${b64({ alg: "none", typ: "at+jwt", kid: victim.kid })}.${b64(claims())}.`],
    ["unknown kid", () => sign(claims(), victim.privateKey, { ...header, kid: "nope" })],
    ["no kid", () => sign(claims(), victim.privateKey, { alg: "ES256", typ: "at+jwt" })],
    ["wrong typ", () => sign(claims(), victim.privateKey, { ...header, typ: "JWT" })],
    ["expired", () => sign({ ...claims(), iat: now - 7200, exp: now - 3600 }, victim.privateKey, header)],
    ["foreign issuer", () => sign({ ...claims(), iss: "https://evil.example" }, victim.privateKey, header)],
    ["lifetime above 24 h", () => sign({ ...claims(), exp: now + 10 * 86_400 }, victim.privateKey, header)],
    ["HS256 with the public JWK as the HMAC key", () => sign(claims(), publicBytes, { ...header, alg: "HS256" })],
    [
      "HS256 with the public x coordinate as the HMAC key",
      () => sign(claims(), jose.base64url.decode(String(victim.publicJwk.x)), { ...header, alg: "HS256" }),
    ],
    [
      "ES256 kid with alg swapped to EdDSA",
      async () => sign(claims(), (await makeKey("EdDSA")).privateKey, { ...header, alg: "EdDSA" }),
    ],
    [
      "EdDSA key's kid with an ES256 signature",
      () => sign(claims(), victim.privateKey, { ...header, kid: "retired-ed" }),
    ],
    [
      "RS256 key's kid with a PS256 signature",
      async () =>
        sign(claims(), (await jose.generateKeyPair("PS256")).privateKey, {
          alg: "PS256",
          typ: "at+jwt",
          kid: "retired-rs",
        }),
    ],
    [
      "RS256 key's kid with an RS256 signature of another key",
      async () =>
        sign(claims(), (await makeKey("RS256")).privateKey, { alg: "RS256", typ: "at+jwt", kid: "retired-rs" }),
    ],
    [
      "attacker key embedded as jwk header (ignored)",
      () => sign(claims(), attacker.privateKey, { ...header, jwk: attacker.publicJwk as jose.JWK }),
    ],
    [
      "attacker jku / x5u headers (ignored)",
      () =>
        sign(claims(), attacker.privateKey, {
          ...header,
          jku: "https://evil.example/jwks.json",
          x5u: "https://evil.example/cert.pem",
        }),
    ],
    [
      "non-canonical signature encoding",
      async () => {
        const token = await sign(claims(), victim.privateKey, header);
        const last = token.at(-1) as string;
        const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        // 64-byte signatures end in a character carrying 4 unused bits: flip one of them.
        const swapped = alphabet[alphabet.indexOf(last) ^ 1] as string;
        return `${token.slice(0, -1)}${swapped}`;
      },
    ],
  ];
  for (const [name, make] of cases) {
    it(name, async () => {
      expect(await active(await make(), secrets)).toBe(false);
    });
  }
  it("control: the same construction signed by the victim key is active", async () => {
    expect(await active(await sign(claims(), victim.privateKey, header), secrets)).toBe(true);
  });
  it("control: an HS256 token with the real HMAC key is active next to the key pairs", async () => {
    const kid = await deriveKid(env.TOKEN_SIGNING_KEY);
    const key = new TextEncoder().encode(env.TOKEN_SIGNING_KEY);
    expect(await active(await sign(claims(), key, { alg: "HS256", typ: "at+jwt", kid }), secrets)).toBe(true);
  });
});

describe("a TOKEN_SIGNING_JWK or TOKEN_VERIFICATION_JWKS that cannot be used: 500 server_error + the fix in the log", async () => {
  const es = await makeKey("ES256");
  const weakRsa = (await crypto.subtle.generateKey(
    { name: "RSASSA-PKCS1-v1_5", modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
    true,
    ["sign", "verify"],
  )) as CryptoKeyPair;
  const { d: _d, ...publicOnly } = es.privateJwk;
  const p384 = await jose.generateKeyPair("ES384", { extractable: true });
  const cases: [string, Secrets, RegExp][] = [
    ["not JSON", { TOKEN_SIGNING_JWK: "{not json" }, /TOKEN_SIGNING_JWK is unusable: it is not valid JSON/],
    ["public only", { TOKEN_SIGNING_JWK: JSON.stringify(publicOnly) }, /public only/],
    ["no kid", { TOKEN_SIGNING_JWK: JSON.stringify({ ...es.privateJwk, kid: undefined }) }, /no "kid"/],
    ["no alg", { TOKEN_SIGNING_JWK: JSON.stringify({ ...es.privateJwk, alg: undefined }) }, /no "alg"/],
    [
      "alg HS256",
      { TOKEN_SIGNING_JWK: JSON.stringify({ ...es.privateJwk, alg: "HS256" }) },
      /"HS256" is not supported/,
    ],
    [
      "alg PS256",
      { TOKEN_SIGNING_JWK: JSON.stringify({ ...es.privateJwk, alg: "PS256" }) },
      /"PS256" is not supported/,
    ],
    [
      "P-384 key labelled ES256",
      { TOKEN_SIGNING_JWK: JSON.stringify({ ...(await jose.exportJWK(p384.privateKey)), kid: "k", alg: "ES256" }) },
      /needs crv "P-256"/,
    ],
    [
      "1024-bit RSA",
      {
        TOKEN_SIGNING_JWK: JSON.stringify({ ...(await jose.exportJWK(weakRsa.privateKey)), kid: "k", alg: "RS256" }),
      },
      /1024 bits; at least 2048/,
    ],
    ["verification set not a JWKS", { TOKEN_VERIFICATION_JWKS: JSON.stringify([es.publicJwk]) }, /not a JWKS/],
    [
      "verification key without alg",
      { TOKEN_VERIFICATION_JWKS: JSON.stringify({ keys: [{ ...es.publicJwk, alg: undefined }] }) },
      /TOKEN_VERIFICATION_JWKS key 0 \(kid "[^"]+"\) is unusable: it has no "alg"/,
    ],
  ];
  for (const [name, secrets, cause] of cases) {
    it(name, async () => {
      const errors = vi.spyOn(console, "error").mockImplementation(() => {});
      const res = await tokenRequest(client, secrets);
      expect(res.status).toBe(500);
      const text = await res.text();
      expect(JSON.parse(text)).toEqual({
        error: "server_error",
        error_description: "The authorization server encountered an internal error",
      });
      const logged = errors.mock.calls.map((c) => String(c[0]));
      expect(logged).toHaveLength(1);
      const line = JSON.parse(logged[0] as string) as { event: string; cause: string; fix: string };
      expect(line.event).toBe("configuration_error");
      expect(line.cause).toMatch(cause);
      expect(line.fix).toMatch(/TOKEN_SIGNING_JWK|TOKEN_VERIFICATION_JWKS/);
      // Never key material in the log line.
      expect(logged[0]).not.toContain(String(es.privateJwk.d));
      // The JWKS endpoint refuses to serve an unusable configuration as well.
      expect((await call(JWKS_URL, {}, secrets)).status).toBe(500);
    });
  }
});
