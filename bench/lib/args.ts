/** Minimal command-line flag parsing for the bench scripts: `--name value`, `--name=value` and boolean `--flag`. */

export class UsageError extends Error {
  override readonly name = "UsageError";
}

export type FlagKind = "number" | "string" | "boolean";

export interface FlagSpec {
  kind: FlagKind;
  help: string;
}

export type ParsedFlags = Map<string, string | number | boolean>;

/** Parses `argv` against `spec`; unknown flags, missing values and non-numbers are `UsageError`s. */
export function parseFlags(argv: readonly string[], spec: Readonly<Record<string, FlagSpec>>): ParsedFlags {
  const out: ParsedFlags = new Map();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith("--")) throw new UsageError(`unexpected argument "${arg}"`);
    const eq = arg.indexOf("=");
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const flag = spec[name];
    if (flag === undefined) throw new UsageError(`unknown flag --${name}`);
    if (flag.kind === "boolean") {
      if (eq !== -1) throw new UsageError(`--${name} takes no value`);
      out.set(name, true);
      continue;
    }
    let value: string | undefined;
    if (eq !== -1) value = arg.slice(eq + 1);
    else value = argv[++i];
    if (value === undefined || value === "") throw new UsageError(`--${name} needs a value`);
    if (flag.kind === "number") {
      const number = Number(value);
      if (!Number.isFinite(number) || number <= 0) throw new UsageError(`--${name} must be a positive number`);
      out.set(name, number);
    } else {
      out.set(name, value);
    }
  }
  return out;
}

export function numberFlag(flags: ParsedFlags, name: string): number | undefined {
  const value = flags.get(name);
  return typeof value === "number" ? value : undefined;
}

export function stringFlag(flags: ParsedFlags, name: string): string | undefined {
  const value = flags.get(name);
  return typeof value === "string" ? value : undefined;
}

export function booleanFlag(flags: ParsedFlags, name: string): boolean {
  return flags.get(name) === true;
}

/** A positive integer flag. */
export function integerFlag(flags: ParsedFlags, name: string): number | undefined {
  const value = numberFlag(flags, name);
  if (value !== undefined && !Number.isInteger(value)) throw new UsageError(`--${name} must be an integer`);
  return value;
}

/** Usage text listing every flag. */
export function usage(command: string, spec: Readonly<Record<string, FlagSpec>>): string {
  const lines = Object.entries(spec).map(([name, flag]) => {
    const left = flag.kind === "boolean" ? `--${name}` : `--${name} ${flag.kind === "number" ? "N" : "VALUE"}`;
    return `  ${left.padEnd(22)} ${flag.help}`;
  });
  return [`usage: ${command} [flags]`, ...lines].join("\n");
}
