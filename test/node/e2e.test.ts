/**
 * End to end: `npm start` in a scratch copy of the project (fresh .dev.vars, empty registry), the printed
 * curl, `clients create` through the CLI, and the WSO2-style curl commands from the README, over real HTTP.
 */

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  clients,
  curl,
  freePort,
  jsonLines,
  type Server,
  scratchProject,
  startServer,
  waitForOutput,
} from "./helpers.ts";

let project: string;
let server: Server;

beforeAll(async () => {
  project = await scratchProject();
  const port = await freePort();
  server = await startServer("npm", ["start", "--", "--port", String(port), "--ip", "127.0.0.1"], project, port);
});

afterAll(async () => {
  await server?.stop();
});

function parseToken(body: string): Record<string, unknown> {
  const parsed = JSON.parse(body) as Record<string, unknown>;
  expect(parsed.token_type).toBe("Bearer");
  expect(typeof parsed.access_token).toBe("string");
  return parsed;
}

describe("npm start", () => {
  it("creates .dev.vars with a random signing key", async () => {
    const vars = await readFile(join(project, ".dev.vars"), "utf8");
    expect(vars).toMatch(/^TOKEN_SIGNING_KEY="[A-Za-z0-9_-]{43}"$/m);
  });

  it("prints a curl for a demo client that really returns a token", async () => {
    const line = server
      .output()
      .split("\n")
      .find((l) => l.trim().startsWith("curl -u "));
    expect(line).toBeDefined();
    const args = (line as string).trim().split(/\s+/).slice(1);
    const res = await curl(args);
    expect(res.code).toBe(0);
    expect(parseToken(res.body).scope).toBe("read write");
  });
});

describe("npm start's output (CONTRACT: Running, logs and the source address)", () => {
  it("shows wrangler dev's own Ready line and one JSON audit line per token request naming the client_id", async () => {
    expect(server.output()).toMatch(/Ready on http:\/\/127\.0\.0\.1:\d+/);
    const created = await clients(project, ["create", "--name", "e2e-audit"]);
    expect(created.code, created.stderr).toBe(0);
    const { client_id: id, client_secret: secret } = JSON.parse(created.stdout) as Record<string, string>;
    const res = await curl([
      "-u",
      `${id}:${secret}`,
      "-d",
      "grant_type=client_credentials",
      `${server.url}/oauth2/token`,
    ]);
    const { access_token: token } = parseToken(res.body);
    const audit = await waitForOutput(server, (output) =>
      jsonLines(output).find((line) => line.event === "token" && line.client_id === id),
    );
    expect(audit).toMatchObject({
      level: "info",
      outcome: "issued",
      auth_method: "client_secret_basic",
      ip: "127.0.0.1",
    });
    expect(server.output()).not.toContain(secret);
    expect(server.output()).not.toContain(token as string);
  });
});

describe("clients create + the README's curl commands", () => {
  it("issues tokens to a client created by the CLI, with both WSO2-style curl invocations", async () => {
    const created = await clients(project, ["create", "--name", "e2e", "--scope", "read write"]);
    expect(created.code, created.stderr).toBe(0);
    const { client_id: id, client_secret: secret } = JSON.parse(created.stdout) as Record<string, string>;
    const basic = Buffer.from(`${id}:${secret}`).toString("base64");
    const verbose = await curl([
      "-v",
      "-X",
      "POST",
      "-H",
      `Authorization: Basic ${basic}`,
      "-k",
      "-d",
      "grant_type=client_credentials",
      "-H",
      "Content-Type:application/x-www-form-urlencoded",
      `${server.url}/oauth2/token`,
    ]);
    expect(verbose.code).toBe(0);
    expect(verbose.stderr).toMatch(/< HTTP\/1\.1 200/);
    expect(verbose.stderr).toMatch(/< Cache-Control: no-store/i);
    expect(parseToken(verbose.body).expires_in).toBe(3600);
    const short = await curl([
      "-u",
      `${id}:${secret}`,
      "-k",
      "-d",
      "grant_type=client_credentials",
      "-H",
      "Content-Type:application/x-www-form-urlencoded",
      `${server.url}/oauth2/token`,
    ]);
    expect(parseToken(short.body).scope).toBe("read write");
  });

  it("answers a wrong secret over curl with 401 invalid_client and a Basic challenge", async () => {
    const created = await clients(project, ["create", "--name", "e2e-wrong"]);
    const { client_id: id } = JSON.parse(created.stdout) as Record<string, string>;
    const res = await curl([
      "-i",
      "-u",
      `${id}:not-the-secret`,
      "-d",
      "grant_type=client_credentials",
      `${server.url}/oauth2/token`,
    ]);
    expect(res.body).toMatch(/^HTTP\/1\.1 401/);
    expect(res.body).toMatch(/www-authenticate: Basic realm="keymint"/i);
    expect(res.body).toContain('{"error":"invalid_client","error_description":"Client authentication failed"}');
  });
});

describe("clients commands at once, next to npm start (one local store, several processes)", () => {
  it("all succeed: a write that meets another process's lock on .wrangler/state is retried, not failed", async () => {
    const names = Array.from({ length: 6 }, (_, i) => `parallel-${i}`);
    const created = await Promise.all(names.map((name) => clients(project, ["create", "--name", name])));
    for (const run of created) expect(run.code, run.stderr).toBe(0);
    const ids = created.map((run) => (JSON.parse(run.stdout) as { client_id: string }).client_id);
    const listed = await clients(project, ["list", "--json"]);
    expect(listed.code, listed.stderr).toBe(0);
    const known = new Set((JSON.parse(listed.stdout) as { client_id: string }[]).map((c) => c.client_id));
    for (const id of ids) expect(known.has(id)).toBe(true);
  });
});
