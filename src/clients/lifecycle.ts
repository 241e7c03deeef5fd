/**
 * Pure client lifecycle operations over records (create, update, rotate, enable/disable, revoke tokens).
 * The CLI uses them; they take `now` and the freshly generated values as inputs and never do I/O.
 */

import { ClaimsError, checkClaims, type ExtraClaims } from "../oauth/claims.ts";
import { isScopeToken } from "../oauth/scope.ts";
import {
  type ClientRecord,
  type Federation,
  fetchableUrl,
  GRANT_CLIENT_CREDENTIALS,
  isValidAudience,
  isValidClientId,
  isValidName,
  isValidTtl,
  MAX_SECRETS,
  NAME_MAX,
  normalizeClientJwks,
  parseFederation,
  QUOTA_MAX,
  QUOTA_MIN,
  RECORD_VERSION,
  RecordError,
  type StoredSecret,
  TTL_MAX,
  TTL_MIN,
} from "./record.ts";

/** A value an operator supplied that cannot be used; the message is meant for them. */
export class LifecycleError extends Error {
  override readonly name = "LifecycleError";
}

export interface ClientSettings {
  name?: string;
  scopes?: string[];
  audiences?: string[];
  /** `null` resets to the deployment default. */
  ttl?: number | null;
  canIntrospect?: boolean;
  /** `false`: introspection-only client (no token grant). */
  tokenGrant?: boolean;
  /** `null` removes the quota. */
  quotaPerMinute?: number | null;
  /** Require a DPoP proof on every token request (RFC 9449 §5.2 `dpop_bound_access_tokens`). */
  requireDpop?: boolean;
  /**
   * The client's static claims, replacing the current ones (`{}` removes them all): a JSON object validated by
   * src/oauth/claims.ts (reserved names, limits). Typed `unknown` so a parsed API body can be passed as it is.
   */
  claims?: unknown;
}

/** Validated static claims (a fresh object), or a `LifecycleError` whose message starts with the field, `claims`. */
export function clientClaims(value: unknown): ExtraClaims {
  try {
    return checkClaims(value, { what: "claims" });
  } catch (err) {
    if (err instanceof ClaimsError) throw new LifecycleError(err.message);
    throw err;
  }
}

function check(settings: ClientSettings): void {
  if (settings.name !== undefined && !isValidName(settings.name)) {
    throw new LifecycleError(`name must be 1 to ${NAME_MAX} printable characters`);
  }
  for (const scope of settings.scopes ?? []) {
    if (!isScopeToken(scope)) throw new LifecycleError(`scope "${scope}" has a character RFC 6749 §3.3 forbids`);
  }
  for (const aud of settings.audiences ?? []) {
    if (!isValidAudience(aud)) throw new LifecycleError(`audience "${aud}" must be 1 to 512 characters without spaces`);
  }
  if (settings.ttl !== undefined && settings.ttl !== null && !isValidTtl(settings.ttl)) {
    throw new LifecycleError(`ttl must be an integer number of seconds between ${TTL_MIN} and ${TTL_MAX}`);
  }
  const quota = settings.quotaPerMinute;
  if (quota !== undefined && quota !== null && (!Number.isInteger(quota) || quota < QUOTA_MIN || quota > QUOTA_MAX)) {
    throw new LifecycleError(`quota must be an integer between ${QUOTA_MIN} and ${QUOTA_MAX} tokens per minute`);
  }
  if (settings.claims !== undefined) clientClaims(settings.claims);
}

function dedupe(values: string[]): string[] {
  return [...new Set(values)];
}

function iso(now: number): string {
  return new Date(now * 1000).toISOString();
}

export interface NewClient {
  clientId: string;
  salt: string;
  secretHash: string;
  /** Unix seconds, or `null` for a secret that never expires. */
  secretExpiresAt: number | null;
  enabled?: boolean;
  settings: ClientSettings & { name: string };
}

/** Where a private_key_jwt client's keys come from: its own JWKS, a JWKS URL, or an outside issuer (federation). */
export type ClientKeys = { jwks: unknown } | { jwksUri: string } | { federation: Federation };

/** The validated key fields of a record; throws `LifecycleError` naming what is wrong. */
function keyFields(keys: ClientKeys): Pick<ClientRecord, "jwks" | "jwks_uri" | "federation"> {
  try {
    if ("jwks" in keys) return { jwks: normalizeClientJwks(keys.jwks), jwks_uri: null, federation: null };
    if ("jwksUri" in keys) return { jwks: null, jwks_uri: fetchableUrl(keys.jwksUri, "--jwks-uri"), federation: null };
    return { jwks: null, jwks_uri: null, federation: parseFederation(keys.federation) };
  } catch (err) {
    if (err instanceof RecordError) throw new LifecycleError(err.message);
    throw err;
  }
}

function checkId(clientId: string): void {
  if (!isValidClientId(clientId)) {
    throw new LifecycleError("client id must be 1 to 200 printable ASCII characters without spaces");
  }
}

/** The fields every new record shares, whatever its authentication method. */
function baseRecord(clientId: string, settings: ClientSettings & { name: string }, enabled: boolean) {
  const s = settings;
  return {
    v: RECORD_VERSION,
    client_id: clientId,
    name: s.name,
    scopes: dedupe(s.scopes ?? []),
    audiences: dedupe(s.audiences ?? []),
    ttl: s.ttl ?? null,
    enabled,
    grant_types: s.tokenGrant === false ? [] : [GRANT_CLIENT_CREDENTIALS],
    can_introspect: s.canIntrospect ?? false,
    quota_per_minute: s.quotaPerMinute ?? null,
    tokens_revoked_before: null,
    dpop_bound_access_tokens: s.requireDpop ?? false,
    claims: s.claims === undefined ? {} : clientClaims(s.claims),
  } as const;
}

