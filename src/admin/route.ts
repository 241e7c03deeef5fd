/**
 * The admin API's routes as data: each one's method and path, who may call it, its request schemas, its
 * documented answers and its handler. src/admin/app.ts serves exactly these routes through `serve`, and
 * src/admin/openapi.ts describes exactly them, from the same schemas that validate the requests.
 */

import type { Handler } from "hono";
import type * as z from "zod/mini";
import { type AdminNeed, authorizeAdmin } from "./authorize.ts";
import {
  type AdminContext,
  type AdminEnv,
  adminState,
  type BodyRule,
  type Family,
  fail,
  readBody,
  schemaError,
  writeAudit,
} from "./http.ts";

export type Method = "get" | "post" | "put" | "patch" | "delete";

/** A documented answer: its description, its JSON body's schema (a named one), and whether it has an ETag. */
export interface Answer {
  description: string;
  schema?: z.ZodMiniType;
  etag?: boolean;
}

/** What a handler gets: the validated body and query, the path's client id, and `If-Match`. */
export interface RouteInput<B, Q> {
  id: string;
  body: B;
  query: Q;
  ifMatch: string | undefined;
}

export interface RouteSpec<B extends z.ZodMiniType, Q extends z.ZodMiniType> {
  method: Method;
  /** OpenAPI path template; `{id}` is the client id. */
  path: string;
  tag: "clients" | "registration";
  summary: string;
  description: string;
  /** The audit line's `action`. */
  action: string;
  /** The admin scope the token needs; `null`: the route checks RFC 7592's registration access token itself. */
  need: AdminNeed | null;
  /** A JSON body, validated by `schema`; `required: false` reads an absent body as `{}`. */
  body?: { schema: B; required: boolean; media?: readonly string[] };
  query?: Q;
  /** The route honours `If-Match` (RFC 9110 §13.1.1). */
  ifMatch?: boolean;
  answers: Readonly<Record<number, Answer>>;
  handle(c: AdminContext, input: RouteInput<z.output<B>, z.output<Q>>): Promise<Response>;
}

export type AdminRoute = RouteSpec<z.ZodMiniType, z.ZodMiniType>;

/** A route; the handler's input is typed by its schemas. */
export function defineRoute<B extends z.ZodMiniType = z.ZodMiniUndefined, Q extends z.ZodMiniType = z.ZodMiniUndefined>(
  spec: RouteSpec<B, Q>,
): AdminRoute {
  return spec as unknown as AdminRoute;
}

export function familyOfRoute(route: AdminRoute): Family {
  return route.tag === "registration" ? "registration" : "admin";
}

function bodyRule(route: AdminRoute): BodyRule {
  if (route.body === undefined) return "none";
  return route.body.required ? "required" : "optional";
}

function valid(schema: z.ZodMiniType, value: unknown, family: Family): unknown {
  const result = schema.safeParse(value, { reportInput: true });
  if (!result.success) throw schemaError(result.error, family);
  return result.data;
}

/**
 * The Hono handler of a route, in the order every call takes: set up the call, authorize the admin token (unless
 * the route authorizes itself), read and validate the body and query, run the handler, write one audit line.
 */
export function serve(route: AdminRoute): Handler<AdminEnv> {
  const family = familyOfRoute(route);
  const rule = bodyRule(route);
  return async function adminCall(c) {
    const started = Date.now();
    let response: Response;
    try {
      const state = adminState(c, route.action, family);
      c.set("admin", state);
      if (route.need !== null) {
        state.caller = await authorizeAdmin(c.req.raw, c.env, state.ctx, route.need);
        state.audit.client_id = state.caller.clientId;
      }
      const body = await readBody(c.req.raw, rule);
      const input: RouteInput<unknown, unknown> = {
        id: c.req.param("id") ?? "",
        body: route.body === undefined ? undefined : valid(route.body.schema, body, family),
        query: route.query === undefined ? undefined : valid(route.query, c.req.query(), family),
        ifMatch: route.ifMatch === true ? c.req.header("if-match") : undefined,
      };
      response = await route.handle(c, input);
    } catch (err) {
      response = fail(c, err);
    }
    writeAudit(c, route.action, response.status, started);
    return response;
  };
}
