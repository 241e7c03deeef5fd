/** Deployment configuration read from `[vars]` and secrets, validated once per isolate. */

import { isValidAudience, isValidTtl, TTL_MAX, TTL_MIN } from "./clients/record.ts";
import type { KeymintEnv } from "./env.ts";
import { parseScope } from "./oauth/scope.ts";
import { type Cidr, parseCidrList } from "./util/cidr.ts";

/** A deployment mistake: `fix` tells the operator what to change. Rendered as 500 `server_error`. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly fix: string;
  constructor(message: string, fix: string) {
    super(message);
    this.fix = fix;
  }
}

export interface Config {
  /** Configured issuer, or `null` to use each request's origin. */
  issuer: string | null;
  defaultTtl: number;
  /** Configured default audience, or `null` to use the issuer. */
  defaultAudience: string | null;
  clientCacheTtlMs: number;
  kvCacheTtl: number;
  kvTimeoutMs: number;
  clientCacheMaxEntries: number;
  scopesSupported: string[] | null;
  /** Sources never throttled for failed authentications (`THROTTLE_EXEMPT_CIDRS`). */
  throttleExempt: readonly Cidr[];
}

const configs = new WeakMap<object, Config>();

function text(value: unknown): string {
  return typeof value === "string" ? value.trim() : "";
}

function integer(env: KeymintEnv, name: keyof KeymintEnv, fallback: number, min: number, max: number): number {
  const raw = text(env[name]);
  if (raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(
      `${String(name)} is ${JSON.stringify(raw)}, not an integer between ${min} and ${max}`,
      `set [vars] ${String(name)} in wrangler.toml to an integer between ${min} and ${max}`,
    );
  }
  return value;
}

/**
 * Validates an issuer identifier (RFC 8414 §2: https URL without query or fragment; http only for loopback).
 * keymint serves its endpoints at the root of its host, so the issuer is an origin without a path.
 */
export function parseIssuer(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(
      `ISSUER ${JSON.stringify(raw)} is not a URL`,
      'set [vars] ISSUER to an https URL, or to "" to use the request origin',
    );
  }
  const loopback = url.hostname === "localhost" || url.hostname === "127.0.0.1" || url.hostname === "[::1]";
  const secure = url.protocol === "https:" || (url.protocol === "http:" && loopback);
  if (!secure || url.pathname !== "/" || url.search !== "" || url.hash !== "" || url.username !== "") {
    throw new ConfigError(
      `ISSUER ${JSON.stringify(raw)} must be an https origin without path, query or fragment (RFC 8414 §2)`,
      "set [vars] ISSUER to an https origin such as https://auth.example.com",
    );
  }
  return url.origin;
}

/** Parses `THROTTLE_EXEMPT_CIDRS`: space-separated IPv4 and IPv6 CIDRs; any malformed entry is a `ConfigError`. */
function throttleExempt(env: KeymintEnv): Cidr[] {
  const { cidrs, invalid } = parseCidrList(text(env.THROTTLE_EXEMPT_CIDRS));
  if (invalid.length > 0) {
    throw new ConfigError(
      `THROTTLE_EXEMPT_CIDRS has malformed entries: ${invalid.join("; ")}`,
      'set THROTTLE_EXEMPT_CIDRS to space-separated CIDRs such as "203.0.113.0/24 2001:db8:1::/48", or to ""',
    );
  }
  return cidrs;
}

/** Reads and validates the configuration; memoized per env object, so the hot path pays for it once. */
export function getConfig(env: KeymintEnv): Config {
  const cached = configs.get(env);
  if (cached !== undefined) return cached;
  const issuerRaw = text(env.ISSUER);
  const audienceRaw = text(env.DEFAULT_AUDIENCE);
  if (audienceRaw !== "" && !isValidAudience(audienceRaw)) {
    throw new ConfigError(
      `DEFAULT_AUDIENCE ${JSON.stringify(audienceRaw)} is invalid`,
      'set [vars] DEFAULT_AUDIENCE to a URI without spaces, or to ""',
    );
  }
  const defaultTtl = integer(env, "DEFAULT_TOKEN_TTL", 3600, TTL_MIN, TTL_MAX);
  if (!isValidTtl(defaultTtl)) throw new ConfigError("DEFAULT_TOKEN_TTL is invalid", "set [vars] DEFAULT_TOKEN_TTL");
  const scopesRaw = text(env.SCOPES_SUPPORTED);
  let scopesSupported: string[] | null = null;
  if (scopesRaw !== "") {
    try {
      scopesSupported = parseScope(scopesRaw);
    } catch {
      throw new ConfigError(
        "SCOPES_SUPPORTED is not a space-separated list of scopes",
        "fix [vars] SCOPES_SUPPORTED in wrangler.toml",
      );
    }
  }
  const config: Config = {
    issuer: issuerRaw === "" ? null : parseIssuer(issuerRaw),
    defaultTtl,
    defaultAudience: audienceRaw === "" ? null : audienceRaw,
    clientCacheTtlMs: integer(env, "CLIENT_CACHE_TTL", 10, 0, 300) * 1000,
    kvCacheTtl: integer(env, "KV_CACHE_TTL", 60, 30, 3600),
    kvTimeoutMs: integer(env, "KV_TIMEOUT_MS", 3000, 10, 30_000),
    clientCacheMaxEntries: 10_000,
    scopesSupported,
    throttleExempt: throttleExempt(env),
  };
  configs.set(env, config);
  return config;
}

/** The KV namespace binding, or a `ConfigError` naming the fix when it is missing. */
export function requireClientsBinding(env: KeymintEnv): KVNamespace {
  const kv = env.CLIENTS as KVNamespace | undefined;
  if (kv === undefined || typeof kv.get !== "function") {
    throw new ConfigError(
      "the KV binding CLIENTS is missing",
      'add [[kv_namespaces]] binding = "CLIENTS" to wrangler.toml and redeploy',
    );
  }
  return kv;
}
