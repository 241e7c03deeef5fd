import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { buildSync } from "esbuild";
import { defineConfig } from "vitest/config";
import { unstable_readConfig } from "wrangler";
import { OPTIONAL_SECRETS, VAR_DEFAULTS } from "./src/settings.ts";
import { replayTestWorkers } from "./test/replay-workers.ts";

/** Test signing key; never used outside tests. */
export const TEST_SIGNING_KEY = "test-signing-key-0123456789abcdefghijklmnop";

/**
 * The pool reads a developer's .dev.vars as `wrangler dev` does; the tests run on the defaults instead, so a
 * local `AUDIT_LOG=off` or a retired key cannot change their outcome (CI has no .dev.vars).
 */
const DEFAULT_SETTINGS: Record<string, string> = {
  ...VAR_DEFAULTS,
  ...Object.fromEntries(OPTIONAL_SECRETS.map((name) => [name, ""])),
};

/** Two more keymint instances sharing one replay guard, and failing guards (test/replay-workers.ts). */
const REPLAY_WORKERS = await replayTestWorkers({
  ...DEFAULT_SETTINGS,
  TOKEN_SIGNING_KEY: TEST_SIGNING_KEY,
  CLIENT_CACHE_TTL: "0",
});
/** A Worker's TypeScript entry bundled into one ES module (auxiliary Workers of the pool take JavaScript). */
function bundled(entry: string): string {
  const result = buildSync({ entryPoints: [entry], bundle: true, format: "esm", platform: "neutral", write: false });
  return result.outputFiles[0]?.text ?? "";
}

const exampleHook = unstable_readConfig({ config: "examples/claims-hook/wrangler.toml" }, { hideWarnings: true });

/**
 * Claims hooks as second Workers, bound to keymint under names other than CLAIMS_HOOK (so no other test meets a
 * hook): the claims-hook tests pass `{ ...env, CLAIMS_HOOK: env.TEST_CLAIMS_HOOK }` to the Worker's fetch.
 */
const HOOK_WORKERS = [
  {
    name: "test-claims-hook",
    modules: true,
    script: bundled("test/worker/fixtures/claims-hook.ts"),
    compatibilityDate: exampleHook.compatibility_date,
  },
  {
    name: "example-claims-hook",
    modules: true,
    script: bundled("examples/claims-hook/src/index.ts"),
    compatibilityDate: exampleHook.compatibility_date,
    bindings: exampleHook.vars as Record<string, string>,
  },
];

export default defineConfig({
  test: {
    // Show console output (the audit log) only for failing tests.
    silent: "passed-only",
    projects: [
      {
        // Inside workerd, against real local KV (Miniflare), through the worker's own fetch.
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              // Claims hooks and the replay guard's extra keymint instances, side by side.
              workers: [...HOOK_WORKERS, ...REPLAY_WORKERS.workers],
              serviceBindings: {
                TEST_CLAIMS_HOOK: "test-claims-hook",
                EXAMPLE_CLAIMS_HOOK: "example-claims-hook",
                ...REPLAY_WORKERS.serviceBindings,
              },
              durableObjects: REPLAY_WORKERS.durableObjects,
              bindings: {
                ...DEFAULT_SETTINGS,
                TOKEN_SIGNING_KEY: TEST_SIGNING_KEY,
                // Tests change records between requests; the cache has its own tests.
                CLIENT_CACHE_TTL: "0",
                // Longer fuzz campaigns: `npm run fuzz -- --runs N --seed S`.
                ...(process.env.FUZZ_RUNS ? { FUZZ_RUNS: process.env.FUZZ_RUNS } : {}),
                ...(process.env.FUZZ_SEED ? { FUZZ_SEED: process.env.FUZZ_SEED } : {}),
              },
            },
          }),
        ],
        test: { name: "worker", include: ["test/worker/**/*.test.ts"] },
      },
      {
        // Node: the CLI as a real process, wrangler dev end to end, the deploy bundle.
        test: {
          name: "node",
          include: ["test/node/**/*.test.ts"],
          environment: "node",
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        // The console in Debian's chromium (playwright-core) against npm start; the setup installs chromium
        // with apt-get when it is missing (root or passwordless sudo), or fails saying how to get it.
        test: {
          name: "browser",
          include: ["test/browser/**/*.test.ts"],
          environment: "node",
          globalSetup: ["test/browser/chromium.ts"],
          testTimeout: 180_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
