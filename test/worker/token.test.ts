/** POST /oauth2/token through the worker's fetch: RFC 6749 §2.3.1, §3.2, §3.3, §4.4, §5.1, §5.2. */

import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import * as jose from "jose";
import { describe, expect, it } from "vitest";
import { setEnabled } from "../../src/clients/lifecycle.ts";
import worker from "../../src/index.ts";
import {
  basicAuth,
  decodePart,
  FORM,
  INVALID_CLIENT_BODY,
  nowSeconds,
  ORIGIN,
  post,
  putRecord,
  requestToken,
  type SeededClient,
  seedClient,
  TOKEN_URL,
} from "./helpers.ts";

const GRANT = "grant_type=client_credentials";

async function expectError(res: Response, status: number, error: string): Promise<Record<string, unknown>> {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  expect(res.headers.get("cache-control")).toBe("no-store");
  expect(res.headers.get("pragma")).toBe("no-cache");
  const body = (await res.json()) as Record<string, unknown>;
  expect(body.error).toBe(error);
  // RFC 6749 §5.2: error_description is %x20-21 / %x23-5B / %x5D-7E only.
  expect(body.error_description).toMatch(/^[\x20\x21\x23-\x5b\x5d-\x7e]+$/);
  expect(Object.keys(body).sort()).toEqual(["error", "error_description"]);
  return body;
}

describe("successful token response (RFC 6749 §4.4.3, §5.1)", () => {
  it("issues a Bearer token to client_secret_basic with no-store headers and the exact body shape", async () => {
    const client = await seedClient({ scopes: ["read", "write"] });
    const res = await requestToken(client);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("pragma")).toBe("no-cache");
    const body = (await res.json()) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(["access_token", "token_type", "expires_in", "scope"]);
    expect(body).toMatchObject({ token_type: "Bearer", expires_in: 3600, scope: "read write" });
    expect(body.access_token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(body).not.toHaveProperty("refresh_token");
  });

  it("issues a token to client_secret_post (RFC 6749 §2.3.1)", async () => {
    const client = await seedClient();
    const res = await post(
      new URLSearchParams({
        grant_type: "client_credentials",
        client_id: client.clientId,
        client_secret: client.secret,
      }),
    );
    expect(res.status).toBe(200);
    expect(((await res.json()) as { token_type: string }).token_type).toBe("Bearer");
  });

  it("works with the WSO2-style curl request (Basic header built by hand, explicit Content-Type)", async () => {
    const client = await seedClient();
    const res = await post(GRANT, {
      auth: `Basic ${btoa(`${client.clientId}:${client.secret}`)}`,
      contentType: "application/x-www-form-urlencoded",
    });
    expect(res.status).toBe(200);
  });

  it("accepts a charset=UTF-8 parameter on the content type", async () => {
    const client = await seedClient();
    const res = await post(GRANT, {
      auth: basicAuth(client.clientId, client.secret),
      contentType: "application/x-www-form-urlencoded; charset=UTF-8",
    });
    expect(res.status).toBe(200);
  });

  it("ignores unknown parameters (RFC 6749 §3.2)", async () => {
    const client = await seedClient();
    const res = await requestToken(client, { foo: "bar", audience: "x", state: "1" });
    expect(res.status).toBe(200);
  });

  it("uses the client's --ttl as expires_in", async () => {
    const client = await seedClient({ ttl: 120 });
    const body = (await (await requestToken(client)).json()) as { expires_in: number };
    expect(body.expires_in).toBe(120);
  });
});

