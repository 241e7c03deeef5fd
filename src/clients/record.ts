/** The client registry record: one versioned JSON document per client (see docs/storage.md). */

import { algorithmOf, checkJwk, isObject, JwkError, publicJwk } from "../jwt/jwk.ts";
import { ClaimsError, checkClaims, type ExtraClaims } from "../oauth/claims.ts";
import { isScopeToken } from "../oauth/scope.ts";
import { remoteUrlProblem } from "../remote/url.ts";
import { parseIp } from "../util/cidr.ts";
import { canonicalDn, DN_MAX } from "../x509/dn.ts";
import { isThumbprint } from "../x509/thumbprint.ts";

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

/** How a client authenticates at the token, introspection and revocation endpoints (RFC 7591 §2, RFC 8705 §2). */
export type TokenEndpointAuthMethod =
  | "client_secret_basic"
  | "private_key_jwt"
  | "tls_client_auth"
  | "self_signed_tls_client_auth";

/** The mutual-TLS methods (RFC 8705 §2): the client authenticates with its TLS client certificate. */
export const MTLS_METHODS = ["tls_client_auth", "self_signed_tls_client_auth"] as const;
export type MtlsMethod = (typeof MTLS_METHODS)[number];

export function isMtlsMethod(method: unknown): method is MtlsMethod {
  return method === "tls_client_auth" || method === "self_signed_tls_client_auth";
}

/**
 * The RFC 8705 §2.1.2 metadata naming the one subject a tls_client_auth client's certificate must have: exactly
 * one is set (the subject DN, or one subject alternative name).
 */
export const TLS_SUBJECT_FIELDS = [
  "tls_client_auth_subject_dn",
  "tls_client_auth_san_dns",
  "tls_client_auth_san_uri",
  "tls_client_auth_san_ip",
  "tls_client_auth_san_email",
] as const;
export type TlsSubjectField = (typeof TLS_SUBJECT_FIELDS)[number];
/** Most certificates a self_signed_tls_client_auth client may register (rotation: old and new side by side). */
export const MAX_CLIENT_CERTIFICATES = 20;

/** Algorithms a client's own keys (private_key_jwt) and an outside issuer's keys may have. */
export const CLIENT_KEY_ALGS = ["ES256", "EdDSA", "RS256", "PS256"] as const;

/** A client's public keys (RFC 7517 JWK Set), stored normalized: public members, kid, alg, use only. */
export interface ClientJwks {
  keys: Record<string, string>[];
}

