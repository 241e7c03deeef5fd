/**
 * The admin API the way users run it: `npm start` (wrangler dev, .dev.vars, wrangler.toml), the first admin
 * bootstrapped with the CLI, then `clients … --api URL` (same output and exit codes as --local), RFC 7591/7592
 * with curl, and large chunked bodies that must never come back as wrangler's 500 "Network connection lost".
 */

import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  clients,
  curl,
  freePort,
  jsonLines,
  run,
  type Server,
  scratchProject,
  startServer,
  waitForOutput,
} from "./helpers.ts";

let project: string;
let server: Server;
let admin: { client_id: string; client_secret: string };
let apiEnv: Record<string, string>;

beforeAll(async () => {
  project = await scratchProject();
  const port = await freePort();
  server = await startServer(
    "npm",
    ["start", "--", "--port", String(port), "--ip", "127.0.0.1", "--var", "CLIENT_CACHE_TTL:0"],
    project,
    port,
  );
  const bootstrap = await clients(project, ["create", "--name", "admin", "--scope", "keymint:clients:write"]);
  expect(bootstrap.code, bootstrap.stderr).toBe(0);
  admin = JSON.parse(bootstrap.stdout);
  apiEnv = { KEYMINT_CLIENT_ID: admin.client_id, KEYMINT_CLIENT_SECRET: admin.client_secret };
});

afterAll(async () => {
  await server?.stop();
});

function api(args: string[]) {
  return clients(project, [...args, "--api", server.url], { env: apiEnv });
}

