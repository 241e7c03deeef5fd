/**
 * The claims hook (docs/claims.md) through the worker's fetch, with real second Workers as the `CLAIMS_HOOK` service
 * binding (vitest.config.ts): the test hook (test/worker/fixtures/claims-hook.ts, its behaviour picked by the
 * client's static claim `hook_mode`) and examples/claims-hook. Claims added, refusals, every failure (timeout, throw,
 * status, junk, reserved names, limits) failing closed with 503 and a log line, and `CLAIMS_HOOK_FAILURE=omit`.
 */

import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import * as jose from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { newKeyClientRecord } from "../../src/clients/lifecycle.ts";
import worker from "../../src/index.ts";
import { CLAIMS_HOOK_URL } from "../../src/remote/claims-hook.ts";
import { basicAuth, FORM, nowSeconds, ORIGIN, putRecord, randomIp, seedClient, TOKEN_URL } from "./helpers.ts";

const hooks = env as unknown as { TEST_CLAIMS_HOOK: Fetcher; EXAMPLE_CLAIMS_HOOK: Fetcher };
const hmacKey = new TextEncoder().encode(env.TOKEN_SIGNING_KEY);
const UNAVAILABLE = {
  error: "temporarily_unavailable",
  error_description: "The authorization server is temporarily unavailable, retry later",
};

afterEach(() => {
  vi.restoreAllMocks();
});

interface Client {
  clientId: string;
  secret: string;
}

function withHook(overrides: Record<string, unknown> = {}, hook: Fetcher = hooks.TEST_CLAIMS_HOOK): typeof env {
  return { ...env, CLAIMS_HOOK: hook, ...overrides } as typeof env;
}

function tokenRequest(
  client: Client,
  options: { body?: string; headers?: Record<string, string>; env?: typeof env } = {},
): Promise<Response> {
  const request = new Request(TOKEN_URL, {
    method: "POST",
    headers: {
      "Content-Type": FORM,
      Authorization: basicAuth(client.clientId, client.secret),
      "CF-Connecting-IP": randomIp(),
      ...options.headers,
    },
    body: options.body ?? "grant_type=client_credentials",
  });
  return Promise.resolve(worker.fetch(request, options.env ?? withHook(), createExecutionContext()));
}

async function hookClient(mode: string, claims: Record<string, unknown> = {}, scopes = ["read", "write"]) {
  return seedClient({ scopes, claims: { hook_mode: mode, ...claims } });
}

async function calls(client: Client): Promise<number> {
  const res = await hooks.TEST_CLAIMS_HOOK.fetch(`https://claims-hook/calls?client_id=${client.clientId}`);
  return ((await res.json()) as { calls: number }).calls;
}

/** The JSON log lines written with console[level] while `run` ran. */
async function logged(level: "log" | "warn" | "error", run: () => Promise<void>): Promise<Record<string, unknown>[]> {
  const spy = vi.spyOn(console, level).mockImplementation(() => {});
  await run();
  const lines = spy.mock.calls.map((c) => JSON.parse(String(c[0])) as Record<string, unknown>);
  spy.mockRestore();
  return lines;
}

async function tokenPayload(res: Response): Promise<Record<string, unknown>> {
  const body = (await res.json()) as { access_token?: string };
  expect(res.status, JSON.stringify(body)).toBe(200);
  return (await jose.jwtVerify(body.access_token as string, hmacKey, { typ: "at+jwt", algorithms: ["HS256"] })).payload;
}

