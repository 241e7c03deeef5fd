/**
 * `npm run fuzz -- [--runs N] [--seed S]`: a longer property-based fuzzing campaign of every endpoint
 * (test/worker/fuzz.test.ts), inside workerd. Defaults: 50 000 runs, a random seed (printed).
 */

import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { runs: { type: "string" }, seed: { type: "string" } } });
const runs = values.runs ?? "50000";
const seed = values.seed ?? String(Math.floor(Math.random() * 2 ** 31));
console.error(`fuzz: ${runs} runs, seed ${seed} (repeat with --seed ${seed})`);
const result = spawnSync("vitest", ["run", "--project", "worker", "test/worker/fuzz.test.ts", "--silent=false"], {
  stdio: "inherit",
  env: { ...process.env, FUZZ_RUNS: runs, FUZZ_SEED: seed },
});
process.exit(result.status ?? 1);
