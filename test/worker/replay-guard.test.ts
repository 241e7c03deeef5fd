/**
 * The replay guard (src/replay/): a SQLite-backed Durable Object that accepts a one-time id once (RFC 7523 §3
 * assertion `jti`, RFC 9449 §11.1 proof `jti`). Directly (concurrent claims, expiry by alarm), through two
 * separate keymint instances sharing it (as two Cloudflare locations would), and with an object that fails.
 */

import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import * as jose from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { newKeyClientRecord } from "../../src/clients/lifecycle.ts";
import worker from "../../src/index.ts";
import { assertionShard, oneTimeIds, proofShard, type ReplayGuardNamespace } from "../../src/replay/claim.ts";
import { CLOCK_MARGIN, type ReplayGuard, SWEEP_INTERVAL } from "../../src/replay/guard.ts";
import {
  basicAuth,
  FORM,
  INVALID_CLIENT_BODY,
  nowSeconds,
  ORIGIN,
  putRecord,
  randomIp,
  seedClient,
  TOKEN_URL,
} from "./helpers.ts";

const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

interface TestEnv {
  KEYMINT_A: Fetcher;
  KEYMINT_B: Fetcher;
  FAILING_REPLAY_GUARD: ReplayGuardNamespace;
  SILENT_REPLAY_GUARD: ReplayGuardNamespace;
}
const testEnv = env as unknown as typeof env & TestEnv;

afterEach(() => {
  vi.restoreAllMocks();
});

function guard(name = `test ${crypto.randomUUID()}`) {
  return env.REPLAY_GUARD.getByName(name);
}

function storedIds(stub: DurableObjectStub): Promise<{ id: string; until: number }[]> {
  return runInDurableObject(stub, (_, state) =>
    state.storage.sql.exec<{ id: string; until: number }>("SELECT id, until FROM used ORDER BY id").toArray(),
  );
}

