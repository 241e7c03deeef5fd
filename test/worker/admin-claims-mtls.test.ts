/**
 * The admin API and RFC 7591/7592 with static claims (RFC 7396 merge patch of `claims`) and mutual-TLS clients
 * (the RFC 8705 §2.1.2 metadata names): the same client core as the CLI, end to end to the token endpoint.
 */

import { env } from "cloudflare:workers";
import * as jose from "jose";
import { describe, expect, it } from "vitest";
import { clientKey } from "../../src/clients/record.ts";
import { ADMIN, adminToken, type Call, call, REGISTER } from "./admin-helpers.ts";
import { CERTIFICATES } from "./fixtures/certificates.ts";
import { cfWith, x5tOf } from "./fixtures/tls-client-auth.ts";
import { ORIGIN, post, requestToken } from "./helpers.ts";

const { payments, device } = CERTIFICATES;

async function claimsOf(res: Response): Promise<jose.JWTPayload> {
  const text = await res.text();
  expect(res.status, text).toBe(200);
  const token = (JSON.parse(text) as { access_token: string }).access_token;
  const key = new TextEncoder().encode(env.TOKEN_SIGNING_KEY);
  return (await jose.jwtVerify(token, key, { issuer: ORIGIN })).payload;
}

/** A token request naming the client in the body over a connection that presented `cf`'s certificate. */
function mtlsTokenRequest(clientId: string, cf: Record<string, unknown>) {
  return post(new URLSearchParams({ grant_type: "client_credentials", client_id: clientId }), { cf });
}

/**
 * A PATCH (`patch`: a body, or raw JSON with its headers) of a new client with claims `{ tenant: "a" }`, which
 * must be refused with 400 and leave the stored record as it was; returns the answer.
 */
async function refusedPatch(token: string, patch: Pick<Call, "body" | "raw" | "headers">) {
  const { json } = await call(ADMIN, { method: "POST", token, body: { name: "ok", claims: { tenant: "a" } } });
  const id = json.client_id as string;
  const before = await env.CLIENTS.get(clientKey(id));
  const res = await call(`${ADMIN}/${id}`, { method: "PATCH", token, ...patch });
  expect(res.status).toBe(400);
  expect(await env.CLIENTS.get(clientKey(id))).toBe(before);
  return res;
}

async function stored(id: string): Promise<Record<string, unknown>> {
  return JSON.parse((await env.CLIENTS.get(clientKey(id))) ?? "null");
}

