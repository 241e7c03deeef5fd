/**
 * Extra claims in access tokens: the one reserved-name rule and the one set of limits for a client's static
 * claims and a claims hook's answer, and the merge of both into a token's claims. Pure: no I/O, no logging.
 */

import type { AccessTokenClaims } from "../jwt/claims.ts";
import { UTF8 } from "../util/base64url.ts";

/** A JSON value as it can appear in a JWT claim (RFC 7519 §4). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [member: string]: JsonValue };

/** Extra claims: claim name → JSON value. */
export type ExtraClaims = Record<string, JsonValue>;

/**
 * Names keymint sets itself or that carry protocol meaning, which no client or hook may set: the registered JWT
 * claims (RFC 7519 §4.1), those of RFC 9068 §2.2 and OpenID Connect that a resource server might act on (`auth_time`,
 * `acr`, `amr`, `azp`), `client_id`, `scope`, `cnf` (RFC 7800, DPoP and mTLS binding), token exchange's `act` and
 * `may_act` (RFC 8693 §4), `typ`, and the members of an RFC 7662 introspection answer (`active`, `token_type`,
 * `username`), where a token's extra claims also appear. Names starting with `keymint` (any case) are reserved too.
 */
export const RESERVED_CLAIM_NAMES: ReadonlySet<string> = new Set([
  "iss",
  "sub",
  "aud",
  "exp",
  "nbf",
  "iat",
  "jti",
  "client_id",
  "scope",
  "cnf",
  "act",
  "may_act",
  "auth_time",
  "acr",
  "amr",
  "azp",
  "typ",
  "active",
  "token_type",
  "username",
]);

/** Most extra claims one token carries (a client's static claims, and static plus hook claims together). */
export const CLAIMS_MAX_COUNT = 32;
/** Longest claim name, in characters. */
export const CLAIM_NAME_MAX = 128;
/**
 * Largest JSON serialization (UTF-8 bytes) of a token's extra claims, static and hook claims together: at most
 * 2,732 base64url characters added to a token, which keeps the largest token a few KB, well under the 8 KB header
 * limits of common proxies.
 */
export const CLAIMS_MAX_BYTES = 2048;
/** Deepest nesting of arrays and objects inside one claim value (a string or number is depth 0). */
export const CLAIM_DEPTH_MAX = 5;

/** A claims setting or a hook answer that breaks the rules; the message names the claim. */
export class ClaimsError extends Error {
  override readonly name = "ClaimsError";
}

const KEYMINT_PREFIX = /^keymint/i;
/** Printable ASCII without space, `"`, `\` and `=` (the CLI's NAME=VALUE separator); URIs fit (RFC 7519 §4.2). */
const NAME_CHARS = /^[\x21\x23-\x3c\x3e-\x5b\x5d-\x7e]+$/;

/** Whether `name` is one keymint reserves (registered and protocol claims, and the `keymint` prefix). */
export function isReservedClaimName(name: string): boolean {
  return RESERVED_CLAIM_NAMES.has(name) || KEYMINT_PREFIX.test(name);
}

/** Why `name` cannot be a claim name at all (whatever reservations), or `null`. */
export function claimNameProblem(name: string): string | null {
  if (name.length === 0 || name.length > CLAIM_NAME_MAX)
    return `a claim name must be 1 to ${CLAIM_NAME_MAX} characters`;
  if (!NAME_CHARS.test(name)) {
    return `claim name ${JSON.stringify(name)} must be printable ASCII without spaces, quotes, backslashes or "="`;
  }
  if (name === "__proto__") return 'claim name "__proto__" is not allowed';
  return null;
}

const RESERVED_LIST = `${[...RESERVED_CLAIM_NAMES].join(", ")} and names starting with "keymint"`;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Why `value` is not a JSON value keymint can put in a token (non-finite or unsafe numbers, too deep), or `null`. */
function valueProblem(value: unknown, depth: number): string | null {
  switch (typeof value) {
    case "string":
    case "boolean":
      return null;
    case "number":
      if (!Number.isFinite(value)) return "is not a finite number";
      if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
        return "is an integer beyond 2^53 that JSON readers round: give it as a string";
      }
      return null;
    case "object": {
      if (value === null) return null;
      if (depth >= CLAIM_DEPTH_MAX) return `nests arrays or objects deeper than ${CLAIM_DEPTH_MAX} levels`;
      if (Array.isArray(value)) {
        for (const item of value) {
          const problem = valueProblem(item, depth + 1);
          if (problem !== null) return problem;
        }
        return null;
      }
      if (!isPlainObject(value)) return "is not a JSON value";
      for (const member of Object.keys(value)) {
        if (member === "__proto__") return 'has a member "__proto__"';
        const problem = valueProblem(value[member], depth + 1);
        if (problem !== null) return problem;
      }
      return null;
    }
    default:
      return "is not a JSON value";
  }
}

