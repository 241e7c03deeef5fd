/** RFC 6749 §4.4 token endpoint: read form → authenticate client → decide (pure) → sign → JSON. */

import { claimsHookBinding } from "../config.ts";
import type { KeymintEnv } from "../env.ts";
import { signJwt } from "../jwt/sign.ts";
import { log } from "../log.ts";
import { decideClientCredentials } from "../oauth/client-credentials.ts";
import { invalidRequest, OAuthError } from "../oauth/errors.ts";
import { authenticate, openExchange, serveAudited } from "./authenticated.ts";
import { certificateBinding } from "./certificate-binding.ts";
import { applyClaimsHook } from "./claims-hook.ts";
import { nextNonce, requireFreshNonce, tokenRequestProof } from "./dpop.ts";
import { NO_STORE_HEADERS } from "./errors.ts";
import { enforceQuota } from "./throttle.ts";

const GRANT_TYPE = "client_credentials";

/** Handles `POST /oauth2/token`. Never throws: every failure becomes an RFC 6749 §5.2 response. */
export function tokenEndpoint(request: Request, env: KeymintEnv, execution?: ExecutionContext): Promise<Response> {
  return serveAudited("token", request, env, async function issueToken(audit) {
    const exchange = await openExchange(request, env, audit, execution);
    const { form, ctx } = exchange;
    const grantType = form.get("grant_type");
    if (grantType === undefined) throw invalidRequest("The grant_type parameter is required");
    if (grantType !== GRANT_TYPE) {
      throw new OAuthError("unsupported_grant_type", "Only the client_credentials grant is supported");
    }
    // Both DPoP steps answer synchronously when they have nothing to do: the common path awaits neither.
    const nonceCheck = requireFreshNonce(exchange);
    if (nonceCheck !== undefined) await nonceCheck;
    const authenticated = await authenticate(exchange);
    const { client, method } = authenticated;
    // One binding at most (RFC 7800 cnf): a client registered for certificate-bound tokens gets one, whatever
    // DPoP header it sends (RFC 9449 §5 lets the server decline DPoP binding; token_type Bearer says so).
    const x5t = certificateBinding(exchange, authenticated);
    const proof = x5t === undefined ? tokenRequestProof(exchange, client) : undefined;
    const jkt = proof instanceof Promise ? await proof : proof;
    const decision = decideClientCredentials({
      client: client.record,
      scope: form.get("scope"),
      resources: form.getAll("resource"),
      issuer: ctx.issuer,
      defaultTtl: ctx.config.defaultTtl,
      defaultAudience: ctx.config.defaultAudience,
      now: ctx.now,
      jti: crypto.randomUUID(),
      jkt,
      x5t,
    });
    if (decision.ignoredClaims !== undefined) {
      log("warn", "client_claims_ignored", {
        client_id: client.record.client_id,
        claims: decision.ignoredClaims,
        fix: `reserved names are never put in tokens: remove them with \`npm run -s clients -- update ${client.record.client_id} --claim NAME=\``,
      });
    }
    const quota = client.record.quota_per_minute;
    if (quota !== null) await enforceQuota(env, client.record.client_id, quota, Date.now());
    const hook = claimsHookBinding(env);
    if (hook !== undefined) {
      await applyClaimsHook({ hook, config: ctx.config, decision, authMethod: method, audit });
    }
    const accessToken = await signJwt(exchange.keyring.active, decision.claims);
    // RFC 6749 §5.1 body, serialized by hand: the token is base64url and expires_in an integer, so only the
    // scope needs JSON escaping (its characters are already restricted by RFC 6749 §3.3).
    const scopeMember = decision.scope === undefined ? "" : `,"scope":${JSON.stringify(decision.scope)}`;
    // A DPoP-bound token is of type DPoP (RFC 9449 §5): the client must present it with a proof.
    const tokenType = jkt === undefined ? "Bearer" : "DPoP";
    const body = `{"access_token":"${accessToken}","token_type":"${tokenType}","expires_in":${decision.expiresIn}${scopeMember}}`;
    audit.scope = decision.scope;
    audit.jti = decision.claims.jti;
    audit.aud = decision.claims.aud;
    const nonce = jkt === undefined ? undefined : await nextNonce(exchange);
    const headers = nonce === undefined ? NO_STORE_HEADERS : { ...NO_STORE_HEADERS, "DPoP-Nonce": nonce };
    return { response: new Response(body, { status: 200, headers }), outcome: "issued" };
  });
}
