/** Deployment configuration through the worker: signing key, issuer, TTL, cache; faults give server_error. */

import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import * as jose from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { clientKey } from "../../src/clients/record.ts";
import worker from "../../src/index.ts";
import { basicAuth, FORM, INVALID_CLIENT_BODY, putRecord, seedClient, TOKEN_URL } from "./helpers.ts";

function tokenRequest(client: { clientId: string; secret: string }): Request {
  return new Request(TOKEN_URL, {
    method: "POST",
    headers: { "Content-Type": FORM, Authorization: basicAuth(client.clientId, client.secret) },
    body: "grant_type=client_credentials",
  });
}

function call(request: Request, overrides: Record<string, unknown>): Promise<Response> {
  return Promise.resolve(worker.fetch(request, { ...env, ...overrides } as typeof env, createExecutionContext()));
}

/** Sends a token request with these settings; expects 500 server_error and exactly one configuration log line. */
async function configurationError(overrides: Record<string, unknown>): Promise<Record<string, string>> {
  const errors = vi.spyOn(console, "error").mockImplementation(() => {});
  const res = await call(tokenRequest(await seedClient()), overrides);
  expect(res.status).toBe(500);
  expect(res.headers.get("cache-control")).toBe("no-store");
  expect(await res.json()).toEqual({
    error: "server_error",
    error_description: "The authorization server encountered an internal error",
  });
  expect(errors).toHaveBeenCalledTimes(1);
  const line = JSON.parse(String(errors.mock.calls[0]?.[0])) as Record<string, string>;
  expect(line).toMatchObject({ level: "error", event: "configuration_error" });
  return line;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("signing key (TOKEN_SIGNING_KEY)", () => {
  for (const [label, value] of [
    ["missing", undefined],
    ["too short", "short-key"],
  ] as const) {
    it(`answers 500 server_error and logs the fix when the key is ${label}, never issuing a token`, async () => {
      const errors = vi.spyOn(console, "error").mockImplementation(() => {});
      const client = await seedClient();
      const res = await call(tokenRequest(client), { TOKEN_SIGNING_KEY: value });
      expect(res.status).toBe(500);
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(await res.json()).toEqual({
        error: "server_error",
        error_description: "The authorization server encountered an internal error",
      });
      const logged = errors.mock.calls.map((c) => String(c[0])).join("\n");
      expect(logged).toContain("wrangler secret put TOKEN_SIGNING_KEY");
      expect(logged).toContain('"level":"error"');
    });
  }

  it("answers 500 server_error naming the binding when CLIENTS is missing", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const client = await seedClient();
    const res = await call(tokenRequest(client), { CLIENTS: undefined });
    expect(res.status).toBe(500);
    expect(((await res.json()) as { error: string }).error).toBe("server_error");
    expect(errors.mock.calls.map((c) => String(c[0])).join("\n")).toContain("kv_namespaces");
  });

  it("signs with the configured key: jose verifies with it and only with it", async () => {
    const client = await seedClient();
    const otherKey = "a-completely-different-signing-key-0123456789";
    const res = await call(tokenRequest(client), { TOKEN_SIGNING_KEY: otherKey });
    const { access_token: token } = (await res.json()) as { access_token: string };
    await jose.jwtVerify(token, new TextEncoder().encode(otherKey));
    await expect(jose.jwtVerify(token, new TextEncoder().encode(env.TOKEN_SIGNING_KEY))).rejects.toThrow();
  });
});

describe("vars", () => {
  it("uses a configured ISSUER for iss (and as default aud) instead of the request origin", async () => {
    const client = await seedClient();
    const res = await call(tokenRequest(client), { ISSUER: "https://auth.example.com" });
    const claims = jose.decodeJwt(((await res.json()) as { access_token: string }).access_token);
    expect(claims.iss).toBe("https://auth.example.com");
    expect(claims.aud).toBe("https://auth.example.com");
  });

  it("uses DEFAULT_AUDIENCE for clients without their own audience", async () => {
    const client = await seedClient();
    const res = await call(tokenRequest(client), { DEFAULT_AUDIENCE: "https://api.example.com" });
    expect(jose.decodeJwt(((await res.json()) as { access_token: string }).access_token).aud).toBe(
      "https://api.example.com",
    );
  });

  it("uses DEFAULT_TOKEN_TTL for clients without their own TTL", async () => {
    const client = await seedClient();
    const res = await call(tokenRequest(client), { DEFAULT_TOKEN_TTL: "900" });
    expect(((await res.json()) as { expires_in: number }).expires_in).toBe(900);
  });

  it("answers 500 server_error with a log naming the var when a var is invalid", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const client = await seedClient();
    for (const overrides of [{ DEFAULT_TOKEN_TTL: "ten" }, { ISSUER: "ftp://x" }, { CLIENT_CACHE_TTL: "-1" }]) {
      const res = await call(tokenRequest(client), overrides);
      expect(res.status).toBe(500);
    }
    const logged = errors.mock.calls.map((c) => String(c[0])).join("\n");
    expect(logged).toContain("DEFAULT_TOKEN_TTL");
    expect(logged).toContain("ISSUER");
    expect(logged).toContain("CLIENT_CACHE_TTL");
  });

  it("reports every invalid setting in one log line, each with its fix, still as 500 server_error", async () => {
    const line = await configurationError({
      KV_CACHE_TTL: "5",
      KV_TIMEOUT_MS: "0",
      ISSUER: "http://auth.example.com",
      SCOPES_SUPPORTED: 'read "write"',
    });
    for (const name of ["KV_CACHE_TTL", "KV_TIMEOUT_MS", "ISSUER", "SCOPES_SUPPORTED"]) {
      expect(line.cause).toContain(name);
      expect(line.fix).toContain(`set ${name} (`);
    }
    expect(line.fix).toContain("--var KV_CACHE_TTL:VALUE");
  });
});

