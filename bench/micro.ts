/**
 * `node bench/micro.ts [--iterations N] [--repetitions R] [--quick]`: the CPU cost of authenticate +
 * decide + sign inside workerd, in µs per token (see bench/lib/micro.ts). Prints a JSON result on stdout.
 * `npm run bench` runs the same measurement and includes it in its report.
 */

import { booleanFlag, integerFlag, parseFlags, UsageError, usage } from "./lib/args.ts";
import { runMicro } from "./lib/micro.ts";
import { cleanupAll, exitOnSignals, makeTempDir } from "./lib/process.ts";
import { TARGETS } from "./lib/report.ts";

const FLAGS = {
  iterations: { kind: "number", help: "hot-path iterations per measured request (default 40000)" },
  repetitions: { kind: "number", help: "measured requests per mode (default 5)" },
  quick: { kind: "boolean", help: "10000 iterations, 2 repetitions" },
  allocation: { kind: "boolean", help: "also measure V8 heap bytes allocated per operation (exact)" },
  help: { kind: "boolean", help: "show this help" },
} as const;

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), FLAGS);
  if (booleanFlag(flags, "help")) {
    process.stderr.write(`${usage("node bench/micro.ts", FLAGS)}\n`);
    return;
  }
  const quick = booleanFlag(flags, "quick");
  exitOnSignals();
  const dir = await makeTempDir("keymint-micro");
  const result = await runMicro(dir, {
    iterations: integerFlag(flags, "iterations") ?? (quick ? 10_000 : 40_000),
    repetitions: integerFlag(flags, "repetitions") ?? (quick ? 2 : 5),
    allocation: booleanFlag(flags, "allocation"),
  });
  const pass = result.usPerOp.token < TARGETS.microUs;
  process.stderr.write(
    `bench: target authenticate+decide+sign < ${TARGETS.microUs} µs/token: ${pass ? "PASS" : "MISS"} (${result.usPerOp.token} µs)\n`,
  );
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`bench/micro: ${err instanceof Error ? err.message : String(err)}\n`);
    if (err instanceof UsageError) process.stderr.write(`${usage("node bench/micro.ts", FLAGS)}\n`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await cleanupAll();
    process.exit();
  });
