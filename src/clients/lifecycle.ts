/**
 * Pure client lifecycle operations over records (create, update, rotate, enable/disable, revoke tokens): THE rules
 * for a valid client. The CLI, the admin API and RFC 7591/7592 registration all reach them (through
 * src/clients/operations.ts); they take `now` and the freshly generated values as inputs and never do I/O.
 * Clients authenticate with a secret, with keys (private_key_jwt) or with a TLS client certificate (RFC 8705).
 */

import { ClaimsError, checkClaims, type ExtraClaims } from "../oauth/claims.ts";
import { isScopeToken } from "../oauth/scope.ts";
import { CertificateError, jwksThumbprints } from "../x509/thumbprint.ts";
import {
  type ClientRecord,
  type ClientRegistration,
  type Federation,
  fetchableUrl,
  GRANT_CLIENT_CREDENTIALS,
  isMtlsMethod,
  isValidAudience,
  isValidClientId,
  isValidName,
  isValidTtl,
  MAX_SECRETS,
  type MtlsMethod,
  NAME_MAX,
  noMtls,
  normalizeClientJwks,
  parseFederation,
  QUOTA_MAX,
  QUOTA_MIN,
  RECORD_VERSION,
  RecordError,
  type StoredSecret,
  TLS_SUBJECT_FIELDS,
  type TlsSubjectField,
  TTL_MAX,
  TTL_MIN,
  thumbprintsProblem,
  tlsSubjectProblem,
} from "./record.ts";

/**
 * A value an operator supplied that cannot be used; the message is meant for them. `field` names the client
 * object's field it concerns (as the admin API and `clients show --json` spell it), when there is one.
 */
export class LifecycleError extends Error {
  override readonly name = "LifecycleError";
  readonly field: string | undefined;
  constructor(message: string, field?: string) {
    super(message);
    this.field = field;
  }
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
   * Bind every access token to the TLS client certificate of its request (RFC 8705 §3.4
   * `tls_client_certificate_bound_access_tokens`); such requests must present one. Any client may ask for it.
   */
  requireMtlsBinding?: boolean;
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
    throw new LifecycleError(`name must be 1 to ${NAME_MAX} printable characters`, "name");
  }
  for (const scope of settings.scopes ?? []) {
    if (!isScopeToken(scope)) {
      throw new LifecycleError(`scope "${scope}" has a character RFC 6749 §3.3 forbids`, "scopes");
    }
  }
  for (const aud of settings.audiences ?? []) {
    if (!isValidAudience(aud)) {
      throw new LifecycleError(`audience "${aud}" must be 1 to 512 characters without spaces`, "audiences");
    }
  }
  if (settings.ttl !== undefined && settings.ttl !== null && !isValidTtl(settings.ttl)) {
    throw new LifecycleError(`ttl must be an integer number of seconds between ${TTL_MIN} and ${TTL_MAX}`, "ttl");
  }
  const quota = settings.quotaPerMinute;
  if (quota !== undefined && quota !== null && (!Number.isInteger(quota) || quota < QUOTA_MIN || quota > QUOTA_MAX)) {
    throw new LifecycleError(
      `quota must be an integer between ${QUOTA_MIN} and ${QUOTA_MAX} tokens per minute`,
      "quota_per_minute",
    );
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
  const field = "jwks" in keys ? "jwks" : "jwksUri" in keys ? "jwks_uri" : "federation";
  try {
    if ("jwks" in keys) return { jwks: normalizeClientJwks(keys.jwks), jwks_uri: null, federation: null };
    if ("jwksUri" in keys) return { jwks: null, jwks_uri: fetchableUrl(keys.jwksUri, "jwks_uri"), federation: null };
    return { jwks: null, jwks_uri: null, federation: parseFederation(keys.federation) };
  } catch (err) {
    if (err instanceof RecordError) throw new LifecycleError(err.message, field);
    throw err;
  }
}

function checkId(clientId: string): void {
  if (!isValidClientId(clientId)) {
    throw new LifecycleError("client id must be 1 to 200 printable ASCII characters without spaces", "client_id");
  }
}

/**
 * The token grant a client's `grant_types` (RFC 7591 §2) asks for: `["client_credentials"]` (or absent) → yes,
 * `[]` → none (an introspection-only client). Any other grant is one keymint does not offer.
 */
export function tokenGrantOf(grantTypes: readonly string[]): boolean {
  const other = grantTypes.find((g) => g !== GRANT_CLIENT_CREDENTIALS);
  if (other !== undefined) {
    throw new LifecycleError(
      `grant_types may only contain client_credentials (keymint does not offer ${JSON.stringify(other)})`,
      "grant_types",
    );
  }
  return grantTypes.length > 0;
}

