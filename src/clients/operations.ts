/**
 * Managing clients, for every door: the admin API, RFC 7591/7592 registration and the CLI's local and remote
 * drivers. Input is the client object's JSON shape (as `clients show --json` prints it and `/admin/clients` takes
 * it); every rule is src/clients/lifecycle.ts's; storage is any `RecordStore` of raw KV values (Workers KV in the
 * Worker, wrangler's local or remote KV in the CLI). See docs/admin-api.md.
 */

import { algorithmOf, importParams, publicMembers } from "../jwt/jwk.ts";
import { base64urlEncode, UTF8 } from "../util/base64url.ts";
import {
  assertSecretClient,
  type ClientKeys,
  type ClientSettings,
  LifecycleError,
  type MtlsRegistration,
  mtlsRegistrationOf,
  newKeyClientRecord,
  newMtlsClientRecord,
  revokeTokensBefore,
  rotateSecret,
  setClientKeys,
  setClientMtls,
  setEnabled,
  setRegistration,
  tokenGrantOf,
  updateClient,
} from "./lifecycle.ts";
import {
  CLIENT_KEY_ALGS,
  type ClientJwks,
  type ClientRecord,
  type ClientRegistration,
  type Federation,
  isMtlsMethod,
  isValidClientId,
  type PublicClient,
  parseRecord,
  RecordError,
  TLS_SUBJECT_FIELDS,
  toPublic,
} from "./record.ts";
import { recordForNewClient } from "./register.ts";
import { generateClientId, generateSecret, hashSecretForRecord, secretWeakness } from "./secrets.ts";
import { CorruptRecordError } from "./store.ts";

/** Raw client records by id (the value is the record's JSON text), in client-id order. */
export interface RecordStore {
  /** Human name of the registry, for messages (`local registry (.wrangler/state)`). */
  readonly label: string;
  getMany(ids: readonly string[]): Promise<Map<string, string | null>>;
  put(id: string, value: string): Promise<void>;
  putMany(entries: readonly { id: string; value: string }[]): Promise<void>;
  delete(id: string): Promise<void>;
  /** One page of client ids in key order; `cursor` when there are more. */
  listPage(options: { cursor?: string | undefined; limit: number }): Promise<{ ids: string[]; cursor?: string }>;
}

/** The client does not exist (or its id cannot exist). */
export class ClientNotFoundError extends Error {
  override readonly name = "ClientNotFoundError";
  readonly clientId: string;
  constructor(clientId: string, message: string) {
    super(message);
    this.clientId = clientId;
  }
}

/** A client with this id exists already. */
export class ClientExistsError extends Error {
  override readonly name = "ClientExistsError";
  readonly clientId: string;
  constructor(clientId: string, message: string) {
    super(message);
    this.clientId = clientId;
  }
}

/** `If-Match` named another version than the stored one: someone changed the client since it was read. */
export class VersionMismatchError extends Error {
  override readonly name = "VersionMismatchError";
}

/** An outside issuer's federation settings as the client object spells them (a merge patch may give only some). */
export interface FederationInput {
  issuer?: string;
  subject?: string;
  audience?: string | null;
}

/**
 * The editable fields of the client object. In a create they are the values; in an update they are an RFC 7396
 * JSON merge patch: a field left out stays, `null` resets it to its default (no scopes, the deployment's TTL…),
 * `federation` merges member by member. Setting one key source (`jwks`, `jwks_uri`, `federation`) replaces the
 * others; a secret client given one becomes a `private_key_jwt` client and loses its secrets.
 */