describe("the ReplayGuard object", () => {
  it("lets exactly one of many concurrent claims of one id win", async () => {
    const stub = guard();
    const until = nowSeconds() + 60;
    const results = await Promise.all(Array.from({ length: 25 }, () => stub.claim("jti-1", until)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await stub.claim("jti-1", until)).toBe(false);
    expect(await stub.claim("jti-2", until)).toBe(true);
  });

  it("decides claims that arrive together one by one: each distinct id wins once, each one stored", async () => {
    const stub = guard();
    const until = nowSeconds() + 60;
    const ids = Array.from({ length: 40 }, (_, i) => `id-${i % 20}`);
    const results = await Promise.all(ids.map((id) => stub.claim(id, until)));
    for (let i = 0; i < 20; i++) {
      expect([results[i], results[i + 20]], `id-${i}`).toEqual([true, false]);
    }
    expect((await storedIds(stub)).map((row) => row.id).sort()).toEqual(
      Array.from({ length: 20 }, (_, i) => `id-${i}`).sort(),
    );
  });

  it("refuses a whole batch when its write fails, and stores none of it", async () => {
    const stub = guard();
    const until = nowSeconds() + 60;
    await runInDurableObject(stub, (_, state) => {
      // A table the claim statement cannot write to: every insert fails (SQLITE_CONSTRAINT).
      state.storage.sql.exec("DROP TABLE used");
      state.storage.sql.exec("CREATE TABLE used (id TEXT PRIMARY KEY, until INTEGER NOT NULL CHECK (until < 0))");
    });
    const results = await Promise.allSettled([stub.claim("a", until), stub.claim("b", until)]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(await storedIds(stub)).toEqual([]);
  });

  it("lets exactly one of two isolates' concurrent claims win (the per-isolate check cannot accept alone)", async () => {
    const shard = `test ${crypto.randomUUID()}`;
    const [a, b] = [oneTimeIds(env.REPLAY_GUARD, 3000), oneTimeIds(env.REPLAY_GUARD, 3000)];
    const now = nowSeconds();
    const results = await Promise.all([
      a.claim(shard, "x", now + 60, now),
      b.claim(shard, "x", now + 60, now),
      a.claim(shard, "x", now + 60, now),
      b.claim(shard, "x", now + 60, now),
    ]);
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it("keeps an id past its last second by the clock margin, then lets its alarm delete it", async () => {
    const stub = guard();
    const now = nowSeconds();
    // One id whose last second was long ago (margin included), one just inside the margin, one live.
    expect(await stub.claim("old", now - CLOCK_MARGIN - 10)).toBe(true);
    expect(await stub.claim("margin", now - 5)).toBe(true);
    expect(await stub.claim("live", now + 300)).toBe(true);
    expect(await stub.claim("margin", now - 5)).toBe(false);
    expect(await stub.claim("live", now + 300)).toBe(false);
    const scheduled = await runInDurableObject(stub, (_, state) => state.storage.getAlarm());
    expect(scheduled).toBeGreaterThanOrEqual((now + SWEEP_INTERVAL) * 1000);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await storedIds(stub)).map((row) => row.id)).toEqual(["live", "margin"]);
    // While ids remain, the next sweep is scheduled: storage stays bounded by the ids still inside their lifetime.
    const next = await runInDurableObject(stub, (_, state) => state.storage.getAlarm());
    expect(next).toBeGreaterThan(Date.now());
    vi.useFakeTimers({ now: (now + 300 + CLOCK_MARGIN + 1) * 1000, toFake: ["Date"] });
    try {
      expect(await runDurableObjectAlarm(stub)).toBe(true);
      expect(await storedIds(stub)).toEqual([]);
      expect(await runInDurableObject(stub, (_, state) => state.storage.getAlarm())).toBeNull();
    } finally {
      vi.useRealTimers();
    }
  });

  it("accepts an id again only once it expired (beyond the margin), when the old proof could no longer pass", async () => {
    const stub = guard();
    const now = nowSeconds();
    expect(await stub.claim("reused", now - CLOCK_MARGIN - 1)).toBe(true);
    expect(await stub.claim("reused", now + 60)).toBe(true);
    expect(await stub.claim("reused", now + 60)).toBe(false);
  });

  it("refuses malformed arguments rather than storing them", async () => {
    await runInDurableObject(guard(), (instance: ReplayGuard) => {
      expect(() => instance.claim("", nowSeconds())).toThrow(/invalid id/);
      expect(() => instance.claim("x", nowSeconds() + 10 * 86400)).toThrow(/invalid expiry/);
      expect(() => instance.claim("x", 1.5)).toThrow(/invalid expiry/);
    });
  });
});

interface KeyPair {
  publicJwk: jose.JWK;
  privateKey: CryptoKey;
}

async function es256(): Promise<KeyPair> {
  const pair = await jose.generateKeyPair("ES256", { extractable: true });
  return { publicJwk: await jose.exportJWK(pair.publicKey), privateKey: pair.privateKey };
}

async function keyClient(key: KeyPair): Promise<string> {
  const clientId = `kc-${crypto.randomUUID()}`;
  const jwk = { ...key.publicJwk, kid: "k1", alg: "ES256" };
  await putRecord(
    newKeyClientRecord(
      { clientId, keys: { jwks: { keys: [jwk] } }, settings: { name: "replay", scopes: ["read"] } },
      nowSeconds(),
    ),
  );
  return clientId;
}

function clientAssertion(key: KeyPair, clientId: string): Promise<string> {
  const now = nowSeconds();
  return new jose.SignJWT({ jti: crypto.randomUUID() })
    .setProtectedHeader({ alg: "ES256", kid: "k1" })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(ORIGIN)
    .setIssuedAt(now)
    .setExpirationTime(now + 60)
    .sign(key.privateKey);
}

function dpopProof(key: KeyPair): Promise<string> {
  return new jose.SignJWT({ htm: "POST", htu: TOKEN_URL, iat: nowSeconds(), jti: crypto.randomUUID() })
    .setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk: key.publicJwk })
    .sign(key.privateKey);
}

