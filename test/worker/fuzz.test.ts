/**
 * Property-based fuzzing (fast-check) of every endpoint through the worker's fetch: random methods, paths,
 * headers, content types, encodings, bodies. Whatever arrives: never a 5xx, every error is RFC 6749 §5.2
 * JSON with a registered code, and a token only ever goes to a request that carried the valid credentials.
 * `npm run fuzz -- --runs N --seed S` runs longer campaigns.
 */

import { env, exports } from "cloudflare:workers";
import fc from "fast-check";
import * as jose from "jose";
import { beforeAll, expect, it } from "vitest";
import { newKeyClientRecord } from "../../src/clients/lifecycle.ts";
import { generateSecret } from "../../src/clients/secrets.ts";
import { basicAuth, nowSeconds, ORIGIN, putRecord, type SeededClient, seedClient } from "./helpers.ts";

const RUNS = Number((env as unknown as Record<string, unknown>).FUZZ_RUNS ?? 3000);
const SEED = Number((env as unknown as Record<string, unknown>).FUZZ_SEED ?? 20261128);

const ERROR_CODES = new Set([
  "invalid_request",
  "invalid_client",
  "unauthorized_client",
  "unsupported_grant_type",
  "unsupported_response_type",
  "invalid_scope",
  "invalid_target",
  "unsupported_token_type",
  "slow_down",
  "temporarily_unavailable",
  "invalid_dpop_proof",
  "use_dpop_nonce",
]);

const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

let client: SeededClient;
let validToken: string;
/** A private_key_jwt client and its key, so that some cases carry a valid signed assertion. */
const keyClientId = `fuzz-key-${crypto.randomUUID()}`;
let clientKey: CryptoKeyPair;

/** A valid assertion for the key client, fresh jti each time (RFC 7523 §3). */
function validAssertion(): Promise<string> {
  const now = nowSeconds();
  return new jose.SignJWT({
    iss: keyClientId,
    sub: keyClientId,
    aud: ORIGIN,
    iat: now,
    exp: now + 60,
    jti: crypto.randomUUID(),
  })
    .setProtectedHeader({ alg: "ES256", kid: "fuzz" })
    .sign(clientKey.privateKey);
}

/** A valid DPoP proof for the token endpoint (RFC 9449 §4.2). */
async function validProof(): Promise<string> {
  return new jose.SignJWT({ htm: "POST", htu: `${ORIGIN}/oauth2/token`, iat: nowSeconds(), jti: crypto.randomUUID() })
    .setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk: await jose.exportJWK(clientKey.publicKey) })
    .sign(clientKey.privateKey);
}

beforeAll(async () => {
  clientKey = await jose.generateKeyPair("ES256", { extractable: true });
  await putRecord(
    newKeyClientRecord(
      {
        clientId: keyClientId,
        keys: { jwks: { keys: [{ ...(await jose.exportJWK(clientKey.publicKey)), kid: "fuzz", alg: "ES256" }] } },
        settings: { name: "fuzz key client", scopes: ["read"] },
      },
      nowSeconds(),
    ),
  );
  client = await seedClient({ secret: `fuzz:${generateSecret()}`, canIntrospect: true, scopes: ["read", "write"] });
  const res = await exports.default.fetch(`${ORIGIN}/oauth2/token`, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      Authorization: basicAuth(client.clientId, client.secret),
    },
    body: "grant_type=client_credentials",
  });
  validToken = ((await res.json()) as { access_token: string }).access_token;
});

/** Printable header-safe text (no CR, LF or NUL, Latin-1 only). */
const headerText = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 80,
});
const anyText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.constantFrom(
    "",
    "%",
    "%zz",
    "%00",
    "%FF%FE",
    "+",
    "a=b",
    "\u0000",
    "client_credentials",
    "read write",
    "https://a.example",
  ),
);

interface Generated {
  method: string;
  path: string;
  contentType: string | null;
  authorization: string | null;
  body: Uint8Array | string | null;
  valid: boolean;
  /** Client assertion parameters to append: none, a valid one, or junk. */
  assertion: { type: string | null; value: string | null } | "valid" | null;
  /** A DPoP header: none, a valid proof, or junk. */
  dpop: string | "valid" | null;
}

/** JWT-shaped junk: three base64url parts with random (often plausible) header and payload members. */
const jwtLike = fc
  .tuple(
    fc.record(
      {
        alg: fc.constantFrom("none", "ES256", "EdDSA", "RS256", "HS256", "Ed25519", "PS256"),
        kid: anyText,
        typ: anyText,
      },
      { requiredKeys: [] },
    ),
    fc.record(
      { iss: anyText, sub: anyText, aud: anyText, exp: fc.integer(), jti: anyText, htm: anyText, htu: anyText },
      { requiredKeys: [] },
    ),
    fc.uint8Array({ maxLength: 70 }),
  )
  .map(
    ([h, p, sig]) =>
      `${jose.base64url.encode(JSON.stringify(h))}.${jose.base64url.encode(JSON.stringify(p))}.${jose.base64url.encode(sig)}`,
  );

