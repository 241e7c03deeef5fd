/** Deployment configuration read from the vars (src/settings.ts), validated once per isolate. */

import { isValidAudience, TTL_MAX, TTL_MIN } from "./clients/record.ts";
import type { KeymintEnv } from "./env.ts";
import { parseScope } from "./oauth/scope.ts";
import type { ReplayGuardNamespace } from "./replay/claim.ts";
import { VAR_DEFAULTS, type VarName } from "./settings.ts";
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
  /** Token requests with a DPoP proof must carry a server-provided nonce (`DPOP_NONCE=on`, RFC 9449 §8). */
  dpopNonce: boolean;
  /** One audit line per request (`AUDIT_LOG`, default on). */
  auditLog: boolean;
  /** Milliseconds the claims hook has to answer (`CLAIMS_HOOK_TIMEOUT_MS`). */
  claimsHookTimeoutMs: number;
  /** What a failing claims hook does (`CLAIMS_HOOK_FAILURE`): `closed` refuses the token (503), `omit` issues it without the hook's claims. */
  claimsHookFailure: "closed" | "omit";
}

const configs = new WeakMap<object, Config>();

/** Where a var is set, for the `fix` of a `ConfigError`. */
function where(name: VarName): string {
  return `${name} ([vars] in wrangler.toml; locally also .dev.vars or \`npm start -- --var ${name}:VALUE\`)`;
}

/** A var's text; a TOML number or boolean in [vars] (`DEFAULT_TOKEN_TTL = 7200`) counts as its text too. */
function text(value: unknown): string {
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return typeof value === "string" ? value.trim() : "";
}

/** An integer var between `min` and `max`; empty or unset means its default from src/settings.ts. */
function integer(env: KeymintEnv, name: VarName, min: number, max: number): number {
  const raw = text(env[name]);
  if (raw === "") return Number(VAR_DEFAULTS[name]);
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(
      `${name} is ${JSON.stringify(raw)}, not an integer between ${min} and ${max}`,
      `set ${where(name)} to an integer between ${min} and ${max}`,
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
      `set ${where("ISSUER")} to an https URL, or to "" to use the request origin`,
    );
  }
  const loopback = url.hostname === "localhost" || url.hostname === "127.0.0.1" || url.hostname === "[::1]";
  const secure = url.protocol === "https:" || (url.protocol === "http:" && loopback);
  if (!secure || url.pathname !== "/" || url.search !== "" || url.hash !== "" || url.username !== "") {
    throw new ConfigError(
      `ISSUER ${JSON.stringify(raw)} must be an https origin without path, query or fragment (RFC 8414 §2)`,
      `set ${where("ISSUER")} to an https origin such as https://auth.example.com`,
    );
  }
  return url.origin;
}

function issuer(env: KeymintEnv): string | null {
  const raw = text(env.ISSUER);
  return raw === "" ? null : parseIssuer(raw);
}

function defaultAudience(env: KeymintEnv): string | null {
  const raw = text(env.DEFAULT_AUDIENCE);
  if (raw === "") return null;
  if (!isValidAudience(raw)) {
    throw new ConfigError(
      `DEFAULT_AUDIENCE ${JSON.stringify(raw)} is invalid`,
      `set ${where("DEFAULT_AUDIENCE")} to a URI without spaces, or to ""`,
    );
  }
  return raw;
}

function scopesSupported(env: KeymintEnv): string[] | null {
  const raw = text(env.SCOPES_SUPPORTED);
  if (raw === "") return null;
  try {
    return parseScope(raw);
  } catch {
    throw new ConfigError(
      "SCOPES_SUPPORTED is not a space-separated list of scopes (RFC 6749 section 3.3)",
      `set ${where("SCOPES_SUPPORTED")} to scopes separated by single spaces, or to ""`,
    );
  }
}

/** Parses `THROTTLE_EXEMPT_CIDRS`: space-separated IPv4 and IPv6 CIDRs; any malformed entry is a `ConfigError`. */
function throttleExempt(env: KeymintEnv): Cidr[] {
  const { cidrs, invalid } = parseCidrList(text(env.THROTTLE_EXEMPT_CIDRS));
  if (invalid.length > 0) {
    throw new ConfigError(
      `THROTTLE_EXEMPT_CIDRS has malformed entries: ${invalid.join("; ")}`,
      `set ${where("THROTTLE_EXEMPT_CIDRS")} to space-separated CIDRs such as "203.0.113.0/24 2001:db8:1::/48", or to ""`,
    );
  }
  return cidrs;
}