function assertionRequest(assertion: string): Request {
  return new Request(TOKEN_URL, {
    method: "POST",
    headers: { "Content-Type": FORM, "CF-Connecting-IP": randomIp() },
    body: new URLSearchParams({
      grant_type: "client_credentials",
      client_assertion_type: JWT_BEARER,
      client_assertion: assertion,
    }),
  });
}

function dpopRequest(client: { clientId: string; secret: string }, proof: string): Request {
  return new Request(TOKEN_URL, {
    method: "POST",
    headers: {
      "Content-Type": FORM,
      "CF-Connecting-IP": randomIp(),
      Authorization: basicAuth(client.clientId, client.secret),
      DPoP: proof,
    },
    body: "grant_type=client_credentials",
  });
}

describe("two separate keymint instances sharing the replay guard (as two locations)", () => {
  it("refuses an assertion replayed to the other instance, which never saw it", async () => {
    const key = await es256();
    const clientId = await keyClient(key);
    const assertion = await clientAssertion(key, clientId);
    const first = await testEnv.KEYMINT_A.fetch(assertionRequest(assertion));
    expect(first.status, await first.clone().text()).toBe(200);
    const replay = await testEnv.KEYMINT_B.fetch(assertionRequest(assertion));
    expect(replay.status).toBe(401);
    expect(await replay.json()).toEqual(INVALID_CLIENT_BODY);
    // A fresh assertion still works at the other instance.
    expect((await testEnv.KEYMINT_B.fetch(assertionRequest(await clientAssertion(key, clientId)))).status).toBe(200);
  });

  it("lets only one of simultaneous requests with one assertion through, whichever instance they reach", async () => {
    const key = await es256();
    const clientId = await keyClient(key);
    const assertion = await clientAssertion(key, clientId);
    const statuses = await Promise.all(
      [testEnv.KEYMINT_A, testEnv.KEYMINT_B, testEnv.KEYMINT_A, testEnv.KEYMINT_B].map(
        async (instance) => (await instance.fetch(assertionRequest(assertion))).status,
      ),
    );
    expect(statuses.sort()).toEqual([200, 401, 401, 401]);
  });

  it("refuses a DPoP proof replayed to the other instance with 400 invalid_dpop_proof (RFC 9449 §11.1)", async () => {
    const client = await seedClient();
    const key = await es256();
    const proof = await dpopProof(key);
    const first = await testEnv.KEYMINT_A.fetch(dpopRequest(client, proof));
    expect(first.status, await first.clone().text()).toBe(200);
    expect(((await first.json()) as { token_type: string }).token_type).toBe("DPoP");
    const replay = await testEnv.KEYMINT_B.fetch(dpopRequest(client, proof));
    expect(replay.status).toBe(400);
    expect(await replay.json()).toEqual({
      error: "invalid_dpop_proof",
      error_description: "Invalid DPoP proof: this proof was already used",
    });
    // Another client presenting the same proof is refused too: a proof is spent per key, whoever presents it.
    const other = await seedClient();
    expect((await testEnv.KEYMINT_B.fetch(dpopRequest(other, proof))).status).toBe(400);
  });
});

describe("where the token endpoint spends a proof (docs/storage.md)", () => {
  it("spends a proof's jti in its key's object until iat + 300 s, not in its client's", async () => {
    const client = await seedClient();
    const key = await es256();
    const proof = await dpopProof(key);
    const res = await exports.default.fetch(dpopRequest(client, proof));
    expect(res.status).toBe(200);
    const { jti, iat } = jose.decodeJwt(proof) as { jti: string; iat: number };
    const jkt = await jose.calculateJwkThumbprint(key.publicJwk);
    expect(await storedIds(env.REPLAY_GUARD.getByName(proofShard(jkt)))).toEqual([{ id: jti, until: iat + 300 }]);
    expect(await storedIds(env.REPLAY_GUARD.getByName(assertionShard(client.clientId)))).toEqual([]);
  });
});

