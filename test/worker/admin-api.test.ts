/**
 * The admin API (/admin/clients) through the worker's fetch: admin tokens (RFC 6750 §3, RFC 9449 §7), every call,
 * validation naming the field, If-Match, paging, audit lines, throttling, and that no answer leaks a secret.
 */

import { env } from "cloudflare:workers";
import * as jose from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { setEnabled } from "../../src/clients/lifecycle.ts";
import { clientKey } from "../../src/clients/record.ts";
import { deriveKid } from "../../src/jwt/keys.ts";
import { ADMIN, adminToken, call, READ, seedAdmin, tokenOf, WRITE } from "./admin-helpers.ts";
import {
  basicAuth,
  FORM,
  freshMinute,
  INVALID_CLIENT_BODY,
  nowSeconds,
  ORIGIN,
  post,
  putRecord,
  randomIp,
  requestToken,
  seedClient,
  TOKEN_URL,
} from "./helpers.ts";

afterEach(() => {
  vi.restoreAllMocks();
});

const CLIENT_FIELDS = [
  "client_id",
  "name",
  "scopes",
  "audiences",
  "ttl",
  "enabled",
  "grant_types",
  "can_introspect",
  "quota_per_minute",
  "tokens_revoked_before",
  "dpop_bound_access_tokens",
  "token_endpoint_auth_method",
  "jwks",
  "jwks_uri",
  "federation",
  "tls_client_auth_subject_dn",
  "tls_client_auth_san_dns",
  "tls_client_auth_san_uri",
  "tls_client_auth_san_ip",
  "tls_client_auth_san_email",
  "tls_client_certificate_thumbprints",
  "tls_client_certificate_bound_access_tokens",
  "claims",
  "secrets",
  "created_at",
  "updated_at",
  "secret_rotated_at",
];

async function createClient(token: string, body: Record<string, unknown> = { name: "svc", scopes: ["read"] }) {
  const res = await call(ADMIN, { method: "POST", token, body });
  expect(res.status, res.text).toBe(201);
  return res.json as Record<string, unknown> & { client_id: string; client_secret: string };
}

async function stored(id: string): Promise<Record<string, unknown> | null> {
  const raw = await env.CLIENTS.get(clientKey(id));
  return raw === null ? null : JSON.parse(raw);
}