export interface ClientFields {
  name?: string | null;
  scopes?: string[] | null;
  audiences?: string[] | null;
  ttl?: number | null;
  can_introspect?: boolean | null;
  grant_types?: string[] | null;
  quota_per_minute?: number | null;
  dpop_bound_access_tokens?: boolean | null;
  /** Bind tokens to the request's TLS client certificate (RFC 8705 §3.4); any client may ask for it. */
  tls_client_certificate_bound_access_tokens?: boolean | null;
  enabled?: boolean | null;
  /**
   * Static claims (docs/claims.md). In an update an RFC 7396 merge patch of the current claims: a member `null`
   * removes that claim, an object merges into an object; `claims: null` removes them all.
   */
  claims?: Record<string, unknown> | null;
  /** private_key_jwt keys; for a self_signed_tls_client_auth client, its certificates (keys with `x5c`). */
  jwks?: unknown;
  jwks_uri?: string | null;
  federation?: FederationInput | null;
  /** RFC 8705 §2.1.2: a tls_client_auth client's one expected subject (the DN or one SAN). */
  tls_client_auth_subject_dn?: string | null;
  tls_client_auth_san_dns?: string | null;
  tls_client_auth_san_uri?: string | null;
  tls_client_auth_san_ip?: string | null;
  tls_client_auth_san_email?: string | null;
  /** A self_signed_tls_client_auth client's certificates as `x5t#S256` values (or give `jwks` with `x5c`). */
  tls_client_certificate_thumbprints?: string[] | null;
  /**
   * Follows the credentials; accepted when it agrees with them. `tls_client_auth` and
   * `self_signed_tls_client_auth` choose mutual TLS (RFC 8705 §2), with the fields above.
   */
  token_endpoint_auth_method?: string | null;
}

/** A new client: its fields, and optionally its id and an imported secret (otherwise both are generated). */
export interface NewClientInput extends ClientFields {
  name: string;
  client_id?: string;
  /** An existing secret to import (at least 32 characters); omitted: a 256-bit one is generated. */
  client_secret?: string;
  /** Unix seconds after which the secret stops working; `0` or `null`: never. */
  client_secret_expires_at?: number | null;
}

export interface RotateInput {
  /** Seconds the current secret keeps working next to the new one (default 0: revoked at once). */
  grace_seconds?: number;
  client_secret?: string;
  client_secret_expires_at?: number | null;
}

/** The answer to a create: the client object, with the secret for a secret client (the only time it is shown). */
export type CreatedClient = PublicClient & { client_secret?: string; client_secret_expires_at?: number };
/** The answer to a rotation: the new secret, when it and the previous one expire, and the client object. */
export type RotatedClient = PublicClient & {
  client_secret: string;
  client_secret_expires_at: number;
  previous_secret_expires_at: number | null;
};
/** A list entry: a client object, or the id of a record that does not parse. */
export type ListEntry = PublicClient | { client_id: string; error: string };

/** What every door needs from a client manager; implemented over a `RecordStore` and, in the CLI, over HTTP. */
export interface ClientManager {
  readonly label: string;
  list(options?: { cursor?: string | undefined; limit?: number }): Promise<{ clients: ListEntry[]; cursor?: string }>;
  show(id: string): Promise<Versioned<PublicClient>>;
  create(input: NewClientInput): Promise<Versioned<CreatedClient>>;
  update(id: string, patch: ClientFields, ifMatch?: string): Promise<Versioned<PublicClient>>;
  rotateSecret(id: string, input: RotateInput, ifMatch?: string): Promise<Versioned<RotatedClient>>;
  setEnabled(id: string, enabled: boolean, ifMatch?: string): Promise<Versioned<PublicClient>>;
  revokeTokens(id: string, ifMatch?: string): Promise<Versioned<PublicClient>>;
  delete(id: string, ifMatch?: string): Promise<void>;
  /** Creates every client or none: all are validated and checked to be new before the first write. */
  importClients(inputs: readonly NewClientInput[]): Promise<PublicClient[]>;
}

/** A value with the version (`ETag`) of the record it came from. */
export interface Versioned<T> {
  value: T;
  etag: string;
}

export const LIST_DEFAULT_LIMIT = 100;
export const LIST_MAX_LIMIT = 1000;

/** The strong ETag of a stored record: a digest of its exact stored text. */
export async function etagOf(raw: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", UTF8.encode(raw)));
  return `"${base64urlEncode(digest.subarray(0, 16))}"`;
}

/** Whether an `If-Match` header value (RFC 9110 §13.1.1) admits the current ETag. */
export function ifMatchAdmits(ifMatch: string, etag: string): boolean {
  const value = ifMatch.trim();
  if (value === "*") return true;
  return value.split(",").some((tag) => tag.trim() === etag);
}

/** Parses a stored value; a corrupt one is a `CorruptRecordError` naming the id and the reason. */
export function decodeRecord(id: string, raw: string): ClientRecord {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new CorruptRecordError(id, "value is not JSON");
  }
  try {
    return parseRecord(json, id);
  } catch (err) {
    if (err instanceof RecordError) throw new CorruptRecordError(id, err.message);
    throw err;
  }
}

