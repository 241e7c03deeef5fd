/** Per-request values every endpoint needs: configuration, issuer, the client store, the clock. */

import { KvClientStore } from "../clients/kv-store.ts";
import type { ClientStore } from "../clients/store.ts";
import { type Config, getConfig, requireClientsBinding, requireReplayGuardBinding } from "../config.ts";
import type { KeymintEnv } from "../env.ts";
import { type OneTimeIds, oneTimeIds } from "../replay/claim.ts";

export interface RequestContext {
  config: Config;
  /** The issuer for this request: configured, or the request's origin (RFC 8414 §2). */
  issuer: string;
  store: ClientStore;
  /** Unix seconds. */
  now: number;
}

const stores = new WeakMap<object, KvClientStore>();

function storeFor(env: KeymintEnv, config: Config): KvClientStore {
  let store = stores.get(env);
  if (store === undefined) {
    store = new KvClientStore(requireClientsBinding(env), {
      cacheTtlMs: config.clientCacheTtlMs,
      kvCacheTtl: config.kvCacheTtl,
      timeoutMs: config.kvTimeoutMs,
      maxEntries: config.clientCacheMaxEntries,
    });
    stores.set(env, store);
  }
  return store;
}

const replays = new WeakMap<object, OneTimeIds>();

/**
 * The deployment's one-time ids (client assertions, DPoP proofs), memoized per env like the store: the env's
 * replay guard behind one per-isolate first check. A `ConfigError` when the REPLAY_GUARD binding is missing.
 */
export function oneTimeIdsFor(env: KeymintEnv, config: Config): OneTimeIds {
  let ids = replays.get(env);
  if (ids === undefined) {
    ids = oneTimeIds(requireReplayGuardBinding(env), config.kvTimeoutMs);
    replays.set(env, ids);
  }
  return ids;
}

/**
 * The issuer identifier for a request: the configured one, else the request's origin. The runtime hands the
 * Worker a normalized absolute URL (`scheme://host[:port]/path`), so the origin ends at the first `/` after `//`.
 */
export function issuerFor(config: Config, request: Request): string {
  if (config.issuer !== null) return config.issuer;
  const url = request.url;
  const slash = url.indexOf("/", url.indexOf("//") + 2);
  return slash === -1 ? url : url.slice(0, slash);
}

/** Builds the request context; throws `ConfigError` when the deployment is misconfigured. */
export function requestContext(request: Request, env: KeymintEnv): RequestContext {
  const config = getConfig(env);
  return {
    config,
    issuer: issuerFor(config, request),
    store: storeFor(env, config),
    now: Math.floor(Date.now() / 1000),
  };
}