describe("claims over the admin API", () => {
  it("creates a client with claims that its tokens carry, shown in the client object", async () => {
    const token = await adminToken();
    const res = await call(ADMIN, {
      method: "POST",
      token,
      body: { name: "tenant svc", claims: { tenant: "acme", roles: ["reader"], limits: { rps: 5 } } },
    });
    expect(res.status, res.text).toBe(201);
    const created = res.json as { client_id: string; client_secret: string; claims: unknown };
    expect(created.claims).toEqual({ tenant: "acme", roles: ["reader"], limits: { rps: 5 } });
    const claims = await claimsOf(await requestToken({ clientId: created.client_id, secret: created.client_secret }));
    expect(claims).toMatchObject({ tenant: "acme", roles: ["reader"], limits: { rps: 5 } });
  });

  it("patches claims as an RFC 7396 merge patch: null removes a member, objects merge, claims: null removes all", async () => {
    const token = await adminToken();
    const { json } = await call(ADMIN, {
      method: "POST",
      token,
      body: { name: "svc", claims: { tenant: "acme", tier: "free", limits: { rps: 5, burst: 10 } } },
    });
    const id = json.client_id as string;
    const patched = await call(`${ADMIN}/${id}`, {
      method: "PATCH",
      token,
      body: { claims: { tier: null, team: "payments", limits: { burst: null, daily: 1000 } } },
      headers: { "Content-Type": "application/merge-patch+json" },
    });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.json.claims).toEqual({ tenant: "acme", team: "payments", limits: { rps: 5, daily: 1000 } });
    expect((await stored(id)).claims).toEqual({ tenant: "acme", team: "payments", limits: { rps: 5, daily: 1000 } });
    const cleared = await call(`${ADMIN}/${id}`, { method: "PATCH", token, body: { claims: null } });
    expect(cleared.json.claims).toEqual({});
  });

  it("answers a deeply nested claims patch with 400 naming claims, not a stack overflow", async () => {
    const token = await adminToken();
    const { json } = await call(ADMIN, { method: "POST", token, body: { name: "deep" } });
    let nested: unknown = 1;
    for (let i = 0; i < 5000; i++) nested = { a: nested };
    const res = await call(`${ADMIN}/${json.client_id as string}`, {
      method: "PATCH",
      token,
      body: { claims: nested },
    });
    expect(res.status, res.text.slice(0, 200)).toBe(400);
    expect(res.json.error_description).toContain("claims");
  });

  it("returns, for a patch that changes nothing, the ETag the stored client has (If-Match with it passes)", async () => {
    const token = await adminToken();
    const created = await call(ADMIN, { method: "POST", token, body: { name: "etag", claims: { a: 1 } } });
    const url = `${ADMIN}/${created.json.client_id as string}`;
    const shown = await call(url, { token });
    const noop = await call(url, { method: "PATCH", token, body: {} });
    expect(noop.headers.get("etag")).toBe(shown.headers.get("etag"));
    const next = await call(url, {
      method: "PATCH",
      token,
      body: { name: "etag 2" },
      headers: { "If-Match": noop.headers.get("etag") as string },
    });
    expect(next.status, next.text).toBe(200);
  });

  it("refuses reserved names and oversized claims with 400 naming claims, and writes nothing", async () => {
    const token = await adminToken();
    for (const claims of [{ sub: "someone-else" }, { keymint_admin: true }, { cnf: {} }, { big: "x".repeat(4096) }]) {
      const res = await call(ADMIN, { method: "POST", token, body: { name: "bad", client_id: "bad-claims", claims } });
      expect(res.status, JSON.stringify(claims)).toBe(400);
      expect(res.json.error).toBe("invalid_request");
      expect(res.json.error_description).toContain("claims");
      expect(await env.CLIENTS.get(clientKey("bad-claims"))).toBeNull();
    }
    const res = await refusedPatch(token, { body: { claims: { scope: "admin" } } });
    expect(res.json.error_description).toContain("claims");
  });

  it('refuses a claim named "__proto__" by name (POST and PATCH, as raw JSON), never dropping it silently', async () => {
    const token = await adminToken();
    const headers = { "Content-Type": "application/json" };
    const raw = '{"name":"proto","client_id":"proto-claims","claims":{"__proto__":"x","tenant":"a"}}';
    const created = await call(ADMIN, { method: "POST", token, headers, raw });
    expect(created.status).toBe(400);
    expect(created.json.error).toBe("invalid_request");
    expect(created.json.error_description).toBe("claims: claim name '__proto__' is not allowed");
    expect(await env.CLIENTS.get(clientKey("proto-claims"))).toBeNull();
    const patched = await refusedPatch(token, { headers, raw: '{"claims":{"__proto__":1}}' });
    expect(patched.json.error_description).toContain("__proto__");
  });
});

