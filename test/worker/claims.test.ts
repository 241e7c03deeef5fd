/**
 * Static claims (CONTRACT "Claims in tokens") through the worker's fetch: carried by every token whatever the signing
 * algorithm and authentication method (DPoP included), verified by jose; returned by introspection (RFC 7662 §2.2);
 * handed to an API handler by the resource-server kit; reserved names in a stored record left out with a log line.
 */

import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import * as jose from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import api, { type ApiEnv } from "../../examples/resource-server/src/index.ts";
import { newKeyClientRecord, updateClient } from "../../src/clients/lifecycle.ts";
import { parseRecord, toPublic } from "../../src/clients/record.ts";
import worker from "../../src/index.ts";
import { CLAIMS_MAX_BYTES } from "../../src/oauth/claims.ts";
import {
  basicAuth,
  decodePart,
  FORM,
  nowSeconds,
  ORIGIN,
  post,
  putRecord,
  randomIp,
  requestToken,
  type SeededClient,
  seedClient,
  TOKEN_URL,
} from "./helpers.ts";

const CLAIMS = { tenant: "acme", roles: ["reader", "billing"], tier: 3 };
const STANDARD = ["iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope"];
const hmacKey = new TextEncoder().encode(env.TOKEN_SIGNING_KEY);

afterEach(() => {
  vi.restoreAllMocks();
});

function call(request: Request, overrides: Record<string, unknown> = {}): Promise<Response> {
  request.headers.set("CF-Connecting-IP", randomIp());
  return Promise.resolve(worker.fetch(request, { ...env, ...overrides } as typeof env, createExecutionContext()));
}

function tokenRequest(client: SeededClient, headers: Record<string, string> = {}): Request {
  return new Request(TOKEN_URL, {
    method: "POST",
    headers: { "Content-Type": FORM, Authorization: basicAuth(client.clientId, client.secret), ...headers },
    body: "grant_type=client_credentials",
  });
}

async function accessToken(res: Response): Promise<string> {
  const body = (await res.json()) as { access_token?: string };
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body.access_token as string;
}

