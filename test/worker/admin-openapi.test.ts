/**
 * GET /admin/openapi.json: an OpenAPI 3.1 document generated from the schemas that validate the requests, checked
 * against what the routes really answer (every documented status a test provokes, validated with
 * @cfworker/json-schema), and against the routes themselves (nothing undocumented, nothing documented that 404s).
 */

import { Validator } from "@cfworker/json-schema";
import { describe, expect, it } from "vitest";
import { ADMIN, adminToken, call, READ, REGISTER } from "./admin-helpers.ts";
import { ORIGIN } from "./helpers.ts";

type Operation = {
  responses: Record<string, { content?: Record<string, { schema: object }> }>;
  requestBody?: { content: Record<string, { schema: object }> };
  parameters?: { name: string; in: string }[];
};
type Document = {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: Record<string, unknown>;
  servers: { url: string }[];
};

async function documentOf(): Promise<Document> {
  const res = await call(`${ORIGIN}/admin/openapi.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  return res.json as unknown as Document;
}

/** Validates an answer against the document's schema for that path, method and status. */
function check(doc: Document, path: string, method: string, res: { status: number; json: unknown }) {
  const operation = doc.paths[path]?.[method];
  expect(operation, `${method} ${path} is documented`).toBeDefined();
  const response = operation?.responses[String(res.status)];
  expect(response, `${method} ${path} documents ${res.status}`).toBeDefined();
  const schema = response?.content?.["application/json"]?.schema;
  if (schema === undefined) {
    expect(res.json).toBeUndefined();
    return;
  }
  const result = new Validator({ ...schema, components: doc.components } as never, "2020-12", false).validate(res.json);
  expect(result.errors, `${method} ${path} ${res.status}: ${JSON.stringify(res.json)}`).toEqual([]);
}

/** Whether a request body fits the schema the document gives for it. */
function bodyFits(doc: Document, path: string, method: string, body: unknown): boolean {
  const schema = doc.paths[path]?.[method]?.requestBody?.content["application/json"]?.schema;
  expect(schema, `${method} ${path} documents its body`).toBeDefined();
  return new Validator({ ...schema, components: doc.components } as never, "2020-12", false).validate(body).valid;
}

describe("GET /admin/openapi.json", () => {
  it("is an OpenAPI 3.1 document of every admin and registration call, with the issuer as server", async () => {
    const doc = await documentOf();
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.servers).toEqual([{ url: ORIGIN }]);
    const operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(operations.sort()).toEqual(
      [
        "GET /admin/clients",
        "POST /admin/clients",
        "GET /admin/clients/{id}",
        "PATCH /admin/clients/{id}",
        "DELETE /admin/clients/{id}",
        "POST /admin/clients/{id}/secret",
        "POST /admin/clients/{id}/disable",
        "POST /admin/clients/{id}/enable",
        "POST /admin/clients/{id}/revoke-tokens",
        "POST /oauth2/register",
        "GET /oauth2/register/{id}",
        "PUT /oauth2/register/{id}",
        "DELETE /oauth2/register/{id}",
      ].sort(),
    );
    // Documented calls exist: none of them is answered 404 No such endpoint or 405.
    for (const operation of operations) {
      const [method, path] = operation.split(" ") as [string, string];
      const res = await call(`${ORIGIN}${path.replace("{id}", "some-id")}`, { method });
      expect([401, 400]).toContain(res.status);
    }
  });

  it("describes what the routes really answer: every provoked status validates against its documented schema", async () => {
    const doc = await documentOf();
    const token = await adminToken();
    const created = await call(ADMIN, { method: "POST", token, body: { name: "doc", scopes: ["read"] } });
    check(doc, "/admin/clients", "post", created);
    const id = created.json.client_id as string;
    const one = "/admin/clients/{id}";
    check(doc, "/admin/clients", "get", await call(ADMIN, { token }));
    check(doc, "/admin/clients", "get", await call(`${ADMIN}?limit=1`, { token }));
    check(doc, "/admin/clients", "get", await call(ADMIN));
    check(doc, "/admin/clients", "get", await call(ADMIN, { token: "x.y.z" }));
    check(doc, "/admin/clients", "post", await call(ADMIN, { method: "POST", token, body: { name: 1 } }));
    check(
      doc,
      "/admin/clients",
      "post",
      await call(ADMIN, { method: "POST", token, body: { name: "d", client_id: id } }),
    );
    check(
      doc,
      "/admin/clients",
      "post",
      await call(ADMIN, { method: "POST", token: await adminToken(READ), body: { name: "d" } }),
    );
    check(doc, one, "get", await call(`${ADMIN}/${id}`, { token }));
    check(doc, one, "get", await call(`${ADMIN}/missing`, { token }));
    check(doc, one, "patch", await call(`${ADMIN}/${id}`, { method: "PATCH", token, body: { name: "d2" } }));
    check(doc, one, "patch", await call(`${ADMIN}/${id}`, { method: "PATCH", token, body: { ttl: 1 } }));
    check(
      doc,
      one,
      "patch",
      await call(`${ADMIN}/${id}`, { method: "PATCH", token, body: { name: "x" }, headers: { "If-Match": '"old"' } }),
    );
    check(
      doc,
      "/admin/clients/{id}/secret",
      "post",
      await call(`${ADMIN}/${id}/secret`, { method: "POST", token, body: { grace_seconds: 60 } }),
    );
    for (const action of ["disable", "enable", "revoke-tokens"]) {
      check(
        doc,
        `/admin/clients/{id}/${action}`,
        "post",
        await call(`${ADMIN}/${id}/${action}`, { method: "POST", token }),
      );
    }
    const key = await call(ADMIN, {
      method: "POST",
      token,
      body: { name: "k", jwks_uri: "https://c.example/jwks.json" },
    });
    check(doc, "/admin/clients", "post", key);
    check(doc, one, "delete", await call(`${ADMIN}/${id}`, { method: "DELETE", token }));
    const reg = await call(REGISTER, { method: "POST", token, body: { client_name: "doc", scope: "read" } });
    check(doc, "/oauth2/register", "post", reg);
    check(
      doc,
      "/oauth2/register",
      "post",
      await call(REGISTER, { method: "POST", token, body: { grant_types: ["implicit"] } }),
    );
    const regPath = "/oauth2/register/{id}";
    const uri = reg.json.registration_client_uri as string;
    const regToken = reg.json.registration_access_token as string;
    check(doc, regPath, "get", await call(uri, { token: regToken }));
    check(doc, regPath, "get", await call(uri, { token: "nope" }));
    check(
      doc,
      regPath,
      "put",
      await call(uri, { method: "PUT", token: regToken, body: { client_id: reg.json.client_id, client_name: "d" } }),
    );
    check(doc, regPath, "delete", await call(uri, { method: "DELETE", token: regToken }));
  });

  it("documents the request bodies the routes take: what they accept fits, what they refuse for its shape does not", async () => {
    const doc = await documentOf();
    const token = await adminToken();
    const cases: [string, string, Record<string, unknown>, boolean][] = [
      ["/admin/clients", "post", { name: "fits", scopes: ["read"], ttl: 600, audiences: null }, true],
      ["/admin/clients", "post", { name: "x", colour: "blue" }, false],
      ["/admin/clients", "post", { scopes: ["read"] }, false],
      ["/admin/clients", "post", { name: "x", ttl: 90.5 }, false],
      ["/oauth2/register", "post", { client_name: "fits", scope: "read", logo_uri: "https://x.example/l.png" }, true],
      ["/oauth2/register", "post", { client_name: 7 }, false],
    ];
    for (const [path, method, body, fits] of cases) {
      const url = path === "/admin/clients" ? ADMIN : `${ORIGIN}${path}`;
      const res = await call(url, { method: method.toUpperCase(), token, body });
      expect(res.status < 300, `${path} ${JSON.stringify(body)}: ${res.text}`).toBe(fits);
      expect(bodyFits(doc, path, method, body), `${path} ${JSON.stringify(body)}`).toBe(fits);
    }
    const list = doc.paths["/admin/clients"]?.get?.parameters?.map((p) => `${p.in} ${p.name}`);
    expect(list).toEqual(["query cursor", "query limit"]);
    const patch = doc.paths["/admin/clients/{id}"]?.patch?.parameters?.map((p) => `${p.in} ${p.name}`);
    expect(patch).toEqual(["path id", "header If-Match"]);
  });
});