/** The size limit, checked on the serialization tokens will carry. */
function checkSize(claims: ExtraClaims, what: string): void {
  const bytes = UTF8.encode(JSON.stringify(claims)).byteLength;
  if (bytes > CLAIMS_MAX_BYTES) {
    throw new ClaimsError(`${what} take ${bytes} bytes as JSON, more than the ${CLAIMS_MAX_BYTES} a token may carry`);
  }
}

export interface ClaimsRules {
  /**
   * `refuse` (default): a reserved name is an error. `keep`: reserved names pass (a stored record is read as it is;
   * `staticClaims` then leaves them out of tokens, and the caller logs it).
   */
  reserved?: "refuse" | "keep";
  /** Names the claims and their container in messages, e.g. "claims" or "the hook's claims". */
  what?: string;
}

/**
 * Validates a set of extra claims: a JSON object of at most CLAIMS_MAX_COUNT claims, each name valid and not
 * reserved, each value a JSON value (finite, safe integers, at most CLAIM_DEPTH_MAX deep), the whole at most
 * CLAIMS_MAX_BYTES as JSON. Returns it as typed claims (a fresh object); throws `ClaimsError` naming the claim.
 */
export function checkClaims(value: unknown, rules: ClaimsRules = {}): ExtraClaims {
  const what = rules.what ?? "claims";
  if (!isPlainObject(value)) throw new ClaimsError(`${what} must be a JSON object of claim names to values`);
  const names = Object.keys(value);
  if (names.length > CLAIMS_MAX_COUNT) {
    throw new ClaimsError(`${what} hold ${names.length} claims, more than the ${CLAIMS_MAX_COUNT} allowed`);
  }
  const out: ExtraClaims = {};
  for (const name of names) {
    const nameProblem = claimNameProblem(name);
    if (nameProblem !== null) throw new ClaimsError(`${what}: ${nameProblem}`);
    if (rules.reserved !== "keep" && isReservedClaimName(name)) {
      throw new ClaimsError(`${what}: ${JSON.stringify(name)} is reserved (keymint sets or protects ${RESERVED_LIST})`);
    }
    const problem = valueProblem(value[name], 0);
    if (problem !== null) throw new ClaimsError(`${what}: the value of ${JSON.stringify(name)} ${problem}`);
    out[name] = value[name] as JsonValue;
  }
  checkSize(out, what);
  return out;
}

/** Whether a claims object has any claim (no allocation: the hot path asks this for every token). */
export function hasClaims(claims: Readonly<ExtraClaims>): boolean {
  for (const _ in claims) return true;
  return false;
}

/**
 * Adds a client's static claims to a token's claims, after the standard ones. A reserved name (a record written by
 * hand or under other rules) is left out and returned, for the caller to log; otherwise returns `null`.
 */
export function addStaticClaims(token: AccessTokenClaims, claims: Readonly<ExtraClaims>): string[] | null {
  const target = token as unknown as Record<string, unknown>;
  let ignored: string[] | null = null;
  for (const name in claims) {
    if (isReservedClaimName(name)) {
      ignored ??= [];
      ignored.push(name);
      continue;
    }
    target[name] = claims[name];
  }
  return ignored;
}

/**
 * The claims a token carries beyond keymint's own: every name that is not reserved. Used by introspection (RFC 7662
 * §2.2 allows extra members) and by the claims hook's request (the static claims the token will carry).
 */
export function extraClaimsOf(token: Readonly<Record<string, unknown>>): ExtraClaims {
  const out: ExtraClaims = {};
  for (const name in token) {
    if (!isReservedClaimName(name)) out[name] = token[name] as JsonValue;
  }
  return out;
}

/**
 * Adds a hook's (validated) claims over the static ones already in the token: for the same name the hook's value
 * wins. Throws `ClaimsError`, leaving the token as it was, when static and hook claims together break the count or
 * size limit.
 */
export function addHookClaims(token: AccessTokenClaims, hookClaims: Readonly<ExtraClaims>): void {
  if (!hasClaims(hookClaims)) return;
  const merged = { ...extraClaimsOf(token as unknown as Record<string, unknown>), ...hookClaims };
  const count = Object.keys(merged).length;
  if (count > CLAIMS_MAX_COUNT) {
    throw new ClaimsError(`static and hook claims together are ${count}, more than the ${CLAIMS_MAX_COUNT} allowed`);
  }
  checkSize(merged, "static and hook claims together");
  Object.assign(token, hookClaims);
}
