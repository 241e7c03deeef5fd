/** Serving a bundled Worker on bare workerd with a generated Cap'n Proto config. */

import { execFileSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join, relative } from "node:path";
import type { Bundle } from "./bundle.ts";
import { canConnect, type ManagedProcess, spawnLogged, waitUntil } from "./process.ts";

/** Path of the native workerd binary (the `workerd` package's default export), not a JS wrapper. */
export function workerdBinary(): string {
  const required: unknown = createRequire(import.meta.url)("workerd");
  const path =
    typeof required === "object" && required !== null && "default" in required ? required.default : undefined;
  if (typeof path !== "string") throw new Error("the workerd package did not export its binary path");
  return path;
}

export function workerdVersion(): string {
  return execFileSync(workerdBinary(), ["--version"], { encoding: "utf8" }).trim();
}

export type Binding =
  | { name: string; text: string }
  | { name: string; kvNamespace: string }
  /** A service binding to another Worker of the same config (`WorkerdConfig.workers`). */
  | { name: string; service: string };

/** A further Worker served by the same workerd process (e.g. a claims hook behind a service binding). */
export interface ExtraWorker {
  /** Service name, which a `{ name, service }` binding refers to. */
  name: string;
  bundle: Bundle;
  bindings?: readonly Binding[];
}

export interface WorkerdConfig {
  bundle: Bundle;
  /** Port of the HTTP socket on 127.0.0.1. */
  port: number;
  bindings?: readonly Binding[];
  /** `external` HTTP services the bindings may name: service name → "host:port". */
  externals?: Readonly<Record<string, string>>;
  /**
   * Let the Worker's global `fetch` reach loopback addresses (workerd's default outbound allows public
   * addresses only): keymint fetching the bench's outside issuer, the example API fetching keymint's JWKS.
   */
  loopbackFetch?: boolean;
  /** Directory of the Durable Objects' storage (one per server: two workerd processes never share one). */
  storagePath?: string;
  /** Take `request.cf` from this request header (workerd's `cfBlobHeader`), as the edge would set it. */
  cfBlobHeader?: string;
  /** Further Workers in the same process (same thread, like a service binding at the edge), not on any socket. */
  workers?: readonly ExtraWorker[];
}

/** A Cap'n Proto text string literal (the values used here are printable ASCII). */
function str(value: string): string {
  if (!/^[\x20-\x7e]*$/.test(value)) throw new Error(`cannot put ${JSON.stringify(value)} in a capnp config`);
  return JSON.stringify(value);
}

function bindingText(binding: Binding): string {
  if ("text" in binding) return `(name = ${str(binding.name)}, text = ${str(binding.text)})`;
  if ("service" in binding) return `(name = ${str(binding.name)}, service = ${str(binding.service)})`;
  return `(name = ${str(binding.name)}, kvNamespace = ${str(binding.kvNamespace)})`;
}

/** Extra V8 flags for investigations, e.g. `BENCH_V8_FLAGS="--trace-gc"` (space-separated). */
function v8Flags(): string[] {
  return (process.env.BENCH_V8_FLAGS ?? "").split(" ").filter((f) => f !== "");
}

/**
 * The bundle's Durable Objects: SQLite-backed namespaces (as `new_sqlite_classes` deploys them) stored on local
 * disk in `storagePath`, like Cloudflare's own SQLite storage (a real file system write per change).
 */
function durableObjectParts(bundle: Bundle, storagePath: string): { services: string[]; worker: string } {
  const objects = bundle.durableObjects ?? [];
  if (objects.length === 0) return { services: [], worker: "" };
  const namespaces = objects.map(
    (o) => `(className = ${str(o.className)}, uniqueKey = ${str(`keymint-bench-${o.className}`)}, enableSql = true)`,
  );
  if (storagePath === ":memory:") {
    return {
      services: [],
      worker: `\n  durableObjectNamespaces = [${namespaces.join(", ")}],\n  durableObjectStorage = (inMemory = void),`,
    };
  }
  return {
    services: [`    (name = "do-storage", disk = (path = ${str(storagePath)}, writable = true)),`],
    worker: `\n  durableObjectNamespaces = [${namespaces.join(", ")}],\n  durableObjectStorage = (localDisk = "do-storage"),`,
  };
}