async function tokenStatus(id: string, secret: string): Promise<number> {
  const res = await fetch(`${server.url}/oauth2/token`, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      Authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`,
    },
    body: "grant_type=client_credentials",
  });
  await res.arrayBuffer();
  return res.status;
}

describe("clients --api under npm start", () => {
  it("creates, rotates, disables and deletes through the admin API, printing what --local prints", async () => {
    const created = await api(["create", "--name", "svc", "--scope", "read"]);
    expect(created.code, created.stderr).toBe(0);
    const svc = JSON.parse(created.stdout) as { client_id: string; client_secret: string; scopes: string[] };
    expect(svc.scopes).toEqual(["read"]);
    expect(await tokenStatus(svc.client_id, svc.client_secret)).toBe(200);

    const viaApi = await api(["show", svc.client_id, "--json"]);
    const viaLocal = await clients(project, ["show", svc.client_id, "--json", "--local"]);
    expect(viaApi.code).toBe(0);
    expect(viaApi.stdout).toBe(viaLocal.stdout);
    const missingApi = await api(["show", "no-such-client"]);
    const missingLocal = await clients(project, ["show", "no-such-client"]);
    expect([missingApi.code, missingLocal.code]).toEqual([1, 1]);
    expect(missingApi.stderr).toMatch(/^error: no client "no-such-client" in the registry at http/);
    expect(missingApi.stdout).toBe("");

    const rotated = await api(["rotate-secret", svc.client_id, "--grace", "1h"]);
    expect(rotated.code, rotated.stderr).toBe(0);
    const next = JSON.parse(rotated.stdout) as { client_secret: string; previous_secret_expires_at: number };
    expect(next.previous_secret_expires_at).toBeGreaterThan(Date.now() / 1000);
    expect(await tokenStatus(svc.client_id, next.client_secret)).toBe(200);
    expect(await tokenStatus(svc.client_id, svc.client_secret)).toBe(200);

    const disabled = await api(["disable", svc.client_id]);
    expect(disabled).toMatchObject({ code: 0, stdout: `disabled client ${svc.client_id}\n` });
    expect(await tokenStatus(svc.client_id, next.client_secret)).toBe(401);

    const listApi = await api(["list", "--json"]);
    const listLocal = await clients(project, ["list", "--json"]);
    expect(listApi.stdout).toBe(listLocal.stdout);

    const deleted = await api(["delete", svc.client_id]);
    expect(deleted).toMatchObject({ code: 0, stdout: `deleted client ${svc.client_id}\n` });
    const again = await api(["delete", svc.client_id]);
    expect(again.code).toBe(1);

    const lines = jsonLines(await waitForOutput(server, (o) => (o.includes('"action":"delete"') ? o : undefined)));
    const actions = lines.filter((l) => l.event === "admin" && l.outcome === "ok").map((l) => [l.action, l.client_id]);
    for (const action of ["create", "rotate-secret", "disable", "delete"]) {
      expect(actions).toContainEqual([action, admin.client_id]);
    }
  });

  it("edits claims and makes an mTLS client over the API as --local does (merge patch, RFC 8705 names)", async () => {
    const created = await api(["create", "--name", "tenant", "--claim", "tenant=acme", "--claim", "tier=free"]);
    expect(created.code, created.stderr).toBe(0);
    const { client_id: id } = JSON.parse(created.stdout) as { client_id: string };
    const updated = await api(["update", id, "--claim", "tier=", "--claim", 'limits={"rps":5}']);
    expect(updated.code, updated.stderr).toBe(0);
    const shown = JSON.parse((await clients(project, ["show", id, "--json", "--local"])).stdout) as {
      claims: unknown;
    };
    expect(shown.claims).toEqual({ tenant: "acme", limits: { rps: 5 } });
    const reserved = await api(["update", id, "--claim", "sub=someone"]);
    expect(reserved.code).toBe(1);
    expect(reserved.stderr).toContain("claims");

    const mtls = await api(["create", "--name", "payments", "--tls-subject-dn", "CN=payments,O=Acme,C=US"]);
    expect(mtls.code, mtls.stderr).toBe(0);
    const client = JSON.parse(mtls.stdout) as Record<string, unknown>;
    expect(client).toMatchObject({
      token_endpoint_auth_method: "tls_client_auth",
      tls_client_auth_subject_dn: "CN=payments,O=Acme,C=US",
    });
    expect(client.client_secret).toBeUndefined();
    const moved = await api(["update", client.client_id as string, "--tls-san-dns", "payments.acme.example"]);
    expect(moved.code, moved.stderr).toBe(0);
    const after = JSON.parse(
      (await clients(project, ["show", client.client_id as string, "--json", "--local"])).stdout,
    ) as Record<string, unknown>;
    expect(after).toMatchObject({ tls_client_auth_subject_dn: null, tls_client_auth_san_dns: "payments.acme.example" });
  });

  it("works for a private_key_jwt admin with KEYMINT_CLIENT_KEY (the private JWK, or a file holding it)", async () => {
    const generated = await run("npm", ["run", "-s", "keys", "--", "generate", "--alg", "ES256"], { cwd: project });
    const privateJwk = generated.stdout.trim();
    const jwks = await run("npm", ["run", "-s", "keys", "--", "public"], { cwd: project, input: privateJwk });
    const jwksFile = join(project, "admin-jwks.json");
    await writeFile(jwksFile, jwks.stdout);
    const keyAdmin = await clients(project, [
      "create",
      "--name",
      "key admin",
      "--scope",
      "keymint:clients:read",
      "--jwks",
      jwksFile,
    ]);
    expect(keyAdmin.code, keyAdmin.stderr).toBe(0);
    const id = (JSON.parse(keyAdmin.stdout) as { client_id: string }).client_id;
    const keyFile = join(project, "admin-key.json");
    await writeFile(keyFile, privateJwk);
    for (const key of [privateJwk, keyFile]) {
      const shown = await clients(project, ["show", id, "--json", "--api", server.url], {
        env: { KEYMINT_CLIENT_ID: id, KEYMINT_CLIENT_KEY: key },
      });
      expect(shown.code, shown.stderr).toBe(0);
      expect(JSON.parse(shown.stdout).token_endpoint_auth_method).toBe("private_key_jwt");
    }
    const write = await clients(project, ["disable", id, "--api", server.url], {
      env: { KEYMINT_CLIENT_ID: id, KEYMINT_CLIENT_KEY: privateJwk },
    });
    expect(write.code).toBe(1);
    expect(write.stderr).toMatch(/refused the admin token \(403 insufficient_scope/);
  });

  it("refuses bad credentials with a clear message and exit code 1", async () => {
    const wrong = await clients(project, ["list", "--api", server.url], {
      env: { KEYMINT_CLIENT_ID: admin.client_id, KEYMINT_CLIENT_SECRET: "wrong-secret-0123456789abcdefghijklmnop" },
    });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^error: cannot get an admin token from .*401 invalid_client/);
    const none = await clients(project, ["list", "--api", server.url], { env: { KEYMINT_CLIENT_ID: "" } });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("KEYMINT_CLIENT_ID");
  });
});

describe("RFC 7591 / RFC 7592 with curl under npm start", () => {
  it("registers, gets a token, reads, updates and deletes the registration", async () => {
    const tokenAnswer = await curl([
      "-u",
      `${admin.client_id}:${admin.client_secret}`,
      "-d",
      "grant_type=client_credentials",
      `${server.url}/oauth2/token`,
    ]);
    const adminToken = (JSON.parse(tokenAnswer.body) as { access_token: string }).access_token;
    const registered = await curl([
      "-H",
      `Authorization: Bearer ${adminToken}`,
      "-H",
      "Content-Type: application/json",
      "-d",
      JSON.stringify({ client_name: "agent", scope: "read write", grant_types: ["client_credentials"] }),
      `${server.url}/oauth2/register`,
    ]);
    const reg = JSON.parse(registered.body) as {
      client_id: string;
      client_secret: string;
      registration_access_token: string;
      registration_client_uri: string;
    };
    expect(reg.registration_client_uri).toBe(`${server.url}/oauth2/register/${reg.client_id}`);
    const token = await curl([
      "-u",
      `${reg.client_id}:${reg.client_secret}`,
      "-d",
      "grant_type=client_credentials",
      `${server.url}/oauth2/token`,
    ]);
    expect(JSON.parse(token.body)).toMatchObject({ token_type: "Bearer", scope: "read write" });
    const bearer = `Authorization: Bearer ${reg.registration_access_token}`;
    const read = JSON.parse((await curl(["-H", bearer, reg.registration_client_uri])).body);
    expect(read).toMatchObject({ client_id: reg.client_id, client_name: "agent", scope: "read write" });
    const put = await curl([
      "-X",
      "PUT",
      "-H",
      bearer,
      "-H",
      "Content-Type: application/json",
      "-d",
      JSON.stringify({ client_id: reg.client_id, client_name: "agent v2", scope: "read" }),
      reg.registration_client_uri,
    ]);
    expect(JSON.parse(put.body)).toMatchObject({ client_name: "agent v2", scope: "read" });
    const del = await curl([
      "-X",
      "DELETE",
      "-H",
      bearer,
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      reg.registration_client_uri,
    ]);
    expect(del.body).toBe("204");
    const after = await curl([
      "-u",
      `${reg.client_id}:${reg.client_secret}`,
      "-d",
      "grant_type=client_credentials",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      `${server.url}/oauth2/token`,
    ]);
    expect(after.body).toBe("401");
    const gone = await curl(["-H", bearer, "-o", "/dev/null", "-w", "%{http_code}", reg.registration_client_uri]);
    expect(gone.body).toBe("401");
  });
});

describe("large chunked bodies under npm start (wrangler dev's proxy)", () => {
  it("are answered with JSON 413/401/404, never a 500 'Network connection lost'", async () => {
    const file = join(project, "big-body.txt");
    await writeFile(file, `a=${"x".repeat(2_000_000)}`);
    const tokenAnswer = await curl([
      "-u",
      `${admin.client_id}:${admin.client_secret}`,
      "-d",
      "grant_type=client_credentials",
      `${server.url}/oauth2/token`,
    ]);
    const adminToken = (JSON.parse(tokenAnswer.body) as { access_token: string }).access_token;
    const targets: [string, string[], string][] = [
      ["/oauth2/token", ["-H", "Content-Type: application/x-www-form-urlencoded"], "413"],
      ["/oauth2/token/", ["-H", "Content-Type: application/x-www-form-urlencoded"], "413"],
      ["/admin/clients", ["-H", "Content-Type: application/json", "-H", `Authorization: Bearer ${adminToken}`], "413"],
      ["/admin/clients", ["-H", "Content-Type: application/json"], "401"],
      ["/nowhere", [], "404"],
    ];
    for (const [path, headers, status] of targets) {
      for (let i = 0; i < 6; i++) {
        const res = await curl([
          "-H",
          "Transfer-Encoding: chunked",
          ...headers,
          "--data-binary",
          `@${file}`,
          "-o",
          "/dev/null",
          "-w",
          "%{http_code} %{content_type}",
          `${server.url}${path}`,
        ]);
        expect(res.body, `${path} #${i}`).toBe(`${status} application/json; charset=utf-8`);
      }
    }
  });
});
