/**
 * The admin API's and RFC 7591/7592's JSON shapes as zod schemas (`zod/mini`, which bundles only what is used):
 * they validate every request body (types, required and unknown fields) and, through `z.toJSONSchema`, they are
 * the schemas of the OpenAPI document (src/admin/openapi.ts). Values (name length, scope syntax, TTL range, keys…)
 * are src/clients/lifecycle.ts's rules, stated here only as documentation.
 */

import * as z from "zod/mini";
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
import { CLAIM_NAME_MAX, CLAIMS_MAX_BYTES, CLAIMS_MAX_COUNT, claimNameProblem } from "../oauth/claims.ts";

/**
 * Claims as sent. A member named `__proto__` is refused by name here, because zod's record would drop it without
 * a word (assigning `__proto__` sets a prototype): a claim the caller sent is either kept or refused, never lost.
 * Every other rule on claims is the client core's (src/clients/lifecycle.ts).
 */
const ClaimsIn = z.pipe(
  z.transform((value: unknown, ctx) => {
    if (typeof value === "object" && value !== null && Object.hasOwn(value, "__proto__")) {
      ctx.issues.push({ code: "custom", message: claimNameProblem("__proto__") ?? "", input: value });
    }
    return value;
  }),
  z.record(z.string(), z.unknown()),
);

/** Documentation of the schemas: `id` makes one a named component (`#/components/schemas/ID`). */
export const docs = z.registry<{ id?: string; description?: string }>();

/** `schema`, documented. */
function doc<T extends z.ZodMiniType>(schema: T, description: string): T {
  docs.add(schema, { description });
  return schema;
}

/** `schema` as the named component `id`. */
function named<T extends z.ZodMiniType>(id: string, schema: T, description?: string): T {
  docs.add(schema, description === undefined ? { id } : { id, description });
  return schema;
}

const AUTH_METHODS = [
  "client_secret_basic",
  "private_key_jwt",
  "tls_client_auth",
  "self_signed_tls_client_auth",
] as const;
const int = () => z.int();
const nullable = z.nullable;
const optional = z.optional;

const Jwk = doc(z.record(z.string(), z.string()), "A public JWK (RFC 7517)");
const JwksOut = named("Jwks", z.strictObject({ keys: z.array(Jwk) }));
const FederationOut = named(
  "Federation",
  z.strictObject({
    issuer: doc(z.string(), "OpenID Connect issuer URL (https)"),
    subject: doc(z.string(), "The exact `sub` of the outside token"),
    audience: doc(nullable(z.string()), "The `aud` it must carry; null: keymint's issuer"),
  }),
);

/** The client object: what `clients show ID --json` prints. Never a secret, a hash or a salt. */
const clientShape = {
  client_id: z.string(),
  name: z.string(),
  scopes: z.array(z.string()),
  audiences: z.array(z.string()),
  ttl: doc(nullable(int()), "Token lifetime in seconds; null: DEFAULT_TOKEN_TTL"),
  enabled: z.boolean(),
  grant_types: z.array(z.string()),
  can_introspect: z.boolean(),
  quota_per_minute: nullable(int()),
  tokens_revoked_before: doc(nullable(int()), "Unix seconds; tokens issued up to it are revoked"),
  dpop_bound_access_tokens: z.boolean(),
  tls_client_certificate_bound_access_tokens: doc(
    z.boolean(),
    "Tokens are bound to the request's TLS client certificate (RFC 8705 section 3)",
  ),
  token_endpoint_auth_method: z.enum(AUTH_METHODS),
  jwks: nullable(JwksOut),
  jwks_uri: nullable(z.string()),
  federation: nullable(FederationOut),
  tls_client_auth_subject_dn: nullable(z.string()),
  tls_client_auth_san_dns: nullable(z.string()),
  tls_client_auth_san_uri: nullable(z.string()),
  tls_client_auth_san_ip: nullable(z.string()),
  tls_client_auth_san_email: nullable(z.string()),
  tls_client_certificate_thumbprints: doc(z.array(z.string()), "x5t#S256 of each registered certificate"),
  claims: doc(z.record(z.string(), z.unknown()), "Static claims every access token of the client carries"),
  secrets: doc(
    z.array(z.strictObject({ created_at: z.string(), expires_at: nullable(int()) })),
    "When each valid secret was issued and expires (never the secret or its hash)",
  ),
  created_at: z.string(),
  updated_at: z.string(),
  secret_rotated_at: z.string(),
};

export const ClientObject = named("Client", z.strictObject(clientShape));

