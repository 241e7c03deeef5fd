/**
 * Microbenchmark Worker: runs keymint's token hot path (authenticate → decide → sign) `n` times inside one
 * request, so the orchestrator can measure workerd's CPU time around the request (inside workerd the
 * clocks do not advance during pure CPU work). `GET /run?mode=M&n=N` with M one of:
 *
 * - `empty`   the loop alone (the baseline subtracted from the others)
 * - `token`   verifyClientSecret + decideClientCredentials (with a fresh jti) + signJwt: one token
 * - `token-claims` the same for a client with 3 static claims (compare with `token`: what the claims cost)
 * - `verify`  verifyClientSecret only (one salted SHA-256 and MAX_SECRETS constant-time comparisons)
 * - `decide`  decideClientCredentials only, with crypto.randomUUID() for the jti as the endpoint does
 * - `sign`    signJwt only
 * - `prepare` JSON.parse + parseRecord + base64 decoding of a KV value: the cost of a client-cache miss
 * - `request` build a token Request, read its body, answer a constant Response: what any endpoint pays
 * - `endpoint` the whole token endpoint (tokenEndpoint: form, Basic auth, cached client, throttle checks,
 *   decide, sign, audit log, Response) on the same Request, minus nothing: compare it with `request`
 * - `endpoint-quiet` the same with AUDIT_LOG=off
 * - `endpoint-mtls` the whole token endpoint for a tls_client_auth client (RFC 8705): `client_id` in the body and
 *   Cloudflare's `request.cf.tlsClientAuth` instead of Basic credentials (compare it with `endpoint`)
 * - `request-mtls` what `request` measures, for that mTLS Request (its `cf` object included; subtract it from
 *   `endpoint-mtls` as `request` from `endpoint`)
 * - `endpoint-claims` the whole token endpoint for the client with 3 static claims (compare with `endpoint`)
 * - `hook-floor` a bare service-binding round trip to the example claims hook (fetch a JSON POST, read the text)
 * - `hook-call` callClaimsHook + readHookAnswer: keymint's hook call (timeout, bounded read, JSON, rules)
 * - `endpoint-hook` the whole token endpoint for the claims client with CLAIMS_HOOK bound to the example hook
 * - `form`    build the token Request and parse its body with readForm (compare with `request`)
 * - `audit-log` console.log of one audit-sized JSON line (what the audit log costs beyond building the line)
 * - `audit-line` build and log an audit line as serveAudited does (a fixed-shape object, JSON.stringify, the
 *   source address header, console.log)
 *
 * The functions whose declarations need Workers types (verifyClientSecret, importSigningKey, signJwt) are
 * passed in by micro-entry.js, the bundle entry, so that `tsc -p cli` (Node types) can check this file.
 */

import { parseRecord } from "../../src/clients/record.ts";
import type { PreparedClient } from "../../src/clients/store.ts";
import { readForm } from "../../src/http/form.ts";
import type { AccessTokenClaims } from "../../src/jwt/claims.ts";
import { readHookAnswer } from "../../src/oauth/claims-hook.ts";
import { decideClientCredentials } from "../../src/oauth/client-credentials.ts";
import {
  CLAIMS_HOOK_URL,
  type ClaimsHookRequest,
  callClaimsHook,
  type HookBinding,
} from "../../src/remote/claims-hook.ts";
import { base64Decode } from "../../src/util/base64url.ts";

/** The hot-path functions, as declared in src/clients/verify.ts, src/jwt/keys.ts and src/jwt/sign.ts. */
export interface HotPath<Key> {
  verifyClientSecret(client: PreparedClient | null, presentedSecret: string, now: number): Promise<{ ok: boolean }>;
  importSigningKey(secret: string): Promise<Key>;
  signJwt(key: Key, claims: AccessTokenClaims): Promise<string>;
  tokenEndpoint(request: Request, env: Record<string, unknown>): Promise<Response>;
}

export interface MicroEnv {
  /** A client record exactly as stored in KV. */
  CLIENT_RECORD: string;
  CLIENT_SECRET: string;
  /** A second client, with 3 static claims, and its secret. */
  CLAIMS_RECORD: string;
  CLAIMS_SECRET: string;
  /** Service binding to examples/claims-hook in the same workerd. */
  CLAIMS_HOOK: HookBinding;
  TOKEN_SIGNING_KEY: string;
  ISSUER: string;
  /** A tls_client_auth client's record, and the `request.cf` (JSON) its token requests carry. */
  MTLS_CLIENT_RECORD: string;
  MTLS_CF: string;
}

