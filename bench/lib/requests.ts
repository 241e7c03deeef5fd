/**
 * What the load generator sends in a scenario (a `RequestPlan`, sent over IPC) and how it turns a plan into
 * requests. Everything a request needs is computed before the measured window: Basic headers per client,
 * lists of tokens, and for single-use credentials (private_key_jwt assertions, whose `jti` keymint accepts
 * once) a pool of freshly signed JWTs, so no signing steals CPU from the servers while they are measured.
 */

import type { JsonWebKey } from "node:crypto";
import { randomUUID } from "node:crypto";
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
  | { kind: "assertion"; alg: AssertionAlg; privateJwk: JsonWebKey; clientId: string; audience: string };

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
}

const FORM = { "content-type": FORM_CONTENT_TYPE };

function cycling(method: "GET" | "POST", path: string, items: Item[]): RequestSource {
  let cursor = 0;
  return {
    method,
    path,
    lateItems: 0,
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
    case "assertion": {
      const sign = assertionSigner(plan);
      const pool = Array.from({ length: poolSize }, sign);
      let cursor = 0;
      const source: RequestSource = {
        method: "POST",
        path: "/oauth2/token",
        lateItems: 0,
        next() {
          if (cursor < pool.length) {
            const item = pool[cursor] as Item;
            pool[cursor++] = undefined as unknown as Item;
            return item;
          }
          source.lateItems++;
          return sign();
        },
      };
      return source;
    }
  }
}

/** Whether a plan's requests are single use (their pool must cover the whole round). */
export function isSingleUse(plan: RequestPlan): boolean {
  return plan.kind === "assertion";
}
