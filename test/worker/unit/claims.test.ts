/** The claim rules (src/oauth/claims.ts) as lifecycle, the record format and the hook answer apply them. */

import { describe, expect, it } from "vitest";
import { clientClaims, LifecycleError, newClientRecord, updateClient } from "../../../src/clients/lifecycle.ts";
import { parseRecord, RecordError, toPublic } from "../../../src/clients/record.ts";
import type { AccessTokenClaims } from "../../../src/jwt/claims.ts";
import {
  addHookClaims,
  addStaticClaims,
  CLAIM_DEPTH_MAX,
  CLAIM_NAME_MAX,
  CLAIMS_MAX_BYTES,
  CLAIMS_MAX_COUNT,
  checkClaims,
  extraClaimsOf,
  isReservedClaimName,
} from "../../../src/oauth/claims.ts";
import { HOOK_DESCRIPTION_MAX, readHookAnswer } from "../../../src/oauth/claims-hook.ts";
import { OAuthError } from "../../../src/oauth/errors.ts";

const NOW = 1_800_000_000;
/** The issue's list: registered and protocol claims that can never be set. */
const ISSUE_RESERVED = "iss sub aud exp nbf iat jti client_id scope cnf act may_act auth_time acr amr azp typ".split(
  " ",
);

function record(claims?: unknown) {
  return newClientRecord(
    {
      clientId: "c1",
      salt: "c2FsdA",
      secretHash: "A".repeat(43),
      secretExpiresAt: null,
      settings: { name: "n", claims },
    },
    NOW,
  );
}

function token(): AccessTokenClaims {
  return { iss: "https://i", sub: "c1", aud: "https://i", exp: NOW + 60, iat: NOW, jti: "j", client_id: "c1" };
}

describe("reserved names", () => {
  for (const name of [...ISSUE_RESERVED, "active", "token_type", "username", "keymint", "keymint:role", "KeyMint_x"]) {
    it(`refuses ${name} with a message that names the field and the claim`, () => {
      expect(() => record({ [name]: "x" })).toThrow(LifecycleError);
      expect(() => record({ [name]: "x" })).toThrow(`claims: ${JSON.stringify(name)} is reserved`);
      expect(isReservedClaimName(name)).toBe(true);
    });
  }

  it("accepts ordinary and collision-resistant names (RFC 7519 §4.2), case-sensitively distinct from reserved ones", () => {
    const claims = { tenant: "a", roles: ["r"], "https://example.com/team": "t", ISS: 1, my_keymint: true };
    expect(record(claims).claims).toEqual(claims);
  });
});

describe("limits", () => {
  it(`allows ${CLAIMS_MAX_COUNT} claims and refuses one more`, () => {
    const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`c${i}`, i]));
    expect(Object.keys(clientClaims(many(CLAIMS_MAX_COUNT)))).toHaveLength(CLAIMS_MAX_COUNT);
    expect(() => clientClaims(many(CLAIMS_MAX_COUNT + 1))).toThrow(/33 claims, more than the 32/);
  });

  it(`allows names of ${CLAIM_NAME_MAX} characters and refuses longer, empty or odd ones`, () => {
    expect(clientClaims({ ["n".repeat(CLAIM_NAME_MAX)]: 1 })).toBeDefined();
    for (const name of [
      "n".repeat(CLAIM_NAME_MAX + 1),
      "",
      "has space",
      'quo"te',
      "back\\slash",
      "a=b",
      "é",
      "__proto__",
    ]) {
      expect(() => clientClaims(JSON.parse(`{${JSON.stringify(name)}: 1}`)), name).toThrow(LifecycleError);
    }
  });

  it(`allows ${CLAIMS_MAX_BYTES} bytes of JSON (UTF-8) and refuses one more`, () => {
    expect(clientClaims({ big: "x".repeat(CLAIMS_MAX_BYTES - 10) })).toBeDefined();
    expect(() => clientClaims({ big: "x".repeat(CLAIMS_MAX_BYTES - 9) })).toThrow(/2049 bytes/);
    // "é" is 2 bytes in UTF-8: counted as such, not as one UTF-16 unit.
    expect(() => clientClaims({ big: "é".repeat((CLAIMS_MAX_BYTES - 10) / 2 + 1) })).toThrow(/2050 bytes/);
  });

  it(`allows values nested ${CLAIM_DEPTH_MAX} deep and refuses deeper`, () => {
    const nest = (depth: number): unknown => (depth === 0 ? 1 : [nest(depth - 1)]);
    expect(clientClaims({ deep: nest(CLAIM_DEPTH_MAX) })).toBeDefined();
    expect(() => clientClaims({ deep: nest(CLAIM_DEPTH_MAX + 1) })).toThrow(/deeper than 5/);
  });

  it("accepts every JSON value and refuses what JSON cannot carry faithfully", () => {
    const ok = { s: "x", n: 1.5, i: -3, t: true, f: false, z: null, a: [1, "b", { c: [] }], o: { k: { v: 1 } } };
    expect(clientClaims(ok)).toEqual(ok);
    const bad: [unknown, RegExp][] = [
      [Number.POSITIVE_INFINITY, /not a finite number/],
      [Number.NaN, /not a finite number/],
      [2 ** 53, /beyond 2\^53/],
      [undefined, /not a JSON value/],
      [new Date(0), /not a JSON value/],
      [() => 1, /not a JSON value/],
      [JSON.parse('{"__proto__": 1}'), /__proto__/],
    ];
    for (const [value, message] of bad) expect(() => clientClaims({ v: value })).toThrow(message);
  });

  it("refuses claims that are not an object", () => {
    for (const value of [null, [], "tenant=acme", 1]) {
      expect(() => clientClaims(value)).toThrow("claims must be a JSON object of claim names to values");
    }
  });
});

