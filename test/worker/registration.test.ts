/**
 * Dynamic client registration through the worker's fetch: RFC 7591 (an admin token as the §3 initial access
 * token, §2 metadata, §3.2 answers and errors) and RFC 7592 (read, update, delete with the registration access
 * token), plus openid-client's dynamicClientRegistration as an independent client.
 */

import { env, exports } from "cloudflare:workers";
import * as jose from "jose";
import * as oidc from "openid-client";
import { describe, expect, it } from "vitest";
import { clientKey } from "../../src/clients/record.ts";
import { ADMIN, adminToken, call, READ, REGISTER } from "./admin-helpers.ts";
import { FORM, INVALID_CLIENT_BODY, nowSeconds, ORIGIN, post, requestToken } from "./helpers.ts";

async function register(token: string | null, metadata: Record<string, unknown>) {
  return call(REGISTER, { method: "POST", token, body: metadata });
}

async function registered(metadata: Record<string, unknown> = { client_name: "agent", scope: "read write" }) {
  const res = await register(await adminToken(), metadata);
  expect(res.status, res.text).toBe(201);
  return res.json as Record<string, unknown> & {
    client_id: string;
    client_secret: string;
    registration_access_token: string;
    registration_client_uri: string;
  };
}

describe("RFC 7591 registration at /oauth2/register", () => {
  it("is advertised as registration_endpoint in the RFC 8414 metadata", async () => {
    const res = await call(`${ORIGIN}/.well-known/oauth-authorization-server`);
    expect(res.json.registration_endpoint).toBe(`${ORIGIN}/oauth2/register`);
  });

  it("registers a secret client: 201 with credentials, registration access token and URI, and the metadata (section 3.2.1)", async () => {
    const before = nowSeconds();
    const res = await register(await adminToken(), {
      client_name: "agent",
      scope: "read write",
      grant_types: ["client_credentials"],
      logo_uri: "https://agent.example/logo.png",
      software_id: "ignored-member",
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = res.json;
    expect(body).toEqual({
      client_id: expect.stringMatching(/^[0-9a-f]{32}$/),
      client_secret: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      client_id_issued_at: expect.any(Number),
      client_secret_expires_at: 0,
      registration_access_token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      registration_client_uri: `${ORIGIN}/oauth2/register/${body.client_id}`,
      client_name: "agent",
      scope: "read write",
      grant_types: ["client_credentials"],
      token_endpoint_auth_method: "client_secret_basic",
      dpop_bound_access_tokens: false,
      tls_client_certificate_bound_access_tokens: false,
    });
    expect(body.client_id_issued_at).toBeGreaterThanOrEqual(before);
    const issued = await requestToken({ clientId: body.client_id as string, secret: body.client_secret as string });
    expect(issued.status).toBe(200);
    expect(((await issued.json()) as { scope: string }).scope).toBe("read write");
    // Stored hashed: neither the registration access token nor the secret is in the record.
    const raw = (await env.CLIENTS.get(clientKey(body.client_id as string))) as string;
    expect(raw).not.toContain(body.registration_access_token as string);
    expect(raw).not.toContain(body.client_secret as string);
    // An admin sees the client like any other, without registration details.
    const shown = await call(`${ADMIN}/${body.client_id}`, { token: await adminToken(READ) });
    expect(shown.json.name).toBe("agent");
    expect(shown.json.registration).toBeUndefined();
  });

  it("registers client_secret_post and private_key_jwt (jwks or jwks_uri) clients", async () => {
    const post_ = await registered({ token_endpoint_auth_method: "client_secret_post" });
    expect(post_.token_endpoint_auth_method).toBe("client_secret_post");
    const res = await post(
      new URLSearchParams({
        grant_type: "client_credentials",
        client_id: post_.client_id,
        client_secret: post_.client_secret,
      }),
    );
    expect(res.status).toBe(200);
    const jwk = {
      ...(await jose.exportJWK((await jose.generateKeyPair("ES256", { extractable: true })).publicKey)),
      alg: "ES256",
    };
    const keyed = await registered({
      client_name: "k",
      token_endpoint_auth_method: "private_key_jwt",
      jwks: { keys: [jwk] },
    });
    expect(keyed.client_secret).toBeUndefined();
    expect(keyed.client_secret_expires_at).toBeUndefined();
    expect(keyed.token_endpoint_auth_method).toBe("private_key_jwt");
    expect(keyed.jwks).toEqual({ keys: [{ ...jwk, use: "sig" }] });
    const uri = await registered({
      token_endpoint_auth_method: "private_key_jwt",
      jwks_uri: "https://agent.example/jwks.json",
    });
    expect(uri.jwks_uri).toBe("https://agent.example/jwks.json");
    expect(uri.client_name).toBe(uri.client_id);
  });

  it("needs a keymint:clients:write admin token as the initial access token (401 without, 403 with read only)", async () => {
    const none = await register(null, { client_name: "x" });
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toMatch(/^Bearer realm="keymint"/);
    const read = await register(await adminToken(READ), { client_name: "x" });
    expect(read.status).toBe(403);
    expect(read.json.error).toBe("insufficient_scope");
    const forged = await register("a.b.c", { client_name: "x" });
    expect(forged.status).toBe(401);
    expect(forged.headers.get("www-authenticate")).toMatch(/^Bearer error="invalid_token"/);
  });

  it("refuses metadata keymint cannot honour with 400 invalid_client_metadata and registers nothing (section 3.2.2)", async () => {
    const token = await adminToken();
    const before = (await env.CLIENTS.list({ prefix: "client:" })).keys.length;
    for (const [metadata, words] of [
      [{ grant_types: ["authorization_code"] }, "grant_types"],
      [{ grant_types: ["client_credentials", "refresh_token"] }, "grant_types"],
      [{ redirect_uris: ["https://app.example/cb"] }, "redirect_uris"],
      [{ response_types: ["code"] }, "response_types"],
      [{ token_endpoint_auth_method: "private_key_jwt" }, "private_key_jwt"],
      [{ token_endpoint_auth_method: "none" }, "token_endpoint_auth_method"],
      [{ jwks_uri: "https://a.example/j" }, "jwks"],
      [{ token_endpoint_auth_method: "private_key_jwt", jwks_uri: "http://a.example/j" }, "jwks_uri"],
      [{ scope: "bad\\scope" }, "scope"],
      [{ client_name: 7 }, "client_name"],
      [{ client_name: "" }, "name"],
    ] as const) {
      const res = await register(token, metadata);
      expect(res.status, `${JSON.stringify(metadata)}: ${res.text}`).toBe(400);
      expect(res.json.error).toBe("invalid_client_metadata");
      expect(res.json.error_description).toContain(words);
    }
    expect((await env.CLIENTS.list({ prefix: "client:" })).keys.length).toBe(before);
  });
});

describe("RFC 7592 client configuration endpoint", () => {
  it("reads the metadata with the registration access token (no secret, no token)", async () => {
    const reg = await registered();
    const res = await call(reg.registration_client_uri, { token: reg.registration_access_token });
    expect(res.status).toBe(200);
    const { client_secret: _s, registration_access_token: _t, ...metadata } = reg;
    expect(res.json).toEqual(metadata);
  });

  it("answers 401 invalid_token for a missing, wrong or other client's token, and for an unknown client", async () => {
    const a = await registered();
    const b = await registered();
    const missing = await call(a.registration_client_uri);
    expect(missing.status).toBe(401);
    expect(missing.headers.get("www-authenticate")).toMatch(/^Bearer realm="keymint"/);
    for (const [uri, token] of [
      [a.registration_client_uri, b.registration_access_token],
      [a.registration_client_uri, "x".repeat(43)],
      [`${ORIGIN}/oauth2/register/no-such-client`, a.registration_access_token],
      [a.registration_client_uri, await adminToken()],
    ] as const) {
      const res = await call(uri, { token });
      expect(res.status).toBe(401);
      expect(res.json.error).toBe("invalid_token");
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer error="invalid_token"/);
    }
    const viaOther = await call(a.registration_client_uri, { method: "DELETE", token: b.registration_access_token });
    expect(viaOther.status).toBe(401);
    expect(await env.CLIENTS.get(clientKey(a.client_id))).not.toBeNull();
  });

  it("never lets a registration access token change how the client authenticates (a leaked token takes over nothing)", async () => {
    const reg = await registered({ client_name: "agent", scope: "read" });
    const before = await env.CLIENTS.get(clientKey(reg.client_id));
    for (const body of [
      { token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [{ kty: "EC", crv: "P-256", x: "x", y: "y" }] } },
      {
        token_endpoint_auth_method: "self_signed_tls_client_auth",
        tls_client_certificate_thumbprints: ["a".repeat(43)],
      },
      { token_endpoint_auth_method: "tls_client_auth", tls_client_auth_subject_dn: "CN=attacker" },
    ]) {
      const res = await call(reg.registration_client_uri, {
        method: "PUT",
        token: reg.registration_access_token,
        body: { client_id: reg.client_id, scope: "read", ...body },
      });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error).toBe("invalid_client_metadata");
      expect(res.json.error_description).toContain("token_endpoint_auth_method");
    }
    expect(await env.CLIENTS.get(clientKey(reg.client_id))).toBe(before);
    // client_secret_post and client_secret_basic are the same secret: switching between them is fine.
    const post = await call(reg.registration_client_uri, {
      method: "PUT",
      token: reg.registration_access_token,
      body: { client_id: reg.client_id, scope: "read", token_endpoint_auth_method: "client_secret_post" },
    });
    expect(post.status, post.text).toBe(200);
    expect(post.json.token_endpoint_auth_method).toBe("client_secret_post");
  });

  it("replaces the metadata with PUT (section 2.2): left-out fields reset, the scope may narrow but never widen", async () => {
    const reg = await registered({ client_name: "agent", scope: "read write", dpop_bound_access_tokens: true });
    const { client_secret: _s, registration_access_token: token, ...metadata } = reg;
    const put = await call(reg.registration_client_uri, {
      method: "PUT",
      token,
      body: { ...metadata, client_name: "renamed", scope: "read", dpop_bound_access_tokens: undefined },
    });
    expect(put.status, put.text).toBe(200);
    // A sender constraint left out stays (it only tightens, like the scope).
    expect(put.json).toEqual({ ...metadata, client_name: "renamed", scope: "read", dpop_bound_access_tokens: true });
    const loosen = await call(reg.registration_client_uri, {
      method: "PUT",
      token,
      body: { client_id: reg.client_id, scope: "read", dpop_bound_access_tokens: false },
    });
    expect(loosen.status).toBe(400);
    expect(loosen.json.error).toBe("invalid_client_metadata");
    expect(loosen.json.error_description).toContain("dpop_bound_access_tokens");
    expect(JSON.parse((await env.CLIENTS.get(clientKey(reg.client_id))) ?? "{}")).toMatchObject({
      scopes: ["read"],
      dpop_bound_access_tokens: true,
    });
    const wider = await call(reg.registration_client_uri, {
      method: "PUT",
      token,
      body: { client_id: reg.client_id, scope: "read keymint:clients:write" },
    });
    expect(wider.status).toBe(400);
    expect(wider.json.error).toBe("invalid_client_metadata");
    expect(wider.json.error_description).toContain("widen");
    const withSecret = await call(reg.registration_client_uri, {
      method: "PUT",
      token,
      body: { client_id: reg.client_id, client_secret: reg.client_secret, client_name: "again" },
    });
    expect(withSecret.status).toBe(200);
    const wrongSecret = await call(reg.registration_client_uri, {
      method: "PUT",
      token,
      body: { client_id: reg.client_id, client_secret: "not-the-secret-0123456789abcdefghijklmnop" },
    });
    expect(wrongSecret.status).toBe(400);
    const otherId = await call(reg.registration_client_uri, {
      method: "PUT",
      token,
      body: { client_id: "someone-else" },
    });
    expect(otherId.status).toBe(400);
    expect(otherId.json.error).toBe("invalid_request");
  });

  it("deletes the client (section 2.3): 204, then its token requests are 401 invalid_client and the URI is 401", async () => {
    const reg = await registered();
    const res = await call(reg.registration_client_uri, { method: "DELETE", token: reg.registration_access_token });
    expect(res.status).toBe(204);
    const refused = await requestToken({ clientId: reg.client_id, secret: reg.client_secret });
    expect(refused.status).toBe(401);
    expect(await refused.json()).toEqual(INVALID_CLIENT_BODY);
    expect((await call(reg.registration_client_uri, { token: reg.registration_access_token })).status).toBe(401);
  });
});