/** A `Workerd.Worker` literal for a bundle; module paths are relative to the config's directory. */
function workerText(bundle: Bundle, configDir: string, bindings: readonly Binding[]): string {
  const modules = bundle.modules.map(
    (m) => `(name = ${str(m.name)}, ${m.kind} = embed ${str(relative(configDir, join(bundle.dir, m.name)))})`,
  );
  return `(
  modules = [
    ${modules.join(",\n    ")}
  ],
  compatibilityDate = ${str(bundle.compatibilityDate)},
  compatibilityFlags = [${bundle.compatibilityFlags.map(str).join(", ")}],
  bindings = [
    ${bindings.map(bindingText).join(",\n    ")}
  ],
)`;
}

/** The workerd config: one Worker service `main` on an HTTP socket, plus external services and further Workers. */
export function capnpConfig(config: WorkerdConfig): string {
  const { bundle } = config;
  const objects = durableObjectParts(bundle, config.storagePath ?? join(bundle.dir, "do-storage"));
  const modules = bundle.modules.map((m) => `(name = ${str(m.name)}, ${m.kind} = embed ${str(m.name)})`);
  const extraWorkers = (config.workers ?? []).map(
    (w) => `    (name = ${str(w.name)}, worker = ${workerText(w.bundle, bundle.dir, w.bindings ?? [])}),`,
  );
  const externals = Object.entries(config.externals ?? {}).map(
    ([name, address]) => `    (name = ${str(name)}, external = (address = ${str(address)}, http = ())),`,
  );
  if (config.loopbackFetch === true) {
    externals.push('    (name = "loopback", network = (allow = ["public", "private", "local"])),');
  }
  externals.push(...objects.services);
  const bindings = [
    ...(config.bindings ?? []).map(bindingText),
    ...(bundle.durableObjects ?? []).map(
      (o) => `(name = ${str(o.binding)}, durableObjectNamespace = ${str(o.className)})`,
    ),
  ];
  return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
${externals.join("\n")}
${extraWorkers.join("\n")}
  ],
  sockets = [
    (name = "http", address = ${str(`127.0.0.1:${config.port}`)}, http = (${config.cfBlobHeader === undefined ? "" : `cfBlobHeader = ${str(config.cfBlobHeader)}`}), service = "main"),
  ],
  v8Flags = [${v8Flags().map(str).join(", ")}],
);

const worker :Workerd.Worker = (
  modules = [
    ${modules.join(",\n    ")}
  ],
  compatibilityDate = ${str(bundle.compatibilityDate)},
  compatibilityFlags = [${bundle.compatibilityFlags.map(str).join(", ")}],${config.loopbackFetch === true ? '\n  globalOutbound = "loopback",' : ""}${objects.worker}
  bindings = [
    ${bindings.join(",\n    ")}
  ],
);
`;
}

/**
 * Writes the config next to the bundle and starts `workerd serve` on it, logging to `<name>.log` in the
 * bundle dir; resolves once the socket accepts connections.
 */
export async function startWorkerd(name: string, config: WorkerdConfig): Promise<ManagedProcess> {
  const configPath = join(config.bundle.dir, `${name}.capnp`);
  const storagePath = join(config.bundle.dir, `${name}.do-storage`);
  if ((config.bundle.durableObjects ?? []).length > 0) await mkdir(storagePath, { recursive: true });
  await writeFile(configPath, capnpConfig({ ...config, storagePath: config.storagePath ?? storagePath }));
  const proc = spawnLogged({
    name,
    command: workerdBinary(),
    // BENCH_INSPECT_PORT opens V8's inspector on keymint's workerd, for bench/profile.ts.
    args:
      process.env.BENCH_INSPECT_PORT !== undefined && name === "keymint"
        ? ["serve", configPath, "config", `--inspector-addr=127.0.0.1:${process.env.BENCH_INSPECT_PORT}`]
        : ["serve", configPath, "config"],
    logPath: join(config.bundle.dir, `${name}.log`),
    cwd: config.bundle.dir,
  });
  await waitUntil(proc, `listening on port ${config.port}`, () => canConnect(config.port));
  return proc;
}
