/**
 * The admin API's and RFC 7591/7592's JSON shapes as zod schemas: they validate every request body (types,
 * required and unknown fields) and, through @hono/zod-openapi, they are the OpenAPI document. Values (name
 * length, scope syntax, TTL range, keys…) are src/clients/lifecycle.ts's rules, stated here only as documentation.
 */

import { z } from "@hono/zod-openapi";
import { LIST_DEFAULT_LIMIT, LIST_MAX_LIMIT } from "../clients/operations.ts";
import {
  AUDIENCE_MAX,
  CLIENT_ID_MAX,
  MAX_CLIENT_KEYS,
  NAME_MAX,
  QUOTA_MAX,
  QUOTA_MIN,
  TTL_MAX,
  TTL_MIN,
} from "../clients/record.ts";

const AUTH_METHODS = ["client_secret_basic", "private_key_jwt"] as const;

const Jwk = z.record(z.string(), z.string()).openapi({ description: "A public JWK (RFC 7517)" });
const JwksOut = z.strictObject({ keys: z.array(Jwk) }).openapi("Jwks");
const FederationOut = z
  .strictObject({
    issuer: z.string().openapi({ description: "OpenID Connect issuer URL (https)" }),
    subject: z.string().openapi({ description: "The exact `sub` of the outside token" }),
    audience: z.string().nullable().openapi({ description: "The `aud` it must carry; null: keymint's issuer" }),
  })
  .openapi("Federation");

/** The client object: what `clients show ID --json` prints. Never a secret, a hash or a salt. */
const clientShape = {
  client_id: z.string(),
  name: z.string(),
  scopes: z.array(z.string()),
  audiences: z.array(z.string()),
  ttl: z.int().nullable().openapi({ description: "Token lifetime in seconds; null: DEFAULT_TOKEN_TTL" }),
  enabled: z.boolean(),
  grant_types: z.array(z.string()),
  can_introspect: z.boolean(),
  quota_per_minute: z.int().nullable(),
  tokens_revoked_before: z
    .int()
    .nullable()
    .openapi({ description: "Unix seconds; tokens issued up to it are revoked" }),
  dpop_bound_access_tokens: z.boolean(),
  token_endpoint_auth_method: z.enum(AUTH_METHODS),
  jwks: JwksOut.nullable(),
  jwks_uri: z.string().nullable(),
  federation: FederationOut.nullable(),
  secrets: z.array(z.strictObject({ created_at: z.string(), expires_at: z.int().nullable() })).openapi({
    description: "When each valid secret was issued and expires (never the secret or its hash)",
  }),
  created_at: z.string(),
  updated_at: z.string(),
  secret_rotated_at: z.string(),
};

export const ClientObject = z.strictObject(clientShape).openapi("Client");

export const CreatedClientObject = z
  .strictObject({
    ...clientShape,
    client_secret: z.string().optional().openapi({ description: "Only here and in a rotation: store it now" }),
    client_secret_expires_at: z.int().optional().openapi({ description: "Unix seconds; 0: never" }),
  })
  .openapi("CreatedClient");

export const RotatedClientObject = z
  .strictObject({
    ...clientShape,
    client_secret: z.string(),
    client_secret_expires_at: z.int(),
    previous_secret_expires_at: z.int().nullable(),
  })
  .openapi("RotatedClient");

export const ClientList = z
  .strictObject({
    clients: z.array(
      z.union([
        ClientObject,
        z.strictObject({ client_id: z.string(), error: z.string() }).openapi({ description: "A corrupt record" }),
      ]),
    ),
    cursor: z.string().optional().openapi({ description: "There are more: pass it as ?cursor= for the next page" }),
  })
  .openapi("ClientList");

export const ErrorObject = z
  .strictObject({ error: z.string(), error_description: z.string() })
  .openapi("Error", { description: "RFC 6749 section 5.2 error" });

const JwksIn = z
  .looseObject({ keys: z.array(z.record(z.string(), z.unknown())) })
  .openapi({ description: `A JWK Set of 1 to ${MAX_CLIENT_KEYS} public keys (ES256, EdDSA, RS256, PS256)` });
const FederationIn = z.strictObject({
  issuer: z.string().optional(),
  subject: z.string().optional(),
  audience: z.string().nullable().optional(),
});

