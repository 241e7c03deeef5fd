/**
 * Hono floor Worker: the floor response served through a minimal Hono app (`hono/tiny`, the router keymint
 * uses) with the routes the scenarios call, so the framework's own cost is visible next to the bare floor.
 */

import type { Context } from "hono";
import { Hono } from "hono/tiny";
import { FLOOR_BODY, FLOOR_HEADERS, TOKEN_ROUTE } from "./token-shape.ts";

const app = new Hono();

async function constant(c: Context): Promise<Response> {
  if (c.req.raw.body !== null) await c.req.raw.arrayBuffer();
  return new Response(FLOOR_BODY, { status: 200, headers: FLOOR_HEADERS });
}

app.post(TOKEN_ROUTE, constant);
app.post("/oauth2/introspect", constant);
app.get("/reports", constant);

export default {
  fetch: app.fetch,
};
