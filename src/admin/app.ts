/**
 * keymint's own API: `/admin/clients` (admin tokens), RFC 7591/7592 registration at `/oauth2/register`, and
 * `GET /admin/openapi.json` assembled from the same route table and zod schemas that validate the requests.
 * Imported lazily by src/app.ts for these paths only, so the token endpoint never pays for it.
 */

import { Hono } from "hono/tiny";
import { requestContext } from "../http/context.ts";
import { errorResponse, JSON_TYPE, methodNotAllowed } from "../http/errors.ts";
import { OAuthError } from "../oauth/errors.ts";
import { clientRoutes } from "./clients.ts";
import { type AdminEnv, fail } from "./http.ts";
import { openApiDocument } from "./openapi.ts";
import { registrationRoutes } from "./registration.ts";
import { type AdminRoute, serve } from "./route.ts";

export const OPENAPI_PATH = "/admin/openapi.json";

/** Every route of the admin API and RFC 7591/7592: what is served and what the OpenAPI document describes. */
export const ADMIN_ROUTES: readonly AdminRoute[] = [...clientRoutes, ...registrationRoutes];

export const adminApp = new Hono<AdminEnv>();

for (const route of ADMIN_ROUTES) {
  adminApp.on(route.method.toUpperCase(), route.path.replace(/\{(\w+)\}/g, ":$1"), serve(route));
}

/** The OpenAPI 3.1 document, assembled once per isolate and issuer. */
let documents: { issuer: string; body: string } | undefined;

adminApp.get(OPENAPI_PATH, (c) => {
  let issuer: string;
  try {
    issuer = requestContext(c.req.raw, c.env).issuer;
  } catch (err) {
    return fail(c as never, err);
  }
  if (documents?.issuer !== issuer) {
    documents = { issuer, body: JSON.stringify(openApiDocument(ADMIN_ROUTES, issuer)) };
  }
  return new Response(c.req.method === "HEAD" ? null : documents.body, {
    status: 200,
    headers: { "Content-Type": JSON_TYPE, "Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*" },
  });
});

/** Methods each admin path accepts, for 405 `Allow`. */
const PATHS: readonly [RegExp, string][] = [
  [/^\/admin\/clients\/?$/, "GET, HEAD, POST"],
  [/^\/admin\/clients\/[^/]+$/, "GET, HEAD, PATCH, DELETE"],
  [/^\/admin\/clients\/[^/]+\/(secret|disable|enable|revoke-tokens)$/, "POST"],
  [/^\/admin\/openapi\.json$/, "GET, HEAD"],
  [/^\/oauth2\/register$/, "POST"],
  [/^\/oauth2\/register\/[^/]+$/, "GET, HEAD, PUT, DELETE"],
];

adminApp.notFound((c) => {
  const allow = PATHS.find(([pattern]) => pattern.test(c.req.path))?.[1];
  if (allow !== undefined) return errorResponse(methodNotAllowed(allow));
  return errorResponse(new OAuthError("invalid_request", "No such endpoint", { status: 404 }));
});

adminApp.onError((err, c) => fail(c, err));