describe("client records", () => {
  it("stores {} without claims, replaces them on update and removes them with {}", () => {
    const created = record();
    expect(created.claims).toEqual({});
    const updated = updateClient(created, { claims: { tenant: "acme" } }, NOW + 1);
    expect(updated.claims).toEqual({ tenant: "acme" });
    expect(updateClient(updated, { name: "other" }, NOW + 2).claims).toEqual({ tenant: "acme" });
    expect(updateClient(updated, { claims: {} }, NOW + 2).claims).toEqual({});
  });

  it("parses older records without the field, keeps stored reserved names, and refuses a malformed claims value", () => {
    const { claims: _c, ...older } = record();
    expect(parseRecord(older).claims).toEqual({});
    expect(parseRecord({ ...older, claims: { sub: "x", tenant: "a" } }).claims).toEqual({ sub: "x", tenant: "a" });
    expect(() => parseRecord({ ...older, claims: ["tenant"] })).toThrow(RecordError);
    expect(() => parseRecord({ ...older, claims: { big: "x".repeat(CLAIMS_MAX_BYTES) } })).toThrow(RecordError);
  });

  it("shows claims in the public view as a copy", () => {
    const r = record({ roles: ["a"] });
    const shown = toPublic(r);
    (shown.claims.roles as string[]).push("b");
    expect(r.claims).toEqual({ roles: ["a"] });
  });
});

describe("merging into a token", () => {
  it("adds static claims after the standard ones and returns reserved names instead of adding them", () => {
    const t = token();
    expect(addStaticClaims(t, { tenant: "a", sub: "evil", keymint_x: 1 })).toEqual(["sub", "keymint_x"]);
    expect(t.sub).toBe("c1");
    expect(extraClaimsOf(t as unknown as Record<string, unknown>)).toEqual({ tenant: "a" });
    expect(addStaticClaims(token(), { tenant: "a" })).toBeNull();
  });

  it("adds hook claims over static ones, and leaves the token untouched when both together break a limit", () => {
    const t = token();
    addStaticClaims(t, { tenant: "static", team: "x" });
    addHookClaims(t, { tenant: "hook" });
    expect(extraClaimsOf(t as unknown as Record<string, unknown>)).toEqual({ tenant: "hook", team: "x" });
    const before = JSON.stringify(t);
    expect(() => addHookClaims(t, { big: "y".repeat(CLAIMS_MAX_BYTES) })).toThrow(/together take/);
    const many = Object.fromEntries(Array.from({ length: CLAIMS_MAX_COUNT - 1 }, (_, i) => [`h${i}`, i]));
    expect(() => addHookClaims(t, many)).toThrow(/together are 33/);
    expect(JSON.stringify(t)).toBe(before);
  });
});

describe("reading a hook's answer", () => {
  it("reads claims, nothing, and refusals (a refusal wins over claims)", () => {
    expect(readHookAnswer({ claims: { a: 1 } })).toEqual({ claims: { a: 1 } });
    expect(readHookAnswer({})).toEqual({ claims: {} });
    const refused = readHookAnswer({ error: "invalid_scope", error_description: "no", claims: { a: 1 } });
    expect("refusal" in refused && refused.refusal).toBeInstanceOf(OAuthError);
    expect("refusal" in refused && [refused.refusal.code, refused.refusal.status, refused.refusal.description]).toEqual(
      ["invalid_scope", 400, "no"],
    );
  });

  it(`cuts a refusal description to ${HOOK_DESCRIPTION_MAX} characters`, () => {
    const read = readHookAnswer({ error: "unauthorized_client", error_description: "d".repeat(500) });
    expect("refusal" in read && read.refusal.description.length).toBe(HOOK_DESCRIPTION_MAX);
  });

  it("throws on junk: not an object, unknown error codes, a non-string description, reserved or bad claims", () => {
    for (const answer of [
      null,
      [],
      "ok",
      { error: "access_denied" },
      { error: 1 },
      { error: "invalid_scope", error_description: 5 },
      { claims: { iss: "x" } },
      { claims: "a=b" },
    ]) {
      expect(() => readHookAnswer(answer), JSON.stringify(answer)).toThrow();
    }
    expect(() => checkClaims({ aud: "x" }, { what: "the hook's claims" })).toThrow(/^the hook's claims: "aud"/);
  });
});
