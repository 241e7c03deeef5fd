/**
 * Admin tokens (RFC 6750, RFC 9449 §7): keymint's own access tokens, verified by the code introspection uses, then
 * `aud` (keymint's issuer), the DPoP binding, and the admin scope. An admin is just a client with an admin scope.
 */

import type { KeymintEnv } from "../env.ts";
import { oneTimeIdsFor, type RequestContext } from "../http/context.ts";
import { inspectToken } from "../http/inspect-token.ts";
import { recordTokenFailure } from "../http/throttle.ts";
import type { AccessTokenClaims } from "../jwt/claims.ts";
import { cachedKeyring, getKeyring } from "../jwt/keyring.ts";
import { checkDpopProof } from "../oauth/dpop.ts";
import { OAuthError, type TokenChallenge } from "../oauth/errors.ts";
import type { InactiveReason } from "../oauth/token-state.ts";
import { proofShard } from "../replay/claim.ts";

/** Reads clients (the GET calls). */
export const ADMIN_READ_SCOPE = "keymint:clients:read";
/** Reads and changes clients (every call); also the RFC 7591 §3 initial access token. */
export const ADMIN_WRITE_SCOPE = "keymint:clients:write";

export type AdminNeed = "read" | "write";

/** Who is calling, once the token checked out. */
export interface AdminCaller {
  clientId: string;
  claims: AccessTokenClaims;
}

/** A presented token: its scheme, the token, and the DPoP proof header. */
export interface PresentedToken {
  scheme: "Bearer" | "DPoP";
  token: string;
  proof: string | null;
}

const AUTHORIZATION = /^\s*(Bearer|DPoP)\s+([A-Za-z0-9\-._~+/]+=*)\s*$/i;

/** The access token of a request (RFC 6750 §2.1, RFC 9449 §7.1), or `null` when it carries none. */
export function presentedToken(request: Request): PresentedToken | null {
  const match = AUTHORIZATION.exec(request.headers.get("authorization") ?? "");
  if (match === null) return null;
  return {
    scheme: match[1]?.toLowerCase() === "dpop" ? "DPoP" : "Bearer",
    token: match[2] as string,
    proof: request.headers.get("dpop"),
  };
}

/** 401 without an error code (RFC 6750 §3.1): the request had no access token. Both schemes are offered. */
export function tokenRequired(what: string): OAuthError {
  return new OAuthError("invalid_request", `${what} is required (Authorization: Bearer TOKEN)`, {
    status: 401,
    tokenChallenge: { scheme: "Bearer", both: true },
    detail: "no access token",
  });
}

/** 401 `invalid_token` (RFC 6750 §3.1) in the scheme the token came with. */
export function invalidToken(description: string, detail: string, challenge?: Partial<TokenChallenge>): OAuthError {
  return new OAuthError("invalid_token", description, {
    detail,
    tokenChallenge: { scheme: "Bearer", error: "invalid_token", ...challenge },
  });
}

/** Why an inactive token is refused, in words fit for `error_description`. */
const INACTIVE: Record<InactiveReason, string> = {
  malformed: "The access token is invalid",
  unsupported_alg: "The access token is invalid",
  wrong_typ: "The access token is invalid",
  unknown_kid: "The access token is invalid",
  bad_signature: "The access token is invalid",
  bad_claims: "The access token is invalid",
  lifetime_too_long: "The access token is invalid",
  expired: "The access token expired",
  issued_in_future: "The access token is not yet valid",
  wrong_issuer: "The access token is from another issuer",
  client_unknown: "The access token's client no longer exists",
  client_disabled: "The access token's client is disabled",
  client_tokens_revoked: "The access token was revoked",
  revoked: "The access token was revoked",
};

/**
 * Failures that may be a guess at a token (forged, mangled, signed with an unknown key, or a DPoP proof from
 * someone without the key): the throttle counts these. An expired, revoked or foreign token is genuine.
 */
const GUESSES = new Set([
  "malformed",
  "unsupported_alg",
  "wrong_typ",
  "unknown_kid",
  "bad_signature",
  "bad_claims",
  "lifetime_too_long",
  "dpop wrong_key",
]);

/** Whether a failed token check counts as a guess (see GUESSES; every bad DPoP proof does). */
export function isTokenGuess(detail: string | undefined): boolean {
  if (detail === undefined) return false;
  return GUESSES.has(detail) || (detail.startsWith("dpop ") && detail !== "dpop no_proof");
}

