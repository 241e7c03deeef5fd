/**
 * Hono floor Worker: the floor response served through a minimal Hono app (`hono/tiny`, the router keymint
 * uses), so the framework's own cost is visible next to the bare floor.
 */

import { Hono } from "hono/tiny";
import { FLOOR_BODY, FLOOR_HEADERS, TOKEN_ROUTE } from "./token-shape.ts";

const app = new Hono();

app.post(TOKEN_ROUTE, async (c) => {
  await c.req.raw.arrayBuffer();
  return new Response(FLOOR_BODY, { status: 200, headers: FLOOR_HEADERS });
});

export default {
  fetch: app.fetch,
};
