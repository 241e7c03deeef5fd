/** Scope syntax and policy (RFC 6749 §3.3). */

import { OAuthError } from "./errors.ts";

const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/** RFC 6749 §3.3 `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`. */
export function isScopeToken(token: string): boolean {
  return SCOPE_TOKEN.test(token);
}

/**
 * Parses a space-delimited scope string (RFC 6749 §3.3). Order is kept, duplicates are dropped, runs
 * of spaces are tolerated. Throws `invalid_scope` for a forbidden character or a scope of only spaces.
 */
export function parseScope(scope: string): string[] {
  const out: string[] = [];
  for (const token of scope.split(" ")) {
    if (token === "") continue;
    if (!isScopeToken(token)) {
      throw new OAuthError("invalid_scope", "The scope parameter is malformed (RFC 6749 section 3.3)");
    }
    if (!out.includes(token)) out.push(token);
  }
  if (out.length === 0) {
    throw new OAuthError("invalid_scope", "The scope parameter is malformed (RFC 6749 section 3.3)");
  }
  return out;
}

/**
 * Decides the granted scopes: the requested ones when each is allowed, or every allowed scope when none
 * was requested (RFC 6749 §3.3). Throws `invalid_scope` naming the first scope that is not allowed.
 */
export function grantScopes(requested: string[] | undefined, allowed: readonly string[]): string[] {
  if (requested === undefined || requested.length === 0) return [...allowed];
  for (const scope of requested) {
    if (!allowed.includes(scope)) {
      throw new OAuthError("invalid_scope", `The scope '${scope}' is not allowed for this client`);
    }
  }
  return requested;
}
