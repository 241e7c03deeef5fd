/** Abuse, faults and leaks: brute-force throttling, quotas, registry faults, side channels, the audit log. */

import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import * as jose from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { kvStoreStats } from "../../src/clients/kv-store.ts";
import { setEnabled } from "../../src/clients/lifecycle.ts";
import { verifyWork } from "../../src/clients/verify.ts";
import { CLIENT_ATTACK_THRESHOLD } from "../../src/http/throttle.ts";
import worker from "../../src/index.ts";
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

function attempt(clientId: string, secret: string, ip: string): Promise<Response> {
  return post("grant_type=client_credentials", {
    auth: basicAuth(clientId, secret),
    headers: { "CF-Connecting-IP": ip },
  });
}

const TOO_MANY = { error: "slow_down", error_description: "Too many failed authentication attempts, retry later" };

/** A wrong secret that is a plausible guess (same shape as a generated one). */
function guess(i: number): string {
  return `guess-${i}-0123456789abcdefghijklmnopqrstuvwxyz`;
}

/** Sends a request and reports its status with the KV reads and hashing it caused. */
async function measured(send: () => Promise<Response>): Promise<{ status: number; kvReads: number; digests: number }> {
  const before = { reads: kvStoreStats.reads, digests: verifyWork.digests };
  const res = await send();
  await res.arrayBuffer();
  return {
    status: res.status,
    kvReads: kvStoreStats.reads - before.reads,
    digests: verifyWork.digests - before.digests,
  };
}

async function expectTooMany(res: Response): Promise<void> {
  expect(res.status).toBe(429);
  expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
  expect(res.headers.get("cache-control")).toBe("no-store");
  expect(res.headers.get("www-authenticate")).toBeNull();
  expect(await res.json()).toEqual(TOO_MANY);
}

async function statuses(requests: (() => Promise<Response>)[]): Promise<number[]> {
  const out: number[] = [];
  for (const send of requests) {
    const res = await send();
    out.push(res.status);
    await res.arrayBuffer();
  }
  return out;
}

/** Another source than `ip`: its neighbour in the same /24 (never `ip` itself). */
function neighbour(ip: string): string {
  return ip.endsWith(".1") ? ip.replace(/\d+$/, "2") : ip.replace(/\d+$/, "1");
}