export const MICRO_MODES = [
  "empty",
  "token",
  "token-claims",
  "verify",
  "decide",
  "sign",
  "prepare",
  "request",
  "endpoint",
  "endpoint-quiet",
  "endpoint-mtls",
  "request-mtls",
  "endpoint-claims",
  "hook-floor",
  "hook-call",
  "endpoint-hook",
  "form",
  "audit-log",
  "audit-line",
] as const;
export type MicroMode = (typeof MICRO_MODES)[number];

const HOOK_MODES: readonly MicroMode[] = ["hook-floor", "hook-call", "endpoint-hook"];

/**
 * Iterations a mode runs for `n`: the hook modes run a tenth (each costs ~10x a token, and each hook call leaves one
 * AbortSignal.timeout pending for the rest of the request; workerd allows 10,000 active timeouts per request, and
 * in the micro worker time stands still, so they never expire).
 */
export function iterationsFor(mode: MicroMode, n: number): number {
  return HOOK_MODES.includes(mode) ? Math.max(1, Math.floor(n / 10)) : n;
}

export interface MicroResponse {
  mode: MicroMode;
  n: number;
  /** Keeps the loop bodies observable; meaningless otherwise. */
  checksum: number;
  /** The last token of a `token` run, so the orchestrator can check its signature. */
  token?: string;
}

/** Decodes a stored record like `prepare()` in src/clients/kv-store.ts. */
function prepare(raw: string): PreparedClient {
  const record = parseRecord(JSON.parse(raw));
  const salt = base64Decode(record.salt, "base64url");
  const hashes = record.secrets.map((secret) => base64Decode(secret.hash, "base64url"));
  if (salt === null || hashes.some((h) => h === null || h.length !== 32)) throw new Error("corrupt record");
  return { record, salt, hashes: hashes as Uint8Array[] };
}

function isMode(value: string | null): value is MicroMode {
  return (MICRO_MODES as readonly (string | null)[]).includes(value);
}

const CONSTANT_BODY = JSON.stringify({ access_token: "x".repeat(480), token_type: "Bearer", expires_in: 3600 });
const CONSTANT_HEADERS = {
  "Content-Type": "application/json; charset=utf-8",
  "Cache-Control": "no-store",
  Pragma: "no-cache",
};

