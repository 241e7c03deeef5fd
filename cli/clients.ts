/**
 * keymint client administration: `npm run -s clients -- <command> [options]`.
 * Every command works on the local registry (default, the one `npm start` serves), with `--remote` on the
 * deployed KV namespace, or with `--api URL` through keymint's admin API as an admin client; the commands talk to
 * one `ClientManager` whichever driver serves it, so output and exit codes are the same. Secrets are printed once,
 * at `create` and `rotate-secret`; nothing ever prints a hash or a salt. One module per command (cli/commands/),
 * shared option parsing in cli/options.ts.
 */

import { parseArgs } from "node:util";
import { LifecycleError } from "../src/clients/lifecycle.ts";
import {
  ClientExistsError,
  type ClientManager,
  ClientNotFoundError,
  ClientOperations,
  VersionMismatchError,
} from "../src/clients/operations.ts";
import { CorruptRecordError } from "../src/clients/store.ts";
import { ApiClientManager, credentialsFromEnv } from "./api-driver.ts";
import type { CommandSpec, Values } from "./command.ts";
import { create } from "./commands/create.ts";
import { importClients } from "./commands/import.ts";
import { rotateSecretCommand } from "./commands/rotate-secret.ts";
import { deleteClient, disable, enable, revokeTokens } from "./commands/state.ts";
import { update } from "./commands/update.ts";
import { list, show } from "./commands/view.ts";
import { HELP_TARGET, str, TARGET_OPTIONS } from "./options.ts";
import { CliError, openLocalRegistry, openWranglerRegistry, type Registry } from "./registry.ts";

const COMMANDS: Record<string, CommandSpec> = {
  create,
  list,
  show,
  update,
  "rotate-secret": rotateSecretCommand,
  disable,
  enable,
  "revoke-tokens": revokeTokens,
  delete: deleteClient,
  import: importClients,
};

function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    "Usage: npm run -s clients -- <command> [options]",
    "",
    "Commands:",
    ...Object.entries(COMMANDS).map(([name, spec]) => `  ${name.padEnd(width)}  ${spec.summary}`),
    "",
    HELP_TARGET,
    "",
    "Run `npm run -s clients -- <command> --help` for a command's options.",
  ].join("\n");
}

function commandHelp(name: string, spec: CommandSpec): string {
  return [
    `Usage: npm run -s clients -- ${spec.usage}`,
    "",
    `${name}: ${spec.summary}`,
    "",
    ...(spec.help ?? []).flatMap((text) => [text, ""]),
    HELP_TARGET,
  ].join("\n");
}

/** Runs the CLI; returns the exit code (0 success, 1 failure, 2 usage error). */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    process.stderr.write(`${mainHelp()}\n`);
    return 2;
  }
  if (name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(`${mainHelp()}\n`);
    return 0;
  }
  const spec = COMMANDS[name];
  if (spec === undefined) {
    process.stderr.write(`error: unknown command "${name}" (commands: ${Object.keys(COMMANDS).join(", ")})\n`);
    return 2;
  }
  let values: Values;
  let positionals: string[];
  try {
    const parsed = parseArgs({
      args: rest,
      options: { ...TARGET_OPTIONS, ...spec.options },
      allowPositionals: true,
      allowNegative: true,
      strict: true,
    });
    values = parsed.values as Values;
    positionals = parsed.positionals;
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message.split("\n")[0]} (see \`${name} --help\`)\n`);
    return 2;
  }
  if (values.help === true) {
    process.stdout.write(`${commandHelp(name, spec)}\n`);
    return 0;
  }
  if (positionals.length !== spec.positionals) {
    process.stderr.write(`error: usage: ${spec.usage}\n`);
    return 2;
  }
  const api = str(values, "api");
  if ([values.local === true, values.remote === true, api !== undefined].filter(Boolean).length > 1) {
    process.stderr.write("error: --local, --remote and --api exclude each other\n");
    return 2;
  }
  if (api !== undefined && (values["dry-run"] === true || values.driver !== undefined)) {
    process.stderr.write("error: --api goes without --dry-run and --driver\n");
    return 2;
  }
  const driver = str(values, "driver");
  if (driver !== undefined && driver !== "wrangler" && driver !== "platform") {
    process.stderr.write('error: --driver must be "wrangler" or "platform"\n');
    return 2;
  }
  const remote = values.remote === true;
  const dryRun = values["dry-run"] === true;
  const target = {
    remote,
    configPath: str(values, "config"),
    env: str(values, "env"),
    persistTo: str(values, "persist-to"),
  };
  const now = Math.floor(Date.now() / 1000);
  let registry: Registry | undefined;
  try {
    let ops: ClientManager;
    if (api !== undefined) ops = new ApiClientManager(api, credentialsFromEnv(process.env));
    else {
      registry =
        remote || dryRun || driver === "wrangler"
          ? await openWranglerRegistry(target, dryRun, (line) => process.stderr.write(`would run: ${line}\n`))
          : await openLocalRegistry(target);
      ops = new ClientOperations(registry, { now: () => now });
    }
    await spec.run({
      values,
      positionals,
      ops,
      now,
      json: values.json === true,
      out: (text) => process.stdout.write(`${text}\n`),
    });
    return 0;
  } catch (err) {
    if (err instanceof CorruptRecordError) {
      process.stderr.write(
        `error: the record of client "${err.clientId}" is corrupt (${err.reason}); delete it with \`delete ${err.clientId}\` and re-create or re-import the client\n`,
      );
      return 1;
    }
    if (
      err instanceof CliError ||
      err instanceof LifecycleError ||
      err instanceof ClientNotFoundError ||
      err instanceof ClientExistsError ||
      err instanceof VersionMismatchError
    ) {
      process.stderr.write(`error: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(
      `error: unexpected failure: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    return 1;
  } finally {
    await registry?.close();
  }
}

process.exitCode = await main(process.argv.slice(2));