describe("static claims in issued tokens", () => {
  it("puts every static claim at the top level of an HS256 token, after keymint's own claims (jose verifies it)", async () => {
    const client = await seedClient({ claims: CLAIMS });
    const token = await accessToken(await requestToken(client));
    const { payload } = await jose.jwtVerify(token, hmacKey, { typ: "at+jwt", algorithms: ["HS256"] });
    expect(payload).toMatchObject({ ...CLAIMS, sub: client.clientId, client_id: client.clientId });
    expect(Object.keys(payload)).toEqual([...STANDARD, "tenant", "roles", "tier"]);
  });

  it("adds nothing to the token of a client without claims", async () => {
    const token = await accessToken(await requestToken(await seedClient()));
    expect(Object.keys(decodePart(token, 1))).toEqual(STANDARD);
  });

  for (const alg of ["ES256", "EdDSA"] as const) {
    it(`carries them in ${alg} tokens, verified by jose against keymint's JWKS`, async () => {
      const pair = await jose.generateKeyPair(alg, { extractable: true, crv: alg === "EdDSA" ? "Ed25519" : undefined });
      const jwk = { ...(await jose.exportJWK(pair.privateKey)), kid: `k-${alg}`, alg };
      const secrets = { TOKEN_SIGNING_JWK: JSON.stringify(jwk) };
      const client = await seedClient({ claims: CLAIMS });
      const token = await accessToken(await call(tokenRequest(client), secrets));
      const jwks = await (await call(new Request(`${ORIGIN}/.well-known/jwks.json`), secrets)).json();
      const { payload, protectedHeader } = await jose.jwtVerify(
        token,
        jose.createLocalJWKSet(jwks as jose.JSONWebKeySet),
        {
          typ: "at+jwt",
          algorithms: [alg],
        },
      );
      expect(protectedHeader.alg).toBe(alg);
      expect(payload).toMatchObject(CLAIMS);
    });
  }

  it("carries them in a DPoP-bound token next to cnf.jkt (RFC 9449 §6.1)", async () => {
    const pair = await jose.generateKeyPair("ES256", { extractable: true });
    const publicJwk = await jose.exportJWK(pair.publicKey);
    const proof = await new jose.SignJWT({ htm: "POST", htu: TOKEN_URL, iat: nowSeconds(), jti: crypto.randomUUID() })
      .setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk: publicJwk })
      .sign(pair.privateKey);
    const client = await seedClient({ claims: CLAIMS });
    const res = await call(tokenRequest(client, { DPoP: proof }));
    const body = (await res.json()) as { access_token: string; token_type: string };
    expect(body.token_type).toBe("DPoP");
    const { payload } = await jose.jwtVerify(body.access_token, hmacKey, { typ: "at+jwt" });
    expect(payload).toMatchObject({ ...CLAIMS, cnf: { jkt: await jose.calculateJwkThumbprint(publicJwk) } });
  });

  it("carries them whatever the authentication method: client_secret_post and private_key_jwt", async () => {
    const client = await seedClient({ claims: CLAIMS });
    const viaPost = await accessToken(
      await post(
        new URLSearchParams({
          grant_type: "client_credentials",
          client_id: client.clientId,
          client_secret: client.secret,
        }),
      ),
    );
    expect(decodePart(viaPost, 1)).toMatchObject(CLAIMS);

    const pair = await jose.generateKeyPair("ES256", { extractable: true });
    const clientId = `kc-${crypto.randomUUID()}`;
    const publicJwk = { ...(await jose.exportJWK(pair.publicKey)), kid: "k1", alg: "ES256" };
    await putRecord(
      newKeyClientRecord(
        { clientId, keys: { jwks: { keys: [publicJwk] } }, settings: { name: "key client", claims: CLAIMS } },
        nowSeconds(),
      ),
    );
    const now = nowSeconds();
    const assertion = await new jose.SignJWT({
      iss: clientId,
      sub: clientId,
      aud: ORIGIN,
      iat: now,
      exp: now + 60,
      jti: crypto.randomUUID(),
    })
      .setProtectedHeader({ alg: "ES256", kid: "k1" })
      .sign(pair.privateKey);
    const viaAssertion = await accessToken(
      await post(
        new URLSearchParams({
          grant_type: "client_credentials",
          client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
          client_assertion: assertion,
        }),
      ),
    );
    expect(decodePart(viaAssertion, 1)).toMatchObject({ ...CLAIMS, client_id: clientId });
  });

  it("keeps a token with the largest allowed claims, RS256-signed, well under 8 KB", async () => {
    const pair = await jose.generateKeyPair("RS256", { extractable: true, modulusLength: 2048 });
    const jwk = { ...(await jose.exportJWK(pair.privateKey)), kid: "rsa", alg: "RS256" };
    // 2,048 bytes of JSON exactly: {"big":"xxx…"} is 10 bytes plus the string.
    const claims = { big: "x".repeat(CLAIMS_MAX_BYTES - 10) };
    const client = await seedClient({ claims, audiences: [`https://api.example.com/${"a".repeat(200)}`] });
    const token = await accessToken(await call(tokenRequest(client), { TOKEN_SIGNING_JWK: JSON.stringify(jwk) }));
    expect(token.length).toBeLessThan(4096);
    expect(decodePart(token, 1).big).toBe(claims.big);
  });

  it("stops carrying claims once they are removed (update with {} ), and carries changed ones", async () => {
    const client = await seedClient({ claims: CLAIMS });
    await putRecord(updateClient(client.record, { claims: { tenant: "globex" } }, nowSeconds()));
    const changed = decodePart(await accessToken(await requestToken(client)), 1);
    expect(changed.tenant).toBe("globex");
    expect(changed.roles).toBeUndefined();
    await putRecord(updateClient(client.record, { claims: {} }, nowSeconds()));
    expect(Object.keys(decodePart(await accessToken(await requestToken(client)), 1))).toEqual(STANDARD);
  });

  it("serves a record written before claims existed (no claims field) as a client without claims", async () => {
    const client = await seedClient();
    const { claims: _dropped, ...older } = client.record;
    await env.CLIENTS.put(`client:${client.clientId}`, JSON.stringify(older));
    expect(Object.keys(decodePart(await accessToken(await requestToken(client)), 1))).toEqual(STANDARD);
    expect(toPublic(parseRecord(older)).claims).toEqual({});
  });
});

