/** Client records, secrets and constant-work verification (pure, fixed clock). */

import { describe, expect, it } from "vitest";
import { rotateSecret, setEnabled, updateClient } from "../../../src/clients/lifecycle.ts";
import { parseRecord, RecordError, toPublic } from "../../../src/clients/record.ts";
import { recordForNewClient } from "../../../src/clients/register.ts";
import { generateClientId, generateSecret, secretWeakness } from "../../../src/clients/secrets.ts";
import type { PreparedClient } from "../../../src/clients/store.ts";
import { verifyClientSecret, verifyWork } from "../../../src/clients/verify.ts";
import { base64Decode } from "../../../src/util/base64url.ts";

const NOW = 1_800_000_000;

async function make(secret: string, expiresAt: number | null = null) {
  return recordForNewClient(
    {
      clientId: "c1",
      secret,
      secretExpiresAt: expiresAt,
      settings: { name: "c1" },
    },
    NOW,
  );
}

function prepared(record: Awaited<ReturnType<typeof make>>): PreparedClient {
  return {
    record,
    salt: base64Decode(record.salt, "base64url")!,
    hashes: record.secrets.map((s) => base64Decode(s.hash, "base64url")!),
  };
}

describe("secrets", () => {
  it("generates 256-bit base64url secrets and hex ids", () => {
    const secret = generateSecret();
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(base64Decode(secret, "base64url")).toHaveLength(32);
    expect(generateClientId()).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set(Array.from({ length: 50 }, generateSecret)).size).toBe(50);
  });
  it("refuses short, repetitive or control-character secrets", () => {
    expect(secretWeakness("a".repeat(31))).toMatch(/too short/);
    expect(secretWeakness("ab".repeat(20))).toMatch(/repetitive/);
    expect(secretWeakness(`${"abcdefghijklmnop".repeat(2)}\n`)).toMatch(/control/);
    expect(secretWeakness("abcdefghijklmnopqrstuvwxyz012345")).toBeNull();
  });
  it("stores only a salted hash: the same secret hashes differently under two salts", async () => {
    const secret = generateSecret();
    const [a, b] = [await make(secret), await make(secret)];
    expect(a.secrets[0]?.hash).not.toBe(b.secrets[0]?.hash);
    expect(JSON.stringify(a)).not.toContain(secret);
  });
});

describe("records", () => {
  it("round-trips through parseRecord and never shows salt or hash publicly", async () => {
    const record = await make(generateSecret());
    expect(parseRecord(JSON.parse(JSON.stringify(record)), "c1")).toEqual(record);
    const text = JSON.stringify(toPublic(record));
    expect(text).not.toContain(record.salt);
    expect(text).not.toContain(record.secrets[0]?.hash);
  });
  it("rejects a record under the wrong key, of another version or with a bad field", async () => {
    const record = await make(generateSecret());
    expect(() => parseRecord(record, "other")).toThrow(RecordError);
    expect(() => parseRecord({ ...record, v: 2 })).toThrow(RecordError);
    expect(() => parseRecord({ ...record, scopes: ["ok", "no space"] })).toThrow(RecordError);
    expect(() => parseRecord({ ...record, secrets: [] })).toThrow(RecordError);
  });
});

describe("lifecycle", () => {
  it("rotates with a grace period: two secrets, the old one expiring at now + grace", async () => {
    const record = await make("old-secret-0123456789abcdefghijklmnop");
    const next = rotateSecret(record, { newHash: "b".repeat(43), newExpiresAt: null, graceSeconds: 3600 }, NOW + 10);
    expect(next.secrets).toHaveLength(2);
    expect(next.secrets[0]?.hash).toBe("b".repeat(43));
    expect(next.secrets[1]?.expires_at).toBe(NOW + 10 + 3600);
    const again = rotateSecret(next, { newHash: "c".repeat(43), newExpiresAt: null, graceSeconds: 60 }, NOW + 20);
    expect(again.secrets.map((s) => s.hash)).toEqual(["c".repeat(43), "b".repeat(43)]);
  });
  it("rotates without grace: only the new secret remains", async () => {
    const record = await make("old-secret-0123456789abcdefghijklmnop");
    expect(
      rotateSecret(record, { newHash: "b".repeat(43), newExpiresAt: null, graceSeconds: 0 }, NOW).secrets,
    ).toHaveLength(1);
  });
  it("updates only the given settings and stamps updated_at", async () => {
    const record = await make(generateSecret());
    const next = updateClient(record, { ttl: 120 }, NOW + 5);
    expect(next.ttl).toBe(120);
    expect(next.name).toBe(record.name);
    expect(next.updated_at).toBe(new Date((NOW + 5) * 1000).toISOString());
    expect(() => updateClient(record, { ttl: 5 }, NOW)).toThrow(/ttl/);
  });
});

describe("verifyClientSecret (constant work)", () => {
  it("accepts the right secret and names each failure privately", async () => {
    const secret = "right-secret-0123456789abcdefghijklmnop";
    const record = await make(secret);
    expect((await verifyClientSecret(prepared(record), secret, NOW)).ok).toBe(true);
    expect(await verifyClientSecret(prepared(record), "wrong", NOW)).toEqual({ ok: false, reason: "wrong_secret" });
    expect(await verifyClientSecret(null, secret, NOW)).toEqual({ ok: false, reason: "unknown_client" });
    expect(await verifyClientSecret(prepared(setEnabled(record, false, NOW)), secret, NOW)).toEqual({
      ok: false,
      reason: "client_disabled",
    });
    const expiring = await make(secret, NOW + 5);
    expect((await verifyClientSecret(prepared(expiring), secret, NOW + 4)).ok).toBe(true);
    expect(await verifyClientSecret(prepared(expiring), secret, NOW + 5)).toEqual({
      ok: false,
      reason: "secret_expired",
    });
  });

  it("does one digest and two constant-time comparisons on every path", async () => {
    const secret = "right-secret-0123456789abcdefghijklmnop";
    const record = await make(secret);
    const cases: [PreparedClient | null, string][] = [
      [prepared(record), secret],
      [prepared(record), "wrong"],
      [null, secret],
      [prepared(setEnabled(record, false, NOW)), secret],
    ];
    for (const [client, presented] of cases) {
      const before = { ...verifyWork };
      await verifyClientSecret(client, presented, NOW);
      expect({
        digests: verifyWork.digests - before.digests,
        comparisons: verifyWork.comparisons - before.comparisons,
      }).toEqual({
        digests: 1,
        comparisons: 2,
      });
    }
  });
});
