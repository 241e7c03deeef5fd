/** The client credentials grant (RFC 6749 §4.4) as a pure decision: who gets which token. */

import { type ClientRecord, GRANT_CLIENT_CREDENTIALS } from "../clients/record.ts";
import type { AccessTokenClaims } from "../jwt/claims.ts";
import { addStaticClaims, hasClaims } from "./claims.ts";
import { OAuthError } from "./errors.ts";
import { grantScopes, parseScope } from "./scope.ts";

export interface ClientCredentialsInput {
  client: ClientRecord;
  /** Raw `scope` parameter, if sent. */
  scope: string | undefined;
  /** `resource` parameters (RFC 8707), possibly several. */
  resources: readonly string[];
  issuer: string;
  defaultTtl: number;
  defaultAudience: string | null;
  /** Unix seconds. */
  now: number;
  jti: string;
  /** Thumbprint of the client's DPoP key: the token is bound to it (`cnf.jkt`, RFC 9449 §6.1). */
  jkt?: string | undefined;
  /**
   * `x5t#S256` of the client's TLS certificate: the token is bound to it (`cnf`, RFC 8705 §3.1). A token has one
   * binding at most: given both, the certificate wins (the token endpoint never passes both).
   */
  x5t?: string | undefined;
}

export interface ClientCredentialsDecision {
  claims: AccessTokenClaims;
  expiresIn: number;
  /** Granted scopes, space-separated; `undefined` when none. */
  scope: string | undefined;
  /** Reserved claim names in the client's stored static claims, left out of the token (to be logged). */
  ignoredClaims?: string[];
}

/** RFC 8707 §2: a resource indicator is an absolute URI without a fragment. */
export function isResourceIndicator(value: string): boolean {
  if (value.includes("#") || /\s/.test(value)) return false;
  try {
    new URL(value);
    return /^[A-Za-z][A-Za-z0-9+.-]*:/.test(value);
  } catch {
    return false;
  }
}

/** The audiences a client may ask for; its first one (or the deployment default) is used without `resource`. */
export function allowedAudiences(client: ClientRecord, defaultAudience: string | null, issuer: string): string[] {
  return client.audiences.length > 0 ? client.audiences : [defaultAudience ?? issuer];
}

function decideAudience(input: ClientCredentialsInput): string | string[] {
  const allowed = allowedAudiences(input.client, input.defaultAudience, input.issuer);
  if (input.resources.length === 0) return allowed[0] as string;
  const chosen: string[] = [];
  for (const resource of input.resources) {
    if (!isResourceIndicator(resource)) {
      throw new OAuthError(
        "invalid_target",
        "The resource parameter must be an absolute URI without a fragment (RFC 8707 section 2)",
      );
    }
    if (!allowed.includes(resource)) {
      throw new OAuthError(
        "invalid_target",
        "The requested resource is not allowed for this client (RFC 8707 section 2)",
      );
    }
    if (!chosen.includes(resource)) chosen.push(resource);
  }
  return chosen.length === 1 ? (chosen[0] as string) : chosen;
}

/**
 * Decides the access token for an authenticated client: grant allowed (`unauthorized_client`), scopes a
 * subset of the allowed ones (`invalid_scope`, RFC 6749 §3.3), audience from `resource` (`invalid_target`,
 * RFC 8707), lifetime from the client or the deployment default, and the client's static claims after the standard
 * ones (reserved names never: src/oauth/claims.ts). Throws `OAuthError`; does no I/O.
 */
export function decideClientCredentials(input: ClientCredentialsInput): ClientCredentialsDecision {
  const { client, now } = input;
  if (!client.grant_types.includes(GRANT_CLIENT_CREDENTIALS)) {
    throw new OAuthError("unauthorized_client", "This client is not allowed to use the client_credentials grant");
  }
  const requested = input.scope === undefined ? undefined : parseScope(input.scope);
  const granted = grantScopes(requested, client.scopes);
  const aud = decideAudience(input);
  const expiresIn = client.ttl ?? input.defaultTtl;
  const scope = granted.length > 0 ? granted.join(" ") : undefined;
  const claims: AccessTokenClaims = {
    iss: input.issuer,
    sub: client.client_id,
    aud,
    exp: now + expiresIn,
    iat: now,
    jti: input.jti,
    client_id: client.client_id,
  };
  if (scope !== undefined) claims.scope = scope;
  if (input.x5t !== undefined) claims.cnf = { "x5t#S256": input.x5t };
  else if (input.jkt !== undefined) claims.cnf = { jkt: input.jkt };
  if (hasClaims(client.claims)) {
    const ignored = addStaticClaims(claims, client.claims);
    if (ignored !== null) return { claims, expiresIn, scope, ignoredClaims: ignored };
  }
  return { claims, expiresIn, scope };
}
