/** Example API protected by keymint tokens: public health check, reports readable with `read`, writable with `write`. */

import { Hono } from "hono";
import { requireToken, type TokenVariables } from "../../../src/resource-server/index.ts";

export interface ApiEnv {
  KEYMINT_ISSUER: string;
  API_AUDIENCE: string;
  TOKEN_SIGNING_KEY: string;
  TOKEN_VERIFICATION_KEYS?: string;
}

const issuer = (env: Record<string, unknown>) => String(env.KEYMINT_ISSUER);
const audience = (env: Record<string, unknown>) => String(env.API_AUDIENCE);

export const api = new Hono<{ Bindings: ApiEnv; Variables: TokenVariables }>();

api.get("/health", (c) => c.json({ ok: true }));

api.get("/reports", requireToken({ issuer, audience, scopes: ["read"] }), (c) => {
  const token = c.get("token");
  return c.json({ reports: ["q1", "q2"], for: token.client_id });
});

api.post("/reports", requireToken({ issuer, audience, scopes: ["write"] }), (c) =>
  c.json({ created: true, by: c.get("token").client_id }, 201),
);

export default api;