/** Records (or, with `null`, forgets) how the client registered itself (RFC 7591), with its token's hash. */
export function setRegistration(
  record: ClientRecord,
  registration: ClientRegistration | null,
  now: number,
): ClientRecord {
  return { ...record, registration, updated_at: iso(now) };
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
    registration: null,
    tls_client_certificate_bound_access_tokens: s.requireMtlsBinding ?? false,
    claims: s.claims === undefined ? {} : clientClaims(s.claims),
  } as const;
}

/** A token carries at most one binding (RFC 7800 `cnf`): a DPoP key or the TLS client certificate, not both. */
function checkBinding(record: ClientRecord): ClientRecord {
  if (record.dpop_bound_access_tokens && record.tls_client_certificate_bound_access_tokens) {
    throw new LifecycleError(
      "dpop_bound_access_tokens and tls_client_certificate_bound_access_tokens exclude each other: a token is bound to a DPoP key or to the TLS client certificate, not both",
    );
  }
  return record;
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
  return checkBinding({
    ...baseRecord(input.clientId, input.settings, input.enabled ?? true),
    token_endpoint_auth_method: "private_key_jwt",
    ...keyFields(input.keys),
    ...noMtls(),
    salt: "",
    secrets: [],
    created_at: time,
    updated_at: time,
    secret_rotated_at: time,
  });
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
    ...noMtls(),
    salt: "",
    secrets: [],
    updated_at: time,
    secret_rotated_at: time,
  };
}

/**
 * How a mutual-TLS client (RFC 8705 §2) is recognized, in the RFC 8705 §2.1.2 metadata names the admin API and
 * RFC 7591 accept as they are: `tls_client_auth` with exactly one expected subject (the DN or one SAN), or
 * `self_signed_tls_client_auth` with its certificates' `x5t#S256` thumbprints (src/x509/thumbprint.ts turns a
 * PEM, a JWKS with `x5c` or a hex fingerprint into one).
 */
export interface MtlsRegistration {
  token_endpoint_auth_method: MtlsMethod;
  tls_client_auth_subject_dn?: string | null;
  tls_client_auth_san_dns?: string | null;
  tls_client_auth_san_uri?: string | null;
  tls_client_auth_san_ip?: string | null;
  tls_client_auth_san_email?: string | null;
  tls_client_certificate_thumbprints?: readonly string[] | null;
}

/** The validated mTLS fields of a record; throws `LifecycleError` naming the field that is wrong. */
export function mtlsFields(
  registration: MtlsRegistration,
): Pick<ClientRecord, "token_endpoint_auth_method" | TlsSubjectField | "tls_client_certificate_thumbprints"> {
  const method = registration.token_endpoint_auth_method;
  if (!isMtlsMethod(method)) {
    throw new LifecycleError("token_endpoint_auth_method must be tls_client_auth or self_signed_tls_client_auth");
  }
  const fields = { token_endpoint_auth_method: method, ...noMtls() };
  const given = TLS_SUBJECT_FIELDS.filter((f) => registration[f] !== undefined && registration[f] !== null);
  const thumbprints = registration.tls_client_certificate_thumbprints;
  if (method === "self_signed_tls_client_auth") {
    if (given.length > 0) throw new LifecycleError(`${given[0]} is for tls_client_auth, not ${method}`);
    // From JSON (the admin API), the value may be anything: only an array is deduplicated.
    const unique = Array.isArray(thumbprints) ? [...new Set(thumbprints)] : (thumbprints ?? []);
    const problem = thumbprintsProblem(unique);
    if (problem !== null) throw new LifecycleError(`tls_client_certificate_thumbprints ${problem}`);
    return { ...fields, tls_client_certificate_thumbprints: unique as string[] };
  }
  if (thumbprints !== undefined && thumbprints !== null && !(Array.isArray(thumbprints) && thumbprints.length === 0)) {
    throw new LifecycleError(
      "tls_client_certificate_thumbprints is for self_signed_tls_client_auth, not tls_client_auth",
    );
  }
  if (given.length !== 1) {
    throw new LifecycleError(
      `a tls_client_auth client needs exactly one of ${TLS_SUBJECT_FIELDS.join(", ")} (RFC 8705 section 2.1.2)${given.length > 1 ? `, not ${given.join(" and ")}` : ""}`,
    );
  }
  const field = given[0] as TlsSubjectField;
  const value = registration[field];
  const problem = tlsSubjectProblem(field, value);
  if (problem !== null) throw new LifecycleError(`${field} ${problem}`);
  return { ...fields, [field]: value as string };
}

/**
 * The mutual-TLS registration a client object in JSON asks for — the admin API's body, or RFC 7591 §2 metadata
 * with the RFC 8705 §2.1.2 names — or `undefined` when its `token_endpoint_auth_method` is not an mTLS one.
 * A self_signed_tls_client_auth client's certificates come as `tls_client_certificate_thumbprints` (`x5t#S256`
 * values, as the client object shows them) or as a `jwks` whose keys carry `x5c` (RFC 8705 §2.2.2); `jwks_uri`
 * is refused (keymint would fetch certificates on the token path). Values are checked by `mtlsFields` when the
 * record is made; throws `LifecycleError` naming the field.
 */