export const CreatedClientObject = named(
  "CreatedClient",
  z.strictObject({
    ...clientShape,
    client_secret: doc(optional(z.string()), "Only here and in a rotation: store it now"),
    client_secret_expires_at: doc(optional(int()), "Unix seconds; 0: never"),
  }),
);

export const RotatedClientObject = named(
  "RotatedClient",
  z.strictObject({
    ...clientShape,
    client_secret: z.string(),
    client_secret_expires_at: int(),
    previous_secret_expires_at: nullable(int()),
  }),
);

export const ClientList = named(
  "ClientList",
  z.strictObject({
    clients: z.array(
      z.union([ClientObject, doc(z.strictObject({ client_id: z.string(), error: z.string() }), "A corrupt record")]),
    ),
    cursor: doc(optional(z.string()), "There are more: pass it as ?cursor= for the next page"),
  }),
);

export const ErrorObject = named(
  "Error",
  z.strictObject({ error: z.string(), error_description: z.string() }),
  "RFC 6749 section 5.2 error",
);

const JwksIn = doc(
  z.looseObject({ keys: z.array(z.record(z.string(), z.unknown())) }),
  `A JWK Set of 1 to ${MAX_CLIENT_KEYS} public keys (ES256, EdDSA, RS256, PS256)`,
);
const FederationIn = z.strictObject({
  issuer: optional(z.string()),
  subject: optional(z.string()),
  audience: optional(nullable(z.string())),
});

/** The editable fields; in a PATCH an RFC 7396 merge patch (null resets a field to its default). */
const fields = {
  name: doc(z.string(), `1 to ${NAME_MAX} printable characters`),
  scopes: doc(nullable(z.array(z.string())), "Allowed scopes (RFC 6749 section 3.3 tokens)"),
  audiences: doc(
    nullable(z.array(z.string())),
    `Allowed audiences, up to ${AUDIENCE_MAX} characters each; the first is the default aud`,
  ),
  ttl: doc(nullable(int()), `Seconds, ${TTL_MIN} to ${TTL_MAX}; null: DEFAULT_TOKEN_TTL`),
  can_introspect: nullable(z.boolean()),
  grant_types: doc(
    nullable(z.array(z.string())),
    '["client_credentials"] (default), or [] for an introspection-only client',
  ),
  quota_per_minute: doc(nullable(int()), `${QUOTA_MIN} to ${QUOTA_MAX}; null: unlimited`),
  dpop_bound_access_tokens: nullable(z.boolean()),
  tls_client_certificate_bound_access_tokens: doc(
    nullable(z.boolean()),
    "Bind tokens to the request's TLS client certificate (RFC 8705 section 3.4)",
  ),
  enabled: nullable(z.boolean()),
  claims: doc(
    nullable(ClaimsIn),
    `Static claims (docs/claims.md): at most ${CLAIMS_MAX_COUNT}, names up to ${CLAIM_NAME_MAX} characters, ${CLAIMS_MAX_BYTES} bytes of JSON; registered and protocol names are refused. In a PATCH an RFC 7396 merge patch of the current claims`,
  ),
  jwks: doc(nullable(JwksIn), "private_key_jwt keys; for self_signed_tls_client_auth, certificates as keys with x5c"),
  jwks_uri: doc(nullable(z.string()), "https (or loopback http) URL of the client's JWK Set"),
  federation: nullable(FederationIn),
  tls_client_auth_subject_dn: doc(nullable(z.string()), "tls_client_auth: the expected subject DN (RFC 4514)"),
  tls_client_auth_san_dns: doc(nullable(z.string()), "tls_client_auth: an expected dNSName SAN"),
  tls_client_auth_san_uri: doc(nullable(z.string()), "tls_client_auth: an expected URI SAN"),
  tls_client_auth_san_ip: doc(nullable(z.string()), "tls_client_auth: an expected IP address SAN"),
  tls_client_auth_san_email: doc(nullable(z.string()), "tls_client_auth: an expected rfc822Name SAN"),
  tls_client_certificate_thumbprints: doc(
    nullable(z.array(z.string())),
    "self_signed_tls_client_auth: x5t#S256 of each certificate (or give jwks with x5c)",
  ),
  token_endpoint_auth_method: doc(
    nullable(z.enum(AUTH_METHODS)),
    "Follows the credentials; tls_client_auth and self_signed_tls_client_auth choose mutual TLS (RFC 8705)",
  ),
};