export function microWorker<Key>(hot: HotPath<Key>): { fetch(request: Request, env: MicroEnv): Promise<Response> } {
  let keyPromise: Promise<Key> | undefined;
  // One env object for the isolate, as workerd passes one: keymint memoizes its config and store per env.
  let workerEnv: Record<string, unknown> | undefined;
  let mtlsEnv: Record<string, unknown> | undefined;
  let claimsEnv: Record<string, unknown> | undefined;
  let hookEnv: Record<string, unknown> | undefined;

  return {
    async fetch(request: Request, env: MicroEnv): Promise<Response> {
      const url = new URL(request.url);
      const mode = url.searchParams.get("mode");
      const n = Number(url.searchParams.get("n") ?? "1");
      if (!isMode(mode) || !Number.isInteger(n) || n < 1) return new Response("bad mode or n", { status: 400 });

      keyPromise ??= hot.importSigningKey(env.TOKEN_SIGNING_KEY);
      const key = await keyPromise;
      const client = prepare(env.CLIENT_RECORD);
      const claimsClient = prepare(env.CLAIMS_RECORD);
      const now = Math.floor(Date.now() / 1000);
      const decide = (who: PreparedClient = client) =>
        decideClientCredentials({
          client: who.record,
          scope: undefined,
          resources: [],
          issuer: env.ISSUER,
          defaultTtl: 3600,
          defaultAudience: null,
          now,
          jti: crypto.randomUUID(),
        });
      if (!(await hot.verifyClientSecret(client, env.CLIENT_SECRET, now)).ok) {
        return new Response("the benchmark secret does not verify", { status: 500 });
      }
      const fixedClaims = decide().claims;
      if (!(await hot.verifyClientSecret(claimsClient, env.CLAIMS_SECRET, now)).ok) {
        return new Response("the benchmark claims client's secret does not verify", { status: 500 });
      }
      const basic = `Basic ${btoa(`${client.record.client_id}:${env.CLIENT_SECRET}`)}`;
      const claimsBasic = `Basic ${btoa(`${claimsClient.record.client_id}:${env.CLAIMS_SECRET}`)}`;
      const tokenRequest = (authorization = basic) =>
        new Request(`${env.ISSUER}/oauth2/token`, {
          method: "POST",
          headers: {
            authorization,
            "content-type": "application/x-www-form-urlencoded",
            "content-length": "29",
          },
          body: "grant_type=client_credentials",
        });
      workerEnv ??= {
        CLIENTS: { get: async () => env.CLIENT_RECORD },
        TOKEN_SIGNING_KEY: env.TOKEN_SIGNING_KEY,
        ISSUER: env.ISSUER,
        DEFAULT_TOKEN_TTL: "3600",
        DEFAULT_AUDIENCE: "",
        CLIENT_CACHE_TTL: "10",
      };
      // A second registry (its own env object, so its own store and cache) holding the mTLS client.
      mtlsEnv ??= { ...workerEnv, CLIENTS: { get: async () => env.MTLS_CLIENT_RECORD } };
      const mtlsId = (JSON.parse(env.MTLS_CLIENT_RECORD) as { client_id: string }).client_id;
      const mtlsBody = `grant_type=client_credentials&client_id=${mtlsId}`;
      const cf = JSON.parse(env.MTLS_CF) as Record<string, unknown>;
      const mtlsRequest = () =>
        new Request(`${env.ISSUER}/oauth2/token`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded", "content-length": String(mtlsBody.length) },
          body: mtlsBody,
          cf,
        } as RequestInit);
      // Its own env (keymint keeps one client cache per CLIENTS binding), serving the claims client.
      claimsEnv ??= { ...workerEnv, CLIENTS: { get: async () => env.CLAIMS_RECORD } };
      hookEnv ??= { ...claimsEnv, CLIENTS: { get: async () => env.CLAIMS_RECORD }, CLAIMS_HOOK: env.CLAIMS_HOOK };
      const claimsDecision = decide(claimsClient);
      const hookRequest: ClaimsHookRequest = {
        client_id: claimsClient.record.client_id,
        scope: claimsDecision.scope ?? null,
        aud: claimsDecision.claims.aud,
        claims: claimsClient.record.claims,
        token_endpoint_auth_method: "client_secret_basic",
        dpop_jkt: null,
        iss: env.ISSUER,
        jti: claimsDecision.claims.jti,
        iat: now,
        exp: claimsDecision.claims.exp,
      };

      let checksum = 0;
      let token: string | undefined;
      const hookN = iterationsFor(mode, n);
      // With V8's --expose-gc (allocation measurements), a full GC right before and after the loop makes the
      // GC trace account for exactly the loop's allocations.
      const collect = (globalThis as { gc?: () => void }).gc;
      collect?.();
      switch (mode) {
        case "empty":
          for (let i = 0; i < n; i++) checksum = (checksum + i) | 0;
          break;
        case "token":
          for (let i = 0; i < n; i++) {
            const verified = await hot.verifyClientSecret(client, env.CLIENT_SECRET, now);
            if (!verified.ok) throw new Error("verification failed");
            token = await hot.signJwt(key, decide().claims);
            checksum = (checksum + token.length) | 0;
          }
          break;
        case "token-claims":
          for (let i = 0; i < n; i++) {
            const verified = await hot.verifyClientSecret(claimsClient, env.CLAIMS_SECRET, now);
            if (!verified.ok) throw new Error("verification failed");
            token = await hot.signJwt(key, decide(claimsClient).claims);
            checksum = (checksum + token.length) | 0;
          }
          break;
        case "verify":
          for (let i = 0; i < n; i++) {
            if ((await hot.verifyClientSecret(client, env.CLIENT_SECRET, now)).ok) checksum++;
          }
          break;
        case "decide":
          for (let i = 0; i < n; i++) checksum = (checksum + decide().expiresIn) | 0;
          break;
        case "sign":
          for (let i = 0; i < n; i++) checksum = (checksum + (await hot.signJwt(key, fixedClaims)).length) | 0;
          break;
        case "prepare":
          for (let i = 0; i < n; i++) checksum = (checksum + prepare(env.CLIENT_RECORD).hashes.length) | 0;
          break;
        case "request":
          for (let i = 0; i < n; i++) {
            const req = tokenRequest();
            checksum = (checksum + (await req.arrayBuffer()).byteLength) | 0;
            const res = new Response(CONSTANT_BODY, { status: 200, headers: CONSTANT_HEADERS });
            checksum = (checksum + res.status) | 0;
          }
          break;
        case "hook-floor":
          for (let i = 0; i < hookN; i++) {
            const res = await env.CLAIMS_HOOK.fetch(
              new Request(CLAIMS_HOOK_URL, { method: "POST", body: JSON.stringify(hookRequest) }),
            );
            checksum = (checksum + (await res.text()).length) | 0;
          }
          break;
        case "hook-call":
          for (let i = 0; i < hookN; i++) {
            const answer = readHookAnswer(await callClaimsHook(env.CLAIMS_HOOK, hookRequest, 1000));
            if (!("claims" in answer) || answer.claims.plan !== "enterprise") throw new Error("unexpected hook answer");
            checksum = (checksum + 1) | 0;
          }
          break;
        case "endpoint-hook":
          for (let i = 0; i < hookN; i++) {
            const res = await hot.tokenEndpoint(tokenRequest(claimsBasic), hookEnv);
            if (res.status !== 200) throw new Error(`token endpoint answered ${res.status}: ${await res.text()}`);
            checksum = (checksum + res.status) | 0;
          }
          break;
        case "form":
          for (let i = 0; i < n; i++) {
            const form = await readForm(tokenRequest());
            checksum = (checksum + (form.get("grant_type")?.length ?? 0)) | 0;
          }
          break;
        case "audit-log": {
          const line = JSON.stringify({
            level: "info",
            event: "token",
            outcome: "issued",
            client_id: client.record.client_id,
            auth_method: "client_secret_basic",
            scope: "read write",
            jti: crypto.randomUUID(),
            aud: env.ISSUER,
            ip: null,
            latency_ms: 0,
          });
          for (let i = 0; i < n; i++) console.log(line);
          break;
        }
        case "audit-line": {
          const req = tokenRequest();
          for (let i = 0; i < n; i++) {
            console.log(
              JSON.stringify({
                level: "info",
                event: "token",
                outcome: "issued",
                client_id: client.record.client_id,
                unknown_client_id_length: undefined,
                auth_method: "client_secret_basic",
                secret: undefined,
                scope: "read write",
                jti: fixedClaims.jti,
                aud: env.ISSUER,
                token_client_id: undefined,
                reason: undefined,
                error: undefined,
                detail: undefined,
                status: undefined,
                ip: req.headers.get("cf-connecting-ip"),
                latency_ms: Date.now() - now,
              }),
            );
          }
          break;
        }
        case "endpoint":
        case "endpoint-quiet": {
          const endpointEnv = mode === "endpoint" ? workerEnv : { ...workerEnv, AUDIT_LOG: "off" };
          for (let i = 0; i < n; i++) {
            const res = await hot.tokenEndpoint(tokenRequest(), endpointEnv);
            if (res.status !== 200) throw new Error(`token endpoint answered ${res.status}: ${await res.text()}`);
            checksum = (checksum + res.status) | 0;
          }
          break;
        }
        case "request-mtls":
          for (let i = 0; i < n; i++) {
            const req = mtlsRequest();
            checksum =
              (checksum + (await req.arrayBuffer()).byteLength + ((req as { cf?: unknown }).cf === undefined ? 0 : 1)) |
              0;
            const res = new Response(CONSTANT_BODY, { status: 200, headers: CONSTANT_HEADERS });
            checksum = (checksum + res.status) | 0;
          }
          break;
        case "endpoint-mtls":
          for (let i = 0; i < n; i++) {
            const res = await hot.tokenEndpoint(mtlsRequest(), mtlsEnv);
            if (res.status !== 200)
              throw new Error(`token endpoint answered ${res.status} (mTLS): ${await res.text()}`);
            checksum = (checksum + res.status) | 0;
          }
          break;
        case "endpoint-claims":
          for (let i = 0; i < n; i++) {
            const res = await hot.tokenEndpoint(tokenRequest(claimsBasic), claimsEnv);
            if (res.status !== 200) throw new Error(`token endpoint answered ${res.status}: ${await res.text()}`);
            checksum = (checksum + res.status) | 0;
          }
          break;
      }
      collect?.();
      const body: MicroResponse = { mode, n, checksum };
      if (token !== undefined) body.token = token;
      return new Response(JSON.stringify(body), { headers: { "content-type": "application/json" } });
    },
  };
}