/** An `on`/`off` var (case-insensitive; empty means its default). */
function onOff(env: KeymintEnv, name: "DPOP_NONCE" | "AUDIT_LOG"): boolean {
  const raw = text(env[name]).toLowerCase() || VAR_DEFAULTS[name];
  if (raw === "on" || raw === "off") return raw === "on";
  throw new ConfigError(`${name} is ${JSON.stringify(raw)}, not "on" or "off"`, `set ${where(name)} to "on" or "off"`);
}

/** `CLAIMS_HOOK_FAILURE`: `closed` (default) or `omit`, case-insensitive. */
function hookFailure(env: KeymintEnv): "closed" | "omit" {
  const raw = text(env.CLAIMS_HOOK_FAILURE).toLowerCase() || VAR_DEFAULTS.CLAIMS_HOOK_FAILURE;
  if (raw === "closed" || raw === "omit") return raw;
  throw new ConfigError(
    `CLAIMS_HOOK_FAILURE is ${JSON.stringify(raw)}, not "closed" or "omit"`,
    `set ${where("CLAIMS_HOOK_FAILURE")} to "closed" (a failing hook refuses the token) or "omit" (the token is issued without the hook's claims)`,
  );
}

/** `read()`, or `fallback` after adding the `ConfigError` it threw to `problems`. */
function collect<T>(problems: ConfigError[], read: () => T, fallback: T): T {
  try {
    return read();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(err);
    return fallback;
  }
}

/**
 * Reads and validates the configuration; memoized per env object, so the hot path pays for it once. Every
 * invalid setting is reported in one `ConfigError` (one log line), not just the first.
 */
export function getConfig(env: KeymintEnv): Config {
  const cached = configs.get(env);
  if (cached !== undefined) return cached;
  const problems: ConfigError[] = [];
  const config: Config = {
    issuer: collect(problems, () => issuer(env), null),
    defaultTtl: collect(problems, () => integer(env, "DEFAULT_TOKEN_TTL", TTL_MIN, TTL_MAX), 0),
    defaultAudience: collect(problems, () => defaultAudience(env), null),
    clientCacheTtlMs: collect(problems, () => integer(env, "CLIENT_CACHE_TTL", 0, 300), 0) * 1000,
    kvCacheTtl: collect(problems, () => integer(env, "KV_CACHE_TTL", 30, 3600), 0),
    kvTimeoutMs: collect(problems, () => integer(env, "KV_TIMEOUT_MS", 10, 30_000), 0),
    clientCacheMaxEntries: 10_000,
    scopesSupported: collect(problems, () => scopesSupported(env), null),
    throttleExempt: collect(problems, () => throttleExempt(env), []),
    dpopNonce: collect(problems, () => onOff(env, "DPOP_NONCE"), false),
    auditLog: collect(problems, () => onOff(env, "AUDIT_LOG"), true),
    claimsHookTimeoutMs: collect(problems, () => integer(env, "CLAIMS_HOOK_TIMEOUT_MS", 10, 10_000), 0),
    claimsHookFailure: collect(problems, () => hookFailure(env), "closed"),
  };
  if (problems.length === 1) throw problems[0];
  if (problems.length > 1) {
    throw new ConfigError(problems.map((p) => p.message).join("; "), problems.map((p) => p.fix).join("; "));
  }
  configs.set(env, config);
  return config;
}

/**
 * The claims hook's service binding (`CLAIMS_HOOK`), `undefined` when none is configured, or a `ConfigError` when
 * the name is bound to something that is not a service (a var of that name, say).
 */
export function claimsHookBinding(env: KeymintEnv): Fetcher | undefined {
  const hook = env.CLAIMS_HOOK as unknown;
  if (hook === undefined) return undefined;
  if (typeof hook !== "object" || hook === null || typeof (hook as Fetcher).fetch !== "function") {
    throw new ConfigError(
      "CLAIMS_HOOK is set but is not a service binding",
      'bind it with [[services]] binding = "CLAIMS_HOOK" service = "<your hook Worker>" in wrangler.toml (docs/claims.md), and remove any var or secret of that name',
    );
  }
  return hook as Fetcher;
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

/** The replay guard's Durable Object binding, or a `ConfigError` naming the fix when it is missing. */
export function requireReplayGuardBinding(env: KeymintEnv): ReplayGuardNamespace {
  const namespace = env.REPLAY_GUARD as ReplayGuardNamespace | undefined;
  if (namespace === undefined || typeof namespace.getByName !== "function") {
    throw new ConfigError(
      "the Durable Object binding REPLAY_GUARD is missing",
      'add [[durable_objects.bindings]] name = "REPLAY_GUARD", class_name = "ReplayGuard" and its [[migrations]] (new_sqlite_classes) to wrangler.toml, as in keymint\'s, and redeploy',
    );
  }
  return namespace;
}