describe("mutual-TLS clients over the admin API (RFC 8705 §2.1.2 names)", () => {
  it("creates a tls_client_auth client by subject DN that authenticates with its certificate only", async () => {
    const token = await adminToken();
    const res = await call(ADMIN, {
      method: "POST",
      token,
      body: {
        name: "payments",
        token_endpoint_auth_method: "tls_client_auth",
        tls_client_auth_subject_dn: payments.subjectDn,
        tls_client_certificate_bound_access_tokens: true,
      },
    });
    expect(res.status, res.text).toBe(201);
    expect(res.json.client_secret).toBeUndefined();
    expect(res.json).toMatchObject({
      token_endpoint_auth_method: "tls_client_auth",
      tls_client_auth_subject_dn: payments.subjectDn,
      tls_client_auth_san_dns: null,
      tls_client_certificate_thumbprints: [],
      tls_client_certificate_bound_access_tokens: true,
      secrets: [],
    });
    const id = res.json.client_id as string;
    const claims = await claimsOf(await mtlsTokenRequest(id, cfWith(payments)));
    expect(claims.cnf).toEqual({ "x5t#S256": await x5tOf(payments) });
    expect((await mtlsTokenRequest(id, cfWith(CERTIFICATES.billing))).status).toBe(401);
  });

  it("patches the subject as a merge patch: the old one must be nulled, exactly one remains", async () => {
    const token = await adminToken();
    const { json } = await call(ADMIN, {
      method: "POST",
      token,
      body: {
        name: "p",
        token_endpoint_auth_method: "tls_client_auth",
        tls_client_auth_subject_dn: payments.subjectDn,
      },
    });
    const id = json.client_id as string;
    const two = await call(`${ADMIN}/${id}`, {
      method: "PATCH",
      token,
      body: { tls_client_auth_san_dns: "payments.acme.example" },
    });
    expect(two.status).toBe(400);
    expect(two.json.error_description).toContain("exactly one");
    const moved = await call(`${ADMIN}/${id}`, {
      method: "PATCH",
      token,
      body: { tls_client_auth_subject_dn: null, tls_client_auth_san_dns: "payments.acme.example" },
    });
    expect(moved.status, moved.text).toBe(200);
    expect(moved.json).toMatchObject({
      tls_client_auth_subject_dn: null,
      tls_client_auth_san_dns: "payments.acme.example",
    });
    expect((await mtlsTokenRequest(id, cfWith(payments))).status).toBe(200);
  });

  it("creates a self_signed_tls_client_auth client from a jwks with x5c or from thumbprints", async () => {
    const token = await adminToken();
    const thumbprint = await x5tOf(device);
    const fromJwks = await call(ADMIN, {
      method: "POST",
      token,
      body: {
        name: "device",
        token_endpoint_auth_method: "self_signed_tls_client_auth",
        jwks: { keys: [{ kty: "EC", x5c: [device.der] }] },
      },
    });
    expect(fromJwks.status, fromJwks.text).toBe(201);
    expect(fromJwks.json).toMatchObject({ tls_client_certificate_thumbprints: [thumbprint], jwks: null });
    expect((await mtlsTokenRequest(fromJwks.json.client_id as string, cfWith(device))).status).toBe(200);
    const fromThumbprints = await call(ADMIN, {
      method: "POST",
      token,
      body: {
        name: "device 2",
        token_endpoint_auth_method: "self_signed_tls_client_auth",
        tls_client_certificate_thumbprints: [thumbprint],
      },
    });
    expect(fromThumbprints.status, fromThumbprints.text).toBe(201);
  });

  it("refuses mTLS fields without an mTLS method, a secret for an mTLS client, and a malformed DN (400, nothing written)", async () => {
    const token = await adminToken();
    const cases = [
      { name: "x", client_id: "bad-mtls", tls_client_auth_subject_dn: payments.subjectDn },
      { name: "x", client_id: "bad-mtls", token_endpoint_auth_method: "tls_client_auth" },
      {
        name: "x",
        client_id: "bad-mtls",
        token_endpoint_auth_method: "tls_client_auth",
        tls_client_auth_subject_dn: payments.subjectDn,
        client_secret: "s".repeat(40),
      },
      {
        name: "x",
        client_id: "bad-mtls",
        token_endpoint_auth_method: "tls_client_auth",
        tls_client_auth_subject_dn: "=",
      },
    ];
    for (const body of cases) {
      const res = await call(ADMIN, { method: "POST", token, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error).toBe("invalid_request");
    }
    const withFederation = await call(ADMIN, {
      method: "POST",
      token,
      body: {
        name: "x",
        client_id: "bad-mtls",
        token_endpoint_auth_method: "tls_client_auth",
        tls_client_auth_subject_dn: payments.subjectDn,
        federation: { issuer: "https://ci.example.com", subject: "job" },
      },
    });
    expect(withFederation.status).toBe(400);
    expect(withFederation.json.error_description).toContain("federation");
    expect(await env.CLIENTS.get(clientKey("bad-mtls"))).toBeNull();
  });

  it("takes a secret client's object back as a patch: empty RFC 8705 fields ([] and null) change nothing", async () => {
    const token = await adminToken();
    const created = await call(ADMIN, { method: "POST", token, body: { name: "plain" } });
    const res = await call(`${ADMIN}/${created.json.client_id as string}`, {
      method: "PATCH",
      token,
      body: { tls_client_certificate_thumbprints: [], tls_client_auth_subject_dn: null },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.json.token_endpoint_auth_method).toBe("client_secret_basic");
  });

  it("turns a secret client into a certificate-bound one with tls_client_certificate_bound_access_tokens", async () => {
    const token = await adminToken();
    const created = await call(ADMIN, { method: "POST", token, body: { name: "bound" } });
    const id = created.json.client_id as string;
    const res = await call(`${ADMIN}/${id}`, {
      method: "PATCH",
      token,
      body: { tls_client_certificate_bound_access_tokens: true },
    });
    expect(res.status, res.text).toBe(200);
    const basic = `Basic ${btoa(`${id}:${created.json.client_secret as string}`)}`;
    const tokenRes = await post(new URLSearchParams({ grant_type: "client_credentials" }), {
      cf: cfWith(payments),
      auth: basic,
    });
    expect((await claimsOf(tokenRes)).cnf).toEqual({ "x5t#S256": await x5tOf(payments) });
  });
});

describe("RFC 7591 registration of mutual-TLS clients (RFC 8705 §2.1.2 metadata)", () => {
  it("registers a tls_client_auth client and reports its metadata back, RFC 7592 read included", async () => {
    const token = await adminToken();
    const res = await call(REGISTER, {
      method: "POST",
      token,
      body: {
        client_name: "payments",
        token_endpoint_auth_method: "tls_client_auth",
        tls_client_auth_subject_dn: payments.subjectDn,
        tls_client_certificate_bound_access_tokens: true,
        some_unknown_member: 1,
      },
    });
    expect(res.status, res.text).toBe(201);
    expect(res.json).toMatchObject({
      token_endpoint_auth_method: "tls_client_auth",
      tls_client_auth_subject_dn: payments.subjectDn,
      tls_client_certificate_bound_access_tokens: true,
    });
    expect(res.json.client_secret).toBeUndefined();
    const id = res.json.client_id as string;
    expect((await mtlsTokenRequest(id, cfWith(payments))).status).toBe(200);
    const read = await call(res.json.registration_client_uri as string, {
      token: res.json.registration_access_token as string,
    });
    expect(read.status).toBe(200);
    expect(read.json).toMatchObject({
      token_endpoint_auth_method: "tls_client_auth",
      tls_client_auth_subject_dn: payments.subjectDn,
    });
  });

  it("answers invalid_client_metadata for mTLS metadata it cannot honour", async () => {
    const token = await adminToken();
    for (const body of [
      { token_endpoint_auth_method: "client_secret_basic", tls_client_auth_subject_dn: payments.subjectDn },
      { token_endpoint_auth_method: "tls_client_auth" },
      { token_endpoint_auth_method: "tls_client_auth", tls_client_auth_subject_dn: "CN=a", jwks: { keys: [] } },
      { token_endpoint_auth_method: "self_signed_tls_client_auth", jwks_uri: "https://example.com/jwks" },
    ]) {
      const res = await call(REGISTER, { method: "POST", token, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error).toBe("invalid_client_metadata");
    }
  });
});