export interface NewKeyClient {
  clientId: string;
  keys: ClientKeys;
  enabled?: boolean;
  settings: ClientSettings & { name: string };
}

/** A new `private_key_jwt` record: no secret at all, its keys (or federation) validated and normalized. */
export function newKeyClientRecord(input: NewKeyClient, now: number): ClientRecord {
  checkId(input.clientId);
  check(input.settings);
  const time = iso(now);
  return {
    ...baseRecord(input.clientId, input.settings, input.enabled ?? true),
    token_endpoint_auth_method: "private_key_jwt",
    ...keyFields(input.keys),
    salt: "",
    secrets: [],
    created_at: time,
    updated_at: time,
    secret_rotated_at: time,
  };
}

/**
 * Replaces a key client's keys (JWKS, JWKS URL or federation). A secret client given keys becomes a
 * `private_key_jwt` client and its secrets are dropped.
 */
export function setClientKeys(record: ClientRecord, keys: ClientKeys, now: number): ClientRecord {
  const time = iso(now);
  return {
    ...record,
    token_endpoint_auth_method: "private_key_jwt",
    ...keyFields(keys),
    salt: "",
    secrets: [],
    updated_at: time,
    secret_rotated_at: time,
  };
}

/** A new record for a client whose secret has already been hashed with `salt`. */
export function newClientRecord(input: NewClient, now: number): ClientRecord {
  checkId(input.clientId);
  check(input.settings);
  const time = iso(now);
  return {
    ...baseRecord(input.clientId, input.settings, input.enabled ?? true),
    token_endpoint_auth_method: "client_secret_basic",
    jwks: null,
    jwks_uri: null,
    federation: null,
    salt: input.salt,
    secrets: [{ hash: input.secretHash, created_at: time, expires_at: input.secretExpiresAt }],
    created_at: time,
    updated_at: time,
    secret_rotated_at: time,
  };
}

/** Applies changed settings; fields left `undefined` stay as they are. */
export function updateClient(record: ClientRecord, settings: ClientSettings, now: number): ClientRecord {
  check(settings);
  const next: ClientRecord = { ...record, updated_at: iso(now) };
  if (settings.name !== undefined) next.name = settings.name;
  if (settings.scopes !== undefined) next.scopes = dedupe(settings.scopes);
  if (settings.audiences !== undefined) next.audiences = dedupe(settings.audiences);
  if (settings.ttl !== undefined) next.ttl = settings.ttl;
  if (settings.canIntrospect !== undefined) next.can_introspect = settings.canIntrospect;
  if (settings.tokenGrant !== undefined) next.grant_types = settings.tokenGrant ? [GRANT_CLIENT_CREDENTIALS] : [];
  if (settings.quotaPerMinute !== undefined) next.quota_per_minute = settings.quotaPerMinute;
  if (settings.requireDpop !== undefined) next.dpop_bound_access_tokens = settings.requireDpop;
  if (settings.claims !== undefined) next.claims = clientClaims(settings.claims);
  return next;
}

/** Refuses secret operations on a client that authenticates with keys (it has no secret to rotate). */
export function assertSecretClient(record: ClientRecord): void {
  if (record.token_endpoint_auth_method !== "client_secret_basic") {
    throw new LifecycleError(
      `client ${record.client_id} authenticates with private_key_jwt and has no secret; replace its keys with \`update ${record.client_id} --jwks FILE\` (or --jwks-uri, --federated-*)`,
    );
  }
}

export interface Rotation {
  newHash: string;
  /** Unix seconds the new secret expires, or `null`. */
  newExpiresAt: number | null;
  /** Seconds the current secret stays valid; 0 revokes it at once. */
  graceSeconds: number;
}

/**
 * Issues a new secret. With a grace period the current secret stays valid until `now + grace` (or its own
 * earlier expiry); any older secret is dropped, so at most MAX_SECRETS are ever valid.
 */
export function rotateSecret(record: ClientRecord, rotation: Rotation, now: number): ClientRecord {
  assertSecretClient(record);
  if (!Number.isInteger(rotation.graceSeconds) || rotation.graceSeconds < 0) {
    throw new LifecycleError("grace must be a non-negative duration");
  }
  const time = iso(now);
  const fresh: StoredSecret = { hash: rotation.newHash, created_at: time, expires_at: rotation.newExpiresAt };
  const secrets: StoredSecret[] = [fresh];
  const current = record.secrets[0];
  if (rotation.graceSeconds > 0 && current !== undefined) {
    const graceEnd = now + rotation.graceSeconds;
    const stillValid = current.expires_at === null || current.expires_at > now;
    if (stillValid) {
      secrets.push({
        ...current,
        expires_at: current.expires_at === null ? graceEnd : Math.min(current.expires_at, graceEnd),
      });
    }
  }
  return { ...record, secrets: secrets.slice(0, MAX_SECRETS), secret_rotated_at: time, updated_at: time };
}

/** Enables or disables a client; a disabled client's authentication fails like a wrong secret. */
export function setEnabled(record: ClientRecord, enabled: boolean, now: number): ClientRecord {
  return { ...record, enabled, updated_at: iso(now) };
}

/** Revokes every token issued to the client up to and including this second (one KV write). */
export function revokeTokensBefore(record: ClientRecord, now: number): ClientRecord {
  return { ...record, tokens_revoked_before: now, updated_at: iso(now) };
}
