/**
 * What the load generator sends in a scenario (a `RequestPlan`, sent over IPC) and how it turns a plan into
 * requests. Everything a request needs is computed before the measured window: Basic headers per client,
 * lists of tokens, and for single-use credentials (private_key_jwt assertions, whose `jti` keymint accepts
 * once) a pool of freshly signed JWTs, so no signing steals CPU from the servers while they are measured.
 */

import { createHash, type JsonWebKey, type KeyObject, randomUUID, sign } from "node:crypto";
import { basicAuthorization, benchCredentials, FORM_CONTENT_TYPE } from "./clients.ts";
import { type AssertionAlg, privateKeyOf, signJws } from "./fixtures.ts";

export const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

export type RequestPlan =
  /** `POST path` with Basic credentials of the run's clients 0..clients-1, round-robin. */
  | { kind: "basic"; path: string; body: string; clients: number }
  /** The same request cycling over a list: one header set and, for POST, one body per item. */
  | {
      kind: "list";
      method: "GET" | "POST";
      path: string;
      headers: Record<string, string>[];
      bodies?: string[];
    }
  /** A token request per fresh private_key_jwt assertion (unique jti), signed ahead of the window. */
  | { kind: "assertion"; alg: AssertionAlg; privateJwk: JsonWebKey; clientId: string; audience: string }
  /**
   * A request carrying a fresh DPoP proof (RFC 9449 §4.2: typ dpop+jwt, the public key in `jwk`, htm, htu, iat,
   * unique jti; `ath` when it presents an access token), signed ahead of the window. Token requests add Basic
   * credentials (`authorization`); resource requests present `Authorization: DPoP <token>`.
   */
  | {
      kind: "dpop";
      alg: AssertionAlg;
      privateJwk: JsonWebKey;
      method: "GET" | "POST";
      /** The request URL without query (the proof's htu). */
      url: string;
      path: string;
      /** Token request: the Basic header and the body. */
      authorization?: string;
      body?: string;
      /** Resource request: DPoP-bound access tokens, cycled. */
      tokens?: string[];
    };

export interface Item {
  headers: Record<string, string>;
  body?: string;
}

/** A source of requests for one round. */
export interface RequestSource {
  method: "GET" | "POST";
  path: string;
  /** The next request; single-use sources sign a new one when their pool runs dry (counted in `lateItems`). */
  next(): Item;
  /** Items made during the measured window because the pool ran dry (0 when it was large enough). */
  lateItems: number;
  /** Reusable sources: how many distinct items one cycle has (the load generator renders one cycle). */
  cycle?: number;
}

const FORM = { "content-type": FORM_CONTENT_TYPE };

function cycling(method: "GET" | "POST", path: string, items: Item[]): RequestSource {
  let cursor = 0;
  return {
    method,
    path,
    lateItems: 0,
    cycle: items.length,
    next() {
      const item = items[cursor] as Item;
      cursor = cursor + 1 >= items.length ? 0 : cursor + 1;
      return item;
    },
  };
}

const basicCache = new Map<string, string[]>();

function basicHeaders(seed: string, clients: number): string[] {
  const key = `${seed}:${clients}`;
  let list = basicCache.get(key);
  if (list === undefined) {
    list = Array.from({ length: clients }, (_, i) => basicAuthorization(benchCredentials(seed, i)));
    basicCache.set(key, list);
  }
  return list;
}

/** A private_key_jwt assertion (RFC 7523 §3): iss = sub = client id, aud, exp within 300 s, unique jti. */
function assertionSigner(plan: Extract<RequestPlan, { kind: "assertion" }>): () => Item {
  const key = privateKeyOf(plan.privateJwk);
  const kid = plan.privateJwk.kid as string;
  const prefix = `grant_type=client_credentials&client_assertion_type=${encodeURIComponent(JWT_BEARER)}&client_assertion=`;
  return () => {
    const now = Math.floor(Date.now() / 1000);
    const jwt = signJws(plan.alg, key, kid, {
      iss: plan.clientId,
      sub: plan.clientId,
      aud: plan.audience,
      iat: now,
      exp: now + 240,
      jti: randomUUID(),
    });
    return { headers: FORM, body: `${prefix}${jwt}` };
  };
}

