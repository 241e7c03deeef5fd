/**
 * Floor Worker: the cheapest Worker that answers `POST /oauth2/token` like keymint does. No framework; it
 * checks method and path, reads the request body and returns a constant token-shaped JSON response. Its
 * req/s, latency and CPU per request are what the platform (workerd + HTTP + loopback) costs.
 */

import { FLOOR_BODY, FLOOR_HEADERS, TOKEN_ROUTE } from "./token-shape.ts";

export default {
  async fetch(request: Request): Promise<Response> {
    if (request.method !== "POST" || new URL(request.url).pathname !== TOKEN_ROUTE) {
      return new Response("not found", { status: 404 });
    }
    await request.arrayBuffer();
    return new Response(FLOOR_BODY, { status: 200, headers: FLOOR_HEADERS });
  },
};
