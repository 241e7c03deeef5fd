/**
 * The benchmark's scenarios: one row of the table each, a server that serves it and a `RequestPlan` that says
 * what the load generator sends. `npm run bench -- --only hs256,es256` selects some; the primary ones (the
 * HS256 secret path at 1 and 1 000 clients) carry the targets and run every round.
 */

import type { JsonWebKey } from "node:crypto";
import { basicAuthorization, type Credentials, FORM_CONTENT_TYPE, TOKEN_PATH, TOKEN_REQUEST_BODY } from "./clients.ts";
import type { AssertionAlg, Fixtures } from "./fixtures.ts";
import { CF_BLOB_HEADER, edgeCf, mtlsTokenBody } from "./mtls.ts";
import { JWT_BEARER, type RequestPlan } from "./requests.ts";

/** The servers a scenario can run against (the floors are always there). */
export type ServerId =
  | "keymint"
  | "keymint-audit-off"
  | "keymint-baseline"
  | "keymint-es256"
  | "keymint-eddsa"
  | "keymint-rs256"
  | "keymint-hook"
  | "api-hmac"
  | "api-jwks";

/** What scenarios' plans are built from, once every server runs. */
export interface PlanContext {
  fixtures: Fixtures;
  /** Issuer (origin) of each keymint instance. */
  issuers: Partial<Record<ServerId, string>>;
  /**
   * Access tokens fetched before the rounds: HS256 and ES256 ones for the example API, HS256 ones to introspect,
   * DPoP-bound HS256 ones (bound to `dpopKey`) for the example API.
   */
  tokens: { apiHs256: string[]; apiEs256: string[]; introspect: string[]; apiDpop: string[] };
  /** The DPoP key pair of the run's DPoP client (ES256). */
  dpopKey: JsonWebKey;
  /** Base URL of each server. */
  urls: Partial<Record<ServerId, string>>;
  /** The run's first secret client (Basic). */
  basicClient: Credentials;
}

export interface Scenario {
  id: string;
  label: string;
  server: ServerId;
  /** Carries the targets; runs every round. */
  primary: boolean;
  /** Expected to write to KV (none since the replay guard took the one-time ids; a write by any other fails the run). */
  writes: boolean;
  /** Rough responses per second, to size pools of single-use requests before the first measurement. */
  expectedRate: number;
  /** A keymint feature the scenario needs (DPoP: `dpop_signing_alg_values_supported` in its metadata). */
  needs?: "dpop";
  plan(ctx: PlanContext): RequestPlan;
}

const FORM = { "content-type": FORM_CONTENT_TYPE };

function basic(clients: number): () => RequestPlan {
  return () => ({ kind: "basic", path: TOKEN_PATH, body: TOKEN_REQUEST_BODY, clients });
}

/** Token requests of the fixtures' claims client (3 static claims), Basic. */
function claimsClient(ctx: PlanContext): RequestPlan {
  const authorization = basicAuthorization(ctx.fixtures.claims);
  return {
    kind: "list",
    method: "POST",
    path: TOKEN_PATH,
    headers: [{ ...FORM, authorization }],
    bodies: [TOKEN_REQUEST_BODY],
  };
}

function assertion(alg: AssertionAlg): (ctx: PlanContext) => RequestPlan {
  return (ctx) => {
    const client = ctx.fixtures.keyClients.find((c) => c.alg === alg);
    const issuer = ctx.issuers.keymint;
    if (client === undefined || issuer === undefined) throw new Error(`no ${alg} key client or keymint issuer`);
    return { kind: "assertion", alg, privateJwk: client.privateJwk, clientId: client.clientId, audience: issuer };
  };
}

function bearer(tokens: (ctx: PlanContext) => string[]): (ctx: PlanContext) => RequestPlan {
  return (ctx) => ({
    kind: "list",
    method: "GET",
    path: "/reports",
    headers: tokens(ctx).map((token) => ({ authorization: `Bearer ${token}` })),
  });
}

/** RFC 9449 token request: Basic credentials and a fresh DPoP proof per request. */
function dpopToken(ctx: PlanContext): RequestPlan {
  const url = ctx.urls.keymint;
  if (url === undefined) throw new Error("dpop: keymint is not running");
  return {
    kind: "dpop",
    alg: "ES256",
    privateJwk: ctx.dpopKey,
    method: "POST",
    url: `${url}${TOKEN_PATH}`,
    path: TOKEN_PATH,
    authorization: basicAuthorization(ctx.basicClient),
    body: TOKEN_REQUEST_BODY,
  };
}

/** RFC 9449 §7: `Authorization: DPoP <token>` and a proof with `ath`, per request, at the example API. */
function dpopResource(ctx: PlanContext): RequestPlan {
  const url = ctx.urls["api-hmac"];
  if (url === undefined) throw new Error("api-dpop: the example API is not running");
  return {
    kind: "dpop",
    alg: "ES256",
    privateJwk: ctx.dpopKey,
    method: "GET",
    url: `${url}/reports`,
    path: "/reports",
    tokens: ctx.tokens.apiDpop,
  };
}

