/** The Hono app: routes, 404 and the last-resort error handler. No OAuth logic lives here. */

import { Hono } from "hono/tiny";
import type { KeymintEnv } from "./env.ts";
import { errorResponse, methodNotAllowed, toOAuthError } from "./http/errors.ts";
import { introspectionEndpoint } from "./http/introspect.ts";
import { metadataEndpoint } from "./http/metadata.ts";
import { revocationEndpoint } from "./http/revoke.ts";
import { tokenEndpoint } from "./http/token.ts";
import { OAuthError } from "./oauth/errors.ts";

export const app = new Hono<{ Bindings: KeymintEnv }>();

app.post("/oauth2/token", (c) => tokenEndpoint(c.req.raw, c.env));
app.all("/oauth2/token", () => errorResponse(methodNotAllowed("POST")));
app.post("/oauth2/introspect", (c) => introspectionEndpoint(c.req.raw, c.env));
app.all("/oauth2/introspect", () => errorResponse(methodNotAllowed("POST")));
app.post("/oauth2/revoke", (c) => revocationEndpoint(c.req.raw, c.env));
app.all("/oauth2/revoke", () => errorResponse(methodNotAllowed("POST")));
app.get("/.well-known/oauth-authorization-server", (c) => metadataEndpoint(c.req.raw, c.env));
app.all("/.well-known/oauth-authorization-server", () => errorResponse(methodNotAllowed("GET, HEAD")));

app.notFound(() => errorResponse(new OAuthError("invalid_request", "No such endpoint", { status: 404 })));
app.onError((err) => errorResponse(toOAuthError(err, "app")));
