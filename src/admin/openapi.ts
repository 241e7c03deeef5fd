/**
 * The OpenAPI 3.1 document of the admin API and RFC 7591/7592, assembled from the route table (src/admin/route.ts)
 * and from the zod schemas that validate the requests, converted by zod's own `z.toJSONSchema` (JSON Schema
 * 2020-12, the dialect of OpenAPI 3.1). Nothing in it is written by hand apart from the prose.
 */

import * as z from "zod/mini";
import { type AdminRoute, familyOfRoute } from "./route.ts";
import { docs } from "./schemas.ts";

type JsonSchema = Record<string, unknown>;

const COMPONENT = "#/components/schemas/";
const JSON_MEDIA = ["application/json"] as const;

/** Leaves out the ±2^53 bounds zod gives every integer: true of any JSON integer keymint reads, noise to a reader. */
function quietIntegers(ctx: { jsonSchema: JsonSchema }): void {
  const s = ctx.jsonSchema;
  if (s.type !== "integer") return;
  if (s.minimum === Number.MIN_SAFE_INTEGER) delete s.minimum;
  if (s.maximum === Number.MAX_SAFE_INTEGER) delete s.maximum;
}

/** A schema as an OpenAPI Schema Object: no `$schema` or `$id` of its own (the document's dialect applies). */
function schemaObject(schema: JsonSchema): JsonSchema {
  const { $schema: _dialect, $id: _id, ...rest } = schema;
  return rest;
}

/** `#/components/schemas/ID` of a named schema; every body and answer of a route must be one. */
function ref(schema: z.ZodMiniType, where: string): JsonSchema {
  const id = docs.get(schema)?.id;
  if (id === undefined) throw new Error(`${where}: its schema has no id in src/admin/schemas.ts`);
  return { $ref: `${COMPONENT}${id}` };
}

function components(): Record<string, JsonSchema> {
  const { schemas } = z.toJSONSchema(docs, {
    metadata: docs,
    target: "draft-2020-12",
    uri: (id) => `${COMPONENT}${id}`,
    override: quietIntegers as never,
  });
  return Object.fromEntries(Object.entries(schemas).map(([id, s]) => [id, schemaObject(s as JsonSchema)]));
}

/** The query parameters of an object schema, each with its own schema and description. */
function queryParameters(query: z.ZodMiniType): JsonSchema[] {
  const shape = (query as unknown as { shape: Record<string, z.ZodMiniType> }).shape;
  return Object.entries(shape).map(([name, field]) => {
    const { description, ...schema } = schemaObject(
      z.toJSONSchema(field, { metadata: docs, io: "input", override: quietIntegers as never }) as JsonSchema,
    );
    const parameter: JsonSchema = { name, in: "query", required: field._zod.optin !== "optional", schema };
    if (description !== undefined) parameter.description = description;
    return parameter;
  });
}

const ID_PARAMETER = {
  name: "id",
  in: "path",
  required: true,
  schema: { type: "string" },
  description: "The client_id",
};
const IF_MATCH_PARAMETER = {
  name: "If-Match",
  in: "header",
  required: false,
  schema: { type: "string" },
  description: "An ETag of the client: refuse (412) if it changed since",
};
const ETAG_HEADER = { ETag: { schema: { type: "string" }, description: "The client's version, for If-Match" } };

function operation(route: AdminRoute): JsonSchema {
  const where = `${route.method.toUpperCase()} ${route.path}`;
  const parameters: JsonSchema[] = [];
  if (route.path.includes("{id}")) parameters.push(ID_PARAMETER);
  if (route.query !== undefined) parameters.push(...queryParameters(route.query));
  if (route.ifMatch === true) parameters.push(IF_MATCH_PARAMETER);
  const op: JsonSchema = {
    tags: [route.tag],
    summary: route.summary,
    description: route.description,
    security: [
      familyOfRoute(route) === "registration" && route.need === null
        ? { registrationAccessToken: [] }
        : { adminToken: [] },
    ],
  };
  if (parameters.length > 0) op.parameters = parameters;
  if (route.body !== undefined) {
    const schema = ref(route.body.schema, where);
    op.requestBody = {
      required: route.body.required,
      content: Object.fromEntries((route.body.media ?? JSON_MEDIA).map((m) => [m, { schema }])),
    };
  }
  const responses: Record<string, JsonSchema> = {};
  for (const [status, answer] of Object.entries(route.answers)) {
    const response: JsonSchema = { description: answer.description };
    if (answer.etag === true) response.headers = ETAG_HEADER;
    if (answer.schema !== undefined) {
      response.content = { "application/json": { schema: ref(answer.schema, `${where} ${status}`) } };
    }
    responses[status] = response;
  }
  op.responses = responses;
  return op;
}

/** The document for `issuer` (its one server). */
export function openApiDocument(routes: readonly AdminRoute[], issuer: string): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of routes) {
    paths[route.path] = { ...paths[route.path], [route.method]: operation(route) };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "keymint admin API",
      version: "1",
      description:
        "Manage keymint's clients with keymint's own access tokens (scope keymint:clients:read or keymint:clients:write, aud = the issuer), and RFC 7591/7592 dynamic client registration. Errors are RFC 6749 section 5.2 JSON. See docs/admin-api.md.",
    },
    servers: [{ url: issuer }],
    tags: [
      { name: "clients", description: "Clients, with an admin token" },
      { name: "registration", description: "RFC 7591 registration and RFC 7592 management" },
    ],
    paths,
    components: {
      schemas: components(),
      securitySchemes: {
        adminToken: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description:
            "A keymint access token with scope keymint:clients:read or keymint:clients:write (DPoP-bound: scheme DPoP with its proof)",
        },
        registrationAccessToken: {
          type: "http",
          scheme: "bearer",
          description: "The registration_access_token the registration answered (RFC 7592 section 3)",
        },
      },
    },
  };
}