describe("RFC 7592 with ETag and If-Match (an extension: two holders of one registration never overwrite each other)", () => {
  it("answers reads and PUTs with an ETag, and refuses a PUT or DELETE whose If-Match is stale with 412, changing nothing", async () => {
    const reg = await registered();
    const { registration_client_uri: uri, registration_access_token: token } = reg;
    const read = await call(uri, { token });
    const etag = read.headers.get("etag") ?? "";
    expect(etag).toMatch(/^"[^"]+"$/);
    const admin = await call(`${ADMIN}/${reg.client_id}`, { token: await adminToken(READ) });
    expect(admin.headers.get("etag")).toBe(etag);
    const body = { client_id: reg.client_id, client_name: "first", scope: "read" };
    const first = await call(uri, { method: "PUT", token, headers: { "If-Match": etag }, body });
    expect(first.status, first.text).toBe(200);
    const next = first.headers.get("etag");
    expect(next).not.toBeNull();
    expect(next).not.toBe(etag);
    const before = await env.CLIENTS.get(clientKey(reg.client_id));
    const stale = { "If-Match": etag };
    const second = await call(uri, { method: "PUT", token, headers: stale, body: { ...body, client_name: "second" } });
    expect(second.status).toBe(412);
    expect(second.json.error).toBe("invalid_request");
    const gone = await call(uri, { method: "DELETE", token, headers: stale });
    expect(gone.status).toBe(412);
    expect(await env.CLIENTS.get(clientKey(reg.client_id))).toBe(before);
    expect((await call(uri, { method: "DELETE", token, headers: { "If-Match": next ?? "" } })).status).toBe(204);
    expect(await env.CLIENTS.get(clientKey(reg.client_id))).toBeNull();
  });
});

describe("openid-client's dynamic client registration (an independent RFC 7591 client)", () => {
  it("discovers the registration endpoint, registers with the admin token, and gets a token with the credentials", async () => {
    const initialAccessToken = await adminToken();
    const customFetch = (url: string, init: RequestInit) => exports.default.fetch(url, init);
    const config = await oidc.dynamicClientRegistration(
      new URL(ORIGIN),
      { client_name: "openid-client agent", scope: "read", grant_types: ["client_credentials"] },
      undefined,
      {
        algorithm: "oauth2",
        initialAccessToken,
        execute: [oidc.allowInsecureRequests],
        [oidc.customFetch]: customFetch as never,
      },
    );
    const metadata = config.clientMetadata();
    expect(metadata.client_id).toMatch(/^[0-9a-f]{32}$/);
    expect(metadata.registration_access_token).toBeTypeOf("string");
    const tokens = await oidc.clientCredentialsGrant(config, { scope: "read" });
    expect(tokens.token_type.toLowerCase()).toBe("bearer");
    expect(tokens.scope).toBe("read");
    const form = await post(new URLSearchParams({ grant_type: "client_credentials" }), { contentType: FORM });
    expect(form.status).toBe(401);
  });
});