describe("client_secret_basic decoding (RFC 6749 §2.3.1)", () => {
  const tricky = "p@ss:w%rd+with spaces&=/?#αβγ-0123456789abcdefXYZ";

  it("form-urlencodes id and secret before Base64, so ':' '%' '+' and spaces in a secret work", async () => {
    const client = await seedClient({
      clientId: `id:with%+ ${crypto.randomUUID()}`.replace(/ /g, "_"),
      secret: tricky,
    });
    const res = await requestToken(client);
    expect(res.status).toBe(200);
    const token = ((await res.json()) as { access_token: string }).access_token;
    expect(decodePart(token, 1).client_id).toBe(client.clientId);
  });

  it("treats '+' in the Basic value as an encoded space: the raw, unencoded secret fails", async () => {
    const client = await seedClient({ secret: "a+b+c+d+0123456789abcdefghijklmnopqrstuvwxyz" });
    const raw = await post(GRANT, { auth: `Basic ${btoa(`${client.clientId}:${client.secret}`)}` });
    await expectError(raw, 401, "invalid_client");
    const encoded = await requestToken(client);
    expect(encoded.status).toBe(200);
  });

  it("rejects Basic credentials that are not Base64 with invalid_request", async () => {
    const body = await expectError(await post(GRANT, { auth: "Basic %%%not-base64%%%" }), 400, "invalid_request");
    expect(body.error_description).toMatch(/Base64/);
  });

  it("rejects Basic credentials without ':' with invalid_request", async () => {
    await expectError(await post(GRANT, { auth: `Basic ${btoa("just-an-id")}` }), 400, "invalid_request");
  });

  it("rejects a malformed percent-encoding inside Basic credentials", async () => {
    await expectError(await post(GRANT, { auth: `Basic ${btoa("id:%zz-secret")}` }), 400, "invalid_request");
  });

  it("matches the scheme name case-insensitively", async () => {
    const client = await seedClient();
    const res = await post(GRANT, { auth: basicAuth(client.clientId, client.secret).replace("Basic", "bAsIc") });
    expect(res.status).toBe(200);
  });
});

describe("client authentication failures (RFC 6749 §5.2 invalid_client)", () => {
  it("answers a wrong secret over Basic with 401 and a Basic challenge", async () => {
    const client = await seedClient();
    const res = await requestToken({ clientId: client.clientId, secret: `${client.secret}x` });
    await expectError(res, 401, "invalid_client");
    expect(res.headers.get("www-authenticate")).toBe('Basic realm="keymint", charset="UTF-8"');
  });

  it("answers a wrong secret over client_secret_post with 401 and no challenge", async () => {
    const client = await seedClient();
    const res = await post(
      new URLSearchParams({ grant_type: "client_credentials", client_id: client.clientId, client_secret: "nope" }),
    );
    await expectError(res, 401, "invalid_client");
    expect(res.headers.get("www-authenticate")).toBeNull();
  });

  it("makes unknown client, wrong secret, disabled client and expired secret indistinguishable", async () => {
    const good = await seedClient();
    const disabled = await seedClient();
    await putRecord(setEnabled(disabled.record, false, nowSeconds()));
    const expired = await seedClient({ secretExpiresAt: nowSeconds() - 10 });
    const responses = [
      await requestToken({ clientId: `unknown-${crypto.randomUUID()}`, secret: good.secret }),
      await requestToken({ clientId: good.clientId, secret: "wrong-secret-0123456789abcdefghijklmnop" }),
      await requestToken(disabled),
      await requestToken(expired),
    ];
    const seen = await Promise.all(
      responses.map(async (r) => ({
        status: r.status,
        headers: [...r.headers.entries()].sort(),
        body: await r.text(),
      })),
    );
    for (const s of seen) expect(s).toEqual(seen[0]);
    expect(seen[0]?.status).toBe(401);
    expect(JSON.parse(seen[0]?.body ?? "")).toEqual(INVALID_CLIENT_BODY);
  });

  it("answers a request without credentials with the same invalid_client body and no challenge", async () => {
    const res = await post(GRANT);
    const body = await expectError(res, 401, "invalid_client");
    expect(body).toEqual(INVALID_CLIENT_BODY);
    expect(res.headers.get("www-authenticate")).toBeNull();
  });

  it("treats client_id without client_secret (a public client) as unauthenticated", async () => {
    const client = await seedClient();
    const res = await post(new URLSearchParams({ grant_type: "client_credentials", client_id: client.clientId }));
    expect(await expectError(res, 401, "invalid_client")).toEqual(INVALID_CLIENT_BODY);
  });

  it("answers an unsupported Authorization scheme with 401 and a Basic challenge", async () => {
    const res = await post(GRANT, { auth: "Bearer abc" });
    await expectError(res, 401, "invalid_client");
    expect(res.headers.get("www-authenticate")).toMatch(/^Basic /);
  });

  it("refuses a client id that could never exist without touching KV (over-long id)", async () => {
    const res = await requestToken({ clientId: "x".repeat(600), secret: "whatever-0123456789abcdefghijklmnop" });
    expect(await expectError(res, 401, "invalid_client")).toEqual(INVALID_CLIENT_BODY);
  });
});

