/**
 * `npm start [-- wrangler dev options]`: makes sure local development has a signing key and a client, then
 * runs `wrangler dev` with the given options.
 *
 * - `.dev.vars` missing (or without TOKEN_SIGNING_KEY): writes a random 256-bit key into it (mode 0600).
 * - Local registry empty: creates a demo client and prints a ready-to-paste curl command.
 * - No admin client in it: creates one for the console and prints the console URL with its credentials.
 * - Prints, once, which optional settings are in effect (names only) and any name keymint does not read.
 */

import { spawn } from "node:child_process";
import { appendFile, readFile, writeFile } from "node:fs/promises";
import { openLocalRegistry, type Registry } from "../cli/registry.ts";
import type { ClientSettings } from "../src/clients/lifecycle.ts";
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

/** Scopes of an admin client (CONTRACT "Managing clients over HTTP"). */
const ADMIN_SCOPES = ["keymint:clients:read", "keymint:clients:write"];
/** The local admin client's token lifetime: a console session lasts this long. */
const ADMIN_TTL = 900;

/** Whether any registered client has an admin scope (records that do not parse are skipped). */
async function hasAdminClient(registry: Registry, ids: string[]): Promise<boolean> {
  const values = await registry.getMany(ids);
  for (const value of values.values()) {
    if (value === null) continue;
    try {
      const scopes = (JSON.parse(value) as { scopes?: unknown }).scopes;
      if (Array.isArray(scopes) && scopes.some((scope) => ADMIN_SCOPES.includes(scope as string))) return true;
    } catch {}
  }
  return false;
}

async function createClient(registry: Registry, settings: ClientSettings & { name: string }) {
  const clientId = generateClientId();
  const secret = generateSecret();
  const now = Math.floor(Date.now() / 1000);
  const record = await recordForNewClient({ clientId, secret, secretExpiresAt: null, settings }, now);
  await registry.put(clientId, JSON.stringify(record));
  return { clientId, secret };
}

/**
 * An empty local registry gets a demo client (and a ready-to-paste curl); a registry without an admin client gets
 * one for the console. The demo's curl stays the first `curl -u … -d grant_type=client_credentials …` line printed.
 */
async function ensureLocalClients(args: string[]): Promise<void> {
  const registry = await openLocalRegistry({
    remote: false,
    configPath: option(args, "--config") ?? option(args, "-c"),
    env: option(args, "--env") ?? option(args, "-e"),
    persistTo: option(args, "--persist-to"),
  });
  const ip = option(args, "--ip");
  const host = ip === undefined || ip === "0.0.0.0" || ip === "*" ? "localhost" : ip.includes(":") ? `[${ip}]` : ip;
  const origin = `http://${host}:${option(args, "--port") ?? "8787"}`;
  try {
    const ids = await registry.listIds();
    if (ids.length > 0) {
      console.error(
        `keymint: the local registry has ${ids.length} client${ids.length === 1 ? "" : "s"} (npm run -s clients -- list)`,
      );
    } else {
      const demo = await createClient(registry, { name: "demo", scopes: ["read", "write"] });
      console.error(
        [
          "",
          `keymint: created a demo client (scopes "read write"). Its secret is shown only now:`,
          `  client_id:     ${demo.clientId}`,
          `  client_secret: ${demo.secret}`,
          "",
          "Get a token once the server is ready:",
          `  curl -u ${demo.clientId}:${demo.secret} -d grant_type=client_credentials ${origin}/oauth2/token`,
          "",
        ].join("\n"),
      );
    }
    if (ids.length > 0 && (await hasAdminClient(registry, ids))) {
      console.error(`keymint: console at ${origin}/console (sign in with an admin client's id and secret)`);
      return;
    }
    const admin = await createClient(registry, { name: "console admin", scopes: ADMIN_SCOPES, ttl: ADMIN_TTL });
    console.error(
      [
        "",
        `keymint: created a console admin client (scopes "${ADMIN_SCOPES.join(" ")}"). Its secret is shown only now:`,
        `  client_id:     ${admin.clientId}`,
        `  client_secret: ${admin.secret}`,
        "",
        `Manage clients in the browser: open ${origin}/console and sign in with the admin client above.`,
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
await ensureLocalClients(args);
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
