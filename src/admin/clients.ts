/**
 * `/admin/clients`: list (paged), create, show, update (RFC 7396 JSON merge patch), delete, rotate secret (with
 * grace), disable, enable and revoke tokens. Each route: guard (admin token, body) → zod validation → the shared
 * client operations (lifecycle rules) → JSON. Single-client answers carry the record's `ETag`; changes honour
 * `If-Match` (412 when the client changed since).
 */

import { createRoute, type OpenAPIHono, type z } from "@hono/zod-openapi";
import type { ClientFields, NewClientInput } from "../clients/operations.ts";
import { type AdminContext, type AdminEnv, type AdminState, guard, json } from "./http.ts";
import {
  ClientList,
  ClientObject,
  ClientPatchBody,
  CreatedClientObject,
  ErrorObject,
  IdParam,
  IfMatchHeader,
  ListQuery,
  NewClientBody,
  RotateBody,
  RotatedClientObject,
} from "./schemas.ts";

const TAG = "clients";
const WRITE = "Needs a token with scope keymint:clients:write.";
const READ = "Needs a token with scope keymint:clients:read or keymint:clients:write.";

function errors(...statuses: number[]) {
  const descriptions: Record<number, string> = {
    400: "Invalid JSON, a wrong type or an invalid value (the description names the field); nothing changed",
    401: "No token, or an invalid, expired or revoked one, one for another audience, or one whose client is disabled or deleted (WWW-Authenticate: Bearer)",
    403: "The token lacks the scope (WWW-Authenticate: Bearer error=insufficient_scope)",
    404: "No client with this client_id",
    409: "A client with this client_id already exists",
    412: "If-Match does not match the client's ETag: it changed since it was read",
    413: "The body is larger than 64 KiB",
    415: "The body is not application/json",
    429: "Too many failed token checks from this source (Retry-After)",
    503: "The registry (Workers KV) is unavailable (Retry-After)",
  };
  const out: Record<number, { description: string; content: { "application/json": { schema: typeof ErrorObject } } }> =
    {};
  for (const status of [401, 403, 429, 503, ...statuses]) {
    out[status] = {
      description: descriptions[status] ?? "Error",
      content: { "application/json": { schema: ErrorObject } },
    };
  }
  return out;
}

const ETAG = { ETag: { schema: { type: "string" as const }, description: "The client's version, for If-Match" } };

function jsonBody<T extends z.ZodType>(schema: T, required: boolean) {
  return { required, content: { "application/json": { schema } } };
}

const clientAnswer = (description: string) => ({
  description,
  headers: ETAG,
  content: { "application/json": { schema: ClientObject } },
});

function state(c: AdminContext): AdminState {
  return c.get("admin");
}

function ifMatch(c: AdminContext): string | undefined {
  return c.req.header("if-match");
}

const list = createRoute({
  method: "get",
  path: "/admin/clients",
  tags: [TAG],
  summary: "List clients, in client_id order",
  description: `${READ} One KV list page and batched reads per call; follow \`cursor\` for the next page.`,
  middleware: [guard("list", "read", "none")],
  request: { query: ListQuery },
  responses: {
    200: { description: "One page of clients", content: { "application/json": { schema: ClientList } } },
    ...errors(400),
  },
});

const create = createRoute({
  method: "post",
  path: "/admin/clients",
  tags: [TAG],
  summary: "Create a client",
  description: `${WRITE} A secret client's answer has its client_secret: the only time it is shown. With jwks, jwks_uri or federation the client has no secret (private_key_jwt).`,
  middleware: [guard("create", "write", "required")],
  request: { body: jsonBody(NewClientBody, true) },
  responses: {
    201: {
      description: "Created",
      headers: ETAG,
      content: { "application/json": { schema: CreatedClientObject } },
    },
    ...errors(400, 409, 413, 415),
  },
});

const show = createRoute({
  method: "get",
  path: "/admin/clients/{id}",
  tags: [TAG],
  summary: "Show a client",
  description: READ,
  middleware: [guard("show", "read", "none")],
  request: { params: IdParam },
  responses: { 200: clientAnswer("The client object"), ...errors(404) },
});

