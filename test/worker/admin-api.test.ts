/** The admin API (/admin/clients) through the worker's fetch: admin tokens (RFC 6750), every call, validation. */

import { describe, expect, it } from "vitest";
import { ADMIN, adminToken, call } from "./admin-helpers.ts";
import { requestToken } from "./helpers.ts";

describe("smoke", () => {
  it("creates and reads a client", async () => {
    const token = await adminToken();
    const created = await call(ADMIN, { method: "POST", token, body: { name: "svc", scopes: ["read"] } });
    expect(created.status, created.text).toBe(201);
    const id = created.json.client_id as string;
    const shown = await call(`${ADMIN}/${id}`, { token });
    expect(shown.status, shown.text).toBe(200);
    const res = await requestToken({ clientId: id, secret: created.json.client_secret as string });
    expect(res.status).toBe(200);
  });
});
