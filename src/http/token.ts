/** RFC 6749 §4.4 token endpoint: read form → authenticate client → decide (pure) → sign → JSON. */

import type { KeymintEnv } from "../env.ts";
import { signJwt } from "../jwt/hs256.ts";
import { getKeyring } from "../jwt/keyring.ts";
import { log } from "../log.ts";
import { decideClientCredentials } from "../oauth/client-credentials.ts";
import { invalidRequest, OAuthError } from "../oauth/errors.ts";
import { authenticateClient, type CredentialsResult, extractCredentials } from "./client-auth.ts";
import { requestContext } from "./context.ts";
import { errorResponse, NO_STORE_HEADERS, toOAuthError } from "./errors.ts";
import { readForm } from "./form.ts";

const GRANT_TYPE = "client_credentials";

/** RFC 6749 §5.1 successful response body. */
export interface TokenResponseBody {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  scope?: string;
}

interface AuditFields {
  client_id?: string | undefined;
  auth_method?: string | undefined;
  scope?: string | undefined;
  jti?: string | undefined;
  aud?: string | string[] | undefined;
}

function presentedId(found: CredentialsResult | undefined): string | undefined {
  return found?.kind === "credentials" ? found.credentials.clientId.slice(0, 200) : undefined;
}

/** Handles `POST /oauth2/token`. Never throws: every failure becomes an RFC 6749 §5.2 response. */
export async function tokenEndpoint(request: Request, env: KeymintEnv): Promise<Response> {
  const started = Date.now();
  const audit: AuditFields = {};
  let found: CredentialsResult | undefined;
  let auditOn = true;
  try {
    const ctx = requestContext(request, env);
    auditOn = ctx.config.auditLog;
    const keyring = await getKeyring(env);
    const form = await readForm(request);
    found = extractCredentials(request.headers.get("authorization"), form);
    audit.client_id = presentedId(found);
    const grantType = form.get("grant_type");
    if (grantType === undefined) throw invalidRequest("The grant_type parameter is required");
    if (grantType !== GRANT_TYPE) {
      throw new OAuthError("unsupported_grant_type", "Only the client_credentials grant is supported");
    }
    const { client, method } = await authenticateClient(found, ctx.store, ctx.now);
    audit.auth_method = method;
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
    const accessToken = await signJwt(keyring.active, decision.claims);
    const body: TokenResponseBody = { access_token: accessToken, token_type: "Bearer", expires_in: decision.expiresIn };
    if (decision.scope !== undefined) body.scope = decision.scope;
    if (auditOn) {
      audit.scope = decision.scope;
      audit.jti = decision.claims.jti;
      audit.aud = decision.claims.aud;
      log("info", "token", {
        outcome: "issued",
        ...audit,
        ip: request.headers.get("cf-connecting-ip"),
        latency_ms: Date.now() - started,
      });
    }
    return new Response(JSON.stringify(body), { status: 200, headers: NO_STORE_HEADERS });
  } catch (err) {
    const oauthError = toOAuthError(err, "token");
    if (auditOn) {
      audit.client_id ??= presentedId(found);
      log("info", "token", {
        outcome: "rejected",
        ...audit,
        error: oauthError.code,
        detail: oauthError.detail,
        status: oauthError.status,
        ip: request.headers.get("cf-connecting-ip"),
        latency_ms: Date.now() - started,
      });
    }
    return errorResponse(oauthError);
  }
}
