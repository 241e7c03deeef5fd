/** The client registry record: one versioned JSON document per client (see docs/storage.md). */

import { isScopeToken } from "../oauth/scope.ts";

export const RECORD_VERSION = 1;
/** At most this many secrets are valid at once (the current one and, during a rotation grace period, the old one). */
export const MAX_SECRETS = 2;
export const TTL_MIN = 60;
export const TTL_MAX = 86_400;
export const CLIENT_ID_MAX = 200;
export const NAME_MAX = 200;
export const AUDIENCE_MAX = 512;
export const GRANT_CLIENT_CREDENTIALS = "client_credentials";
/** Smallest and largest `quota_per_minute`; the smallest is also the burst a quota is metered in. */
export const QUOTA_MIN = 10;
export const QUOTA_MAX = 1_000_000;

/** A stored secret: only its salted SHA-256, never the secret itself. */
export interface StoredSecret {
  /** base64url SHA-256(salt ‖ UTF-8 secret). */
  hash: string;
  /** ISO 8601 time the secret was issued. */
  created_at: string;
  /** Unix seconds after which the secret is rejected (`client_secret_expires_at`); `null`: never. */
  expires_at: number | null;
}

export interface ClientRecord {
  v: typeof RECORD_VERSION;
  client_id: string;
  name: string;
  /** Scopes the client may request; a request without `scope` gets all of them. */
  scopes: string[];
  /** Audiences the client may request with `resource` (RFC 8707); the first is the default `aud`. */
  audiences: string[];
  /** Access-token lifetime in seconds; `null`: the deployment's DEFAULT_TOKEN_TTL. */
  ttl: number | null;
  enabled: boolean;
  /** Grants the client may use: `["client_credentials"]`, or `[]` for an introspection-only client. */
  grant_types: string[];
  /** May call the introspection endpoint (RFC 7662). */
  can_introspect: boolean;
  /** Tokens per minute the client may obtain; `null`: unlimited. */
  quota_per_minute: number | null;
  /** Tokens with `iat` at or before this Unix time are revoked; `null`: none. */
  tokens_revoked_before: number | null;
  /** base64url random salt shared by the client's secret hashes. */
  salt: string;
  /** Newest first; 1 to MAX_SECRETS entries. */
  secrets: StoredSecret[];
  created_at: string;
  updated_at: string;
  secret_rotated_at: string;
}

/** A client as shown to operators: everything but the version, the salt and the hashes. */
export type PublicClient = Omit<ClientRecord, "v" | "salt" | "secrets"> & {
  secrets: Omit<StoredSecret, "hash">[];
};

/** A record that does not have the expected shape. */
export class RecordError extends Error {
  override readonly name = "RecordError";
}

/** KV key of a client record. */
export function clientKey(clientId: string): string {
  return `client:${clientId}`;
}
export const CLIENT_KEY_PREFIX = "client:";

const CONTROL = /[\u0000-\u001f\u007f]/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const B64URL = /^[A-Za-z0-9_-]+$/;

/** RFC 6749 Appendix A `client-id` (VSCHAR), bounded so it always fits a KV key; no spaces. */
export function isValidClientId(id: string): boolean {
  return id.length > 0 && id.length <= CLIENT_ID_MAX && /^[\x21-\x7e]+$/.test(id);
}

export function isValidName(name: string): boolean {
  return name.trim().length > 0 && name.length <= NAME_MAX && !CONTROL.test(name);
}

export function isValidAudience(aud: string): boolean {
  return aud.length > 0 && aud.length <= AUDIENCE_MAX && /^[\x21-\x7e]+$/.test(aud);
}

export function isValidTtl(ttl: number): boolean {
  return Number.isInteger(ttl) && ttl >= TTL_MIN && ttl <= TTL_MAX;
}

function fail(message: string): never {
  throw new RecordError(message);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function stringArray(value: unknown, field: string, check: (s: string) => boolean): string[] {
  if (!Array.isArray(value) || !value.every((s) => typeof s === "string" && check(s))) {
    fail(`${field} must be an array of valid strings`);
  }
  return value as string[];
}

function nullableInt(value: unknown, field: string): number | null {
  // Every field is always written; a missing one means a truncated or hand-edited record.
  if (value === undefined) fail(`${field} is missing`);
  if (value === null) return null;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0)
    fail(`${field} must be a non-negative integer or null`);
  return value;
}