function settingsOf(fields: ClientFields, forCreate: boolean): ClientSettings {
  const settings: ClientSettings = {};
  if (fields.name !== undefined) {
    if (fields.name === null) throw new LifecycleError("name cannot be removed, only changed", "name");
    settings.name = fields.name;
  }
  if (fields.scopes !== undefined) settings.scopes = fields.scopes ?? [];
  if (fields.audiences !== undefined) settings.audiences = fields.audiences ?? [];
  if (fields.ttl !== undefined) settings.ttl = fields.ttl;
  if (fields.can_introspect !== undefined) settings.canIntrospect = fields.can_introspect ?? false;
  if (fields.grant_types !== undefined && fields.grant_types !== null) {
    settings.tokenGrant = tokenGrantOf(fields.grant_types);
  } else if (fields.grant_types === null && !forCreate) settings.tokenGrant = true;
  if (fields.quota_per_minute !== undefined) settings.quotaPerMinute = fields.quota_per_minute;
  if (fields.dpop_bound_access_tokens !== undefined) {
    settings.requireDpop = fields.dpop_bound_access_tokens ?? false;
  }
  if (fields.tls_client_certificate_bound_access_tokens !== undefined) {
    settings.requireMtlsBinding = fields.tls_client_certificate_bound_access_tokens ?? false;
  }
  if (forCreate && fields.claims !== undefined) settings.claims = fields.claims ?? {};
  return settings;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Sets an own member, even one named `__proto__` (the claim rules then refuse such a name, naming it). */
function setMember(target: Record<string, unknown>, name: string, value: unknown): void {
  Object.defineProperty(target, name, { value, enumerable: true, writable: true, configurable: true });
}

/** Deepest merge patch of claims followed; the claim rules allow less (a deeper patch cannot be valid). */
const MERGE_PATCH_DEPTH_MAX = 16;

/** RFC 7396 §2 MergePatch(target, patch); a patch nested deeper than 16 objects is a `LifecycleError`. */
export function mergePatch(target: unknown, patch: unknown, depth = 0): unknown {
  if (!isPlainObject(patch)) return patch;
  if (depth >= MERGE_PATCH_DEPTH_MAX) {
    throw new LifecycleError(`claims: nested more than ${MERGE_PATCH_DEPTH_MAX} objects deep`, "claims");
  }
  const result: Record<string, unknown> = {};
  if (isPlainObject(target)) for (const [name, value] of Object.entries(target)) setMember(result, name, value);
  for (const [name, value] of Object.entries(patch)) {
    if (value === null) delete result[name];
    else setMember(result, name, mergePatch(Object.hasOwn(result, name) ? result[name] : undefined, value, depth + 1));
  }
  return result;
}

/** An RFC 8705 field that says nothing: absent, `null`, or the `[]` every non-mTLS client object shows. */
function isEmptyField(value: unknown): boolean {
  return value === undefined || value === null || (Array.isArray(value) && value.length === 0);
}

/**
 * The RFC 7396 merge patch that turns `from` into `to` (what `clients update --claim …` sends). A `null` inside
 * `to` cannot be said in a merge patch (it means "remove"): such a change is refused.
 */
export function mergePatchFor(from: Readonly<Record<string, unknown>>, to: Readonly<Record<string, unknown>>) {
  const patch: Record<string, unknown> = {};
  for (const name of Object.keys(from)) if (!Object.hasOwn(to, name)) setMember(patch, name, null);
  for (const [name, value] of Object.entries(to)) {
    const old = Object.hasOwn(from, name) ? from[name] : undefined;
    if (isPlainObject(old) && isPlainObject(value)) {
      const inner = mergePatchFor(old, value);
      if (Object.keys(inner).length > 0) setMember(patch, name, inner);
    } else if (JSON.stringify(old) !== JSON.stringify(value)) {
      if (containsNull(value)) {
        throw new LifecycleError(
          `claims: ${JSON.stringify(name)} cannot be changed to a value holding null in an update (RFC 7396: null removes)`,
          "claims",
        );
      }
      setMember(patch, name, value);
    }
  }
  return patch;
}

function containsNull(value: unknown): boolean {
  if (value === null) return true;
  if (Array.isArray(value)) return false; // arrays are replaced whole: a null inside one is fine
  return isPlainObject(value) && Object.values(value).some(containsNull);
}

/** The client object's RFC 8705 fields (§2.1.2's subject names, and the self-signed certificates' thumbprints). */
export const MTLS_FIELDS = [...TLS_SUBJECT_FIELDS, "tls_client_certificate_thumbprints"] as const;

/** The mTLS registration a new client asks for, or `undefined` for a secret or key client. */
async function newMtls(fields: ClientFields): Promise<MtlsRegistration | undefined> {
  const mtls = await mtlsRegistrationOf(fields as Readonly<Record<string, unknown>>);
  if (mtls === undefined) {
    const stray = MTLS_FIELDS.find((f) => !isEmptyField(fields[f]));
    if (stray !== undefined) {
      throw new LifecycleError(
        `${stray} is for token_endpoint_auth_method tls_client_auth or self_signed_tls_client_auth (RFC 8705)`,
        stray,
      );
    }
  }
  return mtls;
}

/**
 * The mTLS registration after a merge patch, or `undefined` when the patch leaves it alone. Fields merge into the
 * current registration when the method stays; a new method starts from nothing.
 */
async function patchedMtls(record: ClientRecord, patch: ClientFields): Promise<MtlsRegistration | undefined> {
  const method = patch.token_endpoint_auth_method ?? record.token_endpoint_auth_method;
  // For a secret or key client, an empty field (`[]`, `null`, as its client object shows them) touches nothing.
  const touched = MTLS_FIELDS.some((f) => (isMtlsMethod(method) ? patch[f] !== undefined : !isEmptyField(patch[f])));
  const switching = isMtlsMethod(patch.token_endpoint_auth_method) && method !== record.token_endpoint_auth_method;
  const certificates = method === "self_signed_tls_client_auth" && patch.jwks !== undefined && patch.jwks !== null;
  if (!touched && !switching && !certificates) return undefined;
  if (!isMtlsMethod(method)) return newMtls(patch);
  const merged: Record<string, unknown> = { token_endpoint_auth_method: method };
  if (method === record.token_endpoint_auth_method && !certificates) {
    for (const f of MTLS_FIELDS) merged[f] = record[f];
  }
  for (const f of MTLS_FIELDS) if (patch[f] !== undefined) merged[f] = patch[f];
  // Other credentials given with an mTLS registration are refused by mtlsRegistrationOf, never dropped.
  for (const f of ["jwks_uri", "federation"] as const) if (patch[f] !== undefined) merged[f] = patch[f];
  if (certificates) {
    merged.jwks = patch.jwks;
    merged.tls_client_certificate_thumbprints = patch.tls_client_certificate_thumbprints;
  }
  return mtlsRegistrationOf(merged);
}

const KEY_FIELDS = ["jwks", "jwks_uri", "federation"] as const;

function federationOf(value: FederationInput): ClientKeys {
  // parseFederation (through the lifecycle) checks every member; a partial one is refused there, naming it.
  const federation = { issuer: value.issuer, subject: value.subject, audience: value.audience ?? null };
  return { federation: federation as unknown as Federation };
}

/** The one key source a create gives, or `undefined` for a secret client. */
function newKeys(fields: ClientFields): ClientKeys | undefined {
  const given = KEY_FIELDS.filter((f) => fields[f] !== undefined && fields[f] !== null);
  if (given.length > 1) {
    throw new LifecycleError(`use only one of jwks, jwks_uri and federation (got ${given.join(" and ")})`, given[1]);
  }
  if (fields.jwks !== undefined && fields.jwks !== null) return { jwks: fields.jwks };
  if (fields.jwks_uri !== undefined && fields.jwks_uri !== null) return { jwksUri: fields.jwks_uri };
  if (fields.federation !== undefined && fields.federation !== null) return federationOf(fields.federation);
  return undefined;
}

/** The key source after a merge patch: `undefined` when the patch leaves the keys as they are. */
function patchedKeys(record: ClientRecord, patch: ClientFields): ClientKeys | undefined {
  const touched = KEY_FIELDS.filter((f) => patch[f] !== undefined);
  if (touched.length === 0) return undefined;
  const given = KEY_FIELDS.filter((f) => patch[f] !== undefined && patch[f] !== null);
  if (given.length > 1) {
    throw new LifecycleError(`use only one of jwks, jwks_uri and federation (got ${given.join(" and ")})`, given[1]);
  }
  if (given.length === 0) {
    const current = KEY_FIELDS.find((f) => record[f] !== null);
    if (current !== undefined && touched.includes(current)) {
      throw new LifecycleError(
        `${current} cannot be removed: a private_key_jwt client needs one of jwks, jwks_uri and federation`,
        current,
      );
    }
    return undefined;
  }
  if (patch.federation !== undefined && patch.federation !== null) {
    // RFC 7396: an object patch merges into the current object, member by member.
    const merged: FederationInput = { ...(record.federation ?? {}) };
    for (const [name, value] of Object.entries(patch.federation)) {
      if (value === null) delete merged[name as keyof FederationInput];
      else (merged as Record<string, unknown>)[name] = value;
    }
    return federationOf(merged);
  }
  return newKeys(patch);
}

/** The client object's `token_endpoint_auth_method`, when given, must agree with the credentials. */
function checkMethod(given: string | null | undefined, method: string): void {
  if (given === undefined || given === null || given === method) return;
  throw new LifecycleError(
    `token_endpoint_auth_method follows the credentials: ${method} here (private_key_jwt needs jwks, jwks_uri or federation; a secret client is client_secret_basic)`,
    "token_endpoint_auth_method",
  );
}

/**
 * Refuses a JWK Set whose keys WebCrypto cannot import (a point off its curve, say): such a key would never verify
 * an assertion. The record format's own checks (members, lengths, RSA size) have run before.
 */
export async function assertImportableJwks(jwks: ClientJwks | null): Promise<void> {
  for (const [i, jwk] of (jwks?.keys ?? []).entries()) {
    const alg = algorithmOf(jwk, CLIENT_KEY_ALGS);
    if (alg === null) continue;
    try {
      await crypto.subtle.importKey(
        "jwk",
        { kty: String(jwk.kty), ...publicMembers(jwk, alg), ext: true },
        importParams(alg) as Parameters<typeof crypto.subtle.importKey>[2],
        true,
        ["verify"],
      );
    } catch (err) {
      throw new LifecycleError(`jwks key ${i} cannot be used: ${(err as Error).message}`, "jwks");
    }
  }
}

/** A secret's expiry from `client_secret_expires_at` (RFC 7591 §3.2.1: 0 = never). */
function secretExpiry(value: number | null | undefined, now: number): number | null {
  if (value === undefined || value === null || value === 0) return null;
  if (!Number.isSafeInteger(value) || value <= now) {
    throw new LifecycleError(
      "client_secret_expires_at must be a future time in Unix seconds, or 0 for never",
      "client_secret_expires_at",
    );
  }
  return value;
}

function importedSecret(secret: string): string {
  const weakness = secretWeakness(secret);
  if (weakness !== null) throw new LifecycleError(weakness, "client_secret");
  return secret;
}

/**
 * A new client's record and the answer to its create, validated by the lifecycle rules; no I/O. The CLI's import
 * validates a whole file with it before writing anything, whichever driver writes.
 */
export async function prepareNewClient(
  input: NewClientInput,
  now: number,
): Promise<{ record: ClientRecord; created: CreatedClient }> {
  const clientId = input.client_id ?? generateClientId();
  const settings = { ...settingsOf(input, true), name: input.name };
  const enabled = input.enabled ?? true;
  const mtls = await newMtls(input);
  if (mtls !== undefined) {
    if (input.client_secret !== undefined || (input.client_secret_expires_at ?? 0) !== 0) {
      throw new LifecycleError("a client that authenticates with a TLS certificate has no secret", "client_secret");
    }
    const record = newMtlsClientRecord({ clientId, mtls, enabled, settings }, now);
    return { record, created: toPublic(record) };
  }
  const keys = newKeys(input);
  if (keys !== undefined) {
    if (input.client_secret !== undefined || (input.client_secret_expires_at ?? 0) !== 0) {
      throw new LifecycleError("a client with jwks, jwks_uri or federation has no secret", "client_secret");
    }
    checkMethod(input.token_endpoint_auth_method, "private_key_jwt");
    const record = newKeyClientRecord({ clientId, keys, enabled, settings }, now);
    await assertImportableJwks(record.jwks);
    return { record, created: toPublic(record) };
  }
  checkMethod(input.token_endpoint_auth_method, "client_secret_basic");
  const secret = input.client_secret === undefined ? generateSecret() : importedSecret(input.client_secret);
  const record = await recordForNewClient(
    { clientId, secret, secretExpiresAt: secretExpiry(input.client_secret_expires_at, now), enabled, settings },
    now,
  );
  const expiresAt = record.secrets[0]?.expires_at ?? null;
  const created: CreatedClient = Object.assign(
    { client_id: clientId, client_secret: secret, client_secret_expires_at: expiresAt ?? 0 },
    toPublic(record),
  );
  return { record, created };
}

/**
 * Applies a merge patch of client fields to a record through the lifecycle rules: settings, then `enabled`,
 * then keys. Returns the record unchanged (same object) when the patch changes nothing.
 */
export async function patchRecord(record: ClientRecord, patch: ClientFields, now: number): Promise<ClientRecord> {
  const settings = settingsOf(patch, false);
  if (patch.claims !== undefined) {
    settings.claims = patch.claims === null ? {} : mergePatch(record.claims, patch.claims);
  }
  let next = Object.keys(settings).length > 0 ? updateClient(record, settings, now) : record;
  if (patch.enabled !== undefined) next = setEnabled(next, patch.enabled ?? true, now);
  const mtls = await patchedMtls(record, patch);
  const keys = mtls === undefined ? patchedKeys(record, patch) : undefined;
  if (mtls !== undefined) next = setClientMtls(next, mtls, now);
  if (keys !== undefined) {
    next = setClientKeys(next, keys, now);
    await assertImportableJwks(next.jwks);
  }
  checkMethod(patch.token_endpoint_auth_method, next.token_endpoint_auth_method);
  return next;
}

export interface OperationsOptions {
  /** Unix seconds; the clock of the request (Worker) or of the command (CLI). */
  now: () => number;
  /** Called after every write of a client, e.g. to drop it from the Worker's own lookup cache. */
  changed?: (clientId: string) => void;
}

/** The client manager over a `RecordStore`: read, apply the lifecycle rules, write. */
export class ClientOperations implements ClientManager {
  readonly #store: RecordStore;
  readonly #options: OperationsOptions;

  constructor(store: RecordStore, options: OperationsOptions) {
    this.#store = store;
    this.#options = options;
  }

  get label(): string {
    return this.#store.label;
  }

  #notFound(id: string): ClientNotFoundError {
    return new ClientNotFoundError(id, `no client "${id}" in the ${this.#store.label}`);
  }

  /** The stored record with its ETag, or `null`; a corrupt record is a `CorruptRecordError`. */
  async find(id: string): Promise<{ record: ClientRecord; etag: string } | null> {
    const raw = await this.#raw(id);
    if (raw === null) return null;
    return { record: decodeRecord(id, raw), etag: await etagOf(raw) };
  }

  async #raw(id: string): Promise<string | null> {
    if (!isValidClientId(id)) throw new ClientNotFoundError(id, `"${id}" is not a valid client id`);
    return (await this.#store.getMany([id])).get(id) ?? null;
  }

  async #load(id: string, ifMatch: string | undefined): Promise<{ record: ClientRecord; etag: string }> {
    const found = await this.find(id);
    if (found === null) throw this.#notFound(id);
    if (ifMatch !== undefined && !ifMatchAdmits(ifMatch, found.etag)) {
      throw new VersionMismatchError(`client "${id}" changed since it was read (If-Match does not match its ETag)`);
    }
    return found;
  }

  /** Writes a record and returns its new ETag. */
  async save(record: ClientRecord): Promise<string> {
    const raw = JSON.stringify(record);
    await this.#store.put(record.client_id, raw);
    this.#options.changed?.(record.client_id);
    return etagOf(raw);
  }

  /**
   * Loads a client (checking `If-Match`), applies `change` (through the lifecycle rules) and saves the result,
   * unless it is the same record; answers with `answer(next)` and the new ETag.
   */
  async change<T>(
    id: string,
    ifMatch: string | undefined,
    change: (record: ClientRecord) => ClientRecord | Promise<ClientRecord>,
    answer: (record: ClientRecord) => T,
  ): Promise<Versioned<T>> {
    const { record, etag: stored } = await this.#load(id, ifMatch);
    const next = await change(record);
    // Unchanged: the stored text's ETag (a re-serialized record may order its members differently).
    const etag = next === record ? stored : await this.save(next);
    return { value: answer(next), etag };
  }

  async list(options: { cursor?: string | undefined; limit?: number } = {}) {
    const limit = options.limit ?? LIST_DEFAULT_LIMIT;
    const page = await this.#store.listPage({ cursor: options.cursor, limit });
    const values = await this.#store.getMany(page.ids);
    const clients: ListEntry[] = [];
    for (const id of page.ids) {
      const raw = values.get(id);
      if (raw === null || raw === undefined) continue;
      try {
        clients.push(toPublic(decodeRecord(id, raw)));
      } catch (err) {
        if (!(err instanceof CorruptRecordError)) throw err;
        clients.push({ client_id: id, error: `corrupt record: ${err.reason}` });
      }
    }
    return page.cursor === undefined ? { clients } : { clients, cursor: page.cursor };
  }

  async show(id: string): Promise<Versioned<PublicClient>> {
    const found = await this.find(id);
    if (found === null) throw this.#notFound(id);
    return { value: toPublic(found.record), etag: found.etag };
  }

  /** Creates a client; `registration` makes it an RFC 7591 registration (one write either way). */
  async create(input: NewClientInput, registration?: ClientRegistration): Promise<Versioned<CreatedClient>> {
    const { record, created } = await prepareNewClient(input, this.#options.now());
    if ((await this.#raw(record.client_id)) !== null) {
      throw new ClientExistsError(record.client_id, `client "${record.client_id}" already exists in the ${this.label}`);
    }
    const stored = registration === undefined ? record : setRegistration(record, registration, this.#options.now());
    return { value: created, etag: await this.save(stored) };
  }

  update(id: string, patch: ClientFields, ifMatch?: string): Promise<Versioned<PublicClient>> {
    return this.change(id, ifMatch, (r) => patchRecord(r, patch, this.#options.now()), toPublic);
  }

  async rotateSecret(id: string, input: RotateInput, ifMatch?: string): Promise<Versioned<RotatedClient>> {
    const now = this.#options.now();
    let secret = "";
    return this.change(
      id,
      ifMatch,
      async (record) => {
        assertSecretClient(record);
        secret = input.client_secret === undefined ? generateSecret() : importedSecret(input.client_secret);
        return rotateSecret(
          record,
          {
            newHash: await hashSecretForRecord(secret, record.salt),
            newExpiresAt: secretExpiry(input.client_secret_expires_at, now),
            graceSeconds: input.grace_seconds ?? 0,
          },
          now,
        );
      },
      (next) => {
        const old = next.secrets[1];
        return Object.assign(
          {
            client_id: next.client_id,
            client_secret: secret,
            client_secret_expires_at: next.secrets[0]?.expires_at ?? 0,
            previous_secret_expires_at: old === undefined ? null : old.expires_at,
          },
          toPublic(next),
        );
      },
    );
  }

  setEnabled(id: string, enabled: boolean, ifMatch?: string): Promise<Versioned<PublicClient>> {
    return this.change(id, ifMatch, (r) => setEnabled(r, enabled, this.#options.now()), toPublic);
  }

  revokeTokens(id: string, ifMatch?: string): Promise<Versioned<PublicClient>> {
    return this.change(id, ifMatch, (r) => revokeTokensBefore(r, this.#options.now()), toPublic);
  }

  /** Deletes a client; a corrupt record can be deleted too (that is how it is repaired). */
  async delete(id: string, ifMatch?: string): Promise<void> {
    const raw = await this.#raw(id);
    if (raw === null) throw this.#notFound(id);
    if (ifMatch !== undefined && !ifMatchAdmits(ifMatch, await etagOf(raw))) {
      throw new VersionMismatchError(`client "${id}" changed since it was read (If-Match does not match its ETag)`);
    }
    await this.#store.delete(id);
    this.#options.changed?.(id);
  }

  async importClients(inputs: readonly NewClientInput[]): Promise<PublicClient[]> {
    const now = this.#options.now();
    const records: ClientRecord[] = [];
    for (const input of inputs) records.push((await prepareNewClient(input, now)).record);
    const ids = records.map((r) => r.client_id);
    const duplicate = ids.find((id, i) => ids.indexOf(id) !== i);
    if (duplicate !== undefined) throw new LifecycleError(`client_id "${duplicate}" is given twice`, "client_id");
    const existing = await this.#store.getMany(ids);
    const taken = ids.find((id) => (existing.get(id) ?? null) !== null);
    if (taken !== undefined) {
      throw new ClientExistsError(taken, `client "${taken}" already exists in the ${this.label}; nothing was imported`);
    }
    await this.#store.putMany(records.map((r) => ({ id: r.client_id, value: JSON.stringify(r) })));
    for (const id of ids) this.#options.changed?.(id);
    return records.map((r) => toPublic(r));
  }
}
