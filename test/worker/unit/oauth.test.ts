/** Pure OAuth decisions with a fixed clock: scope (RFC 6749 §3.3), audience (RFC 8707), claims (RFC 9068). */

import { describe, expect, it } from "vitest";
import { newClientRecord } from "../../../src/clients/lifecycle.ts";
import type { ClientRecord } from "../../../src/clients/record.ts";
import { decideClientCredentials, isResourceIndicator } from "../../../src/oauth/client-credentials.ts";
import { OAuthError } from "../../../src/oauth/errors.ts";
import { grantScopes, isScopeToken, parseScope } from "../../../src/oauth/scope.ts";

const NOW = 1_800_000_000;

function client(overrides: Partial<ClientRecord> = {}): ClientRecord {
  const base = newClientRecord(
    {
      clientId: "svc",
      salt: "c2FsdHNhbHRzYWx0c2FsdA",
      secretHash: "a".repeat(43),
      secretExpiresAt: null,
      settings: { name: "svc", scopes: ["read", "write"] },
    },
    NOW,
  );
  return { ...base, ...overrides };
}

function decide(record: ClientRecord, scope?: string, resources: string[] = []) {
  return decideClientCredentials({
    client: record,
    scope,
    resources,
    issuer: "https://auth.example.com",
    defaultTtl: 3600,
    defaultAudience: null,
    now: NOW,
    jti: "jti-1",
  });
}

function errorCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof OAuthError) return err.code;
    throw err;
  }
  return undefined;
}

describe("scope syntax", () => {
  it("accepts every scope-token character and refuses space, quote, backslash and controls", () => {
    expect(isScopeToken("!#$%&'()*+,-./:;<=>?@[]^_`{|}~aZ09")).toBe(true);
    for (const bad of ['"', "\\", " ", "\t", "é"]) expect(isScopeToken(`a${bad}`)).toBe(false);
    expect(isScopeToken("")).toBe(false);
  });
  it("parses, dedupes and keeps order", () => {
    expect(parseScope("b  a b")).toEqual(["b", "a"]);
  });
  it("grants the allowed set when nothing was requested", () => {
    expect(grantScopes(undefined, ["x", "y"])).toEqual(["x", "y"]);
  });
});

describe("decideClientCredentials", () => {
  it("builds RFC 9068 claims with exp = iat + ttl", () => {
    const d = decide(client({ ttl: 600 }));
    expect(d.claims).toEqual({
      iss: "https://auth.example.com",
      sub: "svc",
      aud: "https://auth.example.com",
      exp: NOW + 600,
      iat: NOW,
      jti: "jti-1",
      client_id: "svc",
      scope: "read write",
    });
    expect(d.expiresIn).toBe(600);
  });
  it("refuses scopes beyond the allowed set", () => {
    expect(errorCode(() => decide(client(), "read admin"))).toBe("invalid_scope");
  });
  it("refuses a client without the client_credentials grant", () => {
    expect(errorCode(() => decide(client({ grant_types: [] })))).toBe("unauthorized_client");
  });
  it("uses the first audience by default and a requested allowed resource otherwise (RFC 8707)", () => {
    const record = client({ audiences: ["https://a.example", "https://b.example"] });
    expect(decide(record).claims.aud).toBe("https://a.example");
    expect(decide(record, undefined, ["https://b.example"]).claims.aud).toBe("https://b.example");
    expect(decide(record, undefined, ["https://b.example", "https://a.example"]).claims.aud).toEqual([
      "https://b.example",
      "https://a.example",
    ]);
  });
  it("refuses a resource that is not allowed or not an absolute URI without fragment", () => {
    const record = client({ audiences: ["https://a.example"] });
    expect(errorCode(() => decide(record, undefined, ["https://evil.example"]))).toBe("invalid_target");
    expect(errorCode(() => decide(record, undefined, ["a.example"]))).toBe("invalid_target");
    expect(errorCode(() => decide(record, undefined, ["https://a.example#frag"]))).toBe("invalid_target");
  });
  it("recognises resource indicators", () => {
    expect(isResourceIndicator("https://api.example.com/v1")).toBe(true);
    expect(isResourceIndicator("urn:example:api")).toBe(true);
    expect(isResourceIndicator("/relative")).toBe(false);
  });
});
