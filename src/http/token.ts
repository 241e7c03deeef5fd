/** RFC 6749 §4.4 token endpoint: read form → authenticate client → decide (pure) → sign → JSON. */

import type { KeymintEnv } from "../env.ts";
import { signJwt } from "../jwt/sign.ts";
import { decideClientCredentials } from "../oauth/client-credentials.ts";
import { invalidRequest, OAuthError } from "../oauth/errors.ts";
import { authenticate, openExchange, serveAudited } from "./authenticated.ts";
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
    const { client } = await authenticate(exchange);
    const decision = decideClientCredentials({
      client: client.record,
      scope: form.get("scope"),
      resources: form.getAll("resource"),
      issuer: ctx.issuer,
      defaultTtl: ctx.config.defaultTtl,
      defaultAudience: ctx.config.defaultAudience,
      now: ctx.now,
      jti: crypto.randomUUID(),
    });
    const quota = client.record.quota_per_minute;
    if (quota !== null) await enforceQuota(env, client.record.client_id, quota, Date.now());
    const accessToken = await signJwt(exchange.keyring.active, decision.claims);
    // RFC 6749 §5.1 body, serialized by hand: the token is base64url and expires_in an integer, so only the
    // scope needs JSON escaping (its characters are already restricted by RFC 6749 §3.3).
    const scopeMember = decision.scope === undefined ? "" : `,"scope":${JSON.stringify(decision.scope)}`;
    const body = `{"access_token":"${accessToken}","token_type":"Bearer","expires_in":${decision.expiresIn}${scopeMember}}`;
    audit.scope = decision.scope;
    audit.jti = decision.claims.jti;
    audit.aud = decision.claims.aud;
    return {
      response: new Response(body, { status: 200, headers: NO_STORE_HEADERS }),
      outcome: "issued",
    };
  });
}
