/**
 * Claims end to end, the way docs/claims.md tells users to run them: `npm start -- -c wrangler.toml -c
 * examples/claims-hook/wrangler.toml` in a scratch copy whose wrangler.toml has the CLAIMS_HOOK block uncommented,
 * so keymint and the example hook run as two local Workers in one wrangler dev; clients created by the CLI with
 * `--claim`; tokens fetched with curl.
 */

import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  clients,
  curl,
  freePort,
  jsonLines,
  ROOT,
  type Server,
  scratchProject,
  startServer,
  waitForOutput,
} from "./helpers.ts";

let project: string;
let server: Server;

/** wrangler.toml with its commented CLAIMS_HOOK block turned on, as docs/claims.md says. */
function withClaimsHook(toml: string): string {
  const block = '# [[services]]\n# binding = "CLAIMS_HOOK"\n# service = "keymint-claims-hook"';
  if (!toml.includes(block)) throw new Error("wrangler.toml has no commented CLAIMS_HOOK block");
  return toml.replace(block, '[[services]]\nbinding = "CLAIMS_HOOK"\nservice = "keymint-claims-hook"');
}

beforeAll(async () => {
  project = await scratchProject();
  const hookDir = join(project, "examples", "claims-hook");
  await mkdir(join(hookDir, "src"), { recursive: true });
  for (const file of ["wrangler.toml", "src/index.ts"]) {
    await copyFile(join(ROOT, "examples", "claims-hook", file), join(hookDir, file));
  }
  const toml = join(project, "wrangler.toml");
  await writeFile(toml, withClaimsHook(await readFile(toml, "utf8")));
  const port = await freePort();
  server = await startServer(
    "npm",
    [
      "start",
      "--",
      "-c",
      "wrangler.toml",
      "-c",
      "examples/claims-hook/wrangler.toml",
      "--port",
      String(port),
      "--ip",
      "127.0.0.1",
    ],
    project,
    port,
  );
});

afterAll(async () => {
  await server?.stop();
});

async function create(args: string[]): Promise<{ client_id: string; client_secret: string }> {
  const created = await clients(project, ["create", "--name", "claims-e2e", "--scope", "read write", ...args]);
  expect(created.code, created.stderr).toBe(0);
  return JSON.parse(created.stdout) as { client_id: string; client_secret: string };
}

async function token(client: { client_id: string; client_secret: string }, fields: string[] = []) {
  const res = await curl([
    "-u",
    `${client.client_id}:${client.client_secret}`,
    "-d",
    "grant_type=client_credentials",
    ...fields.flatMap((f) => ["-d", f]),
    "-w",
    "\n%{http_code}",
    `${server.url}/oauth2/token`,
  ]);
  const [body, status] = res.body.split("\n");
  return { status: Number(status), body: JSON.parse(body as string) as Record<string, unknown> };
}

function claimsOf(accessToken: unknown): Record<string, unknown> {
  return JSON.parse(Buffer.from(String(accessToken).split(".")[1] as string, "base64url").toString("utf8"));
}

describe("npm start with the example claims hook as a second local Worker", () => {
  it("issues tokens carrying the client's static claims and the hook's claims", async () => {
    const client = await create(["--claim", "tenant=acme", "--claim", 'roles=["reader"]']);
    const res = await token(client);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(claimsOf(res.body.access_token)).toMatchObject({
      sub: client.client_id,
      tenant: "acme",
      roles: ["reader"],
      env: "local",
      plan: "enterprise",
    });
    const audit = await waitForOutput(server, (output) =>
      jsonLines(output).find((line) => line.event === "token" && line.client_id === client.client_id),
    );
    expect(audit).toMatchObject({ outcome: "issued", claims_hook: "ok" });
  });

  it("passes on the hook's refusal as 400 invalid_scope, and issues the scopes the hook allows", async () => {
    const client = await create(["--claim", "tenant=globex"]);
    const refused = await token(client);
    expect(refused).toEqual({
      status: 400,
      body: {
        error: "invalid_scope",
        error_description: "The write scope needs a paid plan; ask for scope without it",
      },
    });
    const read = await token(client, ["scope=read"]);
    expect(read.status).toBe(200);
    expect(claimsOf(read.body.access_token)).toMatchObject({ tenant: "globex", plan: "free", scope: "read" });
  });

  it("refuses a reserved claim name at the CLI and creates nothing", async () => {
    const before = await clients(project, ["list", "--json"]);
    const refused = await clients(project, ["create", "--name", "bad", "--claim", "aud=https://evil.example"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: claims: "aud" is reserved/);
    expect((await clients(project, ["list", "--json"])).stdout).toBe(before.stdout);
  });
});
