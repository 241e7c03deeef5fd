/** Bundles Workers exactly as `wrangler deploy` would (`wrangler deploy --dry-run --outdir`). */

import { mkdir, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import { basename, extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { runCommand } from "./process.ts";

/** The repository root (this file is bench/lib/bundle.ts). */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export function rootPath(...parts: string[]): string {
  return join(ROOT, ...parts);
}

export type ModuleKind = "esModule" | "commonJsModule" | "wasm" | "text" | "data";

export interface WorkerModule {
  name: string;
  kind: ModuleKind;
}

export interface Bundle {
  /** Directory holding the modules (and where the workerd config is written). */
  dir: string;
  /** The main module first. */
  modules: WorkerModule[];
  compatibilityDate: string;
  compatibilityFlags: string[];
  /** Durable Object classes the Worker exports and binds (`[[durable_objects.bindings]]` of its wrangler.toml). */
  durableObjects?: DurableObjectBinding[];
}

export interface DurableObjectBinding {
  binding: string;
  className: string;
}

/** The `[[durable_objects.bindings]]` of a wrangler.toml (name and class_name; same-script classes only). */
export function durableObjectBindings(toml: string): DurableObjectBinding[] {
  return toml
    .split(/^\s*\[\[durable_objects\.bindings\]\]\s*$/m)
    .slice(1)
    .flatMap((section) => {
      const body = section.split(/^\s*\[/m)[0] ?? "";
      const binding = /^\s*name\s*=\s*"([^"]+)"/m.exec(body)?.[1];
      const className = /^\s*class_name\s*=\s*"([^"]+)"/m.exec(body)?.[1];
      return binding === undefined || className === undefined ? [] : [{ binding, className }];
    });
}

export interface Compatibility {
  compatibilityDate: string;
  compatibilityFlags: string[];
}

/** `compatibility_date` and `compatibility_flags` of the project's wrangler.toml. */
export async function projectCompatibility(): Promise<Compatibility> {
  const toml = await readFile(rootPath("wrangler.toml"), "utf8");
  const date = /^\s*compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)?.[1];
  if (date === undefined) throw new Error("wrangler.toml has no compatibility_date");
  const flagsRaw = /^\s*compatibility_flags\s*=\s*\[([^\]]*)\]/m.exec(toml)?.[1] ?? "";
  const flags = [...flagsRaw.matchAll(/"([^"]+)"/g)].map((m) => m[1] as string);
  return { compatibilityDate: date, compatibilityFlags: flags };
}

/** Runs the project's wrangler with the Node that runs this script (wrangler needs Node >= 22). */
function wrangler(args: readonly string[], cwd = ROOT): Promise<string> {
  return runCommand(process.execPath, [rootPath("node_modules/wrangler/bin/wrangler.js"), ...args], {
    cwd,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1", NO_COLOR: "1" },
  });
}

function moduleKind(name: string): ModuleKind | null {
  switch (extname(name)) {
    case ".js":
    case ".mjs":
      return "esModule";
    case ".cjs":
      return "commonJsModule";
    case ".wasm":
      return "wasm";
    case ".txt":
    case ".html":
      return "text";
    case ".bin":
      return "data";
    default:
      return null;
  }
}

/**
 * wrangler bundles every JavaScript module into the main one; the other modules it writes are those a `[[rules]]`
 * entry matched, named `<sha1>-<file>`. In this project they are all Text (the console's .html, .js and .css).
 */
const RULE_MODULE = /^[0-9a-f]{40}-.+\.(js|mjs|css)$/;

export async function collectModules(dir: string, mainName: string): Promise<WorkerModule[]> {
  const names = (await readdir(dir)).sort();
  if (!names.includes(mainName)) throw new Error(`wrangler wrote no ${mainName} into ${dir} (got ${names.join(", ")})`);
  const modules: WorkerModule[] = [];
  for (const name of names) {
    const kind = RULE_MODULE.test(name) ? "text" : moduleKind(name);
    if (kind === null) continue;
    if (name === mainName) modules.unshift({ name, kind });
    else modules.push({ name, kind });
  }
  return modules;
}

/** Bundles the project Worker (wrangler.toml, `src/index.ts`) into `outDir`. */
export async function bundleProject(outDir: string): Promise<Bundle> {
  const compat = await projectCompatibility();
  await wrangler(["deploy", "--dry-run", "--outdir", outDir]);
  const durableObjects = durableObjectBindings(await readFile(rootPath("wrangler.toml"), "utf8"));
  return { dir: outDir, modules: await collectModules(outDir, "index.js"), ...compat, durableObjects };
}

/**
 * Bundles the project Worker as it was at git revision `ref` (its src/, wrangler.toml and package.json, exported
 * with `git archive` into `<dir>/baseline-src`, with this checkout's node_modules), into `<dir>/keymint-baseline`:
 * the "before" of a same-run before/after comparison.
 */
export async function bundleProjectAt(ref: string, dir: string): Promise<Bundle & { commit: string }> {
  const commit = (await runCommand("git", ["rev-parse", "--short", `${ref}^{commit}`], { cwd: ROOT })).trim();
  const source = join(dir, "baseline-src");
  await mkdir(source, { recursive: true });
  const archive = join(dir, "baseline.tar");
  await runCommand("git", ["archive", "--format=tar", "-o", archive, commit, "src", "wrangler.toml", "package.json"], {
    cwd: ROOT,
  });
  await runCommand("tar", ["-xf", archive, "-C", source]);
  await symlink(rootPath("node_modules"), join(source, "node_modules"));
  const outDir = join(dir, "keymint-baseline");
  await mkdir(outDir, { recursive: true });
  await wrangler(["deploy", "--dry-run", "--outdir", outDir], source);
  const durableObjects = durableObjectBindings(await readFile(join(source, "wrangler.toml"), "utf8"));
  return {
    dir: outDir,
    modules: await collectModules(outDir, "index.js"),
    ...(await projectCompatibility()),
    durableObjects,
    commit,
  };
}

/**
 * Bundles a bench Worker entry (no bindings) with a minimal generated wrangler config, using the project's
 * compatibility date and flags, into `outDir`.
 */
export async function bundleEntry(entryPath: string, name: string, outDir: string): Promise<Bundle> {
  const compat = await projectCompatibility();
  const configPath = join(outDir, `${name}.wrangler.toml`);
  const toml = [
    `name = ${JSON.stringify(name)}`,
    `main = ${JSON.stringify(entryPath)}`,
    `compatibility_date = ${JSON.stringify(compat.compatibilityDate)}`,
    `compatibility_flags = ${JSON.stringify(compat.compatibilityFlags)}`,
    "",
  ].join("\n");
  await writeFile(configPath, toml);
  const bundleDir = join(outDir, "bundle");
  await wrangler(["deploy", "--dry-run", "--config", configPath, "--outdir", bundleDir]);
  const mainName = `${basename(entryPath, extname(entryPath))}.js`;
  return { dir: bundleDir, modules: await collectModules(bundleDir, mainName), ...compat };
}
