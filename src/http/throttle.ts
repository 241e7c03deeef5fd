/**
 * Abuse protection with the Workers Rate Limiting binding (RFC 6749 §2.3.1 brute force, RFC 6819 §4.3.5):
 * failed client authentications, and per-client token quotas.
 *
 * Failures are counted per (source, client id) pair and per source (Auth0's `count_per_identifier_and_ip`,
 * for machine clients); never per client id alone: client ids are public (they are in every token), so a per-id
 * limit would let anyone lock a client out. A failure whose secret matched (disabled client, expired secret) is
 * not a guess and is not counted.
 *
 * The binding counts per Cloudflare location and only answers `{ success }`, so failures are counted when they
 * happen; once a key is over its limit it is remembered inside the isolate for one period. A blocked pair is
 * refused before any KV read or hash. A source over its limit still gets the lookup (its valid credentials
 * must keep working), and every failure from it is answered 429. A missing binding disables that protection
 * with one warning per isolate (the log says how to add it): throttling is defence in depth against 256-bit
 * secrets, and must not take the token endpoint down.
 */

import { isValidClientId, QUOTA_MIN } from "../clients/record.ts";
import { getConfig } from "../config.ts";
import type { KeymintEnv } from "../env.ts";
import { log } from "../log.ts";
import { OAuthError } from "../oauth/errors.ts";
import { setBounded } from "../util/bounded.ts";
import { inCidrs, mappedIpv4 } from "../util/cidr.ts";

/** The period of the failure limiters, in seconds (wrangler.toml `period`). */
export const FAILURE_PERIOD = 60;
/** Tokens a quota slot admits (the TOKEN_QUOTA binding's `limit`): quotas are metered in bursts of this size. */
export const QUOTA_BURST = QUOTA_MIN;
/**
 * Failed guesses for one client id, in one isolate and one period, after which `client_under_attack` is logged
 * (a log line only: it never refuses anything). Three sources at the pair limit reach it.
 */
export const CLIENT_ATTACK_THRESHOLD = 30;
const MAX_ENTRIES = 10_000;
const PERIOD_MS = FAILURE_PERIOD * 1000;

interface Limiter {
  limit(options: { key: string }): Promise<{ success: boolean }>;
}

type LimiterName = "FAILED_AUTH_BY_PAIR" | "FAILED_AUTH_BY_SOURCE" | "TOKEN_QUOTA";

/** Pairs and sources over their failure limit, with the time (ms) until which they stay blocked in this isolate. */
const blocked = new Map<string, number>();
/** When the last block in `blocked` ends: after it the map is emptied, so the hot path is one size check again. */
let blockedUntilLast = 0;
/** Failed guesses per client id in this isolate, for the `client_under_attack` log line. */
const guessesByClient = new Map<string, { since: number; count: number }>();
const warned = new Set<LimiterName>();

function limiter(env: KeymintEnv, name: LimiterName): Limiter | null {
  const binding = (env as unknown as Record<string, unknown>)[name] as Limiter | undefined;
  if (binding !== undefined && typeof binding.limit === "function") return binding;
  if (!warned.has(name)) {
    warned.add(name);
    log("warn", "rate_limiter_missing", {
      binding: name,
      fix: `add the [[ratelimits]] binding "${name}" from keymint's wrangler.toml and redeploy`,
    });
  }
  return null;
}

async function allowed(env: KeymintEnv, name: LimiterName, key: string): Promise<boolean> {
  const binding = limiter(env, name);
  if (binding === null) return true;
  try {
    return (await binding.limit({ key })).success;
  } catch (err) {
    log("warn", "rate_limiter_failed", { binding: name, cause: err instanceof Error ? err.message : String(err) });
    return true;
  }
}

export function slowDown(retryAfter: number, description: string, detail: string): OAuthError {
  return new OAuthError("slow_down", description, { retryAfter: Math.max(1, Math.ceil(retryAfter)), detail });
}

const TOO_MANY_FAILURES = "Too many failed authentication attempts, retry later";

/**
 * How the throttle treats a failed client authentication, by its private `detail`. The one classification
 * every client-authentication method shares:
 * - `unknown`: the client id does not exist (`unknown_client`); counted like a guess, and never logged by id.
 * - `not_a_guess`: the presented credential matched, the client just may not use it now (`client_disabled`,
 *   `secret_expired`), or a JWT assertion's signature verified and only its claims failed (expired, wrong
 *   audience, replayed…); answered as before, never counted.
 * - `guess`: anything else (a wrong secret, and any detail this function does not know: fail safe); counted
 *   per (source, client id) pair and per source.
 */
