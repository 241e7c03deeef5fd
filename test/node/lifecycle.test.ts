/**
 * The server's reaction to the client lifecycle: CLI commands against the registry a running `wrangler dev`
 * serves, checked over HTTP. The in-isolate cache is off (CLIENT_CACHE_TTL=0) so changes show at once.
 */

import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clients, freePort, type Server, scratchProject, startServer } from "./helpers.ts";

let project: string;
let server: Server;

beforeAll(async () => {
  project = await scratchProject();
  await writeFile(join(project, ".dev.vars"), 'TOKEN_SIGNING_KEY="lifecycle-test-key-0123456789abcdefghijkl"\n');
  const port = await freePort();
  server = await startServer(
    "wrangler",
    ["dev", "--port", String(port), "--ip", "127.0.0.1", "--var", "CLIENT_CACHE_TTL:0"],
    project,
    port,
  );
});

afterAll(async () => {
  await server?.stop();
});

async function cli(args: string[]): Promise<Record<string, unknown>> {
  const result = await clients(project, args);
  expect(result.code, result.stderr).toBe(0);
  return result.stdout.trim().startsWith("{") ? (JSON.parse(result.stdout) as Record<string, unknown>) : {};
}

async function status(id: string, secret: string): Promise<number> {
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("lifecycle changes reach the token endpoint", () => {
  it("disable → 401, enable → 200, delete → 401", async () => {
    const c = (await cli(["create", "--name", "lc"])) as { client_id: string; client_secret: string };
    expect(await status(c.client_id, c.client_secret)).toBe(200);
    await cli(["disable", c.client_id]);
    expect(await status(c.client_id, c.client_secret)).toBe(401);
    await cli(["enable", c.client_id]);
    expect(await status(c.client_id, c.client_secret)).toBe(200);
    await cli(["delete", c.client_id]);
    expect(await status(c.client_id, c.client_secret)).toBe(401);
  });

  it("rotate with grace → both secrets work; after the grace → only the new one", async () => {
    const c = (await cli(["create", "--name", "lc-rotate"])) as { client_id: string; client_secret: string };
    const rotated = (await cli(["rotate-secret", c.client_id, "--grace", "4s"])) as { client_secret: string };
    expect(await status(c.client_id, c.client_secret)).toBe(200);
    expect(await status(c.client_id, rotated.client_secret)).toBe(200);
    await sleep(5000);
    expect(await status(c.client_id, c.client_secret)).toBe(401);
    expect(await status(c.client_id, rotated.client_secret)).toBe(200);
  });

  it("rotate without grace → the old secret is rejected at once", async () => {
    const c = (await cli(["create", "--name", "lc-now"])) as { client_id: string; client_secret: string };
    const rotated = (await cli(["rotate-secret", c.client_id])) as { client_secret: string };
    expect(await status(c.client_id, c.client_secret)).toBe(401);
    expect(await status(c.client_id, rotated.client_secret)).toBe(200);
  });

  it("an expired secret is rejected like a wrong one", async () => {
    const before = Math.floor(Date.now() / 1000);
    const c = (await cli(["create", "--name", "lc-expiring", "--secret-expires-in", "8s"])) as {
      client_id: string;
      client_secret: string;
      client_secret_expires_at: number;
    };
    // The CLI reads its clock when it starts; a slow machine may take seconds to open the local registry.
    expect(c.client_secret_expires_at).toBeGreaterThanOrEqual(before + 8);
    expect(c.client_secret_expires_at).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 8);
    expect(await status(c.client_id, c.client_secret)).toBe(200);
    await sleep(Math.max(0, (c.client_secret_expires_at + 1.5) * 1000 - Date.now()));
    expect(await status(c.client_id, c.client_secret)).toBe(401);
  });

  it("an update of TTL and scopes shows in the next token", async () => {
    const c = (await cli(["create", "--name", "lc-update", "--scope", "a b"])) as {
      client_id: string;
      client_secret: string;
    };
    await cli(["update", c.client_id, "--ttl", "120", "--scope", "c"]);
    const res = await fetch(`${server.url}/oauth2/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "client_credentials",
        client_id: c.client_id,
        client_secret: c.client_secret,
      }),
    });
    expect(await res.json()).toMatchObject({ expires_in: 120, scope: "c" });
  });

  it("revoke-tokens makes every earlier token inactive at introspection; /oauth2/revoke kills one", async () => {
    const caller = (await cli(["create", "--name", "rs", "--introspect-only"])) as {
      client_id: string;
      client_secret: string;
    };
    const c = (await cli(["create", "--name", "lc-revoke"])) as { client_id: string; client_secret: string };
    const form = (body: Record<string, string>, id: string, secret: string) =>
      fetch(
        `${server.url}${body.grant_type ? "/oauth2/token" : body.revoke ? "/oauth2/revoke" : "/oauth2/introspect"}`,
        {
          method: "POST",
          headers: {
            "Content-Type": "application/x-www-form-urlencoded",
            Authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`,
          },
          body: new URLSearchParams(Object.fromEntries(Object.entries(body).filter(([k]) => k !== "revoke"))),
        },
      );
    const issue = async () =>
      (
        (await (await form({ grant_type: "client_credentials" }, c.client_id, c.client_secret)).json()) as {
          access_token: string;
        }
      ).access_token;
    const active = async (token: string) =>
      ((await (await form({ token }, caller.client_id, caller.client_secret)).json()) as { active: boolean }).active;

    const one = await issue();
    const two = await issue();
    expect(await active(one)).toBe(true);
    expect((await form({ token: one, revoke: "1" }, c.client_id, c.client_secret)).status).toBe(200);
    expect(await active(one)).toBe(false);
    expect(await active(two)).toBe(true);
    await cli(["revoke-tokens", c.client_id]);
    expect(await active(two)).toBe(false);
    await sleep(1100);
    expect(await active(await issue())).toBe(true);
  });
});
