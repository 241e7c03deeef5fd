/**
 * Outside JWK Sets (a client's `jwks_uri`, an OpenID Connect issuer's keys, keymint's own JWKS seen by an API),
 * cached per isolate: fresh for as long as `Cache-Control` allows (within bounds), refetched on an unknown `kid`
 * at most once per cool-down, and served stale while one request refreshes or when a refresh fails. A failed
 * fetch is not repeated for `retryAfterFailureMs`: an unreachable URL costs one fetch per isolate per back-off,
 * whatever the request rate.
 *
 * Nothing here shares a promise between requests: workerd cancels a request that awaits I/O started by another.
 * A request that finds the cache empty fetches for itself; one that finds it stale either refreshes it (the first
 * to notice) or keeps using the stale keys while that refresh runs.
 */

import { type AsymmetricAlg, isObject, type Jwk, JwkError, jwksKeys } from "../jwt/jwk.ts";
import { importVerificationJwk, type VerificationKey } from "../jwt/keys.ts";
import { setBounded } from "../util/bounded.ts";
import { type Fetcher, fetchJson, type Lifetime, RemoteFetchError } from "./fetch-json.ts";

export interface KeySetOptions {
  /** Algorithms a key of this set may have (keys for anything else are skipped). */
  algorithms: readonly AsymmetricAlg[];
  timeoutMs?: number;
  maxBytes?: number;
  lifetime?: Lifetime;
  /** Milliseconds between refetches caused by an unknown `kid`. */
  cooldownMs?: number;
  /** Milliseconds stale keys may still be used when refreshing fails. */
  maxStaleMs?: number;
  /** Milliseconds after a failed fetch before the next one (the failure or the stale keys are used meanwhile). */
  retryAfterFailureMs?: number;
}

/** Defaults: 3 s timeout, 256 KiB, `Cache-Control` honoured between 1 minute and 1 day (10 minutes without). */
export const KEY_SET_DEFAULTS = {
  timeoutMs: 3000,
  maxBytes: 256 * 1024,
  lifetime: { min: 60, max: 86_400, fallback: 600 },
  cooldownMs: 60_000,
  maxStaleMs: 86_400_000,
  retryAfterFailureMs: 10_000,
} as const;

interface Loaded {
  keys: VerificationKey[];
  fetchedAt: number;
  expiresAt: number;
}

/** Counters for tests and the benchmark: documents fetched, by outcome. */
export const keySetStats = { fetches: 0, failures: 0 };

/**
 * The JWKs to import for one key: itself, or, for an RSA key without `alg` (RFC 7517 makes it optional), one copy
 * per RSA algorithm among `algorithms`, since such a key may sign RS256 or PS256.
 */
function variants(jwk: Jwk, algorithms: readonly AsymmetricAlg[]): Jwk[] {
  if (jwk.alg !== undefined || jwk.kty !== "RSA") return [jwk];
  return algorithms.filter((alg) => alg === "RS256" || alg === "PS256").map((alg) => ({ ...jwk, alg }));
}

/** Imports the usable keys of a JWKS document; keys of other types or uses are skipped, not fatal. */
async function importKeySet(value: unknown, algorithms: readonly AsymmetricAlg[], url: string) {
  let jwks: Jwk[];
  try {
    jwks = jwksKeys(value);
  } catch (err) {
    throw new RemoteFetchError(url, err instanceof JwkError ? err.message : String(err));
  }
  const imported = await Promise.all(
    jwks.flatMap((jwk) => {
      if (isObject(jwk) && jwk.use !== undefined && jwk.use !== "sig") return [];
      return variants(jwk, algorithms).map(async (variant) => {
        try {
          return (await importVerificationJwk(variant, algorithms, false)).key;
        } catch (err) {
          if (err instanceof JwkError) return null;
          throw err;
        }
      });
    }),
  );
  return imported.filter((key): key is VerificationKey => key !== null);
}

/** One remote JWK Set. */
export class RemoteKeySet {
  readonly url: string;
  readonly #options: KeySetOptions;
  #loaded: Loaded | undefined;
  /** When the last fetch started (ms), for the cool-down and to tell whether a refresh is under way. */
  #lastFetchAt = Number.NEGATIVE_INFINITY;
  #refreshingUntil = 0;
  /** The last failed fetch (while nothing is cached, it is answered again until the back-off ends). */
  #failure: { error: unknown; at: number } | undefined;

  constructor(url: string, options: KeySetOptions) {
    this.url = url;
    this.#options = options;
  }

