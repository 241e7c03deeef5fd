/** Abuse, faults and leaks: brute-force throttling, quotas, registry faults, side channels, the audit log. */

import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import * as jose from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { kvStoreStats } from "../../src/clients/kv-store.ts";
import { setEnabled } from "../../src/clients/lifecycle.ts";
import { verifyWork } from "../../src/clients/verify.ts";
import worker from "../../src/index.ts";
import {
  basicAuth,
  FORM,
  freshMinute,
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

function attempt(clientId: string, secret: string, ip: string): Promise<Response> {
  return post("grant_type=client_credentials", {
    auth: basicAuth(clientId, secret),
    headers: { "CF-Connecting-IP": ip },
  });
}

describe("brute-force protection (RFC 6749 §2.3.1)", () => {
  it("answers 429 slow_down with Retry-After once an IP exceeds 20 failures a minute, without slowing others", async () => {
    await freshMinute();
    const victim = await seedClient();
    const bystander = await seedClient();
    const attacker = randomIp();
    const statuses: number[] = [];
    for (let i = 0; i < 24; i++) {
      const res = await attempt(victim.clientId, `guess-${i}-0123456789abcdefghijklmnop`, attacker);
      statuses.push(res.status);
      await res.arrayBuffer();
    }
    expect(statuses.slice(0, 20).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(20).every((s) => s === 429)).toBe(true);
    const blocked = await attempt(victim.clientId, victim.secret, attacker);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(blocked.headers.get("cache-control")).toBe("no-store");
    expect(await blocked.json()).toEqual({
      error: "slow_down",
      error_description: "Too many failed authentication attempts, retry later",
    });
    // The victim from its own address and an unrelated client are not slowed down.
    // Another address: never the attacker's (a neighbour in the same /24 is as good as any).
    const elsewhere = attacker.endsWith(".1") ? attacker.replace(/\d+$/, "2") : attacker.replace(/\d+$/, "1");
    expect((await attempt(victim.clientId, victim.secret, elsewhere)).status).toBe(200);
    expect((await attempt(bystander.clientId, bystander.secret, elsewhere)).status).toBe(200);
  }, 70_000);

  it("blocks a client id hammered from many addresses after 50 failures, leaving other clients alone", async () => {
    await freshMinute();
    const target = await seedClient();
    const other = await seedClient();
    const statuses: number[] = [];
    for (let i = 0; i < 52; i++) {
      const res = await attempt(target.clientId, `guess-${i}-0123456789abcdefghijklmnop`, randomIp());
      statuses.push(res.status);
      await res.arrayBuffer();
    }
    expect(statuses.filter((s) => s === 401)).toHaveLength(50);
    expect(statuses.slice(50)).toEqual([429, 429]);
    expect((await attempt(target.clientId, target.secret, randomIp())).status).toBe(429);
    expect((await attempt(other.clientId, other.secret, randomIp())).status).toBe(200);
  }, 70_000);

  it("works without the rate-limit bindings (fails open with one warning naming the fix)", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const client = await seedClient();
    const request = () =>
      new Request(TOKEN_URL, {
        method: "POST",
        headers: {
          "Content-Type": FORM,
          Authorization: basicAuth(client.clientId, "wrong-0123456789abcdefghijklmnop"),
        },
        body: "grant_type=client_credentials",
      });
    const bare = { ...env, FAILED_AUTH_BY_IP: undefined, FAILED_AUTH_BY_CLIENT: undefined } as unknown as typeof env;
    for (let i = 0; i < 3; i++)
      expect((await worker.fetch(request(), bare, createExecutionContext())).status).toBe(401);
    expect(warn.mock.calls.map((c) => String(c[0])).join("\n")).toMatch(/rate_limiter_missing.*\[\[ratelimits\]\]/);
  });
});

describe("per-client token quota", () => {
  it("admits about quota_per_minute tokens, then 429 slow_down with Retry-After", async () => {
    await freshMinute();
    const client = await seedClient({ quotaPerMinute: 10 });
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await requestToken(client);
      statuses.push(res.status);
      if (res.status === 429) {
        expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
        expect(((await res.json()) as { error: string }).error).toBe("slow_down");
      } else await res.arrayBuffer();
    }
    expect(statuses.slice(0, 10).every((s) => s === 200)).toBe(true);
    expect(statuses.slice(10)).toEqual([429, 429]);
    // Clients without a quota are never metered.
    const free = await seedClient();
    for (let i = 0; i < 15; i++) expect((await requestToken(free)).status).toBe(200);
  }, 70_000);
});

