/**
 * Minimal reproduction for bench/gc.ts: the Hono floor without reading the request body, so the router's own
 * allocation and promotion are visible apart from the body stream's.
 */

import { Hono } from "hono/tiny";
import { FLOOR_BODY, FLOOR_HEADERS, TOKEN_ROUTE } from "./token-shape.ts";

const app = new Hono();

app.post(TOKEN_ROUTE, () => new Response(FLOOR_BODY, { status: 200, headers: FLOOR_HEADERS }));

export default {
  fetch: app.fetch,
};
