/** The servers under test: keymint and the floors, each bundled as deploy would and run on bare workerd. */

import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { unstable_readConfig } from "wrangler";
import { type Bundle, bundleEntry, bundleProject, rootPath } from "./bundle.ts";
import {
  basicAuthorization,
  benchCredentials,
  type Credentials,
  requestToken,
  TOKEN_PATH,
  TOKEN_REQUEST_BODY,
} from "./clients.ts";
import { API_AUDIENCE } from "./fixtures.ts";
import { startKvService } from "./kv.ts";
import { CF_BLOB_HEADER } from "./mtls.ts";
import { freePort, type ManagedProcess, waitUntil } from "./process.ts";
import type { RequestPlan } from "./requests.ts";
import { type Binding, startWorkerd } from "./workerd.ts";

export interface Server {
  name: string;
  url: string;
  port: number;
  proc: ManagedProcess;
}

/** Seconds keymint caches a client record in the isolate (wrangler.toml's CLIENT_CACHE_TTL). */
export const CLIENT_CACHE_TTL_SECONDS = 10;

/** The [vars] of wrangler.toml, as deployed (AUDIT_LOG unset: one audit line per token request). */
export function keymintVars(): Record<string, string> {
  return {
    ISSUER: "",
    DEFAULT_TOKEN_TTL: "3600",
    DEFAULT_AUDIENCE: "",
    CLIENT_CACHE_TTL: String(CLIENT_CACHE_TTL_SECONDS),
  };
}

/** A random 256-bit signing key, base64url (43 characters). */
export function randomSigningKey(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
}

/** Bundles keymint into `<dir>/keymint` (wrangler deploy --dry-run). */
export async function bundleKeymint(dir: string): Promise<Bundle> {
  const outDir = join(dir, "keymint");
  await mkdir(outDir, { recursive: true });
  return bundleProject(outDir);
}

export interface KeymintOptions {
  /** Instance name (log and config file names); default "keymint". */
  name?: string;
  bundle: Bundle;
  /** TOKEN_SIGNING_JWK: tokens signed with this key pair instead of HS256. */
  signingJwk?: string;
  /** Extra vars (e.g. AUDIT_LOG=off). */
  vars?: Record<string, string>;
  kvPort: number;
  signingKey: string;
  /** Port to listen on; a free one when omitted. */
  port?: number;
  /** A registered client: readiness means a real token was issued to it. */
  probe: Credentials;
  /** examples/claims-hook bundled: served in the same workerd process and bound as CLAIMS_HOOK. */
  claimsHook?: Bundle;
}

/** Serves the keymint bundle on workerd with CLIENTS bound to the KV service; ready once it issues a token. */
export async function startKeymint(options: KeymintOptions): Promise<Server> {
  const port = options.port ?? (await freePort());
  const bindings: Binding[] = [
    { name: "CLIENTS", kvNamespace: "kv" },
    { name: "TOKEN_SIGNING_KEY", text: options.signingKey },
    ...(options.signingJwk === undefined ? [] : [{ name: "TOKEN_SIGNING_JWK", text: options.signingJwk }]),
    ...Object.entries({ ...keymintVars(), ...options.vars }).map(([name, text]) => ({ name, text })),
    ...(options.claimsHook === undefined ? [] : [{ name: "CLAIMS_HOOK", service: "claims-hook" }]),
  ];
  const name = options.name ?? "keymint";
  const proc = await startWorkerd(name, {
    workers:
      options.claimsHook === undefined
        ? []
        : [{ name: "claims-hook", bundle: options.claimsHook, bindings: claimsHookVars() }],
    bundle: options.bundle,
    port,
    bindings,
    externals: { kv: `127.0.0.1:${options.kvPort}` },
    // Federated clients: keymint fetches the outside issuer's discovery and JWKS from the KV service's port.
    loopbackFetch: true,
    // mTLS clients: the request's `cf` (Cloudflare's tlsClientAuth) comes in a header, as the edge would set it.
    cfBlobHeader: CF_BLOB_HEADER,
  });
  const url = `http://127.0.0.1:${port}`;
  let last = "";
  await waitUntil(proc, "issuing a token", async () => {
    const check = await requestToken(url, options.probe);
    last = `HTTP ${check.status}: ${check.detail}`;
    return check.ok;
  }).catch((err: unknown) => {
    throw new Error(`${err instanceof Error ? err.message : String(err)}\nlast token response: ${last}`);
  });
  return { name, url, port, proc };
}

