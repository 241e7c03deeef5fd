/**
 * The browser the console tests drive: Debian's chromium (Playwright's own download cannot work here). As the
 * vitest globalSetup of the "browser" project it installs it with apt-get when it is missing (as root, or with
 * passwordless sudo) and otherwise fails saying how to get it.
 */

import { spawn } from "node:child_process";
import { access, constants } from "node:fs/promises";
import { type Browser, type BrowserContext, chromium } from "playwright-core";

/** `CHROMIUM_PATH` (any Chromium or Chrome binary) or Debian's /usr/bin/chromium. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/**
 * Flags for a quiet, fast run in a closed network (no background fetches, no updates, no sync). Playwright adds
 * `--headless` and a fresh temporary `--user-data-dir` itself.
 */
const FLAGS = [
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

async function executable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function exec(command: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      output += d.toString();
    });
    child.on("error", (err) => resolve({ code: 127, output: err.message }));
    child.on("close", (code) => resolve({ code: code ?? 1, output }));
  });
}

const HOW =
  "install it with `sudo apt-get install -y chromium` (Debian/Ubuntu) or set CHROMIUM_PATH to a Chromium binary";

/** vitest globalSetup: makes sure the browser exists before any browser test runs. */
export default async function ensureChromium(): Promise<void> {
  if (await executable(CHROMIUM)) return;
  if (process.env.CHROMIUM_PATH !== undefined) {
    throw new Error(`CHROMIUM_PATH=${CHROMIUM} is not an executable file`);
  }
  const root = process.getuid?.() === 0;
  const prefix = root ? [] : ["sudo", "-n"];
  if (!root && (await exec("sudo", ["-n", "true"])).code !== 0) {
    throw new Error(`The console's browser tests need Chromium at ${CHROMIUM}: ${HOW}.`);
  }
  const [command, ...rest] = [...prefix, "apt-get"];
  const lock = ["-o", "DPkg::Lock::Timeout=600"];
  process.stderr.write(`browser tests: ${CHROMIUM} is missing, installing Debian's chromium with apt-get\n`);
  const update = await exec(command as string, [...rest, ...lock, "update", "-qq"]);
  const install = await exec(command as string, [...rest, ...lock, "install", "-y", "-qq", "chromium"]);
  if (!(await executable(CHROMIUM))) {
    throw new Error(
      `The console's browser tests need Chromium at ${CHROMIUM} and apt-get could not install it (${HOW}):\n${update.output}\n${install.output}`,
    );
  }
}

/** Starts headless Chromium with a fresh profile (Playwright's temporary user data directory). */
export function launchChromium(): Promise<Browser> {
  const args = [...FLAGS];
  // Chromium's sandbox refuses to run as root.
  if (process.getuid?.() === 0) args.push("--no-sandbox");
  return chromium.launch({ executablePath: CHROMIUM, args, headless: true, timeout: 60_000 });
}

/**
 * A fresh browser context (no cookies, no storage) that plays one source address: wrangler dev passes the
 * `CF-Connecting-IP` a client sends, so each test's failed sign-ins are throttled on their own.
 */
export function newContext(
  browser: Browser,
  options: { ip: string; colorScheme?: "light" | "dark"; width?: number },
): Promise<BrowserContext> {
  return browser.newContext({
    extraHTTPHeaders: { "CF-Connecting-IP": options.ip },
    colorScheme: options.colorScheme ?? "light",
    viewport: { width: options.width ?? 1280, height: 900 },
    reducedMotion: "reduce",
  });
}
