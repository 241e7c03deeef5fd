/**
 * Bare floor Worker: the cheapest Worker that answers like keymint does. No framework; it reads the request body
 * (when there is one) and returns a constant token-shaped JSON response, whatever the method and path, so the
 * same floor serves every scenario (token, introspection, the example API's GET). Its req/s, latency and CPU
 * per request are what the platform (workerd + HTTP + loopback) costs, which no Worker can avoid; the
 * floor (floor.ts) minus this is what Hono and `c.json` cost.
 */

import { FLOOR_BODY, FLOOR_HEADERS } from "./token-shape.ts";

export default {
  async fetch(request: Request): Promise<Response> {
    if (request.body !== null) await request.arrayBuffer();
    return new Response(FLOOR_BODY, { status: 200, headers: FLOOR_HEADERS });
  },
};
