/**
 * Extra Workers in the test pool (vitest.config.ts), for the replay guard's tests:
 *
 * - `keymint-a` and `keymint-b`: two separate instances of keymint (its bundle, each in its own isolate, as two
 *   Cloudflare locations would run it), sharing the client registry and ONE replay guard (defined by `keymint-a`,
 *   bound by `keymint-b` through `scriptName`). The tests reach them as `env.KEYMINT_A` / `env.KEYMINT_B`.
 * - `replay-faults`: real Durable Objects that fail (`FAILING_REPLAY_GUARD`) or never answer
 *   (`SILENT_REPLAY_GUARD`), to check that keymint answers 503 and never accepts an id unchecked.
 *
 * Runs in Node when the config loads; the bundle is built with esbuild as wrangler would (ESM, `cloudflare:*`
 * external).
 */

import { mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { build, type Plugin } from "esbuild";

const ROOT = resolve(import.meta.dirname, "..");

/** The KV namespace id the pool gives wrangler.toml's CLIENTS binding (it has no `id`): its binding name. */
const CLIENTS_NAMESPACE = "CLIENTS";

const FAULTS_SCRIPT = `
import { DurableObject } from "cloudflare:workers";
export class FailingGuard extends DurableObject {
  claim() { throw new Error("SQLITE_FULL: the object's storage is failing"); }
}
export class SilentGuard extends DurableObject {
  claim() { return new Promise(() => {}); }
}
export default { fetch() { return new Response(null, { status: 404 }); } };
`;

/**
 * wrangler.toml's `[[rules]]` (Text) and wrangler's default for `.html`: the console's page, script and styles are
 * imported as strings, not bundled as code.
 */
const TEXT_MODULES: Plugin = {
  name: "text-modules",
  setup(b) {
    b.onLoad({ filter: /[\\/]console[\\/](console\.js|console\.css|[^\\/]+\.html)$/ }, (args) => ({
      contents: readFileSync(args.path, "utf8"),
      loader: "text",
    }));
  },
};

async function bundleKeymint(): Promise<string> {
  const dir = join(ROOT, "node_modules", ".cache", "keymint-test");
  mkdirSync(dir, { recursive: true });
  const outfile = join(dir, `keymint-${process.pid}.mjs`);
  await build({
    plugins: [TEXT_MODULES],
    entryPoints: [join(ROOT, "src/index.ts")],
    outfile,
    bundle: true,
    format: "esm",
    platform: "browser",
    conditions: ["workerd", "worker", "browser"],
    external: ["cloudflare:*"],
    target: "es2024",
    logLevel: "error",
  });
  return outfile;
}

/** wrangler.toml's compatibility date, so the extra instances run exactly as the Worker under test. */
function compatibilityDate(): string {
  const match = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(readFileSync(join(ROOT, "wrangler.toml"), "utf8"));
  if (match === null) throw new Error("wrangler.toml has no compatibility_date");
  return match[1] as string;
}

/** The main worker's extra bindings and the auxiliary Workers, given the settings every keymint runs with. */
export async function replayTestWorkers(settings: Record<string, string>) {
  const scriptPath = await bundleKeymint();
  const date = compatibilityDate();
  const instance = (name: string, scriptName?: string) => ({
    name,
    modules: true,
    scriptPath,
    compatibilityDate: date,
    bindings: settings,
    kvNamespaces: { CLIENTS: CLIENTS_NAMESPACE },
    durableObjects: { REPLAY_GUARD: { className: "ReplayGuard", scriptName, useSQLite: true } },
  });
  return {
    serviceBindings: { KEYMINT_A: "keymint-a", KEYMINT_B: "keymint-b" },
    durableObjects: {
      FAILING_REPLAY_GUARD: { className: "FailingGuard", scriptName: "replay-faults" },
      SILENT_REPLAY_GUARD: { className: "SilentGuard", scriptName: "replay-faults" },
    },
    workers: [
      instance("keymint-a"),
      instance("keymint-b", "keymint-a"),
      {
        name: "replay-faults",
        modules: true,
        script: FAULTS_SCRIPT,
        compatibilityDate: date,
        durableObjects: { FAILING: "FailingGuard", SILENT: "SilentGuard" },
      },
    ],
  };
}