/** Federated workload identity: the outside OpenID Connect issuer and the one subject it vouches for. */
export interface Federation {
  /** Issuer URL, compared exactly with the JWT's `iss`; keys via `<issuer>/.well-known/openid-configuration`. */
  issuer: string;
  /** Compared exactly with the JWT's `sub` (e.g. `repo:acme/app:ref:refs/heads/main`). */
  subject: string;
  /** Required `aud` (or member of it); `null`: keymint's issuer. */
  audience: string | null;
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
  /**
   * Every token request must carry a DPoP proof and gets a sender-constrained token (RFC 9449 §5.2 client
   * metadata). Records written before DPoP existed lack the field: `false`.
   */
  dpop_bound_access_tokens: boolean;
  /**
   * `client_secret_basic` (secret via Basic or in the body) or `private_key_jwt` (RFC 7523 signed JWT: the
   * client's keys in `jwks` or at `jwks_uri`, or an outside issuer's token per `federation`). Records written
   * before key clients existed lack the field and are secret clients.
   */
  token_endpoint_auth_method: TokenEndpointAuthMethod;
  /** private_key_jwt: the client's public keys; else `null`. */
  jwks: ClientJwks | null;
  /** private_key_jwt: where keymint fetches the client's public keys (https); else `null`. */
  jwks_uri: string | null;
  /** private_key_jwt: federated workload identity; else `null`. */
  federation: Federation | null;
  /** tls_client_auth: the expected subject DN (RFC 4514 string), compared by distinguishedNameMatch; else `null`. */
  tls_client_auth_subject_dn: string | null;
  /** tls_client_auth: an expected dNSName SAN; else `null`. */
  tls_client_auth_san_dns: string | null;
  /** tls_client_auth: an expected uniformResourceIdentifier SAN (e.g. a SPIFFE ID); else `null`. */
  tls_client_auth_san_uri: string | null;
  /** tls_client_auth: an expected iPAddress SAN (compared in binary, RFC 5952 §8); else `null`. */
  tls_client_auth_san_ip: string | null;
  /** tls_client_auth: an expected rfc822Name SAN; else `null`. */
  tls_client_auth_san_email: string | null;
  /** self_signed_tls_client_auth: the `x5t#S256` of each registered certificate; else `[]`. */
  tls_client_certificate_thumbprints: string[];
  /**
   * Access tokens are bound to the TLS client certificate of the token request (`cnf.x5t#S256`, RFC 8705 §3.4
   * client metadata); such a request must present one. Records written before mTLS existed lack it: `false`.
   */
  tls_client_certificate_bound_access_tokens: boolean;
  /**
   * Static claims every access token of the client carries (src/oauth/claims.ts has the rules); `{}` for none.
   * Records written before claims existed lack the field: `{}`.
   */
  claims: ExtraClaims;
  /** base64url random salt shared by the client's secret hashes ("" for a key client). */
  salt: string;
  /** Newest first; 1 to MAX_SECRETS entries for a secret client, none for a key client. */
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

/** Most keys a client may register. */
export const MAX_CLIENT_KEYS = 20;
/** Longest federated subject or audience accepted. */
export const FEDERATION_VALUE_MAX = 512;

/**
 * Normalizes a client's public JWK Set: every key public only, of an algorithm in CLIENT_KEY_ALGS (an RSA key must
 * name RS256 or PS256), well-formed, with distinct `kid`s when there are several. Throws `RecordError` naming the
 * key. The result holds only public members, `kid`, `alg` and `use`.
 */
export function normalizeClientJwks(value: unknown): ClientJwks {
  if (!isObject(value) || !Array.isArray(value.keys)) fail('jwks must be a JWK Set {"keys":[…]}');
  const keys = value.keys as unknown[];
  if (keys.length < 1 || keys.length > MAX_CLIENT_KEYS) fail(`jwks must hold 1 to ${MAX_CLIENT_KEYS} keys`);
  const kids = new Set<string>();
  return {
    keys: keys.map((jwk, i) => {
      if (!isObject(jwk)) fail(`jwks key ${i} is not a JSON object`);
      if (jwk.kty === "RSA" && jwk.alg === undefined) fail(`jwks key ${i} (RSA) needs "alg" RS256 or PS256`);
      const alg = algorithmOf(jwk, CLIENT_KEY_ALGS);
      if (alg === null) fail(`jwks key ${i} has an unsupported alg or key type (use ${CLIENT_KEY_ALGS.join(", ")})`);
      try {
        checkJwk(jwk, alg, false);
      } catch (err) {
        if (err instanceof JwkError) fail(`jwks key ${i}: ${err.message}`);
        throw err;
      }
      if (jwk.kid !== undefined && (typeof jwk.kid !== "string" || jwk.kid === "")) {
        fail(`jwks key ${i} has an invalid kid`);
      }
      const kid = (jwk.kid as string | undefined) ?? "";
      if (keys.length > 1 && kid === "") fail(`jwks key ${i} needs a "kid" (the set has several keys)`);
      if (kids.has(kid)) fail(`jwks key ${i} repeats kid ${JSON.stringify(kid)}`);
      kids.add(kid);
      return publicJwk(jwk, alg) as unknown as Record<string, string>;
    }),
  };
}

/** A URL keymint may fetch (https, or loopback http); throws `RecordError` naming `field`. */
export function fetchableUrl(value: unknown, field: string): string {
  if (typeof value !== "string") fail(`${field} must be a URL`);
  const problem = remoteUrlProblem(value);
  if (problem !== null) fail(`${field} ${JSON.stringify(value)} is unusable: ${problem}`);
  return value;
}

function boundedText(value: unknown, field: string): string {
  if (typeof value !== "string" || value.length === 0 || value.length > FEDERATION_VALUE_MAX || CONTROL.test(value)) {
    fail(`${field} must be 1 to ${FEDERATION_VALUE_MAX} printable characters`);
  }
  return value;
}

/** Validates federation settings (issuer URL fetchable, subject and audience printable). */
export function parseFederation(value: unknown): Federation {
  if (!isObject(value)) fail("federation must be an object");
  return {
    issuer: fetchableUrl(value.issuer, "federation.issuer"),
    subject: boundedText(value.subject, "federation.subject"),
    audience: value.audience === null ? null : boundedText(value.audience, "federation.audience"),
  };
}

/** The fields that say how a client authenticates (one method's fields set, every other one's empty). */
export type CredentialFields = Pick<
  ClientRecord,
  | "token_endpoint_auth_method"
  | "jwks"
  | "jwks_uri"
  | "federation"
  | TlsSubjectField
  | "tls_client_certificate_thumbprints"
  | "salt"
  | "secrets"
>;

/** The mTLS fields of a client that does not use mTLS. */
export function noMtls(): Pick<ClientRecord, TlsSubjectField | "tls_client_certificate_thumbprints"> {
  return {
    tls_client_auth_subject_dn: null,
    tls_client_auth_san_dns: null,
    tls_client_auth_san_uri: null,
    tls_client_auth_san_ip: null,
    tls_client_auth_san_email: null,
    tls_client_certificate_thumbprints: [],
  };
}

const SAN_MAX = 2048;
const PRINTABLE = /^[\x21-\x7e]+$/;

/**
 * Validates one RFC 8705 §2.1.2 subject value; returns the problem (for a message naming the field), or `null`.
 * The DN must parse as RFC 4514; SAN values are printable ASCII (IA5String, as in certificates), the URI
 * absolute, the IP address IPv4 or IPv6, the e-mail address `local@domain`.
 */
export function tlsSubjectProblem(field: TlsSubjectField, value: unknown): string | null {
  if (typeof value !== "string" || value.length === 0) return "must be a non-empty string";
  if (field === "tls_client_auth_subject_dn") {
    if (value.length > DN_MAX) return `must be at most ${DN_MAX} characters`;
    return canonicalDn(value) === null ? "is not an RFC 4514 distinguished name (like CN=client,O=Acme,C=US)" : null;
  }
  if (value.length > SAN_MAX || !PRINTABLE.test(value)) return "must be printable ASCII without spaces";
  if (field === "tls_client_auth_san_uri" && !/^[A-Za-z][A-Za-z0-9+.-]*:/.test(value)) return "must be an absolute URI";
  if (field === "tls_client_auth_san_ip" && parseIp(value) === null) return "must be an IPv4 or IPv6 address";
  if (field === "tls_client_auth_san_email" && !/^[^@]+@[^@]+$/.test(value)) return "must be an e-mail address";
  return null;
}

/** Validates a list of certificate thumbprints; the problem, or `null`. */
export function thumbprintsProblem(value: unknown): string | null {
  if (!Array.isArray(value) || value.length < 1 || value.length > MAX_CLIENT_CERTIFICATES) {
    return `must hold 1 to ${MAX_CLIENT_CERTIFICATES} certificate thumbprints`;
  }
  if (!value.every(isThumbprint)) return "must hold x5t#S256 values (43 base64url characters)";
  return new Set(value).size === value.length ? null : "repeats a certificate";
}

function mtlsCredentials(value: Record<string, unknown>, method: MtlsMethod): CredentialFields {
  for (const field of ["jwks", "jwks_uri", "federation"]) {
    if (value[field] !== undefined && value[field] !== null) fail(`an ${method} client cannot have ${field}`);
  }
  if (value.salt !== "" || !Array.isArray(value.secrets) || value.secrets.length !== 0) {
    fail(`an ${method} client has no salt and no secrets`);
  }
  const fields = noMtls();
  if (method === "tls_client_auth") {
    const set = TLS_SUBJECT_FIELDS.filter((f) => value[f] !== undefined && value[f] !== null);
    if (set.length !== 1) fail(`a tls_client_auth client needs exactly one of ${TLS_SUBJECT_FIELDS.join(", ")}`);
    const field = set[0] as TlsSubjectField;
    const problem = tlsSubjectProblem(field, value[field]);
    if (problem !== null) fail(`${field} ${problem}`);
    fields[field] = value[field] as string;
    if (
      value.tls_client_certificate_thumbprints !== undefined &&
      !isEmptyArray(value.tls_client_certificate_thumbprints)
    ) {
      fail("a tls_client_auth client cannot have tls_client_certificate_thumbprints");
    }
  } else {
    for (const f of TLS_SUBJECT_FIELDS) {
      if (value[f] !== undefined && value[f] !== null) fail(`a self_signed_tls_client_auth client cannot have ${f}`);
    }
    const problem = thumbprintsProblem(value.tls_client_certificate_thumbprints);
    if (problem !== null) fail(`tls_client_certificate_thumbprints ${problem}`);
    fields.tls_client_certificate_thumbprints = [...(value.tls_client_certificate_thumbprints as string[])];
  }
  return {
    token_endpoint_auth_method: method,
    jwks: null,
    jwks_uri: null,
    federation: null,
    ...fields,
    salt: "",
    secrets: [],
  };
}

function isEmptyArray(value: unknown): boolean {
  return Array.isArray(value) && value.length === 0;
}

/** A non-mTLS client's record must not carry mTLS fields (older records lack them altogether). */
function noMtlsFields(value: Record<string, unknown>, method: string): void {
  for (const f of TLS_SUBJECT_FIELDS) {
    if (value[f] !== undefined && value[f] !== null) fail(`a ${method} client cannot have ${f}`);
  }
  const thumbprints = value.tls_client_certificate_thumbprints;
  if (thumbprints !== undefined && !isEmptyArray(thumbprints)) {
    fail(`a ${method} client cannot have tls_client_certificate_thumbprints`);
  }
}

function parseSecrets(value: Record<string, unknown>): StoredSecret[] {
  const secrets = value.secrets;
  if (!Array.isArray(secrets) || secrets.length < 1 || secrets.length > MAX_SECRETS) {
    fail(`secrets must hold 1 to ${MAX_SECRETS} entries`);
  }
  return secrets.map((s: unknown, i: number) => {
    if (!isObject(s) || typeof s.hash !== "string" || !/^[A-Za-z0-9_-]{43}$/.test(s.hash)) {
      fail(`secrets[${i}].hash is invalid`);
    }
    return {
      hash: s.hash,
      created_at: isoTime(s.created_at, `secrets[${i}].created_at`),
      expires_at: nullableInt(s.expires_at, `secrets[${i}].expires_at`),
    };
  });
}

/**
 * How the client authenticates: one or two secret hashes, exactly one source of keys, or one expected
 * certificate subject or a set of certificates (mTLS).
 */
function parseCredentials(value: Record<string, unknown>): CredentialFields {
  const method = value.token_endpoint_auth_method ?? "client_secret_basic";
  if (isMtlsMethod(method)) return mtlsCredentials(value, method);
  if (method === "client_secret_basic") {
    for (const field of ["jwks", "jwks_uri", "federation"]) {
      if (value[field] !== undefined && value[field] !== null) fail(`a secret client cannot have ${field}`);
    }
    noMtlsFields(value, "secret");
    if (typeof value.salt !== "string" || !B64URL.test(value.salt)) fail("salt is invalid");
    return {
      token_endpoint_auth_method: method,
      jwks: null,
      jwks_uri: null,
      federation: null,
      ...noMtls(),
      salt: value.salt,
      secrets: parseSecrets(value),
    };
  }
  if (method !== "private_key_jwt") fail(`token_endpoint_auth_method ${JSON.stringify(method)} is unknown`);
  noMtlsFields(value, "private_key_jwt");
  if (value.salt !== "" || !Array.isArray(value.secrets) || value.secrets.length !== 0) {
    fail("a private_key_jwt client has no salt and no secrets");
  }
  const jwks = value.jwks === null ? null : normalizeClientJwks(value.jwks);
  const jwksUri = value.jwks_uri === null ? null : fetchableUrl(value.jwks_uri, "jwks_uri");
  const federation = value.federation === null ? null : parseFederation(value.federation);
  if ([jwks, jwksUri, federation].filter((x) => x !== null).length !== 1) {
    fail("a private_key_jwt client needs exactly one of jwks, jwks_uri and federation");
  }
  return {
    token_endpoint_auth_method: method,
    jwks,
    jwks_uri: jwksUri,
    federation,
    ...noMtls(),
    salt: "",
    secrets: [],
  };
}

/**
 * A stored record's static claims: the shape and limits of src/oauth/claims.ts, but a reserved name is kept (the
 * token endpoint leaves it out of tokens and logs it) rather than making the whole record corrupt.
 */
function parseClaims(value: unknown): ExtraClaims {
  if (value === undefined) return {};
  try {
    return checkClaims(value, { reserved: "keep" });
  } catch (err) {
    if (err instanceof ClaimsError) fail(err.message);
    throw err;
  }
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
  const dpopBound = value.dpop_bound_access_tokens ?? false;
  if (typeof dpopBound !== "boolean") fail("dpop_bound_access_tokens must be a boolean");
  const certificateBound = value.tls_client_certificate_bound_access_tokens ?? false;
  if (typeof certificateBound !== "boolean") fail("tls_client_certificate_bound_access_tokens must be a boolean");
  if (dpopBound && certificateBound) {
    fail("dpop_bound_access_tokens and tls_client_certificate_bound_access_tokens cannot both be set");
  }
  const credentials = parseCredentials(value);
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
    dpop_bound_access_tokens: dpopBound,
    tls_client_certificate_bound_access_tokens: certificateBound,
    ...credentials,
    claims: parseClaims(value.claims),
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
    dpop_bound_access_tokens: record.dpop_bound_access_tokens,
    token_endpoint_auth_method: record.token_endpoint_auth_method,
    jwks: record.jwks === null ? null : { keys: record.jwks.keys.map((k) => ({ ...k })) },
    jwks_uri: record.jwks_uri,
    federation: record.federation === null ? null : { ...record.federation },
    tls_client_auth_subject_dn: record.tls_client_auth_subject_dn,
    tls_client_auth_san_dns: record.tls_client_auth_san_dns,
    tls_client_auth_san_uri: record.tls_client_auth_san_uri,
    tls_client_auth_san_ip: record.tls_client_auth_san_ip,
    tls_client_auth_san_email: record.tls_client_auth_san_email,
    tls_client_certificate_thumbprints: [...record.tls_client_certificate_thumbprints],
    tls_client_certificate_bound_access_tokens: record.tls_client_certificate_bound_access_tokens,
    claims: structuredClone(record.claims),
    secrets: record.secrets.map((s) => ({ created_at: s.created_at, expires_at: s.expires_at })),
    created_at: record.created_at,
    updated_at: record.updated_at,
    secret_rotated_at: record.secret_rotated_at,
  };
}