export function failureKind(detail: string | undefined): "unknown" | "guess" | "not_a_guess" {
  switch (detail) {
    case "unknown_client":
      return "unknown";
    case "client_disabled":
    case "secret_expired":
    // A JWT assertion whose signature verified (src/clients/auth/assertion.ts): the presenter holds the key.
    case "assertion_no_exp":
    case "assertion_expired":
    case "assertion_not_yet_valid":
    case "assertion_issued_in_future":
    case "assertion_lifetime_too_long":
    case "assertion_wrong_issuer":
    case "assertion_wrong_subject":
    case "assertion_wrong_audience":
    case "assertion_no_jti":
    case "assertion_replayed":
      return "not_a_guess";
    default:
      return "guess";
  }
}

/**
 * The throttling key for a request's source: the IPv4 address, or the /64 prefix of an IPv6 address (one
 * host usually holds a whole /64, so counting single IPv6 addresses would give an attacker 2^64 keys). An
 * IPv4-mapped IPv6 address counts as its IPv4 address.
 */
export function sourceIp(request: Request): string {
  const ip = request.headers.get("cf-connecting-ip");
  if (ip === null) return "unknown";
  if (!ip.includes(":")) return ip;
  return mappedIpv4(ip) ?? ipv6Prefix64(ip);
}

