/** The Hono app: routes, 404/405 and the last-resort error handler. No OAuth logic lives here. */

import type { Context } from "hono";
import { Hono } from "hono/tiny";
import type { KeymintEnv } from "./env.ts";
import { authorizationEndpoint } from "./http/authorize.ts";
import { errorResponse, methodNotAllowed, toOAuthError } from "./http/errors.ts";
import { introspectionEndpoint } from "./http/introspect.ts";
import { jwksEndpoint } from "./http/jwks.ts";
import { metadataEndpoint } from "./http/metadata.ts";
import { revocationEndpoint } from "./http/revoke.ts";
import { tokenEndpoint } from "./http/token.ts";
import { OAuthError } from "./oauth/errors.ts";

export const app = new Hono<{ Bindings: KeymintEnv }>();

/** The request's ExecutionContext (for `waitUntil`); absent when the app is called without one. */
function executionOf(c: Context): ExecutionContext | undefined {
  try {
    return c.executionCtx as ExecutionContext;
  } catch {
    return undefined;
  }
}

// One handler per route: Hono then calls it directly, without composing a middleware chain.
app.post("/oauth2/token", (c) => tokenEndpoint(c.req.raw, c.env, executionOf(c)));
app.post("/oauth2/introspect", (c) => introspectionEndpoint(c.req.raw, c.env, executionOf(c)));
app.post("/oauth2/revoke", (c) => revocationEndpoint(c.req.raw, c.env, executionOf(c)));
app.get("/.well-known/oauth-authorization-server", (c) => metadataEndpoint(c.req.raw, c.env));
app.get("/.well-known/jwks.json", (c) => jwksEndpoint(c.req.raw, c.env));
// Always 400 unsupported_response_type. Other methods get the same answer from notFound: an ALL or POST route
// would cost the token endpoint one more pattern test per request (hono/tiny tries every route of the method).
app.get("/oauth2/authorize", authorizationEndpoint);

/** Methods each known path accepts, for the 405 `Allow` header. */
const ALLOWED: Readonly<Record<string, string>> = {
  "/oauth2/token": "POST",
  "/oauth2/introspect": "POST",
  "/oauth2/revoke": "POST",
  "/.well-known/oauth-authorization-server": "GET, HEAD",
  "/.well-known/jwks.json": "GET, HEAD",
};

app.notFound((c) => {
  if (c.req.path === "/oauth2/authorize") return authorizationEndpoint();
  const allow = ALLOWED[c.req.path];
  if (allow !== undefined) return errorResponse(methodNotAllowed(allow));
  return errorResponse(new OAuthError("invalid_request", "No such endpoint", { status: 404 }));
});
app.onError((err) => errorResponse(toOAuthError(err, "app")));