describe("admin tokens (RFC 6750 section 3)", () => {
  it("answers 401 with a Bearer challenge without error code when there is no token (RFC 6750 section 3.1)", async () => {
    for (const authorization of [undefined, "Basic Zm9vOmJhcg==", "Bearer", "Token abc"]) {
      const res = await call(ADMIN, { headers: authorization === undefined ? {} : { Authorization: authorization } });
      expect(res.status).toBe(401);
      const challenge = res.headers.get("www-authenticate") ?? "";
      expect(challenge).toMatch(/^Bearer realm="keymint"/);
      expect(challenge).not.toContain("error=");
      expect(challenge).toContain("DPoP algs=");
      expect(res.json).toEqual({ error: "invalid_request", error_description: expect.any(String) });
      expect(res.headers.get("cache-control")).toBe("no-store");
    }
  });

  it("refuses a forged, expired, foreign-issuer or other-audience token with 401 invalid_token", async () => {
    const admin = await seedAdmin();
    const kid = await deriveKid(env.TOKEN_SIGNING_KEY);
    const now = nowSeconds();
    const base = { iss: ORIGIN, sub: admin.clientId, client_id: admin.clientId, aud: ORIGIN, scope: WRITE, jti: "j1" };
    const sign = (claims: Record<string, unknown>, key = env.TOKEN_SIGNING_KEY) =>
      new jose.SignJWT(claims)
        .setProtectedHeader({ alg: "HS256", typ: "at+jwt", kid })
        .sign(new TextEncoder().encode(key));
    const cases: [string, string][] = [
      [await sign({ ...base, iat: now, exp: now + 60 }, "another-signing-key-0123456789abcdefghij"), "invalid"],
      [await sign({ ...base, iat: now - 7200, exp: now - 3600 }), "expired"],
      [await sign({ ...base, iss: "https://evil.example", iat: now, exp: now + 60 }), "another issuer"],
      ["not.a.jwt", "invalid"],
    ];
    const foreign = await seedAdmin(WRITE, { audiences: ["https://api.example.com"] });
    cases.push([await tokenOf(foreign), "aud"]);
    for (const [token, words] of cases) {
      const res = await call(ADMIN, { token });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer error="invalid_token", error_description="[^"]+"/);
      expect(res.json.error).toBe("invalid_token");
      expect(res.json.error_description).toContain(words);
    }
  });

  it("refuses a revoked token, and every token of a disabled, deleted or revoke-tokens'd admin (401 invalid_token)", async () => {
    const revokedAdmin = await seedAdmin();
    const revoked = await tokenOf(revokedAdmin);
    const rv = await post(new URLSearchParams({ token: revoked }), {
      url: `${ORIGIN}/oauth2/revoke`,
      auth: basicAuth(revokedAdmin.clientId, revokedAdmin.secret),
    });
    expect(rv.status).toBe(200);

    const disabledAdmin = await seedAdmin();
    const disabledToken = await tokenOf(disabledAdmin);
    await putRecord(setEnabled(disabledAdmin.record, false, nowSeconds()));

    const deletedAdmin = await seedAdmin();
    const deletedToken = await tokenOf(deletedAdmin);
    await env.CLIENTS.delete(clientKey(deletedAdmin.clientId));

    const self = await seedAdmin();
    const selfToken = await tokenOf(self);
    const cut = await call(`${ADMIN}/${self.clientId}/revoke-tokens`, { method: "POST", token: selfToken });
    expect(cut.status).toBe(200);

    for (const [token, words] of [
      [revoked, "revoked"],
      [disabledToken, "disabled"],
      [deletedToken, "no longer exists"],
      [selfToken, "revoked"],
    ] as const) {
      const res = await call(ADMIN, { token });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer error="invalid_token"/);
      expect(res.json.error_description).toContain(words);
    }
  });

  it("answers 403 insufficient_scope with the needed scope: read tokens may GET only, others may nothing", async () => {
    const reader = await adminToken(READ);
    expect((await call(ADMIN, { token: reader })).status).toBe(200);
    const denied = await call(ADMIN, { method: "POST", token: reader, body: { name: "x" } });
    expect(denied.status).toBe(403);
    expect(denied.headers.get("www-authenticate")).toBe(
      'Bearer error="insufficient_scope", error_description="The access token lacks scope keymint:clients:write", scope="keymint:clients:write"',
    );
    expect(denied.json).toEqual({
      error: "insufficient_scope",
      error_description: "The access token lacks scope keymint:clients:write",
    });
    const plain = await tokenOf(await seedClient({ scopes: ["read", "write"] }));
    const none = await call(ADMIN, { token: plain });
    expect(none.status).toBe(403);
    expect(none.headers.get("www-authenticate")).toContain('scope="keymint:clients:read"');
  });

  it("accepts an admin that authenticated with a key (private_key_jwt) like any other: the token is what counts", async () => {
    const pair = await jose.generateKeyPair("ES256", { extractable: true });
    const jwk = { ...(await jose.exportJWK(pair.publicKey)), alg: "ES256", kid: "k1" };
    const token = await adminToken();
    const keyAdmin = await createClient(token, { name: "key admin", scopes: [WRITE], jwks: { keys: [jwk] } });
    expect(keyAdmin.client_secret).toBeUndefined();
    const assertion = await new jose.SignJWT({ jti: crypto.randomUUID() })
      .setProtectedHeader({ alg: "ES256", kid: "k1" })
      .setIssuer(keyAdmin.client_id)
      .setSubject(keyAdmin.client_id)
      .setAudience(ORIGIN)
      .setIssuedAt()
      .setExpirationTime("1m")
      .sign(pair.privateKey);
    const res = await post(
      new URLSearchParams({
        grant_type: "client_credentials",
        client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion: assertion,
      }),
      { contentType: FORM },
    );
    expect(res.status).toBe(200);
    const keyToken = ((await res.json()) as { access_token: string }).access_token;
    expect((await call(ADMIN, { token: keyToken })).status).toBe(200);
  });
});