describe("the hook's request", () => {
  it("is one JSON POST with the client, granted scope, audience, static claims, auth method, DPoP key and token ids", async () => {
    const pair = await jose.generateKeyPair("ES256", { extractable: true });
    const publicJwk = await jose.exportJWK(pair.publicKey);
    const proof = await new jose.SignJWT({ htm: "POST", htu: TOKEN_URL, iat: nowSeconds(), jti: crypto.randomUUID() })
      .setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk: publicJwk })
      .sign(pair.privateKey);
    const client = await hookClient("echo", { tenant: "acme" });
    const payload = await tokenPayload(
      await tokenRequest(client, { body: "grant_type=client_credentials&scope=read", headers: { DPoP: proof } }),
    );
    expect(payload.seen).toEqual({
      method: "POST",
      url: CLAIMS_HOOK_URL,
      content_type: "application/json",
      body: {
        client_id: client.clientId,
        scope: "read",
        aud: ORIGIN,
        claims: { hook_mode: "echo", tenant: "acme" },
        token_endpoint_auth_method: "client_secret_basic",
        dpop_jkt: await jose.calculateJwkThumbprint(publicJwk),
        iss: ORIGIN,
        jti: payload.jti,
        iat: payload.iat,
        exp: payload.exp,
      },
    });
  });

  it("names private_key_jwt for an assertion client, and null scope and DPoP key when there are none", async () => {
    const pair = await jose.generateKeyPair("EdDSA", { extractable: true, crv: "Ed25519" });
    const clientId = `kc-${crypto.randomUUID()}`;
    const publicJwk = { ...(await jose.exportJWK(pair.publicKey)), kid: "k1", alg: "EdDSA" };
    await putRecord(
      newKeyClientRecord(
        { clientId, keys: { jwks: { keys: [publicJwk] } }, settings: { name: "k", claims: { hook_mode: "echo" } } },
        nowSeconds(),
      ),
    );
    const now = nowSeconds();
    const assertion = await new jose.SignJWT({ iss: clientId, sub: clientId, aud: ORIGIN, iat: now, exp: now + 60 })
      .setJti(crypto.randomUUID())
      .setProtectedHeader({ alg: "EdDSA", kid: "k1" })
      .sign(pair.privateKey);
    const res = await worker.fetch(
      new Request(TOKEN_URL, {
        method: "POST",
        headers: { "Content-Type": FORM, "CF-Connecting-IP": randomIp() },
        body: new URLSearchParams({
          grant_type: "client_credentials",
          client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
          client_assertion: assertion,
        }),
      }),
      withHook(),
      createExecutionContext(),
    );
    const seen = (await tokenPayload(res)).seen as { body: Record<string, unknown> };
    expect(seen.body).toMatchObject({ token_endpoint_auth_method: "private_key_jwt", scope: null, dpop_jkt: null });
  });

  it("is not made for a request that fails authentication or asks for a scope the client lacks", async () => {
    const client = await hookClient("add");
    expect((await tokenRequest({ clientId: client.clientId, secret: "wrong-secret" })).status).toBe(401);
    expect((await tokenRequest(client, { body: "grant_type=client_credentials&scope=admin" })).status).toBe(400);
    expect(await calls(client)).toBe(0);
    expect((await tokenRequest(client)).status).toBe(200);
    expect(await calls(client)).toBe(1);
  });
});

describe("claims the hook adds", () => {
  it("go into the token over the static ones (same name: the hook's value wins), and into introspection", async () => {
    const client = await hookClient("add", { tenant: "static", team: "core" });
    const res = await tokenRequest(client);
    const body = (await res.clone().json()) as { access_token: string };
    expect(await tokenPayload(res)).toMatchObject({
      hook_mode: "add",
      tenant: "from-hook",
      team: "core",
      roles: ["reader"],
      hook_time: 1,
      sub: client.clientId,
    });
    const introspector = await seedClient({ canIntrospect: true });
    const introspection = await worker.fetch(
      new Request(`${ORIGIN}/oauth2/introspect`, {
        method: "POST",
        headers: { "Content-Type": FORM, Authorization: basicAuth(introspector.clientId, introspector.secret) },
        body: new URLSearchParams({ token: body.access_token }),
      }),
      env,
      createExecutionContext(),
    );
    expect(await introspection.json()).toMatchObject({ active: true, tenant: "from-hook", roles: ["reader"] });
  });

  it('may be none at all ({} or {"claims": {}}): the token carries the static claims only', async () => {
    for (const mode of ["nothing", "default"]) {
      const client = await hookClient(mode);
      const payload = await tokenPayload(await tokenRequest(client));
      expect(Object.keys(payload).slice(-1)).toEqual(["hook_mode"]);
    }
  });

  it("are recorded in the audit line as claims_hook ok", async () => {
    const client = await hookClient("add");
    const lines = await logged("log", async () => {
      expect((await tokenRequest(client)).status).toBe(200);
    });
    expect(lines).toEqual([expect.objectContaining({ event: "token", outcome: "issued", claims_hook: "ok" })]);
  });

  it("serve concurrent token requests, each with its own hook call", async () => {
    const client = await hookClient("add");
    const results = await Promise.all(Array.from({ length: 8 }, () => tokenRequest(client)));
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(await calls(client)).toBe(8);
  });
});