const update = createRoute({
  method: "patch",
  path: "/admin/clients/{id}",
  tags: [TAG],
  summary: "Change a client (RFC 7396 JSON merge patch)",
  description: `${WRITE} Fields left out stay; null resets a field to its default. Setting jwks, jwks_uri or federation replaces the client's other key source (a secret client becomes private_key_jwt and loses its secrets).`,
  middleware: [guard("update", "write", "required")],
  request: {
    params: IdParam,
    headers: IfMatchHeader,
    body: {
      required: true,
      content: {
        "application/merge-patch+json": { schema: ClientPatchBody },
        "application/json": { schema: ClientPatchBody },
      },
    },
  },
  responses: { 200: clientAnswer("The updated client object"), ...errors(400, 404, 412, 413, 415) },
});

const remove = createRoute({
  method: "delete",
  path: "/admin/clients/{id}",
  tags: [TAG],
  summary: "Delete a client",
  description: `${WRITE} Its credentials and tokens stop working, as after \`clients delete\`.`,
  middleware: [guard("delete", "write", "none")],
  request: { params: IdParam, headers: IfMatchHeader },
  responses: { 204: { description: "Deleted" }, ...errors(404, 412) },
});

const rotate = createRoute({
  method: "post",
  path: "/admin/clients/{id}/secret",
  tags: [TAG],
  summary: "Rotate the client's secret",
  description: `${WRITE} With grace_seconds the current secret keeps working that long next to the new one.`,
  middleware: [guard("rotate-secret", "write", "optional")],
  request: { params: IdParam, headers: IfMatchHeader, body: jsonBody(RotateBody, false) },
  responses: {
    200: {
      description: "The new secret (the only time it is shown) and the client object",
      headers: ETAG,
      content: { "application/json": { schema: RotatedClientObject } },
    },
    ...errors(400, 404, 412, 413, 415),
  },
});

function stateRoute(action: "disable" | "enable" | "revoke-tokens", summary: string) {
  return createRoute({
    method: "post",
    path: `/admin/clients/{id}/${action}`,
    tags: [TAG],
    summary,
    description: WRITE,
    middleware: [guard(action, "write", "none")],
    request: { params: IdParam, headers: IfMatchHeader },
    responses: { 200: clientAnswer("The client object"), ...errors(404, 412) },
  });
}

const disable = stateRoute("disable", "Disable a client (its authentication fails like a wrong secret)");
const enable = stateRoute("enable", "Enable a client again");
const revokeTokens = stateRoute("revoke-tokens", "Revoke every token issued to the client until now");

/** Registers the `/admin/clients` routes on the admin app. */
export function clientRoutes(app: OpenAPIHono<AdminEnv>): void {
  app.openapi(list, async (c) => {
    const { cursor, limit } = c.req.valid("query");
    return json(await state(c).ops.list({ cursor: cursor === "" ? undefined : cursor, limit }), 200) as never;
  });

  app.openapi(create, async (c) => {
    const s = state(c);
    const result = await s.ops.create(c.req.valid("json") as NewClientInput);
    s.audit.target_client_id = result.value.client_id;
    return json(result.value, 201, { ETag: result.etag }) as never;
  });

  app.openapi(show, async (c) => {
    const result = await state(c).ops.show(c.req.valid("param").id);
    return json(result.value, 200, { ETag: result.etag }) as never;
  });

  app.openapi(update, async (c) => {
    const patch = c.req.valid("json") as ClientFields;
    const result = await state(c).ops.update(c.req.valid("param").id, patch, ifMatch(c));
    return json(result.value, 200, { ETag: result.etag }) as never;
  });

  app.openapi(remove, async (c) => {
    await state(c).ops.delete(c.req.valid("param").id, ifMatch(c));
    return new Response(null, { status: 204, headers: { "Cache-Control": "no-store" } }) as never;
  });

  app.openapi(rotate, async (c) => {
    const result = await state(c).ops.rotateSecret(c.req.valid("param").id, c.req.valid("json") ?? {}, ifMatch(c));
    return json(result.value, 200, { ETag: result.etag }) as never;
  });

  for (const [route, change] of [
    [disable, (s: AdminState, id: string, m?: string) => s.ops.setEnabled(id, false, m)],
    [enable, (s: AdminState, id: string, m?: string) => s.ops.setEnabled(id, true, m)],
    [revokeTokens, (s: AdminState, id: string, m?: string) => s.ops.revokeTokens(id, m)],
  ] as const) {
    app.openapi(route, async (c) => {
      const result = await change(state(c), c.req.valid("param").id, ifMatch(c));
      return json(result.value, 200, { ETag: result.etag }) as never;
    });
  }
}
