/**
 * The token endpoint's claims-hook step: ask the `CLAIMS_HOOK` Worker for claims to add (or a refusal) once the
 * request has passed authentication, scope, audience, DPoP and quota checks; fail closed (503) or, with
 * `CLAIMS_HOOK_FAILURE=omit`, issue the token without the hook's claims. Either way one log line says what the hook did.
 */

import type { Config } from "../config.ts";
import { log } from "../log.ts";
import { addHookClaims, ClaimsError, extraClaimsOf } from "../oauth/claims.ts";
import { readHookAnswer } from "../oauth/claims-hook.ts";
import type { ClientCredentialsDecision } from "../oauth/client-credentials.ts";
import { temporarilyUnavailable } from "../oauth/errors.ts";
import { ClaimsHookError, callClaimsHook, type HookBinding } from "../remote/claims-hook.ts";
import type { Audit } from "./authenticated.ts";

export interface HookStep {
  hook: HookBinding;
  config: Config;
  decision: ClientCredentialsDecision;
  /** How the client authenticated (RFC 7591 §2 method names, `client_secret_post` included). */
  authMethod: string;
  audit: Audit;
}

const FIX =
  'make the CLAIMS_HOOK Worker answer 200 with {"claims": {…}} or {"error": "invalid_scope"|"unauthorized_client"} within CLAIMS_HOOK_TIMEOUT_MS (docs/claims.md); set CLAIMS_HOOK_FAILURE=omit to issue tokens without the hook\'s claims meanwhile';

/**
 * Calls the hook and adds its claims to `decision.claims`. Throws the hook's refusal as an `OAuthError` (400), or a
 * 503 `temporarily_unavailable` when the hook failed and the deployment fails closed.
 */
export async function applyClaimsHook(step: HookStep): Promise<void> {
  const { decision, config, audit } = step;
  const claims = decision.claims;
  const started = Date.now();
  let cause: string;
  try {
    const answer = await callClaimsHook(
      step.hook,
      {
        client_id: claims.client_id,
        scope: decision.scope ?? null,
        aud: claims.aud,
        claims: extraClaimsOf(claims as unknown as Record<string, unknown>),
        token_endpoint_auth_method: step.authMethod,
        dpop_jkt: claims.cnf?.jkt ?? null,
        iss: claims.iss,
        jti: claims.jti,
        iat: claims.iat,
        exp: claims.exp,
      },
      config.claimsHookTimeoutMs,
    );
    const read = readHookAnswer(answer);
    if ("refusal" in read) {
      audit.claims_hook = "refused";
      throw read.refusal;
    }
    addHookClaims(claims, read.claims);
    audit.claims_hook = "ok";
    return;
  } catch (err) {
    if (!(err instanceof ClaimsHookError || err instanceof ClaimsError)) throw err;
    cause = err.message;
  }
  const omit = config.claimsHookFailure === "omit";
  audit.claims_hook = omit ? "omitted" : "failed";
  log(omit ? "warn" : "error", "claims_hook_failed", {
    client_id: claims.client_id,
    jti: claims.jti,
    cause,
    latency_ms: Date.now() - started,
    outcome: omit ? "token issued without the hook's claims (CLAIMS_HOOK_FAILURE=omit)" : "token refused with 503",
    fix: FIX,
  });
  if (!omit) throw temporarilyUnavailable(`claims hook failed: ${cause}`);
}