/** The public JWK of a private one (the members RFC 7638 thumbprints use, for EC and OKP keys). */
function publicJwk(jwk: JsonWebKey): JsonWebKey {
  return jwk.kty === "EC" ? { kty: "EC", crv: jwk.crv, x: jwk.x, y: jwk.y } : { kty: jwk.kty, crv: jwk.crv, x: jwk.x };
}

const keyObjects = new WeakMap<JsonWebKey, KeyObject>();

/**
 * A DPoP proof (RFC 9449 §4.2): header typ dpop+jwt, alg, the public `jwk`; claims htm, htu, iat, a unique jti,
 * and `ath` (base64url SHA-256 of the access token) when one is presented.
 */
export function dpopProof(
  alg: AssertionAlg,
  privateJwk: JsonWebKey,
  method: string,
  url: string,
  accessToken?: string,
): string {
  const header = Buffer.from(JSON.stringify({ typ: "dpop+jwt", alg, jwk: publicJwk(privateJwk) })).toString(
    "base64url",
  );
  const claims: Record<string, unknown> = {
    htm: method,
    htu: url,
    iat: Math.floor(Date.now() / 1000),
    jti: randomUUID(),
  };
  if (accessToken !== undefined) claims.ath = createHash("sha256").update(accessToken).digest("base64url");
  const payload = Buffer.from(JSON.stringify(claims)).toString("base64url");
  const input = Buffer.from(`${header}.${payload}`);
  let key = keyObjects.get(privateJwk);
  if (key === undefined) {
    key = privateKeyOf(privateJwk);
    keyObjects.set(privateJwk, key);
  }
  const signature =
    alg === "ES256" ? sign("sha256", input, { key, dsaEncoding: "ieee-p1363" }) : sign(null, input, key);
  return `${header}.${payload}.${signature.toString("base64url")}`;
}

/** Requests with fresh DPoP proofs for one method and URL, cycling over DPoP-bound tokens when given. */
function dpopSigner(plan: Extract<RequestPlan, { kind: "dpop" }>): () => Item {
  const tokens = plan.tokens ?? [];
  let next = 0;
  return () => {
    const headers: Record<string, string> = {};
    let token: string | undefined;
    if (tokens.length > 0) {
      token = tokens[next] as string;
      next = next + 1 >= tokens.length ? 0 : next + 1;
      headers.authorization = `DPoP ${token}`;
    }
    headers.dpop = dpopProof(plan.alg, plan.privateJwk, plan.method, plan.url, token);
    if (plan.authorization !== undefined) headers.authorization = plan.authorization;
    if (plan.body !== undefined) headers["content-type"] = FORM_CONTENT_TYPE;
    return plan.body === undefined ? { headers } : { headers, body: plan.body };
  };
}

/** A pool of single-use items made before the window; more are made (and counted) if it runs dry. */
function singleUse(method: "GET" | "POST", path: string, make: () => Item, poolSize: number): RequestSource {
  const pool = Array.from({ length: poolSize }, make);
  let cursor = 0;
  const source: RequestSource = {
    method,
    path,
    lateItems: 0,
    next() {
      if (cursor < pool.length) {
        const item = pool[cursor] as Item;
        pool[cursor++] = undefined as unknown as Item;
        return item;
      }
      source.lateItems++;
      return make();
    },
  };
  return source;
}

/**
 * The requests of a round. `poolSize` is how many single-use items to sign beforehand (warm-up and measured
 * window together); reusable plans ignore it.
 */
export function requestSource(plan: RequestPlan, seed: string, poolSize: number): RequestSource {
  switch (plan.kind) {
    case "basic": {
      const headers = basicHeaders(seed, plan.clients).map((authorization) => ({ ...FORM, authorization }));
      return cycling(
        "POST",
        plan.path,
        headers.map((h) => ({ headers: h, body: plan.body })),
      );
    }
    case "list":
      return cycling(
        plan.method,
        plan.path,
        plan.headers.map((headers, i) => {
          const body = plan.bodies?.[i % plan.bodies.length];
          return body === undefined ? { headers } : { headers, body };
        }),
      );
    case "assertion":
      return singleUse("POST", "/oauth2/token", assertionSigner(plan), poolSize);
    case "dpop":
      return singleUse(plan.method, plan.path, dpopSigner(plan), poolSize);
  }
}

/** Whether a plan's requests are single use (their pool must cover the whole round). */
export function isSingleUse(plan: RequestPlan): boolean {
  return plan.kind === "assertion" || plan.kind === "dpop";
}
