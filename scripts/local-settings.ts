/**
 * What `npm start` tells the developer about local configuration, by name only (never a value): the optional
 * settings in effect from `.dev.vars`, from `--var` and from `[vars]` entries that differ from their defaults,
 * names keymint does not read, and an empty TOKEN_SIGNING_KEY.
 */

import { parseEnv } from "node:util";
import { REQUIRED_SECRETS, SETTING_NAMES, VAR_DEFAULTS } from "../src/settings.ts";

/** The names given with `--var NAME:VALUE` (wrangler dev takes several after one `--var`, or `--var=NAME:VALUE`). */
export function varNames(args: readonly string[]): string[] {
  const names: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const values: string[] = [];
    if (arg.startsWith("--var=")) values.push(arg.slice("--var=".length));
    else if (arg === "--var") {
      while (i + 1 < args.length && !(args[i + 1] as string).startsWith("-")) values.push(args[++i] as string);
    }
    for (const value of values) {
      const colon = value.indexOf(":");
      if (colon > 0) names.push(value.slice(0, colon));
    }
  }
  return names;
}

/** `[vars]` names whose value differs from keymint's default (src/settings.ts). */
export function changedVars(vars: Readonly<Record<string, unknown>>): string[] {
  return Object.entries(vars)
    .filter(([name, value]) => name in VAR_DEFAULTS && value !== VAR_DEFAULTS[name as keyof typeof VAR_DEFAULTS])
    .map(([name]) => name);
}

function list(names: readonly string[]): string {
  return [...new Set(names)].sort().join(", ");
}

/**
 * The lines `npm start` prints once before wrangler dev starts. `devVars` is the text of `.dev.vars`, `vars`
 * the `[vars]` of the wrangler configuration in use, `args` the options passed to wrangler dev.
 */
export function describeLocalSettings(
  devVars: string,
  vars: Readonly<Record<string, unknown>>,
  args: readonly string[],
): string[] {
  const parsed = parseEnv(devVars);
  const fromDevVars = Object.keys(parsed);
  const fromArgs = varNames(args);
  const required = new Set<string>(REQUIRED_SECRETS);
  const optional = (names: readonly string[]) => names.filter((n) => SETTING_NAMES.includes(n) && !required.has(n));
  const sources = [
    [".dev.vars", optional(fromDevVars)],
    ["--var", optional(fromArgs)],
    ["[vars] changed from the default", changedVars(vars)],
  ] as const;
  const inEffect = sources.filter(([, names]) => names.length > 0).map(([from, names]) => `${from}: ${list(names)}`);
  const lines = [
    inEffect.length === 0
      ? "keymint: optional settings: none set, the defaults are in effect"
      : `keymint: optional settings in effect (names only): ${inEffect.join("; ")}`,
  ];
  const unknown = [...fromDevVars, ...fromArgs].filter((n) => !SETTING_NAMES.includes(n));
  if (unknown.length > 0) {
    lines.push(`keymint: keymint reads no setting named ${list(unknown)} (README, "Configuration", lists them all)`);
  }
  for (const name of REQUIRED_SECRETS) {
    if (parsed[name] !== undefined && parsed[name].trim() === "") {
      lines.push(
        `keymint: warning: ${name} in .dev.vars is empty, so every request will fail with 500 server_error; delete the line and npm start writes a random one`,
      );
    }
  }
  return lines;
}
