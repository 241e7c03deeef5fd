/**
 * `npm run -s bench:serve -- --port P [--clients N]`: serves keymint exactly as the benchmark does (bundled
 * by `wrangler deploy --dry-run`, bare workerd, CLIENTS bound to the in-memory KV service seeded with N
 * clients) without driving load. Once a real token has been issued it prints one JSON line on stdout,
 *
 *   {"url":"http://127.0.0.1:P","client_id":"…","client_secret":"…"}
 *
 * (the first client), and serves until SIGTERM/SIGINT, which stop the child processes and remove the temp
 * dir. Everything else goes to stderr.
 */

import { integerFlag, parseFlags, UsageError, usage } from "./lib/args.ts";
import { benchCredentials, newSeed } from "./lib/clients.ts";
import { startKvService } from "./lib/kv.ts";
import { cleanupAll, exitOnSignals, info, isStopping, makeTempDir } from "./lib/process.ts";
import { bundleKeymint, randomSigningKey, startKeymint } from "./lib/servers.ts";

const FLAGS = {
  port: { kind: "number", help: "port on 127.0.0.1 to serve keymint on (required)" },
  clients: { kind: "number", help: "clients to register (default 1)" },
  help: { kind: "boolean", help: "show this help" },
} as const;

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), FLAGS);
  if (flags.get("help") === true) {
    process.stderr.write(`${usage("npm run -s bench:serve --", FLAGS)}\n`);
    return;
  }
  const port = integerFlag(flags, "port");
  if (port === undefined || port > 65_535) throw new UsageError("--port P (1-65535) is required");
  const clients = integerFlag(flags, "clients") ?? 1;

  // Being terminated is how this server normally ends: exit 0 after clean-up.
  exitOnSignals(0);
  const dir = await makeTempDir("keymint-serve");
  const seed = newSeed();
  const [kv, bundle] = await Promise.all([startKvService(dir, seed, clients), bundleKeymint(dir)]);
  const first = benchCredentials(seed, 0);
  const server = await startKeymint({ bundle, kvPort: kv.port, signingKey: randomSigningKey(), port, probe: first });
  info(
    `keymint serves ${server.url} (workerd pid ${server.proc.pid}, ${clients} client${clients === 1 ? "" : "s"}, logs in ${dir})`,
  );
  process.stdout.write(
    `${JSON.stringify({ url: server.url, client_id: first.clientId, client_secret: first.secret })}\n`,
  );

  // Serve until a signal (handled by exitOnSignals) or until a child dies.
  const died = await Promise.race([server.proc.exited.then(() => server.proc), kv.proc.exited.then(() => kv.proc)]);
  if (isStopping()) return new Promise<never>(() => {});
  throw died.failure("stopped unexpectedly");
}

main().catch(async (err: unknown) => {
  if (isStopping()) return;
  if (err instanceof UsageError) {
    process.stderr.write(`bench:serve: ${err.message}\n${usage("npm run -s bench:serve --", FLAGS)}\n`);
  } else {
    process.stderr.write(`bench:serve: ${err instanceof Error ? err.message : String(err)}\n`);
  }
  await cleanupAll();
  process.exit(1);
});