describe("a refusal by the hook", () => {
  it("is 400 invalid_scope with the hook's description, made safe for RFC 6749 §5.2, and no token", async () => {
    const client = await hookClient("refuse-scope");
    const res = await tokenRequest(client);
    expect(res.status).toBe(400);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(await res.json()).toEqual({ error: "invalid_scope", error_description: "No 'write' for you?today" });
  });

  it("is 400 unauthorized_client with a generic description when the hook gives none", async () => {
    const lines = await logged("log", async () => {
      const res = await tokenRequest(await hookClient("refuse-client"));
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({
        error: "unauthorized_client",
        error_description: "The token request was refused by policy",
      });
    });
    expect(lines[0]).toMatchObject({
      outcome: "rejected",
      claims_hook: "refused",
      detail: "refused by the claims hook",
    });
  });

  it("stays a refusal with CLAIMS_HOOK_FAILURE=omit (omit is for failures only)", async () => {
    const res = await tokenRequest(await hookClient("refuse-scope"), {
      env: withHook({ CLAIMS_HOOK_FAILURE: "omit" }),
    });
    expect(res.status).toBe(400);
  });
});

const FAILURES: [mode: string, cause: RegExp, extra?: Record<string, unknown>][] = [
  ["slow", /^no answer within 50 ms/, { delay_ms: 1000 }],
  ["slow-body", /^no answer within 50 ms/, { delay_ms: 1000 }],
  ["slow-body-length", /^no answer within 50 ms/, { delay_ms: 1000 }],
  ["throw", /^the call failed: .*the hook crashed/],
  ["status", /^it answered HTTP 500/],
  ["not-json", /^its answer is not JSON/],
  ["huge-body", /^its answer exceeds 16384 bytes/],
  ["not-object", /^the answer is not a JSON object/],
  ["bad-error", /^"error" must be one of invalid_scope, unauthorized_client, not "access_denied"/],
  ["reserved", /^the hook's claims: "sub" is reserved/],
  ["too-big", /^the hook's claims take \d+ bytes as JSON, more than the 2048/],
];

describe("a hook that fails, times out or answers junk (fail closed)", () => {
  for (const [mode, cause, extra] of FAILURES) {
    it(`answers 503 temporarily_unavailable with Retry-After and logs what the hook did: ${mode}`, async () => {
      const client = await hookClient(mode, extra);
      let res: Response | undefined;
      const errors = await logged("error", async () => {
        res = await tokenRequest(client, { env: withHook({ CLAIMS_HOOK_TIMEOUT_MS: "50" }) });
      });
      expect(res?.status).toBe(503);
      expect(res?.headers.get("retry-after")).toBe("5");
      expect(await res?.json()).toEqual(UNAVAILABLE);
      const line = errors.find((l) => l.event === "claims_hook_failed");
      expect(line).toMatchObject({ level: "error", client_id: client.clientId, outcome: "token refused with 503" });
      expect(String(line?.cause)).toMatch(cause);
      expect(String(line?.fix)).toContain("CLAIMS_HOOK_FAILURE=omit");
    });
  }

  it("fails when static and hook claims together pass the size limit", async () => {
    const client = await hookClient("add", { filler: "y".repeat(2000) });
    const errors = await logged("error", async () => {
      expect((await tokenRequest(client)).status).toBe(503);
    });
    expect(String(errors[0]?.cause)).toMatch(/^static and hook claims together take \d+ bytes/);
  });
});

describe("CLAIMS_HOOK_FAILURE=omit", () => {
  for (const [mode, cause, extra] of FAILURES) {
    it(`issues the token with the static claims only, and logs a warning: ${mode}`, async () => {
      const client = await hookClient(mode, { tenant: "acme", ...extra });
      let res: Response | undefined;
      const warnings = await logged("warn", async () => {
        res = await tokenRequest(client, {
          env: withHook({ CLAIMS_HOOK_FAILURE: "omit", CLAIMS_HOOK_TIMEOUT_MS: "50" }),
        });
      });
      const payload = await tokenPayload(res as Response);
      expect(payload).toMatchObject({ tenant: "acme", hook_mode: mode });
      for (const name of ["late", "a", "sub", "big"]) {
        if (name === "sub") expect(payload.sub).toBe(client.clientId);
        else expect(payload).not.toHaveProperty(name);
      }
      const line = warnings.find((l) => l.event === "claims_hook_failed");
      expect(line).toMatchObject({ level: "warn", outcome: expect.stringContaining("without the hook's claims") });
      expect(String(line?.cause)).toMatch(cause);
    });
  }

  it("does not keep part of a rejected answer (static and hook claims over the limit)", async () => {
    const client = await hookClient("add", { filler: "y".repeat(2000) });
    const payload = await tokenPayload(await tokenRequest(client, { env: withHook({ CLAIMS_HOOK_FAILURE: "omit" }) }));
    expect(payload).not.toHaveProperty("roles");
    expect(payload).not.toHaveProperty("tenant");
  });
});

describe("hook configuration", () => {
  it("answers 500 server_error naming the fix when CLAIMS_HOOK is not a service binding", async () => {
    const errors = await logged("error", async () => {
      const res = await tokenRequest(await seedClient(), {
        env: { ...env, CLAIMS_HOOK: "keymint-claims-hook" } as typeof env,
      });
      expect(res.status).toBe(500);
    });
    expect(errors[0]).toMatchObject({ event: "configuration_error" });
    expect(String(errors[0]?.fix)).toContain('binding = "CLAIMS_HOOK"');
  });

  for (const [name, value] of [
    ["CLAIMS_HOOK_TIMEOUT_MS", "5"],
    ["CLAIMS_HOOK_TIMEOUT_MS", "soon"],
    ["CLAIMS_HOOK_FAILURE", "open"],
  ] as const) {
    it(`answers 500 server_error for ${name}=${value}`, async () => {
      const errors = await logged("error", async () => {
        const res = await tokenRequest(await seedClient(), { env: withHook({ [name]: value }) });
        expect(res.status).toBe(500);
      });
      expect(String(errors[0]?.cause)).toContain(name);
    });
  }

  it("does not call any hook without CLAIMS_HOOK (the default: no claims_hook in the audit line)", async () => {
    const client = await hookClient("add");
    const lines = await logged("log", async () => {
      const payload = await tokenPayload(await tokenRequest(client, { env }));
      expect(payload).not.toHaveProperty("roles");
    });
    expect(lines[0]).not.toHaveProperty("claims_hook");
    expect(await calls(client)).toBe(0);
  });
});

describe("examples/claims-hook (its wrangler.toml vars)", () => {
  const example = withHook({}, hooks.EXAMPLE_CLAIMS_HOOK);

  it("adds env and the tenant's plan", async () => {
    const client = await seedClient({ claims: { tenant: "acme" } });
    expect(await tokenPayload(await tokenRequest(client, { env: example }))).toMatchObject({
      tenant: "acme",
      env: "local",
      plan: "enterprise",
    });
  });

  it("refuses a paid scope to a free tenant with invalid_scope, and grants the free scopes", async () => {
    const client = await seedClient({ claims: { tenant: "globex" } });
    const refused = await tokenRequest(client, { env: example });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toEqual({
      error: "invalid_scope",
      error_description: "The write scope needs a paid plan; ask for scope without it",
    });
    const read = await tokenRequest(client, { env: example, body: "grant_type=client_credentials&scope=read" });
    expect(await tokenPayload(read)).toMatchObject({ plan: "free", scope: "read" });
  });

  it("adds only env for a client without a tenant", async () => {
    const payload = await tokenPayload(await tokenRequest(await seedClient(), { env: example }));
    expect(payload.env).toBe("local");
    expect(payload).not.toHaveProperty("plan");
  });
});
