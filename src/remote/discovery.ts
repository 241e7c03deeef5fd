/**
 * OpenID Connect Discovery 1.0 for federated workload identity: an outside issuer's `jwks_uri`, read from
 * `<issuer>/.well-known/openid-configuration` and cached per isolate as long as its `Cache-Control` allows.
 */

import { type Fetcher, fetchJson, type Lifetime, RemoteFetchError } from "./fetch-json.ts";
import { remoteUrlProblem } from "./url.ts";

/** Discovery documents change rarely: honoured between 5 minutes and 1 day, 1 hour without `Cache-Control`. */
const LIFETIME: Lifetime = { min: 300, max: 86_400, fallback: 3600 };
const TIMEOUT_MS = 3000;
const MAX_BYTES = 64 * 1024;
const MAX_ENTRIES = 1000;

interface Entry {
  jwksUri: string;
  expiresAt: number;
}

const cache = new Map<string, Entry>();

/** Counters for tests: discovery documents fetched. */
export const discoveryStats = { fetches: 0 };

/** `<issuer>/.well-known/openid-configuration`, with a trailing `/` of the issuer removed first (OIDC Discovery §4). */
export function discoveryUrl(issuer: string): string {
  return `${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
}

/**
 * The issuer's `jwks_uri`. The document's `issuer` must equal the configured one exactly (OIDC Discovery §4.3)
 * and its `jwks_uri` must be fetchable (https, or loopback http). Throws `RemoteFetchError` otherwise. A stale
 * entry is kept if refreshing fails, so a short outage of the issuer's discovery endpoint does not stop tokens.
 */
export async function discoverJwksUri(issuer: string, fetcher?: Fetcher, nowMs = Date.now()): Promise<string> {
  const cached = cache.get(issuer);
  if (cached !== undefined && cached.expiresAt > nowMs) return cached.jwksUri;
  const url = discoveryUrl(issuer);
  let value: unknown;
  let freshFor: number;
  try {
    discoveryStats.fetches++;
    ({ value, freshFor } = await fetchJson(url, { timeoutMs: TIMEOUT_MS, maxBytes: MAX_BYTES, fetcher }, LIFETIME));
  } catch (err) {
    if (cached !== undefined) return cached.jwksUri;
    throw err;
  }
  const document = typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {};
  if (document.issuer !== issuer) {
    throw new RemoteFetchError(url, `its issuer ${JSON.stringify(document.issuer)} is not ${JSON.stringify(issuer)}`);
  }
  const jwksUri = document.jwks_uri;
  if (typeof jwksUri !== "string") throw new RemoteFetchError(url, "it has no jwks_uri");
  const problem = remoteUrlProblem(jwksUri);
  if (problem !== null) throw new RemoteFetchError(url, `its jwks_uri ${jwksUri} is unusable: ${problem}`);
  if (cache.size >= MAX_ENTRIES && !cache.has(issuer)) {
    const oldest = cache.keys().next();
    if (!oldest.done) cache.delete(oldest.value);
  }
  cache.set(issuer, { jwksUri, expiresAt: Date.now() + freshFor * 1000 });
  return jwksUri;
}
