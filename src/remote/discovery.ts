/**
 * OpenID Connect Discovery 1.0 for federated workload identity: an outside issuer's `jwks_uri`, read from
 * `<issuer>/.well-known/openid-configuration` and cached per isolate as long as its `Cache-Control` allows.
 */

import { setBounded } from "../util/bounded.ts";
import { type Fetcher, fetchJson, type Lifetime, RemoteFetchError } from "./fetch-json.ts";
import { remoteUrlProblem } from "./url.ts";

/** Discovery documents change rarely: honoured between 5 minutes and 1 day, 1 hour without `Cache-Control`. */
const LIFETIME: Lifetime = { min: 300, max: 86_400, fallback: 3600 };
const TIMEOUT_MS = 3000;
const MAX_BYTES = 64 * 1024;
const MAX_ENTRIES = 1000;
/** Milliseconds after a failed fetch before the next one for the same issuer. */
const RETRY_AFTER_FAILURE_MS = 10_000;

interface Entry {
  jwksUri: string;
  expiresAt: number;
}

const cache = new Map<string, Entry>();
/** Issuers whose last fetch failed with nothing cached: the error, answered again until the back-off ends. */
const failures = new Map<string, { error: unknown; at: number }>();

/** Counters for tests: discovery documents fetched. */
export const discoveryStats = { fetches: 0 };

/** `<issuer>/.well-known/openid-configuration`, with a trailing `/` of the issuer removed first (OIDC Discovery §4). */
export function discoveryUrl(issuer: string): string {
  return `${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
}

/**
 * The issuer's `jwks_uri`. The document's `issuer` must equal the configured one exactly (OIDC Discovery §4.3)
 * and its `jwks_uri` must be fetchable (https; plain http on loopback only for a loopback issuer). Throws
 * `RemoteFetchError` otherwise. A stale entry is kept if refreshing fails, so a short outage of the issuer's
 * discovery endpoint does not stop tokens; a failed fetch is not repeated for RETRY_AFTER_FAILURE_MS.
 */
export async function discoverJwksUri(issuer: string, fetcher?: Fetcher, nowMs = Date.now()): Promise<string> {
  const cached = cache.get(issuer);
  if (cached !== undefined && cached.expiresAt > nowMs) return cached.jwksUri;
  const failed = failures.get(issuer);
  if (cached === undefined && failed !== undefined && nowMs - failed.at < RETRY_AFTER_FAILURE_MS) throw failed.error;
  try {
    const { jwksUri, freshFor } = await fetchDiscovery(issuer, fetcher);
    failures.delete(issuer);
    setBounded(cache, issuer, { jwksUri, expiresAt: Date.now() + freshFor * 1000 }, MAX_ENTRIES);
    return jwksUri;
  } catch (err) {
    if (!(err instanceof RemoteFetchError)) throw err;
    if (cached !== undefined) {
      cached.expiresAt = nowMs + RETRY_AFTER_FAILURE_MS;
      return cached.jwksUri;
    }
    setBounded(failures, issuer, { error: err, at: nowMs }, MAX_ENTRIES);
    throw err;
  }
}

/** Fetches and checks the issuer's discovery document; throws `RemoteFetchError` when it is unusable. */
async function fetchDiscovery(issuer: string, fetcher: Fetcher | undefined) {
  const url = discoveryUrl(issuer);
  discoveryStats.fetches++;
  const { value, freshFor } = await fetchJson(url, { timeoutMs: TIMEOUT_MS, maxBytes: MAX_BYTES, fetcher }, LIFETIME);
  const document = typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {};
  if (document.issuer !== issuer) {
    throw new RemoteFetchError(url, `its issuer ${JSON.stringify(document.issuer)} is not ${JSON.stringify(issuer)}`);
  }
  const jwksUri = document.jwks_uri;
  if (typeof jwksUri !== "string") throw new RemoteFetchError(url, "it has no jwks_uri");
  const problem = remoteUrlProblem(jwksUri);
  if (problem !== null) throw new RemoteFetchError(url, `its jwks_uri ${jwksUri} is unusable: ${problem}`);
  // An https issuer must not send keymint to a loopback service (plain http is for local testing only).
  if (new URL(jwksUri).protocol === "http:" && new URL(issuer).protocol !== "http:") {
    throw new RemoteFetchError(url, `its jwks_uri ${jwksUri} is plain http for an https issuer`);
  }
  return { jwksUri, freshFor };
}
