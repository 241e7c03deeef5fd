/**
 * Calling the claims hook: one JSON POST through the `CLAIMS_HOOK` service binding, with a strict timeout over the
 * whole exchange (answer and body) and a size cap. What the answer means is decided in src/oauth/claims-hook.ts.
 */

import type { ExtraClaims } from "../oauth/claims.ts";
import { readAtMost } from "../util/stream.ts";

/** The URL the hook is called at (a service binding ignores the host; the hook may check the path). */
export const CLAIMS_HOOK_URL = "https://claims-hook/v1/token";
/** Largest hook answer read; a valid one is far smaller (its claims are at most CLAIMS_MAX_BYTES). */
export const CLAIMS_HOOK_MAX_BYTES = 16 * 1024;

/** The JSON body keymint sends the hook (docs/claims.md has it field by field). */
export interface ClaimsHookRequest {
  client_id: string;
  /** Granted scopes, space-separated; `null` when none. */
  scope: string | null;
  /** The token's audience: one string, or several. */
  aud: string | string[];
  /** The client's static claims, as the token will carry them. */
  claims: ExtraClaims;
  /** How the client authenticated at the token endpoint. */
  token_endpoint_auth_method: string;
  /** RFC 7638 thumbprint of the DPoP key the token is bound to (`cnf.jkt`), or `null`. */
  dpop_jkt: string | null;
  iss: string;
  jti: string;
  iat: number;
  exp: number;
}

/** The hook could not be used: no answer in time, a thrown exception, a status other than 200, or a body that is not JSON. */
export class ClaimsHookError extends Error {
  override readonly name = "ClaimsHookError";
}

/** The part of a service binding the hook call needs. */
export interface HookBinding {
  fetch(request: Request): Promise<Response>;
}

function failure(err: unknown, timeoutMs: number): ClaimsHookError {
  if (err instanceof ClaimsHookError) return err;
  if (err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError")) {
    return new ClaimsHookError(`no answer within ${timeoutMs} ms (CLAIMS_HOOK_TIMEOUT_MS)`);
  }
  return new ClaimsHookError(`the call failed: ${err instanceof Error ? err.message : String(err)}`);
}

/**
 * POSTs `body` to the hook and returns its parsed JSON answer (status 200 only). One `AbortSignal.timeout` bounds
 * the whole exchange, answer and body, and aborts the subrequest when it expires (the bench measured it as the
 * cheapest strict timeout: a JS timer raced against the call costs as much again). Each call is the request's own:
 * nothing is shared between requests (workerd cancels a request that awaits another request's promise).
 */
export async function callClaimsHook(hook: HookBinding, body: ClaimsHookRequest, timeoutMs: number): Promise<unknown> {
  const signal = AbortSignal.timeout(timeoutMs);
  let text: string;
  try {
    const response = await hook.fetch(
      new Request(CLAIMS_HOOK_URL, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body),
        signal,
      }),
    );
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new ClaimsHookError(`it answered HTTP ${response.status} (only 200 is an answer)`);
    }
    const declared = Number(response.headers.get("content-length") ?? Number.NaN);
    if (declared > CLAIMS_HOOK_MAX_BYTES) {
      await response.body?.cancel();
      throw new ClaimsHookError(`its answer exceeds ${CLAIMS_HOOK_MAX_BYTES} bytes`);
    }
    if (declared >= 0) text = await response.text();
    else {
      // No length: read at most the cap.
      const bytes = await readAtMost(response.body, CLAIMS_HOOK_MAX_BYTES);
      if (bytes === null) throw new ClaimsHookError(`its answer exceeds ${CLAIMS_HOOK_MAX_BYTES} bytes`);
      text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
    }
  } catch (err) {
    throw failure(signal.aborted ? signal.reason : err, timeoutMs);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ClaimsHookError("its answer is not JSON");
  }
}
