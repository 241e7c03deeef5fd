/**
 * Dynamic client registration: RFC 7591 at `POST /oauth2/register` (an admin token with `keymint:clients:write`
 * is the §3 initial access token) and RFC 7592 read/update/delete at the `registration_client_uri`, opened by the
 * client's own registration access token (stored hashed; a token opens only its own client). Metadata maps onto
 * the same client operations and lifecycle rules as the admin API.
 */

import { LifecycleError } from "../clients/lifecycle.ts";
import {
  type ClientFields,
  ClientNotFoundError,
  MTLS_FIELDS,
  type NewClientInput,
  patchRecord,
} from "../clients/operations.ts";
import {
  type ClientRecord,
  type ClientRegistration,
  isMtlsMethod,
  type PublicClient,
  TLS_SUBJECT_FIELDS,
  toPublic,
} from "../clients/record.ts";
import { generateClientId, generateSecret } from "../clients/secrets.ts";
import { CorruptRecordError } from "../clients/store.ts";
import { verifyClientSecret } from "../clients/verify.ts";
import { recordTokenFailure } from "../http/throttle.ts";
import { invalidRequest, OAuthError } from "../oauth/errors.ts";
import { base64Decode, base64urlEncode, UTF8 } from "../util/base64url.ts";
import { timingSafeEqual } from "../util/ct.ts";
import { invalidToken, presentedToken, tokenRequired } from "./authorize.ts";
import { type AdminContext, type AdminState, json } from "./http.ts";
import { type AdminRoute, type Answer, defineRoute } from "./route.ts";
import { ErrorObject, RegistrationRequest, type RegistrationRequestType, RegistrationResponse } from "./schemas.ts";

type Method = ClientRegistration["token_endpoint_auth_method"];
const METHODS: readonly Method[] = [
  "client_secret_basic",
  "client_secret_post",
  "private_key_jwt",
  "tls_client_auth",
  "self_signed_tls_client_auth",
];
/** RFC 8705 §2.1.2 metadata, plus keymint's `tls_client_certificate_thumbprints`: the client object's names. */
const MTLS_METADATA = MTLS_FIELDS;

/** The path of a client's RFC 7592 configuration endpoint. */
export function registrationPath(clientId: string): string {
  return `/oauth2/register/${encodeURIComponent(clientId)}`;
}

async function tokenHash(token: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", UTF8.encode(token)));
}

function metadataError(description: string): OAuthError {
  return new OAuthError("invalid_client_metadata", description);
}

/** What keymint can honour of RFC 7591 §2 metadata; anything it cannot is 400 `invalid_client_metadata`. */
function checkMetadata(meta: RegistrationRequestType): Method {
  if ((meta.redirect_uris ?? []).length > 0) {
    throw metadataError("redirect_uris: keymint offers only the client_credentials grant, which uses no redirect URIs");
  }
  if ((meta.response_types ?? []).length > 0) {
    throw metadataError("response_types: keymint supports no response type (only the client_credentials grant)");
  }
  const grants = meta.grant_types;
  if (grants !== undefined && (grants.length === 0 || grants.some((g) => g !== "client_credentials"))) {
    throw metadataError('grant_types: keymint offers only ["client_credentials"]');
  }
  const method = (meta.token_endpoint_auth_method ?? "client_secret_basic") as Method;
  if (!METHODS.includes(method)) {
    throw metadataError(`token_endpoint_auth_method: use one of ${METHODS.join(", ")}`);
  }
  const keys = [meta.jwks, meta.jwks_uri].filter((k) => k !== undefined).length;
  if (isMtlsMethod(method)) {
    // RFC 8705 §2.2.2: a self-signed client's certificates may come as a jwks with x5c; the lifecycle checks the rest.
    if (meta.jwks_uri !== undefined) throw metadataError(`jwks_uri: a ${method} client registers its certificates`);
    if (meta.jwks !== undefined && method !== "self_signed_tls_client_auth") {
      throw metadataError("jwks: a tls_client_auth client registers a subject (tls_client_auth_subject_dn or a SAN)");
    }
    return method;
  }
  const stray = MTLS_METADATA.find((f) => meta[f] !== undefined);
  if (stray !== undefined) {
    throw metadataError(`${stray}: only for token_endpoint_auth_method tls_client_auth or self_signed_tls_client_auth`);
  }
  if (method === "private_key_jwt" && keys !== 1) {
    throw metadataError("private_key_jwt needs exactly one of jwks and jwks_uri");
  }
  if (method !== "private_key_jwt" && keys > 0) {
    throw metadataError("jwks and jwks_uri are only for token_endpoint_auth_method private_key_jwt");
  }
  return method;
}