export const NewClientBody = named(
  "NewClient",
  z.required(
    z.partial(
      z.strictObject({
        ...fields,
        client_id: doc(z.string(), `1 to ${CLIENT_ID_MAX} printable ASCII characters; default: generated`),
        client_secret: doc(z.string(), "Import an existing secret (32+ characters); default: generated"),
        client_secret_expires_at: doc(nullable(int()), "Unix seconds; 0 or null: never"),
      }),
    ),
    { name: true },
  ),
);

export const ClientPatchBody = named(
  "ClientPatch",
  z.partial(z.strictObject(fields)),
  "RFC 7396 JSON merge patch of the client's editable fields",
);

export const RotateBody = named(
  "SecretRotation",
  z.partial(
    z.strictObject({
      grace_seconds: doc(int(), "Seconds the current secret stays valid (default 0)"),
      client_secret: z.string(),
      client_secret_expires_at: nullable(int()),
    }),
  ),
);

export const ListQuery = z.strictObject({
  cursor: optional(z.string()),
  limit: doc(
    optional(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(LIST_MAX_LIMIT))),
    `Clients per page (default ${LIST_DEFAULT_LIMIT})`,
  ),
});

/** RFC 7591 §2 client metadata as keymint understands it; other members are ignored (§2). */
export const RegistrationRequest = named(
  "ClientMetadata",
  z.looseObject({
    client_id: doc(optional(z.string()), "RFC 7592 PUT only: the client's own id"),
    client_secret: doc(optional(z.string()), "RFC 7592 PUT only: must be the current secret"),
    client_name: optional(z.string()),
    scope: doc(optional(z.string()), "Space-separated scopes"),
    grant_types: doc(optional(z.array(z.string())), 'Absent or ["client_credentials"]'),
    response_types: doc(optional(z.array(z.string())), "Absent or empty"),
    redirect_uris: doc(optional(z.array(z.string())), "Not supported: absent or empty"),
    token_endpoint_auth_method: doc(
      optional(z.string()),
      "client_secret_basic (default), client_secret_post, private_key_jwt, tls_client_auth or self_signed_tls_client_auth",
    ),
    jwks: doc(optional(JwksIn), "private_key_jwt keys, or a self_signed_tls_client_auth client's certificates (x5c)"),
    jwks_uri: optional(z.string()),
    dpop_bound_access_tokens: optional(z.boolean()),
    tls_client_certificate_bound_access_tokens: optional(z.boolean()),
    tls_client_auth_subject_dn: doc(optional(z.string()), "RFC 8705 section 2.1.2 (tls_client_auth)"),
    tls_client_auth_san_dns: optional(z.string()),
    tls_client_auth_san_uri: optional(z.string()),
    tls_client_auth_san_ip: optional(z.string()),
    tls_client_auth_san_email: optional(z.string()),
    tls_client_certificate_thumbprints: doc(
      optional(z.array(z.string())),
      "self_signed_tls_client_auth: x5t#S256 of each certificate (or jwks with x5c)",
    ),
  }),
);

export const RegistrationResponse = named(
  "ClientInformation",
  z.strictObject({
    client_id: z.string(),
    client_secret: optional(z.string()),
    client_id_issued_at: int(),
    client_secret_expires_at: optional(int()),
    registration_access_token: doc(optional(z.string()), "Only in the registration answer"),
    registration_client_uri: z.string(),
    client_name: z.string(),
    scope: optional(z.string()),
    grant_types: z.array(z.string()),
    token_endpoint_auth_method: z.string(),
    jwks: optional(JwksOut),
    jwks_uri: optional(z.string()),
    dpop_bound_access_tokens: z.boolean(),
    tls_client_certificate_bound_access_tokens: z.boolean(),
    tls_client_auth_subject_dn: optional(z.string()),
    tls_client_auth_san_dns: optional(z.string()),
    tls_client_auth_san_uri: optional(z.string()),
    tls_client_auth_san_ip: optional(z.string()),
    tls_client_auth_san_email: optional(z.string()),
    tls_client_certificate_thumbprints: optional(z.array(z.string())),
  }),
);

export type NewClientBodyType = z.infer<typeof NewClientBody>;
export type ClientPatchBodyType = z.infer<typeof ClientPatchBody>;
export type RotateBodyType = z.infer<typeof RotateBody>;
export type ListQueryType = z.infer<typeof ListQuery>;
export type RegistrationRequestType = z.infer<typeof RegistrationRequest>;
export type RegistrationResponseType = z.infer<typeof RegistrationResponse>;