describe("reserved names in a stored record (written by hand or under other rules)", () => {
  it("leaves them out of the token, keeps keymint's own values and logs one warning naming them", async () => {
    const warnings = vi.spyOn(console, "warn").mockImplementation(() => {});
    const client = await seedClient({ claims: { tenant: "acme" } });
    await putRecord({
      ...client.record,
      claims: { sub: "admin", tenant: "acme", keymint_admin: true, active: false, scope: "everything" },
    });
    const payload = decodePart(await accessToken(await requestToken(client)), 1);
    expect(payload).toMatchObject({ sub: client.clientId, tenant: "acme", scope: "read write" });
    expect(payload).not.toHaveProperty("keymint_admin");
    expect(payload).not.toHaveProperty("active");
    const lines = warnings.mock.calls.map((c) => JSON.parse(String(c[0])) as Record<string, unknown>);
    expect(lines).toEqual([
      expect.objectContaining({
        level: "warn",
        event: "client_claims_ignored",
        client_id: client.clientId,
        claims: ["sub", "keymint_admin", "active", "scope"],
      }),
    ]);
    expect(String(lines[0]?.fix)).toContain(`update ${client.clientId} --claim NAME=`);
  });
});

describe("introspection of a token with claims (RFC 7662 §2.2)", () => {
  it("returns the static claims as top-level members after keymint's own", async () => {
    const introspector = await seedClient({ canIntrospect: true });
    const client = await seedClient({ claims: CLAIMS });
    const token = await accessToken(await requestToken(client));
    const res = await post(new URLSearchParams({ token }), {
      url: `${ORIGIN}/oauth2/introspect`,
      auth: basicAuth(introspector.clientId, introspector.secret),
    });
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ active: true, token_type: "Bearer", client_id: client.clientId, ...CLAIMS });
    expect(Object.keys(body).slice(-3)).toEqual(["tenant", "roles", "tier"]);
  });
});

describe("the resource-server kit hands the claims to the API handler", () => {
  const apiEnv: ApiEnv = {
    KEYMINT_ISSUER: ORIGIN,
    API_AUDIENCE: "https://api.example.com",
    KEYMINT_JWKS_URL: "",
    TOKEN_SIGNING_KEY: env.TOKEN_SIGNING_KEY,
  };

  async function whoami(claims?: Record<string, unknown>): Promise<Record<string, unknown>> {
    const client = await seedClient({ scopes: ["read"], audiences: [apiEnv.API_AUDIENCE], claims });
    const token = await accessToken(await requestToken(client));
    const res = await api.fetch(
      new Request("https://api.example.com/whoami", { headers: { Authorization: `Bearer ${token}` } }),
      apiEnv,
      createExecutionContext(),
    );
    expect(res.status).toBe(200);
    return { client_id: client.clientId, body: await res.json() };
  }

  it("exposes them as c.get('token').NAME (examples/resource-server GET /whoami)", async () => {
    const { client_id, body } = await whoami(CLAIMS);
    expect(body).toEqual({ client_id, tenant: "acme", roles: ["reader", "billing"] });
  });

  it("lets the handler see that a client has none", async () => {
    const { client_id, body } = await whoami();
    expect(body).toEqual({ client_id, tenant: null, roles: [] });
  });
});