function scopesOf(scope: string | undefined): string[] {
  return (scope ?? "").split(" ").filter((s) => s !== "");
}

/** RFC 7591 §3.2.1 / RFC 7592 §3 client information: the registered metadata of a client. */
function clientInformation(client: PublicClient, registration: ClientRegistration | null, issuer: string) {
  const keyClient = client.token_endpoint_auth_method !== "client_secret_basic";
  const method: Method = keyClient
    ? client.token_endpoint_auth_method
    : registration?.token_endpoint_auth_method === "client_secret_post"
      ? "client_secret_post"
      : "client_secret_basic";
  const info: Record<string, unknown> = {
    client_id: client.client_id,
    client_id_issued_at: Math.floor(Date.parse(client.created_at) / 1000),
    registration_client_uri: `${issuer}${registrationPath(client.client_id)}`,
    client_name: client.name,
    grant_types: client.grant_types,
    token_endpoint_auth_method: method,
    dpop_bound_access_tokens: client.dpop_bound_access_tokens,
    tls_client_certificate_bound_access_tokens: client.tls_client_certificate_bound_access_tokens,
  };
  for (const field of TLS_SUBJECT_FIELDS) if (client[field] !== null) info[field] = client[field];
  if (method === "self_signed_tls_client_auth") {
    info.tls_client_certificate_thumbprints = client.tls_client_certificate_thumbprints;
  }
  if (!keyClient) info.client_secret_expires_at = client.secrets[0]?.expires_at ?? 0;
  if (client.scopes.length > 0) info.scope = client.scopes.join(" ");
  if (client.jwks !== null) info.jwks = client.jwks;
  if (client.jwks_uri !== null) info.jwks_uri = client.jwks_uri;
  return info;
}

function state(c: AdminContext): AdminState {
  return c.get("admin");
}

const ANSWERS_401: Readonly<Record<number, Answer>> = {
  401: { description: "No token, or not this client's registration access token", schema: ErrorObject },
  429: { description: "Too many failed token checks from this source", schema: ErrorObject },
  503: { description: "The registry is unavailable", schema: ErrorObject },
};
const VERSION_MISMATCH: Answer = {
  description: "If-Match does not match the registration's ETag: it changed since it was read",
  schema: ErrorObject,
};
const METADATA_ERROR: Answer = {
  description: "invalid_client_metadata: metadata keymint cannot honour",
  schema: ErrorObject,
};

/** Stand-in compared against when the client or its registration does not exist (equal work either way). */
let dummyHash: Uint8Array | undefined;

/**
 * The client a registration access token opens (RFC 7592 §2): exactly the one in the URI, and only with its own
 * token. Unknown, unregistered or corrupt clients and wrong tokens are all the same 401 `invalid_token`, counted
 * by the throttle as guesses.
 */
async function openRegistration(
  c: AdminContext,
): Promise<{ record: ClientRecord; registration: ClientRegistration; etag: string }> {
  const s = state(c);
  const presented = presentedToken(c.req.raw);
  if (presented === null || presented.scheme !== "Bearer") throw tokenRequired("The registration access token");
  const id = c.req.param("id") ?? "";
  let found: { record: ClientRecord; etag: string } | null = null;
  try {
    found = await s.ops.find(id);
  } catch (err) {
    if (!(err instanceof ClientNotFoundError || err instanceof CorruptRecordError)) throw err;
  }
  const registration = found?.record.registration ?? null;
  dummyHash ??= crypto.getRandomValues(new Uint8Array(32));
  const stored = registration === null ? null : base64Decode(registration.token_hash, "base64url");
  const equal = timingSafeEqual(await tokenHash(presented.token), stored ?? dummyHash);
  if (found === null || registration === null || stored === null || !equal) {
    await recordTokenFailure(c.env, c.req.raw, true, Date.now());
    throw invalidToken(
      "The registration access token is invalid for this client",
      found === null ? "registration unknown_client" : "registration wrong_token",
    );
  }
  s.audit.client_id = found.record.client_id;
  return { record: found.record, registration, etag: found.etag };
}