export const SCENARIOS: readonly Scenario[] = [
  {
    id: "hs256",
    label: "HS256 token, client_secret_basic, 1 client",
    server: "keymint",
    primary: true,
    writes: false,
    expectedRate: 8000,
    plan: basic(1),
  },
  {
    id: "hs256-1000",
    label: "HS256 token, client_secret_basic, 1,000 clients",
    server: "keymint",
    primary: true,
    writes: false,
    expectedRate: 8000,
    plan: basic(1000),
  },
  {
    id: "hs256-claims",
    label: "HS256 token with 3 static claims, client_secret_basic, 1 client",
    server: "keymint",
    primary: false,
    writes: false,
    expectedRate: 8000,
    plan: claimsClient,
  },
  {
    id: "claims-hook",
    label: "HS256 token with 3 static claims + the example claims hook (service binding, same workerd)",
    server: "keymint-hook",
    primary: false,
    writes: false,
    expectedRate: 6000,
    plan: claimsClient,
  },
  {
    id: "hs256-audit-off",
    label: "HS256 token, client_secret_basic, 1 client, AUDIT_LOG=off (what the audit line costs)",
    server: "keymint-audit-off",
    primary: false,
    writes: false,
    expectedRate: 8000,
    plan: basic(1),
  },
  {
    id: "hs256-100000",
    label: "HS256 token, client_secret_basic, 100,000 clients (every token reads KV)",
    server: "keymint",
    primary: false,
    writes: false,
    expectedRate: 4000,
    plan: basic(100_000),
  },
  {
    id: "es256",
    label: "ES256 token, client_secret_basic",
    server: "keymint-es256",
    primary: false,
    writes: false,
    expectedRate: 6000,
    plan: basic(1),
  },
  {
    id: "eddsa",
    label: "EdDSA token, client_secret_basic",
    server: "keymint-eddsa",
    primary: false,
    writes: false,
    expectedRate: 6000,
    plan: basic(1),
  },
  {
    id: "rs256",
    label: "RS256 token, client_secret_basic",
    server: "keymint-rs256",
    primary: false,
    writes: false,
    expectedRate: 1500,
    plan: basic(1),
  },
  {
    id: "pkjwt-es256",
    label: "HS256 token, private_key_jwt (ES256 assertion, one-time jti)",
    server: "keymint",
    primary: false,
    writes: false,
    expectedRate: 4000,
    plan: assertion("ES256"),
  },
  {
    id: "pkjwt-eddsa",
    label: "HS256 token, private_key_jwt (EdDSA assertion, one-time jti)",
    server: "keymint",
    primary: false,
    writes: false,
    expectedRate: 4000,
    plan: assertion("EdDSA"),
  },
  {
    id: "federated",
    label: "HS256 token, federated (RS256 outside token, keys cached)",
    server: "keymint",
    primary: false,
    writes: false,
    expectedRate: 5000,
    plan: (ctx) => {
      const { clientId, tokens } = ctx.fixtures.federated;
      const prefix = `grant_type=client_credentials&client_id=${clientId}&client_assertion_type=${encodeURIComponent(JWT_BEARER)}&client_assertion=`;
      return {
        kind: "list",
        method: "POST",
        path: TOKEN_PATH,
        headers: tokens.map(() => FORM),
        bodies: tokens.map((token) => `${prefix}${token}`),
      };
    },
  },
  {
    id: "mtls",
    label: "HS256 token, tls_client_auth (RFC 8705: Cloudflare's verified certificate, subject DN)",
    server: "keymint",
    primary: false,
    writes: false,
    expectedRate: 8000,
    plan: (ctx) => ({
      kind: "list",
      method: "POST",
      path: TOKEN_PATH,
      headers: [{ ...FORM, [CF_BLOB_HEADER]: JSON.stringify(edgeCf()) }],
      bodies: [mtlsTokenBody(ctx.fixtures.mtls.clientId)],
    }),
  },
  {
    id: "introspect",
    label: "introspection of an HS256 token (client_secret_basic)",
    server: "keymint",
    primary: false,
    writes: false,
    expectedRate: 7000,
    plan: (ctx) => {
      const authorization = basicAuthorization(ctx.fixtures.introspector);
      return {
        kind: "list",
        method: "POST",
        path: "/oauth2/introspect",
        headers: ctx.tokens.introspect.map(() => ({ ...FORM, authorization })),
        bodies: ctx.tokens.introspect.map((token) => `token=${token}`),
      };
    },
  },
  {
    id: "dpop",
    label: "HS256 DPoP-bound token, client_secret_basic + DPoP proof (ES256, one-time jti)",
    server: "keymint",
    primary: false,
    writes: false,
    expectedRate: 5000,
    needs: "dpop",
    plan: dpopToken,
  },
  {
    id: "api-hs256",
    label: "resource-server kit: GET /reports with an HS256 token",
    server: "api-hmac",
    primary: false,
    writes: false,
    expectedRate: 8000,
    plan: bearer((ctx) => ctx.tokens.apiHs256),
  },
  {
    id: "api-es256",
    label: "resource-server kit: GET /reports with an ES256 token (JWKS cached)",
    server: "api-jwks",
    primary: false,
    writes: false,
    expectedRate: 6000,
    plan: bearer((ctx) => ctx.tokens.apiEs256),
  },
  {
    id: "api-dpop",
    label: "resource-server kit: GET /reports with a DPoP-bound HS256 token and a proof",
    server: "api-hmac",
    primary: false,
    writes: false,
    expectedRate: 5000,
    needs: "dpop",
    plan: dpopResource,
  },
];

/** Opt-in scenarios (`--only` adds them): the 100 000-client worst case, and the audit log's cost. */
export const OPT_IN_SCENARIOS: readonly string[] = ["hs256-100000", "hs256-audit-off"];

/** Scenario ids `npm run bench` runs by default. */
export const DEFAULT_SCENARIOS = SCENARIOS.map((s) => s.id).filter((id) => !OPT_IN_SCENARIOS.includes(id));

/** Clients the KV service must hold for these scenarios. */
export function clientsNeeded(scenarios: readonly Scenario[]): number {
  return scenarios.some((s) => s.id === "hs256-100000") ? 100_000 : 1000;
}

export function scenarioById(id: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.id === id);
}