describe("registry faults", () => {
  function faultyKv(get: () => Promise<unknown>): KVNamespace {
    return new Proxy(env.CLIENTS, {
      get(target, prop) {
        if (prop === "get") return get;
        const value = Reflect.get(target, prop) as unknown;
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  }

  async function expect503(kv: KVNamespace, url = TOKEN_URL, body = "grant_type=client_credentials") {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const client = await seedClient({ canIntrospect: true });
    const res = await worker.fetch(
      new Request(url, {
        method: "POST",
        headers: { "Content-Type": FORM, Authorization: basicAuth(client.clientId, client.secret) },
        body,
      }),
      { ...env, CLIENTS: kv, CLIENT_CACHE_TTL: "0", KV_TIMEOUT_MS: "50" } as typeof env,
      createExecutionContext(),
    );
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({
      error: "temporarily_unavailable",
      error_description: "The authorization server is temporarily unavailable, retry later",
    });
    expect(text).not.toMatch(/at |Error:|access_token/);
    expect(errors.mock.calls.map((c) => String(c[0])).join("\n")).toContain("registry_unavailable");
  }

  it("answers 503 temporarily_unavailable when KV throws", async () => {
    await expect503(faultyKv(() => Promise.reject(new Error("KV GET failed: 500 Internal Server Error"))));
  });

  it("answers 503 when a KV read does not answer in time", async () => {
    await expect503(faultyKv(() => new Promise(() => {})));
  });

  it("answers 503 at introspection when the revocation lookup hangs", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const client = await seedClient({ canIntrospect: true });
    const token = ((await (await requestToken(client)).json()) as { access_token: string }).access_token;
    const hangsOnRevocations = new Proxy(env.CLIENTS, {
      get(target, prop) {
        const value = Reflect.get(target, prop) as unknown;
        if (prop === "get") {
          return (key: string, options: unknown) =>
            key.startsWith("revoked:")
              ? new Promise(() => {})
              : (target.get as (k: string, o: unknown) => unknown)(key, options);
        }
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const res = await worker.fetch(
      new Request(`${ORIGIN}/oauth2/introspect`, {
        method: "POST",
        headers: { "Content-Type": FORM, Authorization: basicAuth(client.clientId, client.secret) },
        body: new URLSearchParams({ token }),
      }),
      { ...env, CLIENTS: hangsOnRevocations, KV_TIMEOUT_MS: "50" } as typeof env,
      createExecutionContext(),
    );
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: string }).error).toBe("temporarily_unavailable");
    expect(errors).toHaveBeenCalled();
  });

  it("answers 503 at introspection when the registry fails", async () => {
    await expect503(
      faultyKv(() => Promise.reject(new Error("KV down"))),
      `${ORIGIN}/oauth2/introspect`,
      "token=a.b.c",
    );
  });
});

describe("side channels", () => {
  it("spends the same crypto work and KV reads on unknown client, wrong secret, disabled client and expired secret", async () => {
    const good = await seedClient();
    const other = await seedClient();
    const disabled = await seedClient();
    await putRecord(setEnabled(disabled.record, false, nowSeconds()));
    const expired = await seedClient({ secretExpiresAt: nowSeconds() - 1 });
    const cases = [
      { clientId: `nobody-${crypto.randomUUID()}`, secret: good.secret },
      { clientId: other.clientId, secret: "wrong-0123456789abcdefghijklmnopqrst" },
      disabled,
      expired,
      good,
    ];
    const measure = async (cacheTtl: string) => {
      const work: unknown[] = [];
      for (const c of cases) {
        const before = { ...verifyWork, reads: kvStoreStats.reads };
        const res = await worker.fetch(
          new Request(TOKEN_URL, {
            method: "POST",
            headers: {
              "Content-Type": FORM,
              Authorization: basicAuth(c.clientId, c.secret),
              "CF-Connecting-IP": randomIp(),
            },
            body: "grant_type=client_credentials",
          }),
          { ...env, CLIENT_CACHE_TTL: cacheTtl } as typeof env,
          createExecutionContext(),
        );
        await res.arrayBuffer();
        work.push({
          digests: verifyWork.digests - before.digests,
          comparisons: verifyWork.comparisons - before.comparisons,
          kvReads: kvStoreStats.reads - before.reads,
        });
      }
      return work;
    };
    // Without the cache every case reads KV once; with it, the first round reads and the second reads nothing.
    for (const w of await measure("0")) expect(w).toEqual({ digests: 1, comparisons: 2, kvReads: 1 });
    for (const w of await measure("30")) expect(w).toEqual({ digests: 1, comparisons: 2, kvReads: 1 });
    for (const w of await measure("30")) expect(w).toEqual({ digests: 1, comparisons: 2, kvReads: 0 });
  });
});

describe("audit log", () => {
  it("writes one JSON line per token request with outcome, client, scope, jti and latency, and no secret or token", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: unknown) => {
      lines.push(String(line));
    });
    const client = await seedClient({ scopes: ["read"] });
    const auth = basicAuth(client.clientId, client.secret);
    const ok = await requestToken(client);
    const token = ((await ok.json()) as { access_token: string }).access_token;
    const bad = await requestToken({ clientId: client.clientId, secret: `${client.secret}-wrong` });
    await bad.arrayBuffer();
    expect(lines).toHaveLength(2);
    const [issued, rejected] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(issued).toMatchObject({
      level: "info",
      event: "token",
      outcome: "issued",
      client_id: client.clientId,
      auth_method: "client_secret_basic",
      scope: "read",
      jti: jose.decodeJwt(token).jti,
    });
    expect(typeof issued?.latency_ms).toBe("number");
    expect(rejected).toMatchObject({
      event: "token",
      outcome: "rejected",
      client_id: client.clientId,
      error: "invalid_client",
      detail: "wrong_secret",
      status: 401,
    });
    const all = lines.join("\n");
    for (const secretish of [client.secret, token, token.split(".")[2] as string, auth, auth.slice(6)])
      expect(all).not.toContain(secretish);
  });

  it("marks a success with the previous secret during a rotation grace period", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: unknown) => {
      lines.push(String(line));
    });
    const { rotateSecret } = await import("../../src/clients/lifecycle.ts");
    const client = await seedClient();
    await putRecord(
      rotateSecret(client.record, { newHash: "n".repeat(43), newExpiresAt: null, graceSeconds: 600 }, nowSeconds()),
    );
    await (await requestToken(client)).arrayBuffer();
    expect(JSON.parse(lines[0] as string)).toMatchObject({ outcome: "issued", secret: "previous" });
  });

  it("logs only the length of a client id that does not exist (it may be a mistyped secret)", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: unknown) => {
      lines.push(String(line));
    });
    const swapped = "s3cr3t-pasted-into-the-id-field-0123456789";
    await (await requestToken({ clientId: swapped, secret: "whatever-0123456789abcdefghijklmnop" })).arrayBuffer();
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain(swapped);
    expect(JSON.parse(lines[0] as string)).toMatchObject({
      outcome: "rejected",
      error: "invalid_client",
      detail: "unknown_client",
      unknown_client_id_length: swapped.length,
    });
  });

  it("writes one line per introspection and revocation, without the token", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: unknown) => {
      lines.push(String(line));
    });
    const client = await seedClient({ canIntrospect: true });
    const token = ((await (await requestToken(client)).json()) as { access_token: string }).access_token;
    const auth = basicAuth(client.clientId, client.secret);
    await (await post(new URLSearchParams({ token }), { url: `${ORIGIN}/oauth2/introspect`, auth })).arrayBuffer();
    await (await post(new URLSearchParams({ token }), { url: `${ORIGIN}/oauth2/revoke`, auth })).arrayBuffer();
    expect(lines).toHaveLength(3);
    const [, introspected, revoked] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(introspected).toMatchObject({
      event: "introspect",
      outcome: "active",
      client_id: client.clientId,
      jti: jose.decodeJwt(token).jti,
    });
    expect(revoked).toMatchObject({ event: "revoke", outcome: "revoked", client_id: client.clientId });
    for (const line of lines) {
      expect(line).not.toContain(token.split(".")[2] as string);
      expect(line).not.toContain(client.secret);
    }
  });

  it("can be switched off with AUDIT_LOG=off", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    const client = await seedClient();
    const res = await worker.fetch(
      new Request(TOKEN_URL, {
        method: "POST",
        headers: { "Content-Type": FORM, Authorization: basicAuth(client.clientId, client.secret) },
        body: "grant_type=client_credentials",
      }),
      { ...env, AUDIT_LOG: "off" } as typeof env,
      createExecutionContext(),
    );
    expect(res.status).toBe(200);
    expect(log).not.toHaveBeenCalled();
  });
});