export async function mtlsRegistrationOf(
  metadata: Readonly<Record<string, unknown>>,
): Promise<MtlsRegistration | undefined> {
  const method = metadata.token_endpoint_auth_method;
  if (!isMtlsMethod(method)) return undefined;
  const registration: Record<string, unknown> = { token_endpoint_auth_method: method };
  for (const field of TLS_SUBJECT_FIELDS) if (metadata[field] !== undefined) registration[field] = metadata[field];
  const { jwks, jwks_uri: jwksUri, tls_client_certificate_thumbprints: thumbprints } = metadata;
  if (jwksUri !== undefined && jwksUri !== null) {
    throw new LifecycleError(`jwks_uri cannot register the certificates of a ${method} client: give jwks with x5c`);
  }
  if (metadata.federation !== undefined && metadata.federation !== null) {
    throw new LifecycleError(`federation is for private_key_jwt clients, not ${method}`);
  }
  const fromJwks = jwks !== undefined && jwks !== null;
  if (fromJwks && method === "tls_client_auth") {
    throw new LifecycleError("jwks is for self_signed_tls_client_auth: a tls_client_auth client registers a subject");
  }
  if (fromJwks && thumbprints !== undefined && thumbprints !== null) {
    throw new LifecycleError("give jwks (with x5c) or tls_client_certificate_thumbprints, not both");
  }
  if (fromJwks) {
    try {
      registration.tls_client_certificate_thumbprints = await jwksThumbprints(jwks);
    } catch (err) {
      if (err instanceof CertificateError) throw new LifecycleError(err.message);
      throw err;
    }
  } else if (thumbprints !== undefined) {
    registration.tls_client_certificate_thumbprints = thumbprints;
  }
  return registration as unknown as MtlsRegistration;
}

export interface NewMtlsClient {
  clientId: string;
  mtls: MtlsRegistration;
  enabled?: boolean;
  settings: ClientSettings & { name: string };
}

/** A new mutual-TLS record (RFC 8705 §2): no secret, no keys, the expected certificate subject or certificates. */
export function newMtlsClientRecord(input: NewMtlsClient, now: number): ClientRecord {
  checkId(input.clientId);
  check(input.settings);
  const time = iso(now);
  return checkBinding({
    ...baseRecord(input.clientId, input.settings, input.enabled ?? true),
    jwks: null,
    jwks_uri: null,
    federation: null,
    ...mtlsFields(input.mtls),
    salt: "",
    secrets: [],
    created_at: time,
    updated_at: time,
    secret_rotated_at: time,
  });
}

/**
 * Makes the client authenticate with its TLS client certificate (RFC 8705 §2), replacing its secrets or keys
 * (which stop working) or its previous certificate registration.
 */
export function setClientMtls(record: ClientRecord, mtls: MtlsRegistration, now: number): ClientRecord {
  const time = iso(now);
  return {
    ...record,
    jwks: null,
    jwks_uri: null,
    federation: null,
    ...mtlsFields(mtls),
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
  return checkBinding({
    ...baseRecord(input.clientId, input.settings, input.enabled ?? true),
    token_endpoint_auth_method: "client_secret_basic",
    jwks: null,
    jwks_uri: null,
    federation: null,
    ...noMtls(),
    salt: input.salt,
    secrets: [{ hash: input.secretHash, created_at: time, expires_at: input.secretExpiresAt }],
    created_at: time,
    updated_at: time,
    secret_rotated_at: time,
  });
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
  if (settings.requireMtlsBinding !== undefined) {
    next.tls_client_certificate_bound_access_tokens = settings.requireMtlsBinding;
  }
  if (settings.claims !== undefined) next.claims = clientClaims(settings.claims);
  return checkBinding(next);
}

/** Refuses secret operations on a client that authenticates with keys or a certificate (it has no secret to rotate). */
export function assertSecretClient(record: ClientRecord): void {
  const method = record.token_endpoint_auth_method;
  if (method === "client_secret_basic") return;
  const replace = isMtlsMethod(method)
    ? `\`update ${record.client_id} --tls-subject-dn DN\` (or --tls-san-*, --tls-certificate FILE)`
    : `\`update ${record.client_id} --jwks FILE\` (or --jwks-uri, --federated-*)`;
  throw new LifecycleError(
    `client ${record.client_id} authenticates with ${method} and has no secret; replace its ${isMtlsMethod(method) ? "certificate" : "keys"} with ${replace}`,
    "token_endpoint_auth_method",
  );
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
    throw new LifecycleError("grace must be a non-negative duration", "grace_seconds");
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