function hasScope(claims: AccessTokenClaims, scope: string): boolean {
  return (claims.scope ?? "").split(" ").includes(scope);
}

/** Verifies an admin token; throws the RFC 6750 / RFC 9449 error otherwise (not yet counted by the throttle). */
async function verifyAdminToken(
  request: Request,
  env: KeymintEnv,
  ctx: RequestContext,
  presented: PresentedToken,
): Promise<AccessTokenClaims> {
  const { scheme, token } = presented;
  const keyring = cachedKeyring(env) ?? (await getKeyring(env));
  const inspection = await inspectToken(token, ctx, env, keyring);
  if (!inspection.active) {
    throw invalidToken(INACTIVE[inspection.reason], inspection.reason, { scheme });
  }
  const { claims } = inspection;
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.includes(ctx.issuer)) {
    throw invalidToken("The access token is not meant for keymint's API (aud)", "wrong_audience", { scheme });
  }
  const bound = claims.cnf?.jkt;
  if (scheme === "Bearer" && bound !== undefined) {
    throw invalidToken(
      "The access token is DPoP-bound: present it with the DPoP scheme and a proof (RFC 9449 section 7.1)",
      "dpop_bound_as_bearer",
      { both: true },
    );
  }
  if (scheme === "DPoP") {
    if (bound === undefined) {
      throw invalidToken("The access token is not DPoP-bound: present it as Bearer", "not_dpop_bound", { scheme });
    }
    if (presented.proof === null) {
      throw new OAuthError("invalid_dpop_proof", "A DPoP proof is required (RFC 9449 section 7.1)", {
        status: 401,
        detail: "dpop no_proof",
        tokenChallenge: { scheme, error: "invalid_dpop_proof" },
      });
    }
    const proof = await checkDpopProof(presented.proof, {
      method: request.method,
      url: request.url,
      now: ctx.now,
      accessToken: token,
      // Single use everywhere, as at the token endpoint: the proof's jti is spent in its key's replay-guard object.
      replay: (spent) => oneTimeIdsFor(env, ctx.config).claim(proofShard(spent.jkt), spent.jti, spent.until, ctx.now),
    });
    if (!proof.ok) {
      throw new OAuthError("invalid_dpop_proof", proof.description, {
        status: 401,
        detail: `dpop ${proof.reason}`,
        tokenChallenge: { scheme, error: "invalid_dpop_proof" },
      });
    }
    if (proof.jkt !== bound) {
      throw invalidToken("The DPoP proof is not made with the key the token is bound to", "dpop wrong_key", {
        scheme,
      });
    }
  }
  return claims;
}

/**
 * Authorizes a call to keymint's own API: an access token of keymint's (signature by `kid` with that key's
 * algorithm only, time, issuer, its client's current state, the revocation list — exactly introspection's
 * checks), whose `aud` contains keymint's issuer, presented as RFC 9449 requires when DPoP-bound, with
 * `keymint:clients:read` (or `…:write`) for reads and `keymint:clients:write` for changes. Failed checks are
 * throttled by source like failed client authentications.
 */
export async function authorizeAdmin(
  request: Request,
  env: KeymintEnv,
  ctx: RequestContext,
  need: AdminNeed,
): Promise<AdminCaller> {
  const presented = presentedToken(request);
  if (presented === null) throw tokenRequired("An admin access token");
  const nowMs = Date.now();
  let claims: AccessTokenClaims;
  try {
    claims = await verifyAdminToken(request, env, ctx, presented);
  } catch (err) {
    if (err instanceof OAuthError) {
      await recordTokenFailure(env, request, isTokenGuess(err.detail), nowMs);
    }
    throw err;
  }
  const scope = need === "read" ? [ADMIN_READ_SCOPE, ADMIN_WRITE_SCOPE] : [ADMIN_WRITE_SCOPE];
  if (!scope.some((s) => hasScope(claims, s))) {
    throw new OAuthError("insufficient_scope", `The access token lacks scope ${scope[scope.length - 1]}`, {
      detail: `insufficient_scope (needs ${need})`,
      tokenChallenge: {
        scheme: presented.scheme,
        error: "insufficient_scope",
        scope: [need === "read" ? ADMIN_READ_SCOPE : ADMIN_WRITE_SCOPE],
      },
    });
  }
  return { clientId: claims.client_id, claims };
}
