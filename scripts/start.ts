/**
 * `npm start [-- wrangler dev options]`: makes sure local development has a signing key and a client, then
 * runs `wrangler dev` with the given options.
 *
 * - `.dev.vars` missing (or without TOKEN_SIGNING_KEY): writes a random 256-bit key into it (mode 0600).
 * - Local registry empty: creates a demo client and prints a ready-to-paste curl command.
 * - Prints, once, which optional settings are in effect (names only) and any name keymint does not read.
 */

import { spawn } from "node:child_process";
import { appendFile, readFile, writeFile } from "node:fs/promises";
import { openLocalRegistry } from "../cli/registry.ts";
import { recordForNewClient } from "../src/clients/register.ts";
import { generateClientId, generateSecret } from "../src/clients/secrets.ts";
import { base64urlEncode } from "../src/util/base64url.ts";
import { describeLocalSettings } from "./local-settings.ts";

const DEV_VARS = ".dev.vars";

function option(args: string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === name) return args[i + 1];
    if (arg.startsWith(`${name}=`)) return arg.slice(name.length + 1);
  }
  return undefined;
}

async function ensureSigningKey(): Promise<void> {
  const key = base64urlEncode(crypto.getRandomValues(new Uint8Array(32)));
  let existing: string | null = null;
  try {
    existing = await readFile(DEV_VARS, "utf8");
  } catch (err) {
    // Only a missing file is created; any other error (permissions, a directory) must not be papered over.
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    existing = null;
  }
  if (existing === null) {
    await writeFile(
      DEV_VARS,
      `# Local secrets for wrangler dev (git-ignored). Created by npm start.\nTOKEN_SIGNING_KEY="${key}"\n`,
      {
        mode: 0o600,
      },
    );
    console.error("keymint: created .dev.vars with a random TOKEN_SIGNING_KEY");
  } else if (!/^\s*TOKEN_SIGNING_KEY\s*=/m.test(existing)) {
    await appendFile(DEV_VARS, `${existing.endsWith("\n") || existing === "" ? "" : "\n"}TOKEN_SIGNING_KEY="${key}"\n`);
    console.error("keymint: added a random TOKEN_SIGNING_KEY to .dev.vars");
  }
}

async function reportSettings(args: string[]): Promise<void> {
  const { unstable_readConfig } = await import("wrangler");
  const config = unstable_readConfig(
    { config: option(args, "--config") ?? option(args, "-c"), env: option(args, "--env") ?? option(args, "-e") },
    { hideWarnings: true },
  );
  for (const line of describeLocalSettings(await readFile(DEV_VARS, "utf8"), config.vars, args)) console.error(line);
}

async function ensureDemoClient(args: string[]): Promise<void> {
  const registry = await openLocalRegistry({
    remote: false,
    configPath: option(args, "--config") ?? option(args, "-c"),
    env: option(args, "--env") ?? option(args, "-e"),
    persistTo: option(args, "--persist-to"),
  });
  try {
    const ids = await registry.listIds();
    if (ids.length > 0) {
      console.error(
        `keymint: the local registry has ${ids.length} client${ids.length === 1 ? "" : "s"} (npm run -s clients -- list)`,
      );
      return;
    }
    const clientId = generateClientId();
    const secret = generateSecret();
    const now = Math.floor(Date.now() / 1000);
    const record = await recordForNewClient(
      {
        clientId,
        secret,
        secretExpiresAt: null,
        settings: { name: "demo", scopes: ["read", "write"] },
      },
      now,
    );
    await registry.put(clientId, JSON.stringify(record));
    const ip = option(args, "--ip");
    const host = ip === undefined || ip === "0.0.0.0" || ip === "*" ? "localhost" : ip.includes(":") ? `[${ip}]` : ip;
    const port = option(args, "--port") ?? "8787";
    console.error(
      [
        "",
        `keymint: created a demo client (scopes "read write"). Its secret is shown only now:`,
        `  client_id:     ${clientId}`,
        `  client_secret: ${secret}`,
        "",
        "Get a token once the server is ready:",
        `  curl -u ${clientId}:${secret} -d grant_type=client_credentials http://${host}:${port}/oauth2/token`,
        "",
      ].join("\n"),
    );
  } finally {
    await registry.close();
  }
}

// wrangler dev runs with the environment npm start was given: nothing the in-process wrangler set may leak into it.
const launchEnvironment = { ...process.env };
const args = process.argv.slice(2);
await ensureSigningKey();
await ensureDemoClient(args);
await reportSettings(args);
const child = spawn("wrangler", ["dev", ...args], { stdio: "inherit", env: launchEnvironment });
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => child.kill(signal));
}
child.on("error", (err) => {
  console.error(`keymint: cannot run wrangler dev: ${err.message}`);
  process.exit(1);
});
child.on("exit", (code, signal) => {
  process.exit(code ?? (signal === null ? 1 : 0));
});
