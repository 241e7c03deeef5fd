/**
 * `/admin/clients`: list (paged), create, show, update (RFC 7396 JSON merge patch), delete, rotate secret (with
 * grace), disable, enable and revoke tokens. Each route: admin token → zod validation of the body → the shared client
 * operations (lifecycle rules) → JSON. Single-client answers carry the record's `ETag`; changes honour
 * `If-Match` (412 when the client changed since).
 */

import type { ClientFields, NewClientInput, Versioned } from "../clients/operations.ts";
import type { PublicClient } from "../clients/record.ts";
import type { AdminState } from "./http.ts";
import { json } from "./http.ts";
import { type AdminRoute, type Answer, defineRoute } from "./route.ts";
import {
  ClientList,
  ClientObject,
  ClientPatchBody,
  CreatedClientObject,
  ErrorObject,
  ListQuery,
  NewClientBody,
  RotateBody,
  RotatedClientObject,
} from "./schemas.ts";

const WRITE = "Needs a token with scope keymint:clients:write.";
const READ = "Needs a token with scope keymint:clients:read or keymint:clients:write.";

const ERRORS: Readonly<Record<number, string>> = {
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

/** The error answers of a call: those of every call (401, 403, 429, 503) and `statuses`. */
function errors(...statuses: number[]): Record<number, Answer> {
  const out: Record<number, Answer> = {};
  for (const status of [401, 403, 429, 503, ...statuses]) {
    out[status] = { description: ERRORS[status] ?? "Error", schema: ErrorObject };
  }
  return out;
}

const clientAnswer = (description: string): Answer => ({ description, schema: ClientObject, etag: true });

function state(c: { get(key: "admin"): AdminState }): AdminState {
  return c.get("admin");
}

const list = defineRoute({
  method: "get",
  path: "/admin/clients",
  tag: "clients",
  summary: "List clients, in client_id order",
  description: `${READ} One KV list page and batched reads per call; follow \`cursor\` for the next page.`,
  action: "list",
  need: "read",
  query: ListQuery,
  answers: { 200: { description: "One page of clients", schema: ClientList }, ...errors(400) },
  async handle(c, { query }) {
    const { cursor, limit } = query;
    return json(await state(c).ops.list({ cursor: cursor === "" ? undefined : cursor, limit }), 200);
  },
});

const create = defineRoute({
  method: "post",
  path: "/admin/clients",
  tag: "clients",
  summary: "Create a client",
  description: `${WRITE} A secret client's answer has its client_secret: the only time it is shown. With jwks, jwks_uri or federation the client has no secret (private_key_jwt).`,
  action: "create",
  need: "write",
  body: { schema: NewClientBody, required: true },
  answers: {
    201: { description: "Created", schema: CreatedClientObject, etag: true },
    ...errors(400, 409, 413, 415),
  },
  async handle(c, { body }) {
    const s = state(c);
    const result = await s.ops.create(body as NewClientInput);
    s.audit.target_client_id = result.value.client_id;
    return json(result.value, 201, { ETag: result.etag });
  },
});

const show = defineRoute({
  method: "get",
  path: "/admin/clients/{id}",
  tag: "clients",
  summary: "Show a client",
  description: READ,
  action: "show",
  need: "read",
  answers: { 200: clientAnswer("The client object"), ...errors(404) },
  async handle(c, { id }) {
    const result = await state(c).ops.show(id);
    return json(result.value, 200, { ETag: result.etag });
  },
});

const update = defineRoute({
  method: "patch",
  path: "/admin/clients/{id}",
  tag: "clients",
  summary: "Change a client (RFC 7396 JSON merge patch)",
  description: `${WRITE} Fields left out stay; null resets a field to its default. Setting jwks, jwks_uri or federation replaces the client's other key source (a secret client becomes private_key_jwt and loses its secrets).`,
  action: "update",
  need: "write",
  ifMatch: true,
  body: { schema: ClientPatchBody, required: true, media: ["application/merge-patch+json", "application/json"] },
  answers: { 200: clientAnswer("The updated client object"), ...errors(400, 404, 412, 413, 415) },
  async handle(c, { id, body, ifMatch }) {
    const result = await state(c).ops.update(id, body as ClientFields, ifMatch);
    return json(result.value, 200, { ETag: result.etag });
  },
});

const remove = defineRoute({
  method: "delete",
  path: "/admin/clients/{id}",
  tag: "clients",
  summary: "Delete a client",
  description: `${WRITE} Its credentials and tokens stop working, as after \`clients delete\`.`,
  action: "delete",
  need: "write",
  ifMatch: true,
  answers: { 204: { description: "Deleted" }, ...errors(404, 412) },
  async handle(c, { id, ifMatch }) {
    await state(c).ops.delete(id, ifMatch);
    return new Response(null, { status: 204, headers: { "Cache-Control": "no-store" } });
  },
});

const rotate = defineRoute({
  method: "post",
  path: "/admin/clients/{id}/secret",
  tag: "clients",
  summary: "Rotate the client's secret",
  description: `${WRITE} With grace_seconds the current secret keeps working that long next to the new one.`,
  action: "rotate-secret",
  need: "write",
  ifMatch: true,
  body: { schema: RotateBody, required: false },
  answers: {
    200: {
      description: "The new secret (the only time it is shown) and the client object",
      schema: RotatedClientObject,
      etag: true,
    },
    ...errors(400, 404, 412, 413, 415),
  },
  async handle(c, { id, body, ifMatch }) {
    const result = await state(c).ops.rotateSecret(id, body, ifMatch);
    return json(result.value, 200, { ETag: result.etag });
  },
});

type StateAction = "disable" | "enable" | "revoke-tokens";

const CHANGES: Readonly<
  Record<StateAction, (s: AdminState, id: string, ifMatch?: string) => Promise<Versioned<PublicClient>>>
> = {
  disable: (s, id, m) => s.ops.setEnabled(id, false, m),
  enable: (s, id, m) => s.ops.setEnabled(id, true, m),
  "revoke-tokens": (s, id, m) => s.ops.revokeTokens(id, m),
};

function stateRoute(action: StateAction, summary: string): AdminRoute {
  return defineRoute({
    method: "post",
    path: `/admin/clients/{id}/${action}`,
    tag: "clients",
    summary,
    description: WRITE,
    action,
    need: "write",
    ifMatch: true,
    answers: { 200: clientAnswer("The client object"), ...errors(404, 412) },
    async handle(c, { id, ifMatch }) {
      const result = await CHANGES[action](state(c), id, ifMatch);
      return json(result.value, 200, { ETag: result.etag });
    },
  });
}

/** The `/admin/clients` routes. */
export const clientRoutes: readonly AdminRoute[] = [
  list,
  create,
  show,
  update,
  remove,
  rotate,
  stateRoute("disable", "Disable a client (its authentication fails like a wrong secret)"),
  stateRoute("enable", "Enable a client again"),
  stateRoute("revoke-tokens", "Revoke every token issued to the client until now"),
];