describe("THROTTLE_EXEMPT_CIDRS", () => {
  it("answers 500 server_error and logs one line naming every malformed CIDR and the fix", async () => {
    const line = await configurationError({ THROTTLE_EXEMPT_CIDRS: "10.0.0.0/8 10.1.2.3/33 2001:db8::/48 nope" });
    expect(line.cause).toContain("THROTTLE_EXEMPT_CIDRS");
    expect(line.cause).toContain("10.1.2.3/33");
    expect(line.cause).toContain("nope");
    expect(line.cause).not.toContain("10.0.0.0/8");
    expect(line.fix).toContain("space-separated CIDRs");
  });

  it("accepts an empty list and well-formed IPv4 and IPv6 ranges", async () => {
    const client = await seedClient();
    for (const value of ["", "  ", "192.0.2.0/24 2001:db8::/32 ::ffff:0:0/96"]) {
      expect((await call(tokenRequest(client), { THROTTLE_EXEMPT_CIDRS: value })).status).toBe(200);
    }
  });
});

describe("corrupt client record", () => {
  it("answers invalid_client (same body as a wrong secret) and logs an error naming the client id", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const client = await seedClient();
    await env.CLIENTS.put(clientKey(client.clientId), "{not json");
    const res = await call(tokenRequest(client), {});
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual(INVALID_CLIENT_BODY);
    const logged = errors.mock.calls.map((c) => String(c[0])).join("\n");
    expect(logged).toContain("corrupt_client_record");
    expect(logged).toContain(client.clientId);
  });

  it("treats a record with a missing field as corrupt, not as a half-trusted client", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const client = await seedClient();
    const { secrets: _drop, ...broken } = client.record;
    await env.CLIENTS.put(clientKey(client.clientId), JSON.stringify(broken));
    const res = await call(tokenRequest(client), {});
    expect(res.status).toBe(401);
  });
});

describe("in-isolate client cache (CLIENT_CACHE_TTL)", () => {
  it("serves a busy client from the cache, so a change shows only after the TTL", async () => {
    const client = await seedClient();
    const cached = { CLIENT_CACHE_TTL: "30" };
    expect((await call(tokenRequest(client), cached)).status).toBe(200);
    await putRecord({ ...client.record, enabled: false });
    // Within the TTL the cached (enabled) record is still used...
    expect((await call(tokenRequest(client), cached)).status).toBe(200);
    // ...while an isolate without the cache sees the change at once.
    expect((await call(tokenRequest(client), { CLIENT_CACHE_TTL: "0" })).status).toBe(401);
  });
});

describe("on/off and numeric vars", () => {
  it("refuses an AUDIT_LOG or DPOP_NONCE that is neither on nor off, naming both in one line", async () => {
    const line = await configurationError({ AUDIT_LOG: "quiet", DPOP_NONCE: "yes" });
    expect(line.cause).toMatch(/AUDIT_LOG is "quiet"/);
    expect(line.cause).toMatch(/DPOP_NONCE is "yes"/);
    expect(line.fix).toMatch(/AUDIT_LOG.*"on" or "off"/);
    expect(line.fix).toMatch(/DPOP_NONCE.*"on" or "off"/);
  });

  it("reads a var given as a TOML number, as wrangler passes `DEFAULT_TOKEN_TTL = 900` through", async () => {
    const client = await seedClient();
    const res = await call(tokenRequest(client), { DEFAULT_TOKEN_TTL: 900, CLIENT_CACHE_TTL: 0 });
    expect(((await res.json()) as { expires_in: number }).expires_in).toBe(900);
  });
});