const paramName = fc.oneof(
  fc.constantFrom(
    "grant_type",
    "client_id",
    "client_secret",
    "scope",
    "token",
    "token_type_hint",
    "resource",
    "client_assertion",
    "client_assertion_type",
  ),
  anyText,
);

const formBody = (withValid: boolean) =>
  fc
    .record(
      {
        grant_type: fc.oneof(
          { arbitrary: fc.constant("client_credentials"), weight: 4 },
          { arbitrary: anyText, weight: 1 },
        ),
        scope: fc.oneof(fc.constantFrom("read", "read write", "write admin", "  ", '"x"'), anyText),
        token: fc.oneof(fc.constant("TOKEN"), anyText),
        extra: fc.array(fc.tuple(paramName, anyText), { maxLength: 3 }),
      },
      { requiredKeys: [] },
    )
    .map(({ extra, ...known }) => {
      const params = [
        ...Object.entries(known).map(([k, v]) => `${k}=${encodeURIComponent(v as string)}`),
        ...(extra ?? []).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`),
      ];
      if (withValid)
        params.push(
          `client_id=${encodeURIComponent(client.clientId)}`,
          `client_secret=${encodeURIComponent(client.secret)}`,
        );
      return params.join("&");
    });

const anyRequest: fc.Arbitrary<Generated> = fc
  .record({
    method: fc.oneof(
      { arbitrary: fc.constant("POST"), weight: 8 },
      { arbitrary: fc.constantFrom("GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"), weight: 2 },
    ),
    path: fc.oneof(
      {
        arbitrary: fc.constantFrom("/oauth2/token", "/oauth2/token", "/oauth2/introspect", "/oauth2/revoke"),
        weight: 8,
      },
      {
        arbitrary: fc.constantFrom(
          "/.well-known/oauth-authorization-server",
          "/.well-known/jwks.json",
          "/oauth2/authorize",
        ),
        weight: 1,
      },
      { arbitrary: headerText.map((p) => `/${encodeURIComponent(p)}`), weight: 1 },
    ),
    contentType: fc.option(
      fc.oneof(
        { arbitrary: fc.constant("application/x-www-form-urlencoded"), weight: 6 },
        fc.constantFrom(
          "application/x-www-form-urlencoded",
          "application/x-www-form-urlencoded; charset=UTF-8",
          "APPLICATION/X-WWW-FORM-URLENCODED;charset=latin1",
          "application/json",
          "text/plain",
          "multipart/form-data; boundary=x",
        ),
        headerText,
      ),
    ),
    auth: fc.oneof(
      { arbitrary: fc.constant({ header: null as string | null, valid: false }), weight: 2 },
      { arbitrary: fc.constant({ header: "VALID", valid: true }), weight: 4 },
      anyText.map((s) => ({ header: `Basic ${btoa(unescape(encodeURIComponent(s)))}`, valid: false })),
      headerText.map((s) => ({ header: `Basic ${s}`, valid: false })),
      headerText.map((s) => ({ header: s, valid: false })),
      anyText.map((s) => ({ header: basicAuth(client?.clientId ?? "x", s), valid: false })),
      fc.constant({ header: "Bearer TOKEN", valid: false }),
    ),
    body: fc.oneof(
      formBody(false).map((b) => ({ body: b as string | Uint8Array | null, valid: false })),
      formBody(true).map((b) => ({ body: b as string | Uint8Array | null, valid: true })),
      fc.uint8Array({ maxLength: 64 }).map((b) => ({ body: b as string | Uint8Array | null, valid: false })),
      fc.constantFrom(
        { body: null, valid: false },
        { body: "", valid: false },
        { body: `grant_type=client_credentials&pad=${"x".repeat(20_000)}`, valid: false },
        { body: "grant_type=client_credentials&grant_type=client_credentials", valid: false },
        { body: "token=TOKEN", valid: false },
      ),
    ),
    assertion: fc.oneof(
      { arbitrary: fc.constant(null), weight: 6 },
      { arbitrary: fc.constant("valid" as const), weight: 2 },
      fc.record({
        type: fc.option(fc.oneof(fc.constant(JWT_BEARER), anyText)),
        value: fc.option(fc.oneof(jwtLike, anyText)),
      }),
    ),
    dpop: fc.oneof(
      { arbitrary: fc.constant(null), weight: 6 },
      { arbitrary: fc.constant("valid"), weight: 1 },
      jwtLike,
      headerText,
    ),
  })
  .map(({ method, path, contentType, auth, body, assertion, dpop }) => {
    const resolve = (s: string) => s.replace("TOKEN", validToken ?? "");
    const validAuth = auth.header === "VALID" ? basicAuth(client.clientId, client.secret) : auth.header;
    return {
      method,
      path,
      contentType,
      authorization: validAuth === null ? null : resolve(validAuth),
      body:
        method === "GET" || method === "HEAD" ? null : typeof body.body === "string" ? resolve(body.body) : body.body,
      valid: auth.valid || body.valid,
      assertion,
      dpop,
    };
  });

/** Token requests authenticated by a valid signed assertion, with or without scope and DPoP proofs. */
const assertionRequest: fc.Arbitrary<Generated> = fc
  .record({
    scope: fc.option(fc.constantFrom("read", "write", "read write", "")),
    dpop: fc.oneof(fc.constant(null), fc.constant("valid"), jwtLike, headerText),
  })
  .map(({ scope, dpop }) => ({
    method: "POST",
    path: "/oauth2/token",
    contentType: "application/x-www-form-urlencoded",
    authorization: null,
    body:
      scope === null
        ? "grant_type=client_credentials"
        : `grant_type=client_credentials&scope=${encodeURIComponent(scope)}`,
    valid: false,
    assertion: "valid" as const,
    dpop,
  }));

const request = fc.oneof({ arbitrary: anyRequest, weight: 9 }, { arbitrary: assertionRequest, weight: 1 });

/** The body with the case's assertion parameters appended (a valid assertion is signed now: single use). */
async function withAssertion(g: Generated): Promise<Uint8Array | string | null> {
  if (g.assertion === null || typeof g.body !== "string") return g.body;
  const params =
    g.assertion === "valid"
      ? { client_assertion_type: JWT_BEARER, client_assertion: await validAssertion() }
      : Object.fromEntries(
          Object.entries({ client_assertion_type: g.assertion.type, client_assertion: g.assertion.value }).filter(
            ([, v]) => v !== null,
          ),
        );
  const extra = new URLSearchParams(params as Record<string, string>).toString();
  return g.body === "" || extra === "" ? `${g.body}${extra}` : `${g.body}&${extra}`;
}

it(`keeps every response well-formed and never leaks a token (${RUNS} cases, seed ${SEED})`, async () => {
  const seen = { tokens: 0, dpop: 0, assertions: 0, status: new Map<number, number>() };
  await fc.assert(
    fc.asyncProperty(request, async (g) => {
      const headers = new Headers({ "CF-Connecting-IP": `203.0.113.${Math.floor(Math.random() * 250)}` });
      if (g.contentType !== null) headers.set("Content-Type", g.contentType);
      if (g.authorization !== null) headers.set("Authorization", g.authorization);
      if (g.dpop !== null) headers.set("DPoP", g.dpop === "valid" ? await validProof() : g.dpop);
      const body = await withAssertion(g);
      const res = await exports.default.fetch(`${ORIGIN}${g.path}`, { method: g.method, headers, body });
      const text = await res.text();
      seen.status.set(res.status, (seen.status.get(res.status) ?? 0) + 1);
      expect(res.status).toBeLessThan(500);
      expect(text).not.toContain(client.secret);
      if (g.method === "HEAD") return;
      if (res.status >= 400) {
        const body = JSON.parse(text) as Record<string, unknown>;
        expect(ERROR_CODES.has(body.error as string), text).toBe(true);
        expect(body.error_description).toMatch(/^[\x20\x21\x23-\x5b\x5d-\x7e]+$/);
        expect(res.headers.get("cache-control")).toBe("no-store");
      }
      const issued = res.status === 200 && text.startsWith("{") && "access_token" in (JSON.parse(text) as object);
      if (issued) {
        seen.tokens++;
        expect(g.path).toBe("/oauth2/token");
        expect(g.valid || g.assertion === "valid").toBe(true);
        const { token_type: tokenType } = JSON.parse(text) as { token_type: string };
        // A token is DPoP-bound exactly when the request carried a valid proof (RFC 9449 §5).
        expect(tokenType).toBe(g.dpop === "valid" ? "DPoP" : "Bearer");
        if (tokenType === "DPoP") seen.dpop++;
        if (g.assertion === "valid" && !g.valid) seen.assertions++;
      }
      if (g.path === "/oauth2/introspect" && res.status === 200) {
        const body = JSON.parse(text) as { active: unknown };
        expect(typeof body.active).toBe("boolean");
        if (body.active) expect(g.valid).toBe(true);
      }
    }),
    { numRuns: RUNS, seed: SEED },
  );
  console.info(
    `fuzz: ${RUNS} cases, seed ${SEED}, tokens ${seen.tokens} (DPoP ${seen.dpop}, by assertion ${seen.assertions}), statuses ${JSON.stringify(Object.fromEntries(seen.status))}`,
  );
  // The campaign really reached the interesting paths (valid tokens, client errors, auth failures, throttling).
  if (RUNS >= 1000) {
    expect(seen.tokens).toBeGreaterThan(0);
    expect(seen.dpop).toBeGreaterThan(0);
    expect(seen.assertions).toBeGreaterThan(0);
    for (const status of [200, 400, 401, 404, 405]) expect(seen.status.get(status) ?? 0).toBeGreaterThan(0);
  }
}, 600_000);
