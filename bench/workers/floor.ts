/**
 * Floor Worker, the same as the outside benchmark's `floor-workerd` (../shared/outside-bench/floor): a Hono app
 * (the full `hono` package) that reads the form body with `c.req.text()` and answers a constant token JSON with
 * `c.json`. No auth, no KV, no crypto: the cheapest token endpoint on this runtime with a router, and what every
 * ratio and "own CPU" figure of `npm run bench` is measured against, so that they agree with the outside bench.
 * The routes are the ones the scenarios call (token, introspection, the example API's GET).
 */

import { type Context, Hono } from "hono";

const app = new Hono();

async function constant(c: Context): Promise<Response> {
  await c.req.text();
  return c.json({ token_type: "Bearer", expires_in: 3600, access_token: "x" });
}

app.post("/oauth2/token", constant);
app.post("/oauth2/introspect", constant);
app.get("/reports", constant);

export default app;