/** Bundles the example claims hook (examples/claims-hook) into `<dir>/claims-hook`. */
export async function bundleClaimsHook(dir: string): Promise<Bundle> {
  const outDir = join(dir, "claims-hook");
  await mkdir(outDir, { recursive: true });
  return bundleEntry(rootPath("examples/claims-hook/src/index.ts"), "keymint-bench-claims-hook", outDir);
}

/** The example hook's [vars], exactly as its wrangler.toml sets them. */
export function claimsHookVars(): Binding[] {
  const config = unstable_readConfig(
    { config: rootPath("examples/claims-hook/wrangler.toml") },
    { hideWarnings: true },
  );
  return Object.entries(config.vars).map(([name, value]) => ({ name, text: String(value) }));
}

/** The floor Workers (bench/workers/<kind>.ts): the outside bench's Hono floor and the bare one. */
export type FloorKind = "floor" | "bare-floor";

/** Bundles a floor Worker into `<dir>/<kind>`. */
export async function bundleFloor(dir: string, kind: FloorKind): Promise<Bundle> {
  const outDir = join(dir, kind);
  await mkdir(outDir, { recursive: true });
  return bundleEntry(rootPath(`bench/workers/${kind}.ts`), `keymint-bench-${kind}`, outDir);
}

/** Serves a floor bundle on workerd; ready once it answers the token route with 200. */
export async function startFloor(kind: FloorKind, bundle: Bundle): Promise<Server> {
  const port = await freePort();
  const proc = await startWorkerd(kind, { bundle, port });
  const url = `http://127.0.0.1:${port}`;
  await waitUntil(proc, "answering the token route", async () => {
    try {
      const response = await fetch(`${url}${TOKEN_PATH}`, {
        method: "POST",
        headers: {
          authorization: basicAuthorization({ clientId: "floor", secret: "floor" }),
          "content-type": "application/x-www-form-urlencoded",
        },
        body: TOKEN_REQUEST_BODY,
      });
      await response.arrayBuffer();
      return response.status === 200;
    } catch {
      return false;
    }
  });
  return { name: kind, url, port, proc };
}

/** Bundles the example API (examples/resource-server) into `<dir>/resource-server`. */
export async function bundleResourceServer(dir: string): Promise<Bundle> {
  const outDir = join(dir, "resource-server");
  await mkdir(outDir, { recursive: true });
  return bundleEntry(rootPath("examples/resource-server/src/index.ts"), "keymint-bench-api", outDir);
}

export interface ResourceServerOptions {
  name: string;
  bundle: Bundle;
  /** keymint's issuer (KEYMINT_ISSUER). */
  issuer: string;
  /** HMAC mode: keymint's TOKEN_SIGNING_KEY. */
  signingKey?: string;
  /** JWKS mode: keymint's jwks_uri (KEYMINT_JWKS_URL). */
  jwksUrl?: string;
}

/** Serves the example API on workerd (HMAC or JWKS mode); ready once `GET /health` answers 200. */
export async function startResourceServer(options: ResourceServerOptions): Promise<Server> {
  const port = await freePort();
  const bindings: Binding[] = [
    { name: "KEYMINT_ISSUER", text: options.issuer },
    { name: "API_AUDIENCE", text: API_AUDIENCE },
    { name: "KEYMINT_JWKS_URL", text: options.jwksUrl ?? "" },
    ...(options.signingKey === undefined ? [] : [{ name: "TOKEN_SIGNING_KEY", text: options.signingKey }]),
  ];
  const proc = await startWorkerd(options.name, { bundle: options.bundle, port, bindings, loopbackFetch: true });
  const url = `http://127.0.0.1:${port}`;
  await waitUntil(proc, "answering /health", async () => {
    try {
      const response = await fetch(`${url}/health`);
      await response.arrayBuffer();
      return response.status === 200;
    } catch {
      return false;
    }
  });
  return { name: options.name, url, port, proc };
}

/**
 * One server for the side-by-side tools (bench:perf, bench:serve): keymint (HS256, one client, its own KV service)
 * or a floor Worker, bundled into `dir`.
 */
export async function startSingleServer(name: "keymint" | FloorKind, dir: string, seed: string): Promise<Server> {
  if (name !== "keymint") return startFloor(name, await bundleFloor(dir, name));
  const [kv, bundle] = await Promise.all([startKvService(dir, seed, 1), bundleKeymint(dir)]);
  return startKeymint({ bundle, kvPort: kv.port, signingKey: randomSigningKey(), probe: benchCredentials(seed, 0) });
}

/** The plan the side-by-side tools drive every server with: the HS256 token request of client 0. */
export const SINGLE_CLIENT_PLAN: RequestPlan = {
  kind: "basic",
  path: TOKEN_PATH,
  body: TOKEN_REQUEST_BODY,
  clients: 1,
};
