/** The one renderer of error responses (RFC 6749 §5.2): JSON body, no-store, challenge/Allow/Retry-After. */

import { StoreUnavailableError } from "../clients/store.ts";
import { ConfigError } from "../config.ts";
import { log } from "../log.ts";
import { bearerChallenge, dpopChallenge } from "../oauth/challenge.ts";
import { OAuthError, serverError, type TokenChallenge, temporarilyUnavailable } from "../oauth/errors.ts";
import { RemoteFetchError } from "../remote/fetch-json.ts";
import { ReplayGuardUnavailableError } from "../replay/claim.ts";

/** Realm of the `WWW-Authenticate: Basic` challenge (RFC 7617). */
export const BASIC_CHALLENGE = 'Basic realm="keymint", charset="UTF-8"';

export const JSON_TYPE = "application/json; charset=utf-8";

/** Headers every token-endpoint response carries (RFC 6749 §5.1). */
export const NO_STORE_HEADERS: Readonly<Record<string, string>> = {
  "Content-Type": JSON_TYPE,
  "Cache-Control": "no-store",
  Pragma: "no-cache",
};

/** Realm of keymint's own `WWW-Authenticate: Bearer` challenges (the admin API, RFC 7591/7592). */
export const BEARER_REALM = "keymint";

/**
 * The RFC 6750 §3 / RFC 9449 §7.1 challenge for a refused access token. Without a token: `Bearer realm="keymint"`
 * (no error code, §3.1), then the DPoP scheme; with one: the scheme it came with, the error first.
 */
function tokenChallengeHeader(challenge: TokenChallenge, description: string): string {
  const { error, scope } = challenge;
  const detail = error === undefined ? undefined : description;
  const bearer = error === undefined ? bearerChallenge(BEARER_REALM) : bearerChallenge(undefined, error, detail, scope);
  const dpop = dpopChallenge(error, detail, scope);
  if (challenge.both === true) return challenge.scheme === "DPoP" ? `${dpop}, ${bearer}` : `${bearer}, ${dpop}`;
  return challenge.scheme === "DPoP" ? dpop : bearer;
}

/**
 * Characters RFC 6749 §5.2 allows in `error_description` are printable ASCII but `"` and `\`: a double quote
 * becomes a single one (names stay readable: `claim name 'sub' is reserved`), anything else `?`.
 */
const DESCRIPTION_UNSAFE = /[^\x20\x21\x23-\x5b\x5d-\x7e]/g;
function safeDescription(text: string): string {
  return text.replace(DESCRIPTION_UNSAFE, (char) => (char === '"' ? "'" : "?"));
}

/** Renders an `OAuthError` as its HTTP response. */
export function errorResponse(err: OAuthError): Response {
  const headers = new Headers(NO_STORE_HEADERS);
  const description = safeDescription(err.description);
  if (err.tokenChallenge !== undefined) {
    headers.set("WWW-Authenticate", tokenChallengeHeader(err.tokenChallenge, description));
  } else if (err.challenge && err.status === 401) headers.set("WWW-Authenticate", BASIC_CHALLENGE);
  if (err.allow !== undefined) headers.set("Allow", err.allow);
  if (err.retryAfter !== undefined) headers.set("Retry-After", String(err.retryAfter));
  if (err.dpopNonce !== undefined) headers.set("DPoP-Nonce", err.dpopNonce);
  const body = JSON.stringify({ error: err.code, error_description: description });
  return new Response(body, { status: err.status, headers });
}

/**
 * Turns anything thrown while serving into an `OAuthError`: registry faults, an unreachable replay guard and
 * unreachable outside documents (JWKS, discovery) become 503 `temporarily_unavailable`, configuration mistakes and bugs become 500 `server_error` with one log line
 * that says what to fix.
 */
export function toOAuthError(err: unknown, route: string): OAuthError {
  if (err instanceof OAuthError) return err;
  if (err instanceof StoreUnavailableError) {
    log("error", "registry_unavailable", {
      route,
      cause: err.message,
      fix: "check Workers KV status; the client retries after Retry-After",
    });
    return temporarilyUnavailable(err.message);
  }
  if (err instanceof RemoteFetchError) {
    log("error", "remote_document_unavailable", {
      route,
      url: err.url,
      cause: err.message,
      fix: "check that this JWKS or OpenID Connect discovery URL answers 200 with JSON over https; the client retries after Retry-After",
    });
    return temporarilyUnavailable(err.message);
  }
  if (err instanceof ReplayGuardUnavailableError) {
    log("error", "replay_guard_unavailable", {
      route,
      cause: err.message,
      fix: "check the REPLAY_GUARD Durable Object (wrangler tail, Durable Objects status); one-time ids are never accepted unchecked, the client retries after Retry-After",
    });
    return temporarilyUnavailable(err.message);
  }
  if (err instanceof ConfigError) {
    log("error", "configuration_error", { route, cause: err.message, fix: err.fix });
    return serverError(err.message);
  }
  const cause = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  log("error", "internal_error", {
    route,
    cause,
    stack: err instanceof Error ? err.stack : undefined,
    fix: "this is a keymint bug; please report it with this log line",
  });
  return serverError(cause);
}

/** 405 with `Allow` for a method the endpoint does not serve. */
export function methodNotAllowed(allow: string): OAuthError {
  return new OAuthError("invalid_request", `This endpoint accepts only ${allow}`, { status: 405, allow });
}