/** A sender-constraint flag in an RFC 7592 replacement: left out, it stays; it may be turned on, not off. */
function tightened(field: string, current: boolean, given: boolean | undefined): boolean {
  if (given === undefined) return current;
  if (current && !given) {
    throw new LifecycleError(
      `${field}: a registration access token cannot remove a sender constraint (an admin can)`,
      field,
    );
  }
  return given;
}

/** RFC 7592 §2.2: the full metadata replaces the current one; the scope may only narrow. */
function replacementPatch(record: ClientRecord, meta: RegistrationRequestType, method: Method): ClientFields {
  const scopes = scopesOf(meta.scope);
  const wider = scopes.find((s) => !record.scopes.includes(s));
  if (wider !== undefined) {
    throw new LifecycleError(
      `scope: a registration access token cannot widen the client's scope (${wider} is not registered; an admin can add it)`,
      "scope",
    );
  }
  // How the client authenticates is not the registration access token's to change (a leaked token must not let
  // its holder move a CA-checked certificate client to a self-signed one, or a secret client to their own keys):
  // only client_secret_basic <-> client_secret_post, which are the same secret. An admin can change it.
  const current = record.token_endpoint_auth_method;
  if ((method === "client_secret_post" ? "client_secret_basic" : method) !== current) {
    throw new LifecycleError(
      `token_endpoint_auth_method: a registration access token cannot change how the client authenticates (${current}, not ${method}); an admin can, or register a new client`,
      "token_endpoint_auth_method",
    );
  }
  // Sender constraints only tighten, like the scope: left out, they stay; once on, only an admin turns them off.
  const patch: ClientFields = {
    name: meta.client_name ?? record.client_id,
    scopes,
    dpop_bound_access_tokens: tightened(
      "dpop_bound_access_tokens",
      record.dpop_bound_access_tokens,
      meta.dpop_bound_access_tokens,
    ),
    tls_client_certificate_bound_access_tokens: tightened(
      "tls_client_certificate_bound_access_tokens",
      record.tls_client_certificate_bound_access_tokens,
      meta.tls_client_certificate_bound_access_tokens,
    ),
  };
  if (isMtlsMethod(method)) {
    // The full metadata replaces the registration: fields left out are reset.
    patch.token_endpoint_auth_method = method;
    for (const field of MTLS_METADATA) patch[field] = (meta[field] as never) ?? null;
    if (meta.jwks !== undefined) patch.jwks = meta.jwks;
  } else if (method === "private_key_jwt") {
    if (meta.jwks !== undefined) patch.jwks = meta.jwks;
    else patch.jwks_uri = meta.jwks_uri ?? null;
  }
  return patch;
}

const register = defineRoute({
  method: "post",
  path: "/oauth2/register",
  tag: "registration",
  summary: "Register a client (RFC 7591)",
  description:
    "Authorization: Bearer with an admin token of scope keymint:clients:write (the RFC 7591 section 3 initial access token). Unknown metadata is ignored.",
  action: "register",
  need: "write",
  body: { schema: RegistrationRequest, required: true },
  answers: {
    201: {
      description: "Registered: credentials, registration access token and metadata",
      schema: RegistrationResponse,
    },
    400: METADATA_ERROR,
    403: { description: "The token lacks keymint:clients:write", schema: ErrorObject },
    ...ANSWERS_401,
  },
  async handle(c, { body: meta }) {
    const s = state(c);
    const method = checkMetadata(meta);
    const clientId = generateClientId();
    const input: NewClientInput = {
      client_id: clientId,
      name: meta.client_name ?? clientId,
      scopes: scopesOf(meta.scope),
      dpop_bound_access_tokens: meta.dpop_bound_access_tokens ?? false,
      tls_client_certificate_bound_access_tokens: meta.tls_client_certificate_bound_access_tokens ?? false,
    };
    if (isMtlsMethod(method)) {
      input.token_endpoint_auth_method = method;
      for (const field of MTLS_METADATA) if (meta[field] !== undefined) input[field] = meta[field] as never;
    }
    if (meta.jwks !== undefined) input.jwks = meta.jwks;
    if (meta.jwks_uri !== undefined) input.jwks_uri = meta.jwks_uri;
    const token = generateSecret();
    const registration: ClientRegistration = {
      token_hash: base64urlEncode(await tokenHash(token)),
      token_endpoint_auth_method: method,
    };
    const created = (await s.ops.create(input, registration)).value;
    s.audit.target_client_id = clientId;
    const info = clientInformation(created, registration, s.ctx.issuer);
    const answer: Record<string, unknown> = { ...info, registration_access_token: token };
    if (created.client_secret !== undefined) {
      answer.client_secret = created.client_secret;
      answer.client_secret_expires_at = created.client_secret_expires_at ?? 0;
    }
    return json(answer, 201);
  },
});

