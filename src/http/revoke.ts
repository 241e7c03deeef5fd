/** RFC 7009 token revocation at `POST /oauth2/revoke`: the client a token was issued to takes it back. */

import { requireClientsBinding } from "../config.ts";
import type { KeymintEnv } from "../env.ts";
import { invalidRequest, OAuthError } from "../oauth/errors.ts";
import { revoke } from "../tokens/revocation-store.ts";
import { authenticate, openExchange, serveAudited } from "./authenticated.ts";

const EMPTY_HEADERS = { "Cache-Control": "no-store", Pragma: "no-cache" };

import { inspectToken } from "./inspect-token.ts";

/**
 * Authenticates the caller and revokes the token when it is an active token issued to that caller. Invalid,
 * expired, unknown and already revoked tokens get 200 as well (RFC 7009 §2.2): there is nothing to do. A valid
 * token of another client is refused with `unauthorized_client` (RFC 7009 §2.1).
 */
export function revocationEndpoint(request: Request, env: KeymintEnv, execution?: ExecutionContext): Promise<Response> {
  return serveAudited("revoke", request, env, async function revokeToken(audit) {
    const exchange = await openExchange(request, env, audit, execution);
    const token = exchange.form.get("token");
    if (token === undefined) throw invalidRequest("The token parameter is required (RFC 7009 section 2.1)");
    // token_type_hint is advisory (RFC 7009 §2.1): keymint has only access tokens and ignores it.
    const { client } = await authenticate(exchange);
    const done = () => new Response(null, { status: 200, headers: EMPTY_HEADERS });
    const inspection = await inspectToken(token, exchange.ctx, env, exchange.keyring);
    audit.jti = inspection.claims?.jti;
    if (!inspection.active) {
      audit.reason = inspection.reason;
      return { response: done(), outcome: "nothing_to_revoke" };
    }
    const { claims } = inspection;
    if (claims.client_id !== client.record.client_id) {
      throw new OAuthError("unauthorized_client", "The token was not issued to this client (RFC 7009 section 2.1)");
    }
    await revoke(
      requireClientsBinding(env),
      { jti: claims.jti, clientId: claims.client_id, exp: claims.exp, now: exchange.ctx.now },
      exchange.ctx.config.kvTimeoutMs,
    );
    return { response: done(), outcome: "revoked" };
  });
}