describe("DPoP-bound admin tokens (RFC 9449 section 7)", () => {
  async function dpopKey() {
    const pair = await jose.generateKeyPair("ES256", { extractable: true });
    return { privateKey: pair.privateKey, jwk: await jose.exportJWK(pair.publicKey) };
  }
  async function proof(key: { privateKey: CryptoKey; jwk: jose.JWK }, htm: string, htu: string, token?: string) {
    const claims: Record<string, unknown> = { htm, htu, iat: nowSeconds(), jti: crypto.randomUUID() };
    if (token !== undefined) {
      const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
      claims.ath = jose.base64url.encode(new Uint8Array(digest));
    }
    return new jose.SignJWT(claims)
      .setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk: key.jwk })
      .sign(key.privateKey);
  }

  it("needs the DPoP scheme and a valid proof for its key; as Bearer or without a proof it is 401", async () => {
    const admin = await seedAdmin(WRITE, { requireDpop: true });
    const key = await dpopKey();
    const issued = await post("grant_type=client_credentials", {
      auth: basicAuth(admin.clientId, admin.secret),
      headers: { DPoP: await proof(key, "POST", TOKEN_URL) },
    });
    expect(issued.status).toBe(200);
    const { access_token: token, token_type } = (await issued.json()) as { access_token: string; token_type: string };
    expect(token_type).toBe("DPoP");

    const asBearer = await call(ADMIN, { token });
    expect(asBearer.status).toBe(401);
    expect(asBearer.headers.get("www-authenticate")).toMatch(
      /^Bearer error="invalid_token".*, DPoP error="invalid_token"/,
    );

    const noProof = await call(ADMIN, { headers: { Authorization: `DPoP ${token}` } });
    expect(noProof.status).toBe(401);
    expect(noProof.json.error).toBe("invalid_dpop_proof");
    expect(noProof.headers.get("www-authenticate")).toMatch(/^DPoP error="invalid_dpop_proof"/);

    const wrongKey = await call(ADMIN, {
      headers: { Authorization: `DPoP ${token}`, DPoP: await proof(await dpopKey(), "GET", ADMIN, token) },
    });
    expect(wrongKey.status).toBe(401);
    expect(wrongKey.json.error).toBe("invalid_token");

    const wrongUrl = await call(ADMIN, {
      headers: { Authorization: `DPoP ${token}`, DPoP: await proof(key, "GET", `${ORIGIN}/elsewhere`, token) },
    });
    expect(wrongUrl.status).toBe(401);
    expect(wrongUrl.json.error).toBe("invalid_dpop_proof");

    const good = await proof(key, "GET", ADMIN, token);
    const ok = await call(ADMIN, { headers: { Authorization: `DPoP ${token}`, DPoP: good } });
    expect(ok.status).toBe(200);
    const replayed = await call(ADMIN, { headers: { Authorization: `DPoP ${token}`, DPoP: good } });
    expect(replayed.status).toBe(401);
    expect(replayed.json.error_description).toContain("already used");
  });

  it("refuses a Bearer token presented with the DPoP scheme", async () => {
    const token = await adminToken();
    const res = await call(ADMIN, { headers: { Authorization: `DPoP ${token}` } });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^DPoP error="invalid_token"/);
  });
});

