/**
 * keymint's own API: `/admin/clients` (admin tokens), RFC 7591/7592 registration at `/oauth2/register`, and
 * `GET /admin/openapi.json` generated from the same zod schemas that validate the requests. Imported lazily by
 * src/app.ts for these paths only, so the token endpoint never pays for it.
 */

import { OpenAPIHono } from "@hono/zod-openapi";
import { requestContext } from "../http/context.ts";
import { errorResponse, JSON_TYPE, methodNotAllowed } from "../http/errors.ts";
import { OAuthError } from "../oauth/errors.ts";
import { clientRoutes } from "./clients.ts";
import { type AdminEnv, fail, validationHook } from "./http.ts";
import { registrationRoutes } from "./registration.ts";

export const OPENAPI_PATH = "/admin/openapi.json";

export const adminApp = new OpenAPIHono<AdminEnv>({ defaultHook: validationHook as never });

clientRoutes(adminApp);
registrationRoutes(adminApp);

/** The OpenAPI 3.1 document, generated once per isolate and issuer. */
let documents: { issuer: string; body: string } | undefined;

adminApp.get(OPENAPI_PATH, (c) => {
  let issuer: string;
  try {
    issuer = requestContext(c.req.raw, c.env).issuer;
  } catch (err) {
    return fail(c as never, err);
  }
  if (documents?.issuer !== issuer) {
    const document = adminApp.getOpenAPI31Document({
      openapi: "3.1.0",
      info: {
        title: "keymint admin API",
        version: "1",
        description:
          "Manage keymint's clients with keymint's own access tokens (scope keymint:clients:read or keymint:clients:write, aud = the issuer), and RFC 7591/7592 dynamic client registration. Errors are RFC 6749 section 5.2 JSON. See docs/admin-api.md.",
      },
      servers: [{ url: issuer }],
    });
    document.components = {
      ...document.components,
      securitySchemes: {
        adminToken: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "A keymint access token" },
      },
    };
    document.security = [{ adminToken: [] }];
    documents = { issuer, body: JSON.stringify(document) };
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
