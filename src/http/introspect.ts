/** RFC 7662 token introspection at `POST /oauth2/introspect`, for clients registered with `--can-introspect`. */

import type { KeymintEnv } from "../env.ts";
import { invalidRequest, OAuthError } from "../oauth/errors.ts";
import { activeIntrospection } from "../oauth/token-state.ts";
import { authenticate, openExchange, serveAudited } from "./authenticated.ts";
import { NO_STORE_HEADERS } from "./errors.ts";
import { inspectToken } from "./inspect-token.ts";

const INACTIVE = JSON.stringify({ active: false });

/**
 * Authenticates the caller, requires its introspection right (403 `unauthorized_client` otherwise), then
 * answers `{"active": true, ...claims}` or `{"active": false}` with nothing else (RFC 7662 §2.2).
 */
export function introspectionEndpoint(
  request: Request,
  env: KeymintEnv,
  execution?: ExecutionContext,
): Promise<Response> {
  return serveAudited("introspect", request, env, async function introspect(audit) {
    const exchange = await openExchange(request, env, audit, execution);
    const token = exchange.form.get("token");
    if (token === undefined) throw invalidRequest("The token parameter is required (RFC 7662 section 2.1)");
    const { client } = await authenticate(exchange);
    if (!client.record.can_introspect) {
      throw new OAuthError("unauthorized_client", "This client is not allowed to introspect tokens", { status: 403 });
    }
    const inspection = await inspectToken(token, exchange.ctx, env, exchange.keyring);
    audit.token_client_id = inspection.claims?.client_id;
    audit.jti = inspection.claims?.jti;
    if (!inspection.active) {
      audit.reason = inspection.reason;
      return { response: new Response(INACTIVE, { status: 200, headers: NO_STORE_HEADERS }), outcome: "inactive" };
    }
    const body = JSON.stringify(activeIntrospection(inspection.claims));
    return { response: new Response(body, { status: 200, headers: NO_STORE_HEADERS }), outcome: "active" };
  });
}