/** The first four groups of an IPv6 address, expanded (`2001:db8::1` → `2001:db8:0:0::/64`). */
export function ipv6Prefix64(ip: string): string {
  const [head = "", tail] = ip.toLowerCase().split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups =
    tail === undefined ? left : [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}

/** Neither part contains a space (client ids are printable ASCII without spaces), so the key is unambiguous. */
function pairKey(source: string, clientId: string): string {
  return `pair:${source} ${clientId}`;
}
function sourceKey(source: string): string {
  return `source:${source}`;
}

/** Milliseconds `key` stays blocked in this isolate, or 0 (an expired entry is dropped). */
function blockedFor(key: string, nowMs: number): number {
  const until = blocked.get(key);
  if (until === undefined) return 0;
  if (until > nowMs) return until - nowMs;
  blocked.delete(key);
  return 0;
}

function block(key: string, nowMs: number): void {
  remember(blocked, key, nowMs + PERIOD_MS);
  blockedUntilLast = Math.max(blockedUntilLast, nowMs + PERIOD_MS);
}

function remember<V>(map: Map<string, V>, key: string, value: V): void {
  setBounded(map, key, value, MAX_ENTRIES);
}

/**
 * Refuses (429 `slow_down`) a request whose (source, client id) pair is over its failure limit in this isolate,
 * before any KV read or hash. Nothing is blocked almost always, and then this costs one size check: the source
 * is only read when there is something to look up.
 */
export function refuseIfBlocked(request: Request, clientId: string | undefined, nowMs: number): void {
  if (blocked.size === 0 || clientId === undefined) return;
  if (nowMs >= blockedUntilLast) {
    blocked.clear();
    return;
  }
  const ms = blockedFor(pairKey(sourceIp(request), clientId), nowMs);
  if (ms > 0) throw slowDown(ms / 1000, TOO_MANY_FAILURES, "pair blocked");
}

/** Logs `client_under_attack` once per period and isolate when one client id collects many failed guesses. */
function watchClient(clientId: string, nowMs: number): void {
  let entry = guessesByClient.get(clientId);
  if (entry === undefined || nowMs - entry.since >= PERIOD_MS) {
    entry = { since: nowMs, count: 0 };
    remember(guessesByClient, clientId, entry);
  }
  entry.count++;
  if (entry.count === CLIENT_ATTACK_THRESHOLD) {
    log("warn", "client_under_attack", {
      client_id: clientId,
      failures: entry.count,
      period_s: FAILURE_PERIOD,
      note: "failed authentications for this client id in one isolate; valid credentials are still accepted. The audit log's ip field shows the sources; block them with a Cloudflare WAF rule if needed",
    });
  }
}

/**
 * Counts a failed client authentication (any method) after the lookup, by `failureKind(detail)`: a guess or an
 * unknown id against its (source, client id) pair and against its source, in parallel (an id that cannot exist
 * against its source only: it must not become a limiter key). Counting unknown ids and guesses alike keeps 401
 * vs 429 from telling which ids exist. Throws 429 `slow_down` instead of letting the 401 through when this
 * failure crosses a limit or comes from a source over its limit; sources in `THROTTLE_EXEMPT_CIDRS` are never
 * counted or blocked.
 */
export async function recordFailure(
  env: KeymintEnv,
  request: Request,
  clientId: string,
  detail: string | undefined,
  nowMs: number,
): Promise<void> {
  const ip = request.headers.get("cf-connecting-ip");
  if (ip !== null && inCidrs(getConfig(env).throttleExempt, ip)) return;
  const source = sourceIp(request);
  const sourceMs = blockedFor(sourceKey(source), nowMs);
  const kind = failureKind(detail);
  if (kind === "not_a_guess") {
    // Not counted. From a source over its limit every failure is 429, so no answer tells a right secret apart.
    if (sourceMs > 0) throw slowDown(sourceMs / 1000, TOO_MANY_FAILURES, `${detail} (source blocked)`);
    return;
  }
  if (kind === "guess") watchClient(clientId, nowMs);
  const pair = isValidClientId(clientId) ? pairKey(source, clientId) : null;
  const [pairOk, sourceOk] = await Promise.all([
    pair === null || allowed(env, "FAILED_AUTH_BY_PAIR", pair),
    sourceMs > 0 || allowed(env, "FAILED_AUTH_BY_SOURCE", source),
  ]);
  if (!pairOk && pair !== null) block(pair, nowMs);
  if (!sourceOk) block(sourceKey(source), nowMs);
  if (!pairOk || !sourceOk) {
    throw slowDown(
      FAILURE_PERIOD,
      TOO_MANY_FAILURES,
      `${detail} (${pairOk ? "source" : "pair"} over its failure limit)`,
    );
  }
  if (sourceMs > 0) throw slowDown(sourceMs / 1000, TOO_MANY_FAILURES, `${detail} (source blocked)`);
}

/**
 * Enforces a client's `quota_per_minute`. Time is cut into slots of `60 × QUOTA_BURST / quota` seconds and
 * each slot admits QUOTA_BURST tokens (one rate-limit key per slot), so a client gets about `quota` tokens a
 * minute per location, in bursts of at most QUOTA_BURST. Over quota: 429 with Retry-After = the next slot.
 */
export async function enforceQuota(
  env: KeymintEnv,
  clientId: string,
  quotaPerMinute: number,
  nowMs: number,
): Promise<void> {
  const slotMs = (60_000 * QUOTA_BURST) / quotaPerMinute;
  const slot = Math.floor(nowMs / slotMs);
  if (await allowed(env, "TOKEN_QUOTA", `${clientId}:${quotaPerMinute}:${slot}`)) return;
  throw slowDown(
    ((slot + 1) * slotMs - nowMs) / 1000,
    "The client exceeded its token quota, retry later",
    "quota exceeded",
  );
}

/**
 * Counts a failed access-token check at keymint's own API (the admin API, RFC 7591/7592) against its source, the
 * same FAILED_AUTH_BY_SOURCE limiter that unknown client ids count against: a token names no client one could
 * pair it with before it verifies. Only guesses count (`guess`: a forged, malformed or unknown-key token, a wrong
 * registration access token); a genuine token that is merely expired, revoked or short of scope is no guess. Over
 * the limit, and for every failure from a source over it, the answer is 429 `slow_down`; a valid token from that
 * source still works. Sources in `THROTTLE_EXEMPT_CIDRS` are never counted.
 */
export async function recordTokenFailure(
  env: KeymintEnv,
  request: Request,
  guess: boolean,
  nowMs: number,
): Promise<void> {
  const ip = request.headers.get("cf-connecting-ip");
  if (ip !== null && inCidrs(getConfig(env).throttleExempt, ip)) return;
  const source = sourceIp(request);
  const key = sourceKey(source);
  const blockedMs = blockedFor(key, nowMs);
  if (blockedMs > 0) throw slowDown(blockedMs / 1000, TOO_MANY_FAILURES, "token check failed (source blocked)");
  if (!guess) return;
  if (await allowed(env, "FAILED_AUTH_BY_SOURCE", source)) return;
  block(key, nowMs);
  throw slowDown(FAILURE_PERIOD, TOO_MANY_FAILURES, "token check failed (source over its failure limit)");
}
