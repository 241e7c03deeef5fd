/**
 * `npm run deploy [-- wrangler deploy options]`: `wrangler deploy`, but only once the target Worker has every
 * required secret (`wrangler secret list`): a keymint deployed without TOKEN_SIGNING_KEY answers every token
 * request with 500, so it is refused here with the command that fixes it. `--env`, `--name`, `--config`, `--cwd`
 * and `--profile` are passed to both commands; `--dry-run` deploys nothing and skips the check.
 * `KEYMINT_WRANGLER` overrides the wrangler executable (tests). `npx wrangler deploy` stays available without the
 * check.
 */

import { spawn } from "node:child_process";
import { REQUIRED_SECRETS } from "../src/settings.ts";

const ANSI = /\u001b\[[0-9;]*m/g;

/** The options that choose the target Worker, as given (`--env x`, `--env=x`, `-e x`, `-c file`…). */
function targetOptions(args: readonly string[]): string[] {
  const withValue = new Set(["--env", "-e", "--name", "--config", "-c", "--cwd", "--profile"]);
  const picked: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const name = arg.includes("=") ? arg.slice(0, arg.indexOf("=")) : arg;
    if (!withValue.has(name)) continue;
    if (arg.includes("=")) picked.push(arg);
    else if (i + 1 < args.length) picked.push(arg, args[++i] as string);
  }
  return picked;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function wrangler(args: readonly string[], inherit: boolean): Promise<Run> {
  const executable = process.env.KEYMINT_WRANGLER ?? "wrangler";
  return new Promise((resolve, reject) => {
    const child = spawn(executable, args, { stdio: inherit ? "inherit" : ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", (err) => reject(new Error(`cannot run ${executable}: ${err.message}`)));
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** The secret names in `wrangler secret list` output (a JSON array of `{ "name", "type" }`), or null. */
function secretNames(stdout: string): string[] | null {
  const start = stdout.indexOf("[");
  const end = stdout.lastIndexOf("]");
  if (start === -1 || end < start) return null;
  try {
    const parsed: unknown = JSON.parse(stdout.slice(start, end + 1));
    if (!Array.isArray(parsed)) return null;
    return parsed.flatMap((s: unknown) =>
      typeof s === "object" && s !== null && typeof (s as { name?: unknown }).name === "string"
        ? [(s as { name: string }).name]
        : [],
    );
  } catch {
    return null;
  }
}

function fail(lines: string[]): never {
  process.stderr.write(`${lines.map((l) => `npm run deploy: ${l}`).join("\n")}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (!args.includes("--dry-run")) {
    const target = targetOptions(args);
    const put = (name: string) => `npx wrangler secret put ${name}${target.length > 0 ? ` ${target.join(" ")}` : ""}`;
    const listed = await wrangler(["secret", "list", "--format", "json", ...target], false);
    if (listed.code !== 0) {
      const output = `${listed.stderr}\n${listed.stdout}`.replace(ANSI, "").trim();
      const missingWorker = /not found|does not exist|first deploy|doesn't seem to be a Worker/i.test(output);
      fail([
        missingWorker
          ? `the target Worker does not exist yet, so it has no ${REQUIRED_SECRETS.join(", ")}: set it first with \`${put(REQUIRED_SECRETS[0])}\` (this creates the Worker), then run npm run deploy again`
          : "cannot check the target Worker's secrets with `wrangler secret list`; nothing was deployed",
        ...output
          .split("\n")
          .filter((l) => l.trim() !== "")
          .slice(-5)
          .map((l) => `  wrangler: ${l.replace(/^\s*(✘|▲)?\s*\[(ERROR|WARNING)\]\s*/, "").trim()}`),
      ]);
    }
    const names = secretNames(listed.stdout);
    if (names === null) fail(["`wrangler secret list` printed no JSON list of secrets; nothing was deployed"]);
    const missing = REQUIRED_SECRETS.filter((name) => !names.includes(name));
    if (missing.length > 0) {
      fail([
        `refusing to deploy: the target Worker has no ${missing.join(", ")} secret, so every token request would fail with 500 server_error`,
        ...missing.map(
          (name) =>
            `set it with \`${put(name)}\` (e.g. a value from \`openssl rand -base64 32\`), then run npm run deploy again`,
        ),
      ]);
    }
  }
  const deployed = await wrangler(["deploy", ...args], true);
  process.exit(deployed.code);
}

main().catch((err: unknown) => fail([err instanceof Error ? err.message : String(err)]));