function isoTime(value: unknown, field: string): string {
  if (typeof value !== "string" || !ISO.test(value)) fail(`${field} must be an ISO 8601 UTC time`);
  return value;
}

/**
 * Validates a decoded KV value as a client record. Throws `RecordError` naming the first bad field, so a
 * corrupt record is reported (and refused) instead of half-trusted.
 */
export function parseRecord(value: unknown, expectedId?: string): ClientRecord {
  if (!isObject(value)) fail("record is not a JSON object");
  if (value.v !== RECORD_VERSION) fail(`unsupported record version ${JSON.stringify(value.v)}`);
  const id = value.client_id;
  if (typeof id !== "string" || !isValidClientId(id)) fail("client_id is invalid");
  if (expectedId !== undefined && id !== expectedId) fail("client_id does not match its key");
  if (typeof value.name !== "string" || !isValidName(value.name)) fail("name is invalid");
  const scopes = stringArray(value.scopes, "scopes", isScopeToken);
  const audiences = stringArray(value.audiences, "audiences", isValidAudience);
  const ttl = nullableInt(value.ttl, "ttl");
  if (ttl !== null && !isValidTtl(ttl)) fail(`ttl must be between ${TTL_MIN} and ${TTL_MAX}`);
  if (typeof value.enabled !== "boolean") fail("enabled must be a boolean");
  const grantTypes = stringArray(value.grant_types, "grant_types", (g) => g === GRANT_CLIENT_CREDENTIALS);
  if (typeof value.can_introspect !== "boolean") fail("can_introspect must be a boolean");
  const quota = nullableInt(value.quota_per_minute, "quota_per_minute");
  if (quota !== null && (quota < QUOTA_MIN || quota > QUOTA_MAX)) {
    fail(`quota_per_minute must be between ${QUOTA_MIN} and ${QUOTA_MAX}`);
  }
  const revokedBefore = nullableInt(value.tokens_revoked_before, "tokens_revoked_before");
  if (typeof value.salt !== "string" || !B64URL.test(value.salt)) fail("salt is invalid");
  const secrets = value.secrets;
  if (!Array.isArray(secrets) || secrets.length < 1 || secrets.length > MAX_SECRETS) {
    fail(`secrets must hold 1 to ${MAX_SECRETS} entries`);
  }
  const parsedSecrets: StoredSecret[] = secrets.map((s: unknown, i: number) => {
    if (!isObject(s) || typeof s.hash !== "string" || !/^[A-Za-z0-9_-]{43}$/.test(s.hash)) {
      fail(`secrets[${i}].hash is invalid`);
    }
    return {
      hash: s.hash,
      created_at: isoTime(s.created_at, `secrets[${i}].created_at`),
      expires_at: nullableInt(s.expires_at, `secrets[${i}].expires_at`),
    };
  });
  return {
    v: RECORD_VERSION,
    client_id: id,
    name: value.name,
    scopes,
    audiences,
    ttl,
    enabled: value.enabled,
    grant_types: grantTypes,
    can_introspect: value.can_introspect,
    quota_per_minute: quota,
    tokens_revoked_before: revokedBefore,
    salt: value.salt,
    secrets: parsedSecrets,
    created_at: isoTime(value.created_at, "created_at"),
    updated_at: isoTime(value.updated_at, "updated_at"),
    secret_rotated_at: isoTime(value.secret_rotated_at, "secret_rotated_at"),
  };
}

/** The operator-facing view of a record: no salt, no hash. */
export function toPublic(record: ClientRecord): PublicClient {
  return {
    client_id: record.client_id,
    name: record.name,
    scopes: [...record.scopes],
    audiences: [...record.audiences],
    ttl: record.ttl,
    enabled: record.enabled,
    grant_types: [...record.grant_types],
    can_introspect: record.can_introspect,
    quota_per_minute: record.quota_per_minute,
    tokens_revoked_before: record.tokens_revoked_before,
    secrets: record.secrets.map((s) => ({ created_at: s.created_at, expires_at: s.expires_at })),
    created_at: record.created_at,
    updated_at: record.updated_at,
    secret_rotated_at: record.secret_rotated_at,
  };
}
