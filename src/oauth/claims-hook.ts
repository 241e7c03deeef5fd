/** What a claims hook's answer means (docs/claims.md): claims to add, or a refusal. Pure. */

import { ClaimsError, checkClaims, type ExtraClaims } from "./claims.ts";
import { OAuthError } from "./errors.ts";

/** Error codes a hook may refuse a token request with, both RFC 6749 §5.2 codes answered with 400. */
export const HOOK_REFUSAL_CODES = ["invalid_scope", "unauthorized_client"] as const;
export type HookRefusalCode = (typeof HOOK_REFUSAL_CODES)[number];

/** Longest refusal description passed on to the client; longer ones are cut. */
export const HOOK_DESCRIPTION_MAX = 200;
/** The description of a refusal that gives none. */
export const HOOK_DEFAULT_DESCRIPTION = "The token request was refused by policy";

export type HookAnswer = { claims: ExtraClaims } | { refusal: OAuthError };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Reads a hook's parsed JSON answer: `{"claims": {…}}` (absent or `{}`: nothing to add) validated by the rules of
 * static claims, reserved names included; or `{"error": "invalid_scope" | "unauthorized_client",
 * "error_description"?: "…"}`, a refusal, which wins over any claims. The description is kept to
 * HOOK_DESCRIPTION_MAX characters (src/http/errors.ts replaces any character RFC 6749 §5.2 does not allow). Anything
 * else throws `ClaimsError` saying what is wrong: the hook failed.
 */
export function readHookAnswer(answer: unknown): HookAnswer {
  if (!isObject(answer)) throw new ClaimsError('the answer is not a JSON object ({"claims": {…}} or {"error": …})');
  const { error, error_description: description, claims } = answer;
  if (error !== undefined) {
    if (typeof error !== "string" || !(HOOK_REFUSAL_CODES as readonly string[]).includes(error)) {
      throw new ClaimsError(`"error" must be one of ${HOOK_REFUSAL_CODES.join(", ")}, not ${JSON.stringify(error)}`);
    }
    if (description !== undefined && typeof description !== "string") {
      throw new ClaimsError('"error_description" must be a string');
    }
    const text = description === undefined || description.trim() === "" ? HOOK_DEFAULT_DESCRIPTION : description;
    return {
      refusal: new OAuthError(error as HookRefusalCode, text.slice(0, HOOK_DESCRIPTION_MAX), {
        detail: "refused by the claims hook",
      }),
    };
  }
  if (claims === undefined) return { claims: {} };
  return { claims: checkClaims(claims, { what: "the hook's claims" }) };
}