describe("/admin/clients calls", () => {
  it("creates a secret client: 201 with the client object and its secret (the only time), which works at once", async () => {
    const token = await adminToken();
    const res = await call(ADMIN, {
      method: "POST",
      token,
      body: {
        name: "billing",
        scopes: ["read", "write"],
        audiences: ["https://api.example.com"],
        ttl: 600,
        can_introspect: true,
      },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("etag")).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = res.json;
    expect(Object.keys(body)).toEqual([
      "client_id",
      "client_secret",
      "client_secret_expires_at",
      ...CLIENT_FIELDS.slice(1),
    ]);
    expect(body).toMatchObject({
      name: "billing",
      scopes: ["read", "write"],
      audiences: ["https://api.example.com"],
      ttl: 600,
      enabled: true,
      can_introspect: true,
      token_endpoint_auth_method: "client_secret_basic",
      client_secret_expires_at: 0,
    });
    expect(body.client_id).toMatch(/^[0-9a-f]{32}$/);
    expect(body.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const issued = await requestToken({ clientId: body.client_id as string, secret: body.client_secret as string });
    expect(issued.status).toBe(200);
    expect(((await issued.json()) as { expires_in: number }).expires_in).toBe(600);
    const shown = await call(`${ADMIN}/${body.client_id}`, { token });
    expect(shown.status).toBe(200);
    expect(Object.keys(shown.json)).toEqual(CLIENT_FIELDS);
    expect(shown.json.client_secret).toBeUndefined();
    expect(shown.headers.get("etag")).toBe(res.headers.get("etag"));
  });

  it("creates with a chosen client_id and an imported secret; an existing client_id is 409 and changes nothing", async () => {
    const token = await adminToken();
    const id = `chosen-${crypto.randomUUID()}`;
    const secret = "imported-secret-0123456789-abcdefghijklmnop";
    const created = await createClient(token, { name: "chosen", client_id: id, client_secret: secret });
    expect(created.client_id).toBe(id);
    expect(created.client_secret).toBe(secret);
    expect((await requestToken({ clientId: id, secret })).status).toBe(200);
    const before = await env.CLIENTS.get(clientKey(id));
    const again = await call(ADMIN, { method: "POST", token, body: { name: "other", client_id: id } });
    expect(again.status).toBe(409);
    expect(again.json).toEqual({
      error: "invalid_request",
      error_description: "A client with this client_id already exists",
    });
    expect(await env.CLIENTS.get(clientKey(id))).toBe(before);
  });

  it("creates key clients (jwks, jwks_uri, federation) without a secret", async () => {
    const token = await adminToken();
    const jwk = {
      ...(await jose.exportJWK((await jose.generateKeyPair("ES256", { extractable: true })).publicKey)),
      alg: "ES256",
    };
    const a = await createClient(token, { name: "jwks", jwks: { keys: [jwk] } });
    expect(a.client_secret).toBeUndefined();
    expect(a.token_endpoint_auth_method).toBe("private_key_jwt");
    expect(a.jwks).toEqual({ keys: [{ ...jwk, use: "sig" }] });
    const b = await createClient(token, { name: "uri", jwks_uri: "https://client.example.com/jwks.json" });
    expect(b.jwks_uri).toBe("https://client.example.com/jwks.json");
    const c = await createClient(token, {
      name: "ci",
      scopes: ["deploy"],
      federation: {
        issuer: "https://token.actions.githubusercontent.com",
        subject: "repo:acme/app:ref:refs/heads/main",
      },
    });
    expect(c.federation).toEqual({
      issuer: "https://token.actions.githubusercontent.com",
      subject: "repo:acme/app:ref:refs/heads/main",
      audience: null,
    });
    expect(c.client_secret).toBeUndefined();
  });

  it("answers 400 invalid_request naming the field for invalid JSON, wrong types and invalid values, and writes nothing", async () => {
    const token = await adminToken();
    const before = (await env.CLIENTS.list({ prefix: "client:" })).keys.length;
    const cases: [Record<string, unknown> | string, string][] = [
      ["{not json", "not valid JSON"],
      ["[1,2]", "JSON object"],
      [{}, "name is required"],
      [{ name: "" }, "name"],
      [{ name: 42 }, "name must be of type string"],
      [{ name: "x", scopes: "read" }, "scopes must be of type array"],
      [{ name: "x", scopes: ["ok", 'bad"quote'] }, "scopes"],
      [{ name: "x", audiences: ["has space"] }, "audiences"],
      [{ name: "x", ttl: 5 }, "ttl"],
      [{ name: "x", ttl: 100000 }, "ttl"],
      [{ name: "x", ttl: 90.5 }, "ttl must be an integer"],
      [{ name: "x", quota_per_minute: 1 }, "quota_per_minute"],
      [{ name: "x", grant_types: ["authorization_code"] }, "grant_types"],
      [{ name: "x", client_id: "has space" }, "client_id"],
      [{ name: "x", client_secret: "short" }, "client_secret"],
      [{ name: "x", jwks: { keys: [{ kty: "oct", k: "abc" }] } }, "jwks"],
      [{ name: "x", jwks_uri: "http://example.com/jwks" }, "jwks_uri"],
      [
        { name: "x", jwks_uri: "https://a.example/j", federation: { issuer: "https://b.example", subject: "s" } },
        "federation",
      ],
      [{ name: "x", federation: { issuer: "https://b.example" } }, "federation.subject"],
      [{ name: "x", colour: "blue" }, "unknown field colour"],
      [{ name: "x", token_endpoint_auth_method: "private_key_jwt" }, "token_endpoint_auth_method"],
      [{ name: "x", client_secret_expires_at: 12 }, "client_secret_expires_at"],
    ];
    for (const [body, words] of cases) {
      const res = await call(
        ADMIN,
        typeof body === "string"
          ? { method: "POST", token, raw: body, headers: { "Content-Type": "application/json" } }
          : { method: "POST", token, body },
      );
      expect(res.status, `${JSON.stringify(body)}: ${res.text}`).toBe(400);
      expect(res.json.error).toBe("invalid_request");
      expect(res.json.error_description).toContain(words);
    }
    expect((await env.CLIENTS.list({ prefix: "client:" })).keys.length).toBe(before);
  });

  it("wants application/json (415) within 64 KiB (413)", async () => {
    const token = await adminToken();
    const form = await call(ADMIN, { method: "POST", token, raw: "name=x", headers: { "Content-Type": FORM } });
    expect(form.status).toBe(415);
    expect(form.json.error).toBe("invalid_request");
    const big = await call(ADMIN, { method: "POST", token, body: { name: "x", padding: "a".repeat(70_000) } });
    expect(big.status).toBe(413);
  });

  it("refuses a body that is not valid UTF-8 (RFC 8259 §8.1) with 400 instead of reading U+FFFD into a field", async () => {
    const token = await adminToken();
    const before = (await env.CLIENTS.list({ prefix: "client:" })).keys.length;
    const bytes = new Uint8Array([
      ...new TextEncoder().encode('{"name":"caf'),
      0xe9,
      ...new TextEncoder().encode('"}'),
    ]);
    const res = await call(ADMIN, {
      method: "POST",
      token,
      raw: bytes,
      headers: { "Content-Type": "application/json" },
    });
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ error: "invalid_request", error_description: "The request body is not valid UTF-8" });
    expect((await env.CLIENTS.list({ prefix: "client:" })).keys.length).toBe(before);
  });

  it("updates as a JSON merge patch: left-out fields stay, null resets, 404 for an unknown id", async () => {
    const token = await adminToken();
    const c = await createClient(token, { name: "svc", scopes: ["read"], ttl: 900, quota_per_minute: 100 });
    const res = await call(`${ADMIN}/${c.client_id}`, {
      method: "PATCH",
      token,
      body: { name: "renamed", audiences: ["https://api.example.com"], ttl: null, quota_per_minute: null },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({
      name: "renamed",
      scopes: ["read"],
      audiences: ["https://api.example.com"],
      ttl: null,
      quota_per_minute: null,
    });
    expect(res.json.client_secret).toBeUndefined();
    expect((await requestToken({ clientId: c.client_id, secret: c.client_secret })).status).toBe(200);
    const bad = await call(`${ADMIN}/${c.client_id}`, { method: "PATCH", token, body: { ttl: 1 } });
    expect(bad.status).toBe(400);
    expect((await stored(c.client_id))?.ttl).toBeNull();
    const unknown = await call(`${ADMIN}/no-such-client`, { method: "PATCH", token, body: { name: "x" } });
    expect(unknown.status).toBe(404);
    expect(unknown.json).toEqual({ error: "invalid_request", error_description: "No client with this client_id" });
    const readOnly = await call(`${ADMIN}/${c.client_id}`, { method: "PATCH", token, body: { client_id: "other" } });
    expect(readOnly.status).toBe(400);
    expect(readOnly.json.error_description).toContain("client_id");
    const merged = await call(`${ADMIN}/${c.client_id}`, {
      method: "PATCH",
      token,
      body: { federation: { issuer: "https://ci.example.com", subject: "job-1" } },
      headers: { "Content-Type": "application/merge-patch+json" },
    });
    expect(merged.status).toBe(200);
    expect(merged.json.token_endpoint_auth_method).toBe("private_key_jwt");
    expect(merged.json.secrets).toEqual([]);
    const subject = await call(`${ADMIN}/${c.client_id}`, {
      method: "PATCH",
      token,
      body: { federation: { subject: "job-2" } },
    });
    expect(subject.json.federation).toEqual({ issuer: "https://ci.example.com", subject: "job-2", audience: null });
    expect((await requestToken({ clientId: c.client_id, secret: c.client_secret })).status).toBe(401);
  });

  it("honours If-Match: a stale ETag is 412 and changes nothing; the current one or * passes", async () => {
    const token = await adminToken();
    const c = await createClient(token);
    const first = await call(`${ADMIN}/${c.client_id}`, { token });
    const etag = first.headers.get("etag") as string;
    const changed = await call(`${ADMIN}/${c.client_id}`, {
      method: "PATCH",
      token,
      body: { name: "a" },
      headers: { "If-Match": etag },
    });
    expect(changed.status).toBe(200);
    expect(changed.headers.get("etag")).not.toBe(etag);
    const stale = await call(`${ADMIN}/${c.client_id}`, {
      method: "PATCH",
      token,
      body: { name: "b" },
      headers: { "If-Match": etag },
    });
    expect(stale.status).toBe(412);
    expect((await stored(c.client_id))?.name).toBe("a");
    const staleDelete = await call(`${ADMIN}/${c.client_id}`, {
      method: "DELETE",
      token,
      headers: { "If-Match": etag },
    });
    expect(staleDelete.status).toBe(412);
    const star = await call(`${ADMIN}/${c.client_id}/disable`, { method: "POST", token, headers: { "If-Match": "*" } });
    expect(star.status).toBe(200);
  });

  it("rotates the secret, with grace keeping the old one valid; a key client has no secret to rotate (400)", async () => {
    const token = await adminToken();
    const c = await createClient(token);
    const now = nowSeconds();
    const res = await call(`${ADMIN}/${c.client_id}/secret`, { method: "POST", token, body: { grace_seconds: 3600 } });
    expect(res.status, res.text).toBe(200);
    expect(res.json.client_id).toBe(c.client_id);
    expect(res.json.client_secret).not.toBe(c.client_secret);
    expect(res.json.client_secret_expires_at).toBe(0);
    expect(res.json.previous_secret_expires_at).toBeGreaterThanOrEqual(now + 3600);
    expect((await requestToken({ clientId: c.client_id, secret: c.client_secret })).status).toBe(200);
    expect((await requestToken({ clientId: c.client_id, secret: res.json.client_secret as string })).status).toBe(200);
    const noGrace = await call(`${ADMIN}/${c.client_id}/secret`, { method: "POST", token });
    expect(noGrace.status).toBe(200);
    expect(noGrace.json.previous_secret_expires_at).toBeNull();
    expect((await requestToken({ clientId: c.client_id, secret: res.json.client_secret as string })).status).toBe(401);
    const negative = await call(`${ADMIN}/${c.client_id}/secret`, {
      method: "POST",
      token,
      body: { grace_seconds: -1 },
    });
    expect(negative.status).toBe(400);
    expect(negative.json.error_description).toContain("grace_seconds");
    const keyClient = await createClient(token, { name: "k", jwks_uri: "https://client.example.com/jwks.json" });
    const refused = await call(`${ADMIN}/${keyClient.client_id}/secret`, { method: "POST", token });
    expect(refused.status).toBe(400);
    expect(refused.json.error_description).toContain("token_endpoint_auth_method");
  });

  it("disables, enables, revokes tokens and deletes; each takes effect on the token endpoint and introspection", async () => {
    const token = await adminToken();
    const c = await createClient(token);
    const creds = { clientId: c.client_id, secret: c.client_secret };
    const before = await tokenOf(creds as never);
    const disabled = await call(`${ADMIN}/${c.client_id}/disable`, { method: "POST", token });
    expect(disabled.status).toBe(200);
    expect(disabled.json.enabled).toBe(false);
    const refused = await requestToken(creds);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toEqual(INVALID_CLIENT_BODY);
    const enabled = await call(`${ADMIN}/${c.client_id}/enable`, { method: "POST", token });
    expect(enabled.json.enabled).toBe(true);
    expect((await requestToken(creds)).status).toBe(200);

    const introspector = await seedClient({ canIntrospect: true, tokenGrant: false, scopes: [] });
    const introspect = async (t: string) => {
      const res = await post(new URLSearchParams({ token: t }), {
        url: `${ORIGIN}/oauth2/introspect`,
        auth: basicAuth(introspector.clientId, introspector.secret),
      });
      return ((await res.json()) as { active: boolean }).active;
    };
    expect(await introspect(before)).toBe(true);
    const revoked = await call(`${ADMIN}/${c.client_id}/revoke-tokens`, { method: "POST", token });
    expect(revoked.status).toBe(200);
    expect(revoked.json.tokens_revoked_before).toBeGreaterThan(0);
    expect(await introspect(before)).toBe(false);

    const deleted = await call(`${ADMIN}/${c.client_id}`, { method: "DELETE", token });
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe("");
    expect(await stored(c.client_id)).toBeNull();
    expect((await requestToken(creds)).status).toBe(401);
    expect((await call(`${ADMIN}/${c.client_id}`, { token })).status).toBe(404);
    expect((await call(`${ADMIN}/${c.client_id}`, { method: "DELETE", token })).status).toBe(404);
  });

  it("pages the list in client_id order: cursor until there is none, every client exactly once", async () => {
    const token = await adminToken();
    const prefix = `page-${crypto.randomUUID().slice(0, 8)}-`;
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const id = `${prefix}${i}`;
      ids.push(id);
      await seedClient({ clientId: id });
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const res = await call(`${ADMIN}?limit=3${cursor === undefined ? "" : `&cursor=${encodeURIComponent(cursor)}`}`, {
        token,
      });
      expect(res.status).toBe(200);
      const clients = res.json.clients as { client_id: string }[];
      expect(clients.length).toBeLessThanOrEqual(3);
      seen.push(...clients.map((x) => x.client_id));
      cursor = res.json.cursor as string | undefined;
      pages++;
    } while (cursor !== undefined && pages < 1000);
    expect(pages).toBeGreaterThan(2);
    expect(seen).toEqual([...seen].sort());
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of ids) expect(seen).toContain(id);
    const bad = await call(`${ADMIN}?limit=0`, { token });
    expect(bad.status).toBe(400);
    expect(bad.json.error_description).toContain("limit");
  });

  it("lists 1 000 clients with one KV list page and ten bulk reads of 100 (linear in clients, no read per client)", async () => {
    const token = await adminToken();
    const record = (await seedClient()).record;
    const prefix = `k1000-${crypto.randomUUID().slice(0, 6)}-`;
    await Promise.all(
      Array.from({ length: 1000 }, (_, i) => {
        const id = `${prefix}${String(i).padStart(4, "0")}`;
        return env.CLIENTS.put(clientKey(id), JSON.stringify({ ...record, client_id: id }));
      }),
    );
    const list = vi.spyOn(env.CLIENTS, "list");
    const get = vi.spyOn(env.CLIENTS, "get");
    const res = await call(`${ADMIN}?limit=1000`, { token });
    expect(res.status, res.text).toBe(200);
    expect((res.json.clients as unknown[]).length).toBe(1000);
    expect(list).toHaveBeenCalledTimes(1);
    const bulk = get.mock.calls.filter(([keys]) => Array.isArray(keys));
    expect(bulk.map(([keys]) => (keys as string[]).length)).toEqual(Array(10).fill(100));
  });

  it("answers 405 with Allow for a wrong method and 404 JSON for an unknown admin path", async () => {
    const token = await adminToken();
    const put = await call(ADMIN, { method: "PUT", token, body: {} });
    expect(put.status).toBe(405);
    expect(put.headers.get("allow")).toBe("GET, HEAD, POST");
    const get = await call(`${ADMIN}/x/disable`, { token });
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
    const unknown = await call(`${ORIGIN}/admin/nothing`, { token });
    expect(unknown.status).toBe(404);
    expect(unknown.json.error).toBe("invalid_request");
  });

  it("answers 503 temporarily_unavailable when KV fails", async () => {
    const token = await adminToken();
    vi.spyOn(env.CLIENTS, "list").mockRejectedValue(new Error("KV is down"));
    const res = await call(ADMIN, { token });
    expect(res.status).toBe(503);
    expect(res.json.error).toBe("temporarily_unavailable");
    expect(res.headers.get("retry-after")).toBe("5");
  });
});