describe("one authentication method per request (RFC 6749 §2.3)", () => {
  it("rejects Basic plus client_secret in the body", async () => {
    const client = await seedClient();
    const res = await post(new URLSearchParams({ grant_type: "client_credentials", client_secret: client.secret }), {
      auth: basicAuth(client.clientId, client.secret),
    });
    await expectError(res, 400, "invalid_request");
  });

  it("rejects a body client_id that differs from the Basic one", async () => {
    const client = await seedClient();
    const res = await post(new URLSearchParams({ grant_type: "client_credentials", client_id: "someone-else" }), {
      auth: basicAuth(client.clientId, client.secret),
    });
    await expectError(res, 400, "invalid_request");
  });

  it("accepts a body client_id equal to the Basic one", async () => {
    const client = await seedClient();
    const res = await post(new URLSearchParams({ grant_type: "client_credentials", client_id: client.clientId }), {
      auth: basicAuth(client.clientId, client.secret),
    });
    expect(res.status).toBe(200);
  });
});

describe("request syntax (RFC 6749 §3.2, §4.4.2)", () => {
  it("requires grant_type", async () => {
    const client = await seedClient();
    const body = await expectError(
      await post("scope=read", { auth: basicAuth(client.clientId, client.secret) }),
      400,
      "invalid_request",
    );
    expect(body.error_description).toMatch(/grant_type/);
  });

  it("supports only client_credentials (unsupported_grant_type)", async () => {
    const client = await seedClient();
    for (const grant of [
      "password",
      "authorization_code",
      "refresh_token",
      "urn:ietf:params:oauth:grant-type:jwt-bearer",
    ]) {
      const res = await post(`grant_type=${encodeURIComponent(grant)}`, {
        auth: basicAuth(client.clientId, client.secret),
      });
      await expectError(res, 400, "unsupported_grant_type");
    }
  });

  it("rejects a repeated parameter with invalid_request", async () => {
    const client = await seedClient();
    const auth = basicAuth(client.clientId, client.secret);
    await expectError(await post(`${GRANT}&${GRANT}`, { auth }), 400, "invalid_request");
    await expectError(await post(`${GRANT}&scope=read&scope=write`, { auth }), 400, "invalid_request");
  });

  it("treats a parameter without a value as omitted (RFC 6749 §3.2)", async () => {
    const client = await seedClient({ scopes: ["a", "b"] });
    const res = await post(`${GRANT}&scope=`, { auth: basicAuth(client.clientId, client.secret) });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { scope: string }).scope).toBe("a b");
  });

  it("requires application/x-www-form-urlencoded", async () => {
    const client = await seedClient();
    const auth = basicAuth(client.clientId, client.secret);
    await expectError(await post(GRANT, { auth, contentType: null }), 400, "invalid_request");
    await expectError(
      await post(JSON.stringify({ grant_type: "client_credentials" }), { auth, contentType: "application/json" }),
      400,
      "invalid_request",
    );
    await expectError(
      await post(GRANT, { auth, contentType: "multipart/form-data; boundary=x" }),
      400,
      "invalid_request",
    );
    await expectError(await post(GRANT, { auth, contentType: `${FORM}; charset=iso-8859-1` }), 400, "invalid_request");
  });

  it("rejects a body that is not UTF-8 or has a malformed percent-encoding", async () => {
    const client = await seedClient();
    const auth = basicAuth(client.clientId, client.secret);
    await expectError(await post(new Uint8Array([0x67, 0x3d, 0xff, 0xfe]), { auth }), 400, "invalid_request");
    await expectError(await post(`${GRANT}&scope=%E2%82`, { auth }), 400, "invalid_request");
    await expectError(await post(`${GRANT}&x=%zz`, { auth }), 400, "invalid_request");
  });

  it("bounds the body at 16 KiB with a 413 JSON error (Content-Length and chunked alike)", async () => {
    const client = await seedClient();
    const auth = basicAuth(client.clientId, client.secret);
    const big = `${GRANT}&pad=${"a".repeat(17 * 1024)}`;
    await expectError(await post(big, { auth }), 413, "invalid_request");
    const chunked = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 20; i++) controller.enqueue(new TextEncoder().encode("a".repeat(1024)));
        controller.close();
      },
    });
    await expectError(await post(chunked, { auth }), 413, "invalid_request");
    const justUnder = `${GRANT}&pad=${"a".repeat(16 * 1024 - GRANT.length - 5)}`;
    expect((await post(justUnder, { auth })).status).toBe(200);
  });

  it("answers other methods with 405, Allow: POST and a JSON error", async () => {
    for (const method of ["GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]) {
      const res = await post(null, { method, contentType: null });
      expect(res.status).toBe(405);
      expect(res.headers.get("allow")).toBe("POST");
      if (method !== "HEAD") await expectError(res, 405, "invalid_request");
    }
  });

  it("answers an unknown path with a 404 JSON error", async () => {
    await expectError(await post(GRANT, { url: `${ORIGIN}/oauth2/nope` }), 404, "invalid_request");
  });
});

