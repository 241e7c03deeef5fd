/**
 * Minimal reproduction for bench/gc.ts: the bare floor without reading the request body. Compared with the
 * floor, it shows what the body stream of a POST costs the garbage collector.
 */

import { FLOOR_BODY, FLOOR_HEADERS } from "./token-shape.ts";

export default {
  fetch(): Response {
    return new Response(FLOOR_BODY, { status: 200, headers: FLOOR_HEADERS });
  },
};