describe("a replay guard that cannot answer: 503, never accepted unchecked", () => {
  /** keymint itself with its REPLAY_GUARD binding pointing at a faulty object (a separate env: its own isolate caches). */
  function keymintWith(replayGuard: ReplayGuardNamespace, vars: Record<string, string> = {}) {
    const faulty = { ...env, ...vars, REPLAY_GUARD: replayGuard };
    return (request: Request) =>
      worker.fetch(request, faulty, {
        waitUntil() {},
        passThroughOnException() {},
        props: {},
      } as unknown as ExecutionContext);
  }

  const UNAVAILABLE = {
    error: "temporarily_unavailable",
    error_description: "The authorization server is temporarily unavailable, retry later",
  };

  for (const [name, binding, vars] of [
    ["failing", "FAILING_REPLAY_GUARD", {}],
    ["silent (timeout)", "SILENT_REPLAY_GUARD", { KV_TIMEOUT_MS: "50" }],
  ] as const) {
    it(`answers an assertion with 503 temporarily_unavailable and Retry-After when the object is ${name}`, async () => {
      const errors = vi.spyOn(console, "error").mockImplementation(() => {});
      const key = await es256();
      const clientId = await keyClient(key);
      const assertion = await clientAssertion(key, clientId);
      const res = await keymintWith(testEnv[binding], vars)(assertionRequest(assertion));
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("5");
      expect(await res.json()).toEqual(UNAVAILABLE);
      expect(errors.mock.calls.map((c) => String(c[0])).join("\n")).toMatch(/"event":"replay_guard_unavailable"/);
      // Not spent: the same assertion works once the guard answers again, and only once.
      const healthy = keymintWith(env.REPLAY_GUARD);
      expect((await healthy(assertionRequest(assertion))).status).toBe(200);
      expect((await healthy(assertionRequest(assertion))).status).toBe(401);
    });

    it(`answers a DPoP token request with 503 when the object is ${name}`, async () => {
      vi.spyOn(console, "error").mockImplementation(() => {});
      const client = await seedClient();
      const res = await keymintWith(testEnv[binding], vars)(dpopRequest(client, await dpopProof(await es256())));
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual(UNAVAILABLE);
    });
  }

  it("answers 500 server_error with a log naming the fix when the REPLAY_GUARD binding is missing; secrets still work", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const unbound = { ...env, REPLAY_GUARD: undefined } as unknown as typeof env;
    const call = (request: Request) =>
      worker.fetch(request, unbound, {
        waitUntil() {},
        passThroughOnException() {},
        props: {},
      } as unknown as ExecutionContext);
    const key = await es256();
    const clientId = await keyClient(key);
    const assertion = await clientAssertion(key, clientId);
    const res = await call(assertionRequest(assertion));
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({
      error: "server_error",
      error_description: "The authorization server encountered an internal error",
    });
    const line = JSON.parse(String(errors.mock.calls.at(-1)?.[0])) as Record<string, string>;
    expect(line).toMatchObject({ level: "error", event: "configuration_error" });
    expect(line.fix).toContain("[[durable_objects.bindings]]");
    // The secret path never asks the guard: a deployment without the binding still issues secret tokens.
    const client = await seedClient();
    const plain = await call(
      new Request(TOKEN_URL, {
        method: "POST",
        headers: { "Content-Type": FORM, Authorization: basicAuth(client.clientId, client.secret) },
        body: "grant_type=client_credentials",
      }),
    );
    expect(plain.status).toBe(200);
    // Nothing was spent: with the binding back, the same assertion is accepted once.
    expect((await keymintWith(env.REPLAY_GUARD)(assertionRequest(assertion))).status).toBe(200);
  });

  it("retries a proof on the same instance after a 503: the per-isolate claim is released, the guard decides", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const ids = oneTimeIds(testEnv.FAILING_REPLAY_GUARD, 3000);
    const now = nowSeconds();
    await expect(ids.claim("s", "x", now + 60, now)).rejects.toThrow(/replay guard failed/);
    await expect(ids.claim("s", "x", now + 60, now)).rejects.toThrow(/replay guard failed/);
  });
});