/** The editable fields; in a PATCH an RFC 7396 merge patch (null resets a field to its default). */
const fields = {
  name: z.string().openapi({ description: `1 to ${NAME_MAX} printable characters` }),
  scopes: z.array(z.string()).nullable().openapi({ description: "Allowed scopes (RFC 6749 section 3.3 tokens)" }),
  audiences: z
    .array(z.string())
    .nullable()
    .openapi({ description: `Allowed audiences, up to ${AUDIENCE_MAX} characters each; the first is the default aud` }),
  ttl: z
    .int()
    .nullable()
    .openapi({ description: `Seconds, ${TTL_MIN} to ${TTL_MAX}; null: DEFAULT_TOKEN_TTL` }),
  can_introspect: z.boolean().nullable(),
  grant_types: z
    .array(z.string())
    .nullable()
    .openapi({ description: '["client_credentials"] (default), or [] for an introspection-only client' }),
  quota_per_minute: z
    .int()
    .nullable()
    .openapi({ description: `${QUOTA_MIN} to ${QUOTA_MAX}; null: unlimited` }),
  dpop_bound_access_tokens: z.boolean().nullable(),
  enabled: z.boolean().nullable(),
  jwks: JwksIn.nullable(),
  jwks_uri: z.string().nullable().openapi({ description: "https (or loopback http) URL of the client's JWK Set" }),
  federation: FederationIn.nullable(),
  token_endpoint_auth_method: z.enum(AUTH_METHODS).nullable(),
};

export const NewClientBody = z
  .strictObject({
    ...fields,
    name: fields.name,
    client_id: z
      .string()
      .openapi({ description: `1 to ${CLIENT_ID_MAX} printable ASCII characters; default: generated` }),
    client_secret: z
      .string()
      .openapi({ description: "Import an existing secret (32+ characters); default: generated" }),
    client_secret_expires_at: z.int().nullable().openapi({ description: "Unix seconds; 0 or null: never" }),
  })
  .partial()
  .required({ name: true })
  .openapi("NewClient");

export const ClientPatchBody = z
  .strictObject(fields)
  .partial()
  .openapi("ClientPatch", { description: "RFC 7396 JSON merge patch of the client's editable fields" });

export const RotateBody = z
  .strictObject({
    grace_seconds: z.int().openapi({ description: "Seconds the current secret stays valid (default 0)" }),
    client_secret: z.string(),
    client_secret_expires_at: z.int().nullable(),
  })
  .partial()
  .openapi("SecretRotation");

export const ListQuery = z.object({
  cursor: z.string().optional(),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(LIST_MAX_LIMIT)
    .optional()
    .openapi({ description: `Clients per page (default ${LIST_DEFAULT_LIMIT})` }),
});

export const IdParam = z.object({
  id: z.string().openapi({ param: { name: "id", in: "path" }, description: "The client_id" }),
});

export const IfMatchHeader = z.object({
  "if-match": z.string().optional().openapi({ description: "An ETag of the client: refuse (412) if it changed since" }),
});

/** RFC 7591 §2 client metadata as keymint understands it; other members are ignored (§2). */
export const RegistrationRequest = z
  .looseObject({
    client_id: z.string().optional().openapi({ description: "RFC 7592 PUT only: the client's own id" }),
    client_secret: z.string().optional().openapi({ description: "RFC 7592 PUT only: must be the current secret" }),
    client_name: z.string().optional(),
    scope: z.string().optional().openapi({ description: "Space-separated scopes" }),
    grant_types: z.array(z.string()).optional().openapi({ description: 'Absent or ["client_credentials"]' }),
    response_types: z.array(z.string()).optional().openapi({ description: "Absent or empty" }),
    redirect_uris: z.array(z.string()).optional().openapi({ description: "Not supported: absent or empty" }),
    token_endpoint_auth_method: z.string().optional().openapi({
      description: "client_secret_basic (default), client_secret_post or private_key_jwt",
    }),
    jwks: JwksIn.optional(),
    jwks_uri: z.string().optional(),
    dpop_bound_access_tokens: z.boolean().optional(),
  })
  .openapi("ClientMetadata");

export const RegistrationResponse = z
  .strictObject({
    client_id: z.string(),
    client_secret: z.string().optional(),
    client_id_issued_at: z.int(),
    client_secret_expires_at: z.int().optional(),
    registration_access_token: z.string().optional().openapi({ description: "Only in the registration answer" }),
    registration_client_uri: z.string(),
    client_name: z.string(),
    scope: z.string().optional(),
    grant_types: z.array(z.string()),
    token_endpoint_auth_method: z.string(),
    jwks: JwksOut.optional(),
    jwks_uri: z.string().optional(),
    dpop_bound_access_tokens: z.boolean(),
  })
  .openapi("ClientInformation");

export type NewClientBodyType = z.infer<typeof NewClientBody>;
export type ClientPatchBodyType = z.infer<typeof ClientPatchBody>;
export type RegistrationRequestType = z.infer<typeof RegistrationRequest>;
export type RegistrationResponseType = z.infer<typeof RegistrationResponse>;