const read = defineRoute({
  method: "get",
  path: "/oauth2/register/{id}",
  tag: "registration",
  summary: "Read a registration (RFC 7592 section 2.1)",
  description: "Authorization: Bearer with the client's registration access token.",
  action: "registration-read",
  need: null,
  answers: {
    200: { description: "The client's metadata (no secret)", schema: RegistrationResponse, etag: true },
    ...ANSWERS_401,
  },
  async handle(c) {
    const { record, registration, etag } = await openRegistration(c);
    return json(clientInformation(toPublic(record), registration, state(c).ctx.issuer), 200, { ETag: etag });
  },
});

const replace = defineRoute({
  method: "put",
  path: "/oauth2/register/{id}",
  tag: "registration",
  summary: "Replace a registration's metadata (RFC 7592 section 2.2)",
  description:
    "The full metadata including client_id; fields left out take their defaults. The scope can only narrow; client_secret, if sent, must be the current one.",
  action: "registration-update",
  need: null,
  ifMatch: true,
  body: { schema: RegistrationRequest, required: true },
  answers: {
    200: { description: "The new metadata", schema: RegistrationResponse, etag: true },
    400: METADATA_ERROR,
    ...ANSWERS_401,
    412: VERSION_MISMATCH,
  },
  async handle(c, { body: meta, ifMatch }) {
    const s = state(c);
    const { record, registration } = await openRegistration(c);
    if (meta.client_id !== record.client_id) {
      throw invalidRequest("client_id must be the client's own client_id (RFC 7592 section 2.2)");
    }
    const method = checkMetadata(meta);
    if (meta.client_secret !== undefined) {
      const prepared = {
        record,
        salt: base64Decode(record.salt, "base64url") ?? new Uint8Array(0),
        hashes: record.secrets.map((x) => base64Decode(x.hash, "base64url") ?? new Uint8Array(0)),
      };
      const verified = await verifyClientSecret(prepared, meta.client_secret, s.ctx.now);
      if (!verified.ok && verified.reason !== "client_disabled") {
        throw metadataError("client_secret: does not match the client's current secret (RFC 7592 section 2.2)");
      }
    }
    const patch = replacementPatch(record, meta, method);
    const now = s.ctx.now;
    const result = await s.ops.change(
      record.client_id,
      ifMatch,
      async (current) => {
        // The client as it is now, read again for the write: a delete and re-create since the token was checked
        // leaves a client this token does not open, and nothing may be written to it.
        if (current.registration?.token_hash !== registration.token_hash) {
          throw invalidToken("The registration access token is invalid for this client", "registration changed");
        }
        const next = await patchRecord(current, patch, now);
        return {
          ...next,
          registration: { ...(current.registration as ClientRegistration), token_endpoint_auth_method: method },
        };
      },
      (next) => clientInformation(toPublic(next), next.registration, s.ctx.issuer),
    );
    return json(result.value, 200, { ETag: result.etag });
  },
});

const unregister = defineRoute({
  method: "delete",
  path: "/oauth2/register/{id}",
  tag: "registration",
  summary: "Delete a registration (RFC 7592 section 2.3)",
  description: "The client's token requests fail from then on, and so does this URI.",
  action: "registration-delete",
  need: null,
  ifMatch: true,
  answers: { 204: { description: "Deleted" }, ...ANSWERS_401, 412: VERSION_MISMATCH },
  async handle(c, { ifMatch }) {
    const { record, etag } = await openRegistration(c);
    // Without If-Match, the version the token was checked against: never a client re-created since.
    await state(c).ops.delete(record.client_id, ifMatch ?? etag);
    return new Response(null, { status: 204, headers: { "Cache-Control": "no-store" } });
  },
});

/** The RFC 7591 / RFC 7592 routes. */
export const registrationRoutes: readonly AdminRoute[] = [register, read, replace, unregister];