describe("brute-force protection per (source, client id) pair (RFC 6749 §2.3.1, CONTRACT: throttling)", () => {
  it("answers 429 slow_down with Retry-After after 10 failures of a pair a minute, then refuses that pair before any KV read or hash", async () => {
    await freshMinute();
    const victim = await seedClient();
    const bystander = await seedClient();
    const attacker = randomIp();
    const first = await statuses(
      Array.from({ length: 10 }, (_, i) => () => attempt(victim.clientId, guess(i), attacker)),
    );
    expect(first).toEqual(Array(10).fill(401));
    await expectTooMany(await attempt(victim.clientId, guess(10), attacker));
    // Further attempts on the blocked pair, wrong or right, cost no KV read and no hash.
    expect(await measured(() => attempt(victim.clientId, guess(11), attacker))).toEqual({
      status: 429,
      kvReads: 0,
      digests: 0,
    });
    await expectTooMany(await attempt(victim.clientId, victim.secret, attacker));
    // The same client from another source, and another client from the attacker's source, are not slowed.
    expect((await attempt(victim.clientId, victim.secret, neighbour(attacker))).status).toBe(200);
    expect((await attempt(bystander.clientId, bystander.secret, attacker)).status).toBe(200);
    expect((await attempt(bystander.clientId, guess(0), attacker)).status).toBe(401);
  }, 70_000);

  it("counts an IPv6 source by its /64 prefix, so rotating addresses inside it does not reset the count", async () => {
    await freshMinute();
    const victim = await seedClient();
    const prefix = `2001:db8:${Math.floor(Math.random() * 0xffff).toString(16)}:7`;
    const tries = Array.from({ length: 10 }, (_, i) => () => attempt(victim.clientId, guess(i), `${prefix}::${i + 1}`));
    expect(await statuses(tries)).toEqual(Array(10).fill(401));
    await expectTooMany(await attempt(victim.clientId, guess(10), `${prefix}:ffff:ffff:ffff:ffff`));
    expect((await attempt(victim.clientId, victim.secret, `${prefix}1::1`)).status).toBe(200);
  }, 70_000);

  it("never locks a client out for failures of its id from other sources: 300 failures over 60 sources, then its valid secret gets 200", async () => {
    await freshMinute();
    const warnings: string[] = [];
    vi.spyOn(console, "warn").mockImplementation((line: unknown) => {
      warnings.push(String(line));
    });
    const target = await seedClient();
    const sources = Array.from({ length: 60 }, (_, i) => `198.19.${Math.floor(Math.random() * 250)}.${i + 1}`);
    const tries = sources.flatMap((ip) =>
      Array.from({ length: 5 }, (_, i) => () => attempt(target.clientId, guess(i), ip)),
    );
    expect(await statuses(tries)).toEqual(Array(300).fill(401));
    expect((await attempt(target.clientId, target.secret, randomIp())).status).toBe(200);
    expect((await attempt(target.clientId, target.secret, sources[0] as string)).status).toBe(200);
    // The attack is only logged: once per period and isolate, naming the client id.
    const alerts = warnings.filter((w) => w.includes("client_under_attack"));
    expect(alerts).toHaveLength(1);
    expect(JSON.parse(alerts[0] as string)).toMatchObject({
      level: "warn",
      event: "client_under_attack",
      client_id: target.clientId,
      failures: CLIENT_ATTACK_THRESHOLD,
    });
  }, 70_000);

  it("does not count a failure whose secret matched: a disabled client retrying 40 times gets 401, then 200 once enabled", async () => {
    await freshMinute();
    const client = await seedClient();
    const source = randomIp();
    await putRecord(setEnabled(client.record, false, nowSeconds()));
    const retries = Array.from({ length: 40 }, () => () => attempt(client.clientId, client.secret, source));
    expect(await statuses(retries)).toEqual(Array(40).fill(401));
    const last = await attempt(client.clientId, client.secret, source);
    expect(last.status).toBe(401);
    expect(await last.json()).toEqual(INVALID_CLIENT_BODY);
    await putRecord(setEnabled(client.record, true, nowSeconds()));
    expect((await attempt(client.clientId, client.secret, source)).status).toBe(200);
    // An expired secret presented again and again is not a guess either.
    const expired = await seedClient({ secretExpiresAt: nowSeconds() - 1 });
    const stale = Array.from({ length: 15 }, () => () => attempt(expired.clientId, expired.secret, source));
    expect(await statuses(stale)).toEqual(Array(15).fill(401));
  }, 70_000);

  it("answers 429 to every failure from a source spraying unknown client ids after 30 a minute, while valid credentials from it get 200", async () => {
    await freshMinute();
    const known = await seedClient();
    const disabled = await seedClient({ enabled: false });
    const sprayer = randomIp();
    // Every third id cannot exist at all (too long): it never reaches KV, and it counts the same.
    const unknownId = (i: number) => (i % 3 === 0 ? "x".repeat(300) + i : `nobody-${crypto.randomUUID()}`);
    const spray = Array.from({ length: 30 }, (_, i) => () => attempt(unknownId(i), guess(i), sprayer));
    expect(await statuses(spray)).toEqual(Array(30).fill(401));
    await expectTooMany(await attempt(unknownId(31), guess(31), sprayer));
    await expectTooMany(await attempt(unknownId(32), guess(32), sprayer));
    // 401 vs 429 must not tell which ids exist, nor which secret matched.
    await expectTooMany(await attempt(known.clientId, guess(0), sprayer));
    await expectTooMany(await attempt(disabled.clientId, disabled.secret, sprayer));
    const valid = await attempt(known.clientId, known.secret, sprayer);
    expect(valid.status).toBe(200);
    expect(((await valid.json()) as { token_type: string }).token_type).toBe("Bearer");
    // Other sources are not affected.
    const elsewhere = await attempt(unknownId(33), guess(33), neighbour(sprayer));
    expect(elsewhere.status).toBe(401);
    expect(await elsewhere.json()).toEqual(INVALID_CLIENT_BODY);
  }, 70_000);

  it("does not reveal which client ids exist: unknown and known ids reach the pair and source limits alike", async () => {
    await freshMinute();
    const known = await seedClient();
    const unknown = `nobody-${crypto.randomUUID()}`;
    // The same id tried again and again from one source: the 11th try is refused whether the id exists or not,
    // and later tries cost no KV read in either case.
    for (const id of [known.clientId, unknown]) {
      const source = randomIp();
      const tries = Array.from({ length: 10 }, (_, i) => () => attempt(id, guess(i), source));
      expect(await statuses(tries)).toEqual(Array(10).fill(401));
      await expectTooMany(await attempt(id, guess(10), source));
      expect(await measured(() => attempt(id, guess(11), source))).toEqual({ status: 429, kvReads: 0, digests: 0 });
    }
    // 30 failures with unknown ids, then a known id's wrong secret: the 31st failure is refused all the same.
    const source = randomIp();
    const fillers = Array.from(
      { length: 30 },
      (_, i) => () => attempt(`nobody-${crypto.randomUUID()}`, guess(i), source),
    );
    expect(await statuses(fillers)).toEqual(Array(30).fill(401));
    await expectTooMany(await attempt(known.clientId, guess(0), source));
  }, 70_000);

  it("never counts or blocks a source in THROTTLE_EXEMPT_CIDRS (IPv4 and IPv6 ranges)", async () => {
    await freshMinute();
    const client = await seedClient();
    const exempt = { ...env, THROTTLE_EXEMPT_CIDRS: "198.51.100.0/24 2001:db8:e::/48" } as typeof env;
    const send = async (id: string, secret: string, ip: string) =>
      worker.fetch(
        new Request(TOKEN_URL, {
          method: "POST",
          headers: { "Content-Type": FORM, Authorization: basicAuth(id, secret), "CF-Connecting-IP": ip },
          body: "grant_type=client_credentials",
        }),
        exempt,
        createExecutionContext(),
      );
    const v4 = `198.51.100.${1 + Math.floor(Math.random() * 250)}`;
    const v6 = `2001:db8:e:${Math.floor(Math.random() * 0xffff).toString(16)}::1`;
    for (const ip of [v4, v6]) {
      const guesses = Array.from({ length: 15 }, (_, i) => () => send(client.clientId, guess(i), ip));
      expect(await statuses(guesses)).toEqual(Array(15).fill(401));
      const unknowns = Array.from({ length: 35 }, (_, i) => () => send(`nobody-${crypto.randomUUID()}`, guess(i), ip));
      expect(await statuses(unknowns)).toEqual(Array(35).fill(401));
      expect((await send(client.clientId, client.secret, ip)).status).toBe(200);
    }
    // Outside the ranges, the same traffic is throttled.
    const outside = Array.from({ length: 11 }, (_, i) => () => send(client.clientId, guess(i), randomIp()));
    const plain = randomIp();
    const counted = Array.from({ length: 11 }, (_, i) => () => send(client.clientId, guess(i), plain));
    expect(await statuses(outside)).toEqual(Array(11).fill(401));
    expect((await statuses(counted)).slice(10)).toEqual([429]);
  }, 70_000);

  it("works without the rate-limit bindings (fails open with one warning naming the fix)", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const client = await seedClient();
    const request = (id: string) =>
      new Request(TOKEN_URL, {
        method: "POST",
        headers: { "Content-Type": FORM, Authorization: basicAuth(id, "wrong-0123456789abcdefghijklmnop") },
        body: "grant_type=client_credentials",
      });
    const bare = {
      ...env,
      FAILED_AUTH_BY_PAIR: undefined,
      FAILED_AUTH_BY_SOURCE: undefined,
    } as unknown as typeof env;
    for (let i = 0; i < 3; i++) {
      expect((await worker.fetch(request(client.clientId), bare, createExecutionContext())).status).toBe(401);
      expect((await worker.fetch(request(`nobody-${i}`), bare, createExecutionContext())).status).toBe(401);
    }
    const logged = warn.mock.calls.map((c) => String(c[0]));
    for (const binding of ["FAILED_AUTH_BY_PAIR", "FAILED_AUTH_BY_SOURCE"]) {
      const lines = logged.filter((l) => l.includes("rate_limiter_missing") && l.includes(binding));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain("[[ratelimits]]");
    }
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