describe("audit and throttling", () => {
  it("writes one audit line per change naming the acting client, the action and the target", async () => {
    const admin = await seedAdmin();
    const token = await tokenOf(admin);
    const lines: Record<string, unknown>[] = [];
    vi.spyOn(console, "log").mockImplementation((line: string) => {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      if (parsed.event === "admin") lines.push(parsed);
    });
    const c = await createClient(token);
    await call(`${ADMIN}/${c.client_id}/disable`, { method: "POST", token });
    await call(`${ADMIN}/${c.client_id}`, { method: "DELETE", token });
    expect(lines.map((l) => [l.action, l.outcome, l.client_id, l.target_client_id])).toEqual([
      ["create", "ok", admin.clientId, c.client_id],
      ["disable", "ok", admin.clientId, c.client_id],
      ["delete", "ok", admin.clientId, c.client_id],
    ]);
    for (const line of lines) expect(JSON.stringify(line)).not.toContain(c.client_secret);
  });

  it("throttles failed admin-token checks by source (429 slow_down), while a valid token from it still works", async () => {
    const token = await adminToken();
    await freshMinute(20);
    const ip = randomIp();
    const forged = `${token.slice(0, -4)}AAAA`;
    const statuses: number[] = [];
    for (let i = 0; i < 35; i++) statuses.push((await call(ADMIN, { token: forged, ip })).status);
    expect(statuses.slice(0, 30).every((s) => s === 401)).toBe(true);
    expect(statuses.at(-1)).toBe(429);
    const limited = await call(ADMIN, { token: forged, ip });
    expect(limited.json.error).toBe("slow_down");
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await call(ADMIN, { token, ip })).status).toBe(200);
    expect((await call(ADMIN, { token: forged })).status).toBe(401);
  }, 70_000);
});
