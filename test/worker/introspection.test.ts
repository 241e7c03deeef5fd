/** RFC 7662 introspection, RFC 7009 revocation, RFC 8414 metadata, signing-key rotation and RFC 8707 audiences. */

import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import * as jose from "jose";
import { describe, expect, it, vi } from "vitest";
import { kvStoreStats } from "../../src/clients/kv-store.ts";
import { revokeTokensBefore, setEnabled } from "../../src/clients/lifecycle.ts";
import { clientKey } from "../../src/clients/record.ts";
import worker from "../../src/index.ts";
import { deriveKid } from "../../src/jwt/keys.ts";
import { revocationStats } from "../../src/tokens/revocation-store.ts";
import {
  basicAuth,
  FORM,
  nowSeconds,
  ORIGIN,
  post,
  putRecord,
  requestToken,
  type SeededClient,
  seedClient,
} from "./helpers.ts";

const INTROSPECT = `${ORIGIN}/oauth2/introspect`;
const REVOKE = `${ORIGIN}/oauth2/revoke`;
const enc = (s: string) => new TextEncoder().encode(s);

async function tokenFor(client: SeededClient, fields: Record<string, string> = {}): Promise<string> {
  const res = await requestToken(client, fields);
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

async function introspector(): Promise<SeededClient> {
  return seedClient({ canIntrospect: true, tokenGrant: false, scopes: [] });
}

async function introspect(caller: SeededClient, token: string, extra: Record<string, string> = {}) {
  const res = await post(new URLSearchParams({ token, ...extra }), {
    url: INTROSPECT,
    auth: basicAuth(caller.clientId, caller.secret),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

async function revokeToken(caller: SeededClient, token: string, extra: Record<string, string> = {}) {
  return post(new URLSearchParams({ token, ...extra }), {
    url: REVOKE,
    auth: basicAuth(caller.clientId, caller.secret),
  });
}

/** A token signed like keymint's, with any header/claims, for forgery cases. */
async function forge(claims: Record<string, unknown>, header: Record<string, unknown>, key: string): Promise<string> {
  return new jose.SignJWT(claims).setProtectedHeader(header as jose.JWTHeaderParameters).sign(enc(key));
}

describe("introspection (RFC 7662)", () => {
  it("returns active with the token's claims for a valid token, no-store", async () => {
    const client = await seedClient({ scopes: ["read"], audiences: ["https://api.example.com"] });
    const token = await tokenFor(client);
    const { status, body, headers } = await introspect(await introspector(), token);
    expect(status).toBe(200);
    expect(headers.get("cache-control")).toBe("no-store");
    const claims = jose.decodeJwt(token);
    expect(body).toEqual({
      active: true,
      client_id: client.clientId,
      sub: client.clientId,
      scope: "read",
      aud: "https://api.example.com",
      iss: ORIGIN,
      exp: claims.exp,
      iat: claims.iat,
      jti: claims.jti,
      token_type: "Bearer",
    });
  });

  it("requires the caller to authenticate (401) and to hold --can-introspect (403 unauthorized_client)", async () => {
    const client = await seedClient();
    const token = await tokenFor(client);
    const anonymous = await post(new URLSearchParams({ token }), { url: INTROSPECT });
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { error: string }).error).toBe("invalid_client");
    const plain = await introspect(client, token);
    expect(plain.status).toBe(403);
    expect(plain.body.error).toBe("unauthorized_client");
  });

  it("requires the token parameter", async () => {
    const res = await post("token_type_hint=access_token", {
      url: INTROSPECT,
      auth: basicAuth((await introspector()).clientId, "x"),
    });
    expect(res.status).toBe(400);
  });

  describe("answers exactly {active:false} for every forged or dead token", async () => {
    const signingKey = env.TOKEN_SIGNING_KEY;
    const kid = await deriveKid(signingKey);
    const now = nowSeconds();
    const base = (id: string) => ({
      iss: ORIGIN,
      sub: id,
      client_id: id,
      aud: ORIGIN,
      iat: now,
      exp: now + 600,
      jti: crypto.randomUUID(),
    });
    const cases: [string, (c: SeededClient) => Promise<string>][] = [
      ["malformed", async () => "not.a.jwt"],
      ["garbage", async () => "%%%"],
      [
        "tampered payload",
        async (c) => {
          const [h, , s] = (await tokenFor(c)).split(".");
          const payload = jose.base64url.encode(JSON.stringify({ ...base(c.clientId), scope: "admin" }));
          return `${h}.${payload}.${s}`;
        },
      ],
      [
        "wrong key",
        async (c) =>
          forge(base(c.clientId), { alg: "HS256", typ: "at+jwt", kid }, "attacker-key-0123456789abcdefghijklmnop"),
      ],
      [
        "alg none",
        async (c) =>
          `${jose.base64url.encode(JSON.stringify({ alg: "none", typ: "at+jwt", kid }))}.${jose.base64url.encode(JSON.stringify(base(c.clientId)))}.`,
      ],
      ["alg HS512", async (c) => forge(base(c.clientId), { alg: "HS512", typ: "at+jwt", kid }, signingKey)],
      [
        "unknown kid",
        async (c) => forge(base(c.clientId), { alg: "HS256", typ: "at+jwt", kid: "unknown-kid" }, signingKey),
      ],
      ["wrong typ", async (c) => forge(base(c.clientId), { alg: "HS256", typ: "JWT", kid }, signingKey)],
      [
        "expired",
        async (c) =>
          forge(
            { ...base(c.clientId), iat: now - 7200, exp: now - 3600 },
            { alg: "HS256", typ: "at+jwt", kid },
            signingKey,
          ),
      ],
      [
        "foreign issuer",
        async (c) =>
          forge(
            { ...base(c.clientId), iss: "https://other.example" },
            { alg: "HS256", typ: "at+jwt", kid },
            signingKey,
          ),
      ],
      ["unknown client", async () => forge(base("no-such-client"), { alg: "HS256", typ: "at+jwt", kid }, signingKey)],
      [
        "longer-lived than keymint issues (forged with a leaked key)",
        async (c) =>
          forge(
            { ...base(c.clientId), exp: now + 10 * 365 * 86_400 },
            { alg: "HS256", typ: "at+jwt", kid },
            signingKey,
          ),
      ],
      [
        "non-canonical signature encoding",
        async (c) => {
          const token = await tokenFor(c);
          const last = token.at(-1) as string;
          // The last base64url character of a 32-byte MAC carries 2 unused bits: flip one of them.
          const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
          return token.slice(0, -1) + (alphabet[alphabet.indexOf(last) ^ 1] as string);
        },
      ],
    ];
    for (const [name, make] of cases) {
      it(name, async () => {
        const client = await seedClient();
        const result = await introspect(await introspector(), await make(client));
        expect(result.status).toBe(200);
        expect(result.body).toEqual({ active: false });
      });
    }
    it("control: a correctly forged token with the real key is active (the cases above are not vacuous)", async () => {
      const client = await seedClient();
      const token = await forge(base(client.clientId), { alg: "HS256", typ: "at+jwt", kid }, signingKey);
      expect((await introspect(await introspector(), token)).body.active).toBe(true);
    });
  });

  it("reports a token inactive once its client is disabled or deleted", async () => {
    const caller = await introspector();
    const disabled = await seedClient();
    const t1 = await tokenFor(disabled);
    await putRecord(setEnabled(disabled.record, false, nowSeconds()));
    expect((await introspect(caller, t1)).body).toEqual({ active: false });
    const deleted = await seedClient();
    const t2 = await tokenFor(deleted);
    await env.CLIENTS.delete(clientKey(deleted.clientId));
    expect((await introspect(caller, t2)).body).toEqual({ active: false });
  });

  it("kills every earlier token of a client with one write (revoke-tokens), and only those", async () => {
    const caller = await introspector();
    const client = await seedClient();
    const before = await tokenFor(client);
    await putRecord(revokeTokensBefore(client.record, nowSeconds()));
    expect((await introspect(caller, before)).body).toEqual({ active: false });
    await new Promise((r) => setTimeout(r, 1100));
    const after = await tokenFor(client);
    expect((await introspect(caller, after)).body.active).toBe(true);
  });
});

describe("revocation (RFC 7009)", () => {
  it("revokes the caller's own token: 200, then inactive at introspection, stored with the token's expiry", async () => {
    const client = await seedClient();
    const token = await tokenFor(client);
    const res = await revokeToken(client, token, { token_type_hint: "access_token" });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect((await introspect(await introspector(), token)).body).toEqual({ active: false });
    const { jti, exp } = jose.decodeJwt(token);
    const stored = await env.CLIENTS.getWithMetadata(`revoked:${jti}`);
    expect(JSON.parse(stored.value as string)).toMatchObject({ client_id: client.clientId, exp });
    const listed = (await env.CLIENTS.list({ prefix: `revoked:${jti}` })).keys[0];
    expect(listed?.expiration).toBe(exp);
  });

  it("answers 200 for unknown, malformed, expired and already revoked tokens", async () => {
    const client = await seedClient();
    const token = await tokenFor(client);
    expect((await revokeToken(client, token)).status).toBe(200);
    for (const t of [token, "garbage", "a.b.c"]) expect((await revokeToken(client, t)).status).toBe(200);
  });

  it("refuses to let one client revoke another client's token, which stays active", async () => {
    const owner = await seedClient();
    const other = await seedClient();
    const token = await tokenFor(owner);
    const res = await revokeToken(other, token);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe("unauthorized_client");
    expect((await introspect(await introspector(), token)).body.active).toBe(true);
  });

  it("requires client authentication and the token parameter", async () => {
    const client = await seedClient();
    const token = await tokenFor(client);
    expect((await post(new URLSearchParams({ token }), { url: REVOKE })).status).toBe(401);
    const missing = await post("token_type_hint=access_token", {
      url: REVOKE,
      auth: basicAuth(client.clientId, client.secret),
    });
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { error: string }).error).toBe("invalid_request");
  });

  it("treats token_type_hint as advisory: an unknown hint still revokes (RFC 7009 section 2.1)", async () => {
    const client = await seedClient();
    const token = await tokenFor(client);
    const res = await revokeToken(client, token, { token_type_hint: "id_token" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBeNull();
    expect((await introspect(await introspector(), token)).body).toEqual({ active: false });
  });
});

describe("the revocation window: lookups cached per isolate (CLIENT_CACHE_TTL, docs/introspection.md)", () => {
  const CACHED = { CLIENT_CACHE_TTL: "30" };

  /** Introspection through the worker with other settings (the same KV binding: the same isolate caches). */
  async function introspectWith(settings: Record<string, string>, caller: SeededClient, token: string) {
    const request = new Request(INTROSPECT, {
      method: "POST",
      headers: { "Content-Type": FORM, Authorization: basicAuth(caller.clientId, caller.secret) },
      body: new URLSearchParams({ token }),
    });
    const res = await worker.fetch(request, { ...env, ...settings } as typeof env, createExecutionContext());
    return (await res.json()) as Record<string, unknown>;
  }

  /** What an /oauth2/revoke in another location leaves in KV. */
  async function revokedElsewhere(token: string): Promise<void> {
    const { jti, exp } = jose.decodeJwt(token) as { jti: string; exp: number };
    await env.CLIENTS.put(`revoked:${jti}`, JSON.stringify({ client_id: "x", revoked_at: nowSeconds(), exp }));
  }

  it("answers a repeated introspection from the isolate's caches, with no KV read at all", async () => {
    const caller = await introspector();
    const token = await tokenFor(await seedClient());
    expect((await introspectWith(CACHED, caller, token)).active).toBe(true);
    const before = { records: kvStoreStats.reads, revocations: revocationStats.reads };
    for (let i = 0; i < 3; i++) expect((await introspectWith(CACHED, caller, token)).active).toBe(true);
    expect({ records: kvStoreStats.reads, revocations: revocationStats.reads }).toEqual(before);
  });

  it("sees a revocation made elsewhere once its cached answer is older than CLIENT_CACHE_TTL, at once without the cache", async () => {
    const caller = await introspector();
    const token = await tokenFor(await seedClient());
    expect((await introspectWith(CACHED, caller, token)).active).toBe(true);
    await revokedElsewhere(token);
    // Within the window this isolate still answers from its cached "not revoked"...
    expect((await introspectWith(CACHED, caller, token)).active).toBe(true);
    // ...an isolate that caches nothing (CLIENT_CACHE_TTL=0) reads KV and sees it...
    expect(await introspectWith({ CLIENT_CACHE_TTL: "0" }, caller, token)).toEqual({ active: false });
    // ...and once the window has passed, so does this one.
    vi.useFakeTimers({ now: Date.now() + 31_000, toFake: ["Date"] });
    try {
      expect(await introspectWith(CACHED, caller, token)).toEqual({ active: false });
    } finally {
      vi.useRealTimers();
    }
  });

  it("sees a revocation made in the same isolate at once, despite a cached active answer, and for good", async () => {
    const caller = await introspector();
    const client = await seedClient();
    const token = await tokenFor(client);
    expect((await introspectWith(CACHED, caller, token)).active).toBe(true);
    expect((await revokeToken(client, token)).status).toBe(200);
    expect(await introspectWith(CACHED, caller, token)).toEqual({ active: false });
    await env.CLIENTS.delete(`revoked:${(jose.decodeJwt(token) as { jti: string }).jti}`);
    expect(await introspectWith(CACHED, caller, token)).toEqual({ active: false });
  });
});

describe("metadata (RFC 8414)", () => {
  it("publishes the endpoints, grant and auth methods; issuer equals the tokens' iss", async () => {
    const res = await post(null, {
      url: `${ORIGIN}/.well-known/oauth-authorization-server`,
      method: "GET",
      contentType: null,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const metadata = (await res.json()) as Record<string, unknown>;
    const methods = [
      "client_secret_basic",
      "client_secret_post",
      "private_key_jwt",
      "tls_client_auth",
      "self_signed_tls_client_auth",
    ];
    const algs = ["ES256", "EdDSA", "RS256", "PS256", "Ed25519"];
    expect(metadata).toEqual({
      issuer: ORIGIN,
      authorization_endpoint: `${ORIGIN}/oauth2/authorize`,
      token_endpoint: `${ORIGIN}/oauth2/token`,
      introspection_endpoint: `${ORIGIN}/oauth2/introspect`,
      revocation_endpoint: `${ORIGIN}/oauth2/revoke`,
      jwks_uri: `${ORIGIN}/.well-known/jwks.json`,
      registration_endpoint: `${ORIGIN}/oauth2/register`,
      grant_types_supported: ["client_credentials"],
      response_types_supported: [],
      token_endpoint_auth_methods_supported: methods,
      token_endpoint_auth_signing_alg_values_supported: algs,
      introspection_endpoint_auth_methods_supported: methods,
      introspection_endpoint_auth_signing_alg_values_supported: algs,
      revocation_endpoint_auth_methods_supported: methods,
      revocation_endpoint_auth_signing_alg_values_supported: algs,
      dpop_signing_alg_values_supported: algs,
      tls_client_certificate_bound_access_tokens: true,
    });
    const token = await tokenFor(await seedClient());
    expect(jose.decodeJwt(token).iss).toBe(metadata.issuer);
  });

  it("uses the configured ISSUER and SCOPES_SUPPORTED", async () => {
    const res = await worker.fetch(
      new Request(`${ORIGIN}/.well-known/oauth-authorization-server`),
      { ...env, ISSUER: "https://auth.example.com", SCOPES_SUPPORTED: "read write" } as typeof env,
      createExecutionContext(),
    );
    expect(await res.json()).toMatchObject({
      issuer: "https://auth.example.com",
      token_endpoint: "https://auth.example.com/oauth2/token",
      scopes_supported: ["read", "write"],
    });
  });

  it("answers 405 with Allow for POST", async () => {
    const res = await post("", { url: `${ORIGIN}/.well-known/oauth-authorization-server` });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, HEAD");
  });
});

describe("signing key rotation", () => {
  const OLD = "old-signing-key-0123456789abcdefghijklmnop";
  const NEW = "new-signing-key-0123456789abcdefghijklmnop";

  function call(url: string, body: URLSearchParams, auth: string, keys: Record<string, string>) {
    return worker.fetch(
      new Request(url, { method: "POST", headers: { "Content-Type": FORM, Authorization: auth }, body }),
      { ...env, ...keys } as typeof env,
      createExecutionContext(),
    );
  }

  it("keeps tokens of the previous key valid while it is listed, and rejects them once retired", async () => {
    const client = await seedClient();
    const caller = await introspector();
    const auth = basicAuth(client.clientId, client.secret);
    const grant = () => new URLSearchParams({ grant_type: "client_credentials" });
    const oldToken = (
      (await (await call(`${ORIGIN}/oauth2/token`, grant(), auth, { TOKEN_SIGNING_KEY: OLD })).json()) as {
        access_token: string;
      }
    ).access_token;
    expect(jose.decodeProtectedHeader(oldToken).kid).toBe(await deriveKid(OLD));

    const check = async (token: string, keys: Record<string, string>) =>
      (await (
        await call(INTROSPECT, new URLSearchParams({ token }), basicAuth(caller.clientId, caller.secret), keys)
      ).json()) as { active: boolean };

    const rotated = { TOKEN_SIGNING_KEY: NEW, TOKEN_VERIFICATION_KEYS: `${OLD}\n` };
    const newToken = (
      (await (await call(`${ORIGIN}/oauth2/token`, grant(), auth, rotated)).json()) as { access_token: string }
    ).access_token;
    expect(jose.decodeProtectedHeader(newToken).kid).toBe(await deriveKid(NEW));
    expect((await check(oldToken, rotated)).active).toBe(true);
    expect((await check(newToken, rotated)).active).toBe(true);

    const retired = { TOKEN_SIGNING_KEY: NEW, TOKEN_VERIFICATION_KEYS: "" };
    expect((await check(oldToken, retired)).active).toBe(false);
    expect((await check(newToken, retired)).active).toBe(true);
  });
});

describe("audiences (RFC 8707)", () => {
  it("picks an allowed audience with resource, defaults to the first, refuses others with invalid_target", async () => {
    const client = await seedClient({ audiences: ["https://a.example.com", "https://b.example.com"] });
    expect(jose.decodeJwt(await tokenFor(client)).aud).toBe("https://a.example.com");
    expect(jose.decodeJwt(await tokenFor(client, { resource: "https://b.example.com" })).aud).toBe(
      "https://b.example.com",
    );
    const both = await post(
      "grant_type=client_credentials&resource=https%3A%2F%2Fa.example.com&resource=https%3A%2F%2Fb.example.com",
      {
        auth: basicAuth(client.clientId, client.secret),
      },
    );
    expect(jose.decodeJwt(((await both.json()) as { access_token: string }).access_token).aud).toEqual([
      "https://a.example.com",
      "https://b.example.com",
    ]);
    for (const resource of ["https://evil.example.com", "not a uri", "https://a.example.com#x"]) {
      const res = await requestToken(client, { resource });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toBe("invalid_target");
    }
  });
});
