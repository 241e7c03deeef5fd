/** The shared front half of every client-authenticated endpoint: config, keys, form, client authentication. */

import { getConfig } from "../config.ts";
import type { KeymintEnv } from "../env.ts";
import { cachedKeyring, getKeyring, type Keyring } from "../jwt/keyring.ts";
import { OAuthError } from "../oauth/errors.ts";
import {
  type Authenticated,
  authenticateClient,
  type CredentialsResult,
  extractCredentials,
  presentedClientId,
} from "./client-auth.ts";
import { oneTimeIdsFor, type RequestContext, requestContext } from "./context.ts";
import { errorResponse, toOAuthError } from "./errors.ts";
import { type FormParams, readForm } from "./form.ts";
import { failureKind, recordFailure, refuseIfBlocked } from "./throttle.ts";

/** What an endpoint step knows once the request is parsed (and, after `authenticate`, who the client is). */
export interface Exchange {
  request: Request;
  env: KeymintEnv;
  ctx: RequestContext;
  keyring: Keyring;
  form: FormParams;
  credentials: CredentialsResult;
  /** Fields for this request's audit log line (never a secret, a token or an Authorization header). */
  audit: Audit;
  /** The Worker's ExecutionContext, when there is one (work that may finish after the response). */
  execution: ExecutionContext | undefined;
}

/** Parses the request: configuration, keyring, form body and presented credentials. */
export async function openExchange(
  request: Request,
  env: KeymintEnv,
  audit: Audit,
  execution?: ExecutionContext,
): Promise<Exchange> {
  const ctx = requestContext(request, env);
  const keyring = cachedKeyring(env) ?? (await getKeyring(env));
  const form = await readForm(request);
  const credentials = extractCredentials(request.headers.get("authorization"), form, request);
  // Until authentication shows the id exists, only its length is logged (it could be a mistyped secret).
  const clientId = presentedClientId(credentials);
  if (clientId !== undefined) audit.unknown_client_id_length = clientId.length;
  return { request, env, ctx, keyring, form, credentials, audit, execution };
}

function knownClient(audit: Audit, clientId: string): void {
  audit.client_id = clientId;
  audit.unknown_client_id_length = undefined;
}

/**
 * Authenticates the exchange's client (RFC 6749 §2.3.1), behind brute-force protection: a blocked
 * (source, client id) pair is refused before any lookup, and every failed attempt with credentials is counted
 * by the throttle according to its failure kind.
 */
export async function authenticate(exchange: Exchange): Promise<Authenticated> {
  const { credentials, env, request, ctx } = exchange;
  const clientId = presentedClientId(credentials);
  const nowMs = Date.now();
  refuseIfBlocked(request, clientId, nowMs);
  try {
    const result = await authenticateClient(credentials, {
      store: ctx.store,
      now: ctx.now,
      assertion: () => ({
        issuer: ctx.issuer,
        now: ctx.now,
        replay: oneTimeIdsFor(env, ctx.config),
      }),
    });
    knownClient(exchange.audit, result.client.record.client_id);
    exchange.audit.auth_method = result.method;
    if (result.secretSlot > 0) exchange.audit.secret = "previous";
    if (result.certificate !== undefined) exchange.audit.certificate = result.certificate.thumbprint;
    return result;
  } catch (err) {
    if (clientId !== undefined && err instanceof OAuthError && err.code === "invalid_client") {
      if (failureKind(err.detail) !== "unknown") knownClient(exchange.audit, clientId);
      await recordFailure(env, request, clientId, err.detail, nowMs);
    }
    throw err;
  }
}

/** The fields of one audit line; a fixed shape, so building and serializing it stays cheap. */
export interface Audit {
  client_id: string | undefined;
  /** Instead of `client_id` when no such client exists: a mistyped secret in the id field must not be logged. */
  unknown_client_id_length: number | undefined;
  auth_method: string | undefined;
  secret: "previous" | undefined;
  scope: string | undefined;
  jti: string | undefined;
  aud: string | string[] | undefined;
  token_client_id: string | undefined;
  reason: string | undefined;
  /** Thumbprint of the DPoP key a token was bound to (public, RFC 7638). */
  dpop_jkt: string | undefined;
  /** `x5t#S256` of the TLS client certificate that authenticated the client or that a token was bound to. */
  certificate: string | undefined;
  /** What the claims hook did for this token request, when one is configured (docs/claims.md). */
  claims_hook: "ok" | "refused" | "failed" | "omitted" | undefined;
}

function newAudit(): Audit {
  return {
    client_id: undefined,
    unknown_client_id_length: undefined,
    auth_method: undefined,
    secret: undefined,
    scope: undefined,
    jti: undefined,
    aud: undefined,
    token_client_id: undefined,
    reason: undefined,
    dpop_jkt: undefined,
    certificate: undefined,
    claims_hook: undefined,
  };
}

/** `AUDIT_LOG` as validated by the configuration; on when the configuration itself is unusable (that is logged). */
function auditEnabled(env: KeymintEnv): boolean {
  try {
    return getConfig(env).auditLog;
  } catch {
    return true;
  }
}

/**
 * Writes one audit line from a fixed-shape object (`undefined` fields are left out by JSON.stringify). It
 * carries the client id, never a secret, a token or the Authorization header.
 */
function writeAudit(
  event: string,
  outcome: string,
  audit: Audit,
  request: Request,
  started: number,
  error?: OAuthError,
): void {
  console.log(
    JSON.stringify({
      level: "info",
      event,
      outcome,
      client_id: audit.client_id,
      unknown_client_id_length: audit.unknown_client_id_length,
      auth_method: audit.auth_method,
      secret: audit.secret,
      scope: audit.scope,
      jti: audit.jti,
      aud: audit.aud,
      token_client_id: audit.token_client_id,
      dpop_jkt: audit.dpop_jkt,
      certificate: audit.certificate,
      claims_hook: audit.claims_hook,
      reason: audit.reason,
      error: error?.code,
      detail: error?.detail,
      status: error?.status,
      ip: request.headers.get("cf-connecting-ip"),
      latency_ms: Date.now() - started,
    }),
  );
}

/**
 * Runs an endpoint and writes its one audit line: `outcome` on success, the error code and private detail on
 * failure. Anything thrown becomes an RFC 6749 §5.2 response; nothing escapes as an unhandled exception.
 */
export async function serveAudited(
  event: string,
  request: Request,
  env: KeymintEnv,
  handler: (audit: Audit) => Promise<{ response: Response; outcome: string }>,
): Promise<Response> {
  const started = Date.now();
  const audit = newAudit();
  try {
    const { response, outcome } = await handler(audit);
    if (auditEnabled(env)) writeAudit(event, outcome, audit, request, started);
    return response;
  } catch (err) {
    const oauthError: OAuthError = toOAuthError(err, event);
    if (auditEnabled(env)) writeAudit(event, "rejected", audit, request, started, oauthError);
    return errorResponse(oauthError);
  }
}
