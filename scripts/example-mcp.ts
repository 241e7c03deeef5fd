/**
 * `npm run -s example:mcp -- --port P --issuer URL [wrangler dev options]`: serves examples/mcp-server locally
 * with `wrangler dev` at http://127.0.0.1:P/mcp, its RFC 9728 resource identifier, naming URL (keymint, e.g.
 * `npm start`'s http://127.0.0.1:8787) as its authorization server.
 *
 * keymint's default set-up signs HS256 tokens, so the server gets the project's TOKEN_SIGNING_KEY (and
 * TOKEN_VERIFICATION_KEYS) from .dev.vars, through a private temporary env file holding only those names (never
 * on the command line, never keymint's private JWK); key-pair tokens it verifies through URL's JWKS.
 */

import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseEnv } from "node:util";

/** Relative to the project root, where npm runs scripts (so a copy of the project serves its own copy). */
const CONFIG = "examples/mcp-server/wrangler.toml";
const SHARED_KEYS = ["TOKEN_SIGNING_KEY", "TOKEN_VERIFICATION_KEYS"] as const;

function fail(message: string): never {
  console.error(`example:mcp: ${message}`);
  process.exit(2);
}

/** Takes `--name VALUE` (or `--name=VALUE`) out of args. */
function take(args: string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === name) {
      const value = args[i + 1];
      if (value === undefined || value.startsWith("--")) fail(`${name} needs a value`);
      args.splice(i, 2);
      return value;
    }
    if (arg.startsWith(`${name}=`)) {
      args.splice(i, 1);
      return arg.slice(name.length + 1);
    }
  }
  return undefined;
}

/** keymint's issuer as its tokens carry it: an origin has no trailing slash. */
function issuerFrom(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    fail(`--issuer must be keymint's URL (its issuer), e.g. http://127.0.0.1:8787; got ${JSON.stringify(value)}`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") fail("--issuer must be an http(s) URL");
  return url.pathname === "/" && value.endsWith("/") ? value.slice(0, -1) : value;
}

async function sharedKeysFile(dir: string): Promise<string | undefined> {
  let devVars: string;
  try {
    devVars = await readFile(".dev.vars", "utf8");
  } catch {
    console.error("example:mcp: no .dev.vars here: only key-pair tokens (through the issuer's JWKS) will verify");
    return undefined;
  }
  const parsed = parseEnv(devVars);
  const lines = SHARED_KEYS.filter((name) => (parsed[name] ?? "").trim() !== "").map(
    (name) => `${name}=${JSON.stringify(parsed[name])}`,
  );
  if (lines.length === 0) return undefined;
  const file = join(dir, "mcp.env");
  await writeFile(file, `${lines.join("\n")}\n`, { mode: 0o600 });
  return file;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const port = take(args, "--port") ?? "8790";
  if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) fail(`--port must be a port number`);
  const issuer = issuerFrom(take(args, "--issuer") ?? "http://127.0.0.1:8787");
  const ip = take(args, "--ip") ?? "127.0.0.1";
  const host = ip.includes(":") ? `[${ip}]` : ip;
  const resource = take(args, "--resource") ?? `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}/mcp`;

  const dir = await mkdtemp(join(tmpdir(), "keymint-mcp-"));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  const envFile = await sharedKeysFile(dir);
  const wranglerArgs = [
    "dev",
    "--config",
    CONFIG,
    "--port",
    port,
    "--ip",
    ip,
    "--persist-to",
    resolve(".wrangler/state"),
    "--var",
    `KEYMINT_ISSUER:${issuer}`,
    "--var",
    `MCP_RESOURCE:${resource}`,
    ...(envFile === undefined ? [] : ["--env-file", envFile]),
    ...args,
  ];
  console.error(`example:mcp: MCP server ${resource}, authorization server ${issuer}`);
  const child = spawn("wrangler", wranglerArgs, { stdio: "inherit" });
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  process.on("SIGINT", forward("SIGINT"));
  process.on("SIGTERM", forward("SIGTERM"));
  child.on("error", async (err) => {
    await cleanup();
    fail(`cannot run wrangler (${err.message}); run this through npm run`);
  });
  child.on("exit", async (code, signal) => {
    await cleanup();
    process.exit(code ?? (signal === null ? 1 : 128 + 15));
  });
}

await main();