  async #fetch(nowMs: number, fetcher: Fetcher | undefined): Promise<Loaded> {
    const o = this.#options;
    this.#lastFetchAt = nowMs;
    keySetStats.fetches++;
    try {
      const { value, freshFor } = await fetchJson(
        this.url,
        {
          timeoutMs: o.timeoutMs ?? KEY_SET_DEFAULTS.timeoutMs,
          maxBytes: o.maxBytes ?? KEY_SET_DEFAULTS.maxBytes,
          fetcher,
        },
        o.lifetime ?? KEY_SET_DEFAULTS.lifetime,
      );
      const keys = await importKeySet(value, o.algorithms, this.url);
      const fetchedAt = Date.now();
      const loaded = { keys, fetchedAt, expiresAt: fetchedAt + freshFor * 1000 };
      this.#loaded = loaded;
      this.#failure = undefined;
      return loaded;
    } catch (err) {
      keySetStats.failures++;
      this.#failure = { error: err, at: nowMs };
      throw err;
    }
  }

  get #backoffMs(): number {
    return this.#options.retryAfterFailureMs ?? KEY_SET_DEFAULTS.retryAfterFailureMs;
  }

  /** The cached keys when usable now; refreshes (or fetches) them when needed. */
  async #current(nowMs: number, fetcher: Fetcher | undefined): Promise<Loaded> {
    const loaded = this.#loaded;
    if (loaded !== undefined && loaded.expiresAt > nowMs) return loaded;
    if (loaded === undefined) {
      const failure = this.#failure;
      if (failure !== undefined && nowMs - failure.at < this.#backoffMs) throw failure.error;
      return this.#fetch(nowMs, fetcher);
    }
    // Stale: one request refreshes; the others keep using the stale keys meanwhile.
    if (this.#refreshingUntil > nowMs) return loaded;
    const timeoutMs = this.#options.timeoutMs ?? KEY_SET_DEFAULTS.timeoutMs;
    this.#refreshingUntil = nowMs + timeoutMs * 2;
    try {
      return await this.#fetch(nowMs, fetcher);
    } catch (err) {
      const maxStale = this.#options.maxStaleMs ?? KEY_SET_DEFAULTS.maxStaleMs;
      if (nowMs - loaded.fetchedAt <= maxStale) {
        console.warn(
          JSON.stringify({
            level: "warn",
            event: "remote_keys_stale",
            url: this.url,
            cause: err instanceof Error ? err.message : String(err),
            fix: "check that the JWKS URL answers; keymint keeps using the keys it fetched last",
          }),
        );
        // Back off: the stale keys serve until the next attempt.
        loaded.expiresAt = nowMs + this.#backoffMs;
        return loaded;
      }
      throw err;
    } finally {
      this.#refreshingUntil = 0;
    }
  }

  /**
   * The key for a JWS header: by `kid` and `alg` when a `kid` is given (refetching once per cool-down when it is
   * unknown; a failing refetch then means "no such key", so a made-up `kid` is never a 503), else the only key of
   * that algorithm. `undefined` when there is none. Throws `RemoteFetchError` when the set cannot be fetched and
   * no usable copy is cached. `fetcher` (default: the global `fetch`) is passed per call, so a
   * service binding always belongs to the request that uses it.
   */
  async key(
    kid: string | undefined,
    alg: string,
    fetcher?: Fetcher,
    nowMs = Date.now(),
  ): Promise<VerificationKey | undefined> {
    const loaded = await this.#current(nowMs, fetcher);
    const found = pickKey(loaded.keys, kid, alg);
    const cooldown = this.#options.cooldownMs ?? KEY_SET_DEFAULTS.cooldownMs;
    if (found !== undefined || kid === undefined || nowMs - this.#lastFetchAt < cooldown) return found;
    try {
      return pickKey((await this.#fetch(nowMs, fetcher)).keys, kid, alg);
    } catch (err) {
      if (err instanceof RemoteFetchError) return undefined;
      throw err;
    }
  }
}

/**
 * The key a JWS header designates among `keys`: the one with its `kid` and `alg`, or, without a `kid`, the only
 * key of its `alg`. Shared by remote key sets and a client's registered keys.
 */
export function pickKey(
  keys: readonly VerificationKey[],
  kid: string | undefined,
  alg: string,
): VerificationKey | undefined {
  if (kid !== undefined) return keys.find((k) => k.kid === kid && k.alg === alg) ?? keys.find((k) => k.kid === kid);
  const candidates = keys.filter((k) => k.alg === alg);
  return candidates.length === 1 ? candidates[0] : undefined;
}

const MAX_SETS = 1000;
const sets = new Map<string, RemoteKeySet>();

/**
 * The isolate's cached key set for a URL (and algorithm list). At most MAX_SETS are kept; the oldest is dropped
 * first.
 */
export function remoteKeySet(url: string, options: KeySetOptions): RemoteKeySet {
  const cacheKey = `${options.algorithms.join(",")} ${url}`;
  let set = sets.get(cacheKey);
  if (set === undefined) {
    set = new RemoteKeySet(url, options);
    setBounded(sets, cacheKey, set, MAX_SETS);
  }
  return set;
}
