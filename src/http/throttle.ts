/**
 * Abuse protection with the Workers Rate Limiting binding (RFC 6749 §2.3.1 brute force, RFC 9700 §4.x):
 * failed client authentications per source IP and per client id, and per-client token quotas.
 *
 * The binding counts per Cloudflare location and only answers `{ success }`, so failures are counted when
 * they happen; once a key is over its limit it is remembered inside the isolate for one period and further
 * attempts are refused before any KV read or hash. A missing binding disables that protection with one warning
 * per isolate (and the log says how to add it): throttling is defence in depth against 256-bit secrets, and
 * must not take the token endpoint down.
 */

import { QUOTA_MIN } from "../clients/record.ts";
import type { KeymintEnv } from "../env.ts";
import { log } from "../log.ts";
import { OAuthError } from "../oauth/errors.ts";

/** The period of the failure limiters, in seconds (wrangler.toml `period`). */
export const FAILURE_PERIOD = 60;
/** Tokens a quota slot admits (the TOKEN_QUOTA binding's `limit`): quotas are metered in bursts of this size. */
export const QUOTA_BURST = QUOTA_MIN;
const MAX_BLOCKED = 10_000;

interface Limiter {
  limit(options: { key: string }): Promise<{ success: boolean }>;
}

type LimiterName = "FAILED_AUTH_BY_IP" | "FAILED_AUTH_BY_CLIENT" | "TOKEN_QUOTA";

/** Keys over their failure limit, with the time (ms) until which they stay blocked in this isolate. */
const blocked = new Map<string, number>();
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

function ipKey(ip: string): string {
  return `ip:${ip}`;
}
function clientKeyOf(clientId: string): string {
  return `client:${clientId}`;
}

/**
 * The throttling key for a request's source: the IPv4 address, or the /64 prefix of an IPv6 address (one
 * host usually holds a whole /64, so counting single IPv6 addresses would give an attacker 2^64 keys).
 */
export function sourceIp(request: Request): string {
  const ip = request.headers.get("cf-connecting-ip");
  if (ip === null) return "unknown";
  return ip.includes(":") ? ipv6Prefix64(ip) : ip;
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

/**
 * Refuses (429) a request whose source or client id is blocked in this isolate. Nothing is blocked almost
 * always, and then this costs one size check: the source is only read when there is something to look up.
 */
export function refuseIfBlocked(request: Request, clientId: string | undefined, nowMs: number): void {
  if (blocked.size === 0) return;
  const ip = sourceIp(request);
  for (const key of clientId === undefined ? [ipKey(ip)] : [ipKey(ip), clientKeyOf(clientId)]) {
    const until = blocked.get(key);
    if (until === undefined) continue;
    if (until > nowMs) throw slowDown((until - nowMs) / 1000, TOO_MANY_FAILURES, `blocked ${key.split(":")[0]}`);
    blocked.delete(key);
  }
}

function block(key: string, nowMs: number): void {
  if (blocked.size >= MAX_BLOCKED) {
    const oldest = blocked.keys().next();
    if (!oldest.done) blocked.delete(oldest.value);
  }
  blocked.set(key, nowMs + FAILURE_PERIOD * 1000);
}

/**
 * Counts a failed authentication against the IP and the client id. When either is now over its limit it is
 * blocked for one period and this failure is answered with 429 instead of 401.
 */
export async function countFailure(
  env: KeymintEnv,
  ip: string,
  clientId: string | undefined,
  nowMs: number,
): Promise<void> {
  const [ipOk, clientOk] = await Promise.all([
    allowed(env, "FAILED_AUTH_BY_IP", ip),
    clientId === undefined ? true : allowed(env, "FAILED_AUTH_BY_CLIENT", clientId),
  ]);
  if (!ipOk) block(ipKey(ip), nowMs);
  if (!clientOk && clientId !== undefined) block(clientKeyOf(clientId), nowMs);
  if (!ipOk || !clientOk) {
    throw slowDown(FAILURE_PERIOD, TOO_MANY_FAILURES, `failure limit reached for ${!ipOk ? "ip" : "client"}`);
  }
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
