/**
 * `npm run deploy`: wrangler deploy behind a check that the target Worker has TOKEN_SIGNING_KEY
 * (`wrangler secret list`), run as a real process against a recording stand-in for wrangler; and what the check
 * prevents, a Worker without the key, run by the real wrangler dev: its 500 comes with a log line naming the fix.
 */

import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { freePort, jsonLines, ROOT, run, scratchProject, startServer, waitForOutput } from "./helpers.ts";

async function deploy(args: string[], env: Record<string, string> = {}) {
  const dir = await mkdtemp(join(tmpdir(), "keymint-deploy-"));
  const log = join(dir, "wrangler-calls.log");
  const result = await run("npm", ["run", "-s", "deploy", "--", ...args], {
    env: {
      KEYMINT_WRANGLER: join(ROOT, "test/node/fixtures/fake-wrangler.mjs"),
      FAKE_WRANGLER_LOG: log,
      FAKE_WRANGLER_STATE: join(dir, "state.json"),
      ...env,
    },
  });
  const calls = await readFile(log, "utf8")
    .then((text) =>
      text
        .trim()
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => JSON.parse(l) as string[]),
    )
    .catch(() => [] as string[][]);
  return { ...result, calls };
}

describe("npm run deploy", () => {
  it("deploys when the target Worker has TOKEN_SIGNING_KEY, passing the arguments to wrangler deploy", async () => {
    const result = await deploy(["--env", "staging", "--minify"], {
      FAKE_WRANGLER_SECRETS: "TOKEN_SIGNING_JWK,TOKEN_SIGNING_KEY",
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.calls).toEqual([
      ["secret", "list", "--format", "json", "--env", "staging"],
      ["deploy", "--env", "staging", "--minify"],
    ]);
    expect(result.stdout).toContain("Deployed keymint");
  });

  it("refuses, deploying nothing, when TOKEN_SIGNING_KEY is not set on the target, and names the fix", async () => {
    const result = await deploy(["--name", "keymint-prod"], { FAKE_WRANGLER_SECRETS: "TOKEN_VERIFICATION_KEYS" });
    expect(result.code).toBe(1);
    expect(result.calls).toEqual([["secret", "list", "--format", "json", "--name", "keymint-prod"]]);
    expect(result.stderr).toContain("refusing to deploy: the target Worker has no TOKEN_SIGNING_KEY secret");
    expect(result.stderr).toContain("`npx wrangler secret put TOKEN_SIGNING_KEY --name keymint-prod`");
  });

  it("refuses when the Worker does not exist yet (no secrets at all), saying how to create it with the key", async () => {
    const result = await deploy([], { FAKE_WRANGLER_MODE: "no-worker" });
    expect(result.code).toBe(1);
    expect(result.calls).toEqual([["secret", "list", "--format", "json"]]);
    expect(result.stderr).toMatch(
      /does not exist yet.*`npx wrangler secret put TOKEN_SIGNING_KEY`.*creates the Worker/,
    );
    expect(result.stderr).toContain('wrangler: Worker "keymint" not found.');
  });

  it("refuses when wrangler cannot list the secrets (not logged in), showing wrangler's reason", async () => {
    const result = await deploy([], { FAKE_WRANGLER_MODE: "logged-out" });
    expect(result.code).toBe(1);
    expect(result.calls.map((c) => c[0])).toEqual(["secret"]);
    expect(result.stderr).toContain("cannot check the target Worker's secrets");
    expect(result.stderr).toContain("CLOUDFLARE_API_TOKEN");
  });

  it("passes --env=NAME, -c FILE and --profile to the check as given", async () => {
    const result = await deploy(["--env=production", "-c", "wrangler.prod.toml", "--profile", "work"], {
      FAKE_WRANGLER_SECRETS: "TOKEN_SIGNING_KEY",
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.calls).toEqual([
      ["secret", "list", "--format", "json", "--env=production", "-c", "wrangler.prod.toml", "--profile", "work"],
      ["deploy", "--env=production", "-c", "wrangler.prod.toml", "--profile", "work"],
    ]);
  });

  it("skips the check for --dry-run, which deploys nothing", async () => {
    const result = await deploy(["--dry-run", "--outdir", "dist"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.calls).toEqual([["deploy", "--dry-run", "--outdir", "dist"]]);
  });
});

describe("a Worker deployed without TOKEN_SIGNING_KEY (what npm run deploy refuses), run by wrangler dev", () => {
  it("answers a token request 500 server_error and logs one configuration_error line naming the command that fixes it", async () => {
    const project = await scratchProject(); // no .dev.vars: the Worker has no TOKEN_SIGNING_KEY
    const port = await freePort();
    const server = await startServer("wrangler", ["dev", "--port", String(port), "--ip", "127.0.0.1"], project, port);
    try {
      const res = await fetch(`${server.url}/oauth2/token`, {
        method: "POST",
        headers: {
          "Content-Type": "application/x-www-form-urlencoded",
          Authorization: `Basic ${Buffer.from("some-client:some-secret").toString("base64")}`,
        },
        body: "grant_type=client_credentials",
      });
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({
        error: "server_error",
        error_description: "The authorization server encountered an internal error",
      });
      const line = await waitForOutput(server, (output) =>
        jsonLines(output).find((l) => l.event === "configuration_error"),
      );
      expect(line).toMatchObject({ level: "error", route: "token" });
      expect(line.cause).toContain("TOKEN_SIGNING_KEY is missing");
      expect(line.fix).toContain("wrangler secret put TOKEN_SIGNING_KEY");
    } finally {
      await server.stop();
    }
  });
});