describe("scope (RFC 6749 §3.3)", () => {
  it("grants the requested subset, in request order, without duplicates", async () => {
    const client = await seedClient({ scopes: ["read", "write", "admin"] });
    const body = (await (await requestToken(client, { scope: "write read write" })).json()) as { scope: string };
    expect(body.scope).toBe("write read");
  });

  it("grants all allowed scopes when none is requested", async () => {
    const client = await seedClient({ scopes: ["read", "write"] });
    expect(((await (await requestToken(client)).json()) as { scope: string }).scope).toBe("read write");
  });

  it("refuses a scope outside the allowed set with invalid_scope", async () => {
    const client = await seedClient({ scopes: ["read"] });
    const body = await expectError(await requestToken(client, { scope: "read admin" }), 400, "invalid_scope");
    expect(body.error_description).toContain("admin");
  });

  it("refuses a malformed scope (forbidden character) with invalid_scope", async () => {
    const client = await seedClient({ scopes: ["read"] });
    await expectError(await requestToken(client, { scope: 'read "quoted"' }), 400, "invalid_scope");
    await expectError(await requestToken(client, { scope: "   " }), 400, "invalid_scope");
  });

  it("omits scope from the response and the token when the client has none", async () => {
    const client = await seedClient({ scopes: [] });
    const body = (await (await requestToken(client)).json()) as Record<string, unknown>;
    expect(body).not.toHaveProperty("scope");
    expect(decodePart(body.access_token as string, 1)).not.toHaveProperty("scope");
  });
});

describe("grant permission (RFC 6749 §5.2 unauthorized_client)", () => {
  it("refuses an introspection-only client with unauthorized_client", async () => {
    const client = await seedClient({ tokenGrant: false, canIntrospect: true });
    await expectError(await requestToken(client), 400, "unauthorized_client");
  });
});

describe("concurrency", () => {
  it("keeps simultaneous requests of different clients apart, cache on and off", async () => {
    const clients = await Promise.all(
      ["a", "b", "c", "d"].map((scope) => seedClient({ scopes: [scope], audiences: [`https://${scope}.example`] })),
    );
    for (const cacheTtl of ["0", "30"]) {
      const runs = await Promise.all(
        Array.from({ length: 40 }, async (_, i) => {
          const client = clients[i % clients.length] as SeededClient;
          const res = await worker.fetch(
            new Request(TOKEN_URL, {
              method: "POST",
              headers: { "Content-Type": FORM, Authorization: basicAuth(client.clientId, client.secret) },
              body: GRANT,
            }),
            { ...env, CLIENT_CACHE_TTL: cacheTtl } as typeof env,
            createExecutionContext(),
          );
          const body = (await res.json()) as { access_token: string; scope: string };
          return { client, status: res.status, body };
        }),
      );
      const jtis = new Set<unknown>();
      for (const { client, status, body } of runs) {
        expect(status).toBe(200);
        const { payload } = await jose.jwtVerify(body.access_token, new TextEncoder().encode(env.TOKEN_SIGNING_KEY));
        expect(payload.sub).toBe(client.clientId);
        expect(payload.scope).toBe(client.record.scopes[0]);
        expect(payload.aud).toBe(client.record.audiences[0]);
        expect(body.scope).toBe(client.record.scopes[0]);
        jtis.add(payload.jti);
      }
      expect(jtis.size).toBe(runs.length);
    }
  });
});

describe("issuing is read-only", () => {
  it("writes nothing to KV when issuing tokens", async () => {
    const client = await seedClient();
    const snapshot = async () => {
      const keys = (await env.CLIENTS.list()).keys.map((k) => k.name).sort();
      return Promise.all(keys.map(async (k) => [k, await env.CLIENTS.get(k)]));
    };
    const before = await snapshot();
    for (let i = 0; i < 3; i++) expect((await requestToken(client)).status).toBe(200);
    expect(await snapshot()).toEqual(before);
  });
});
