/**
 * Every setting of src/settings.ts takes effect locally: `npm start` with each optional secret and var set in
 * .dev.vars (and one with `--var`), and `npx wrangler dev` with out-of-range vars in .dev.vars, observed over
 * HTTP and on the servers' own output.
 */

import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as jose from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { importHmacKey as importSigningKey } from "../../src/jwt/keys.ts";
import { signJwt } from "../../src/jwt/sign.ts";
import { SETTING_NAMES } from "../../src/settings.ts";
import { freshMinute } from "../fresh-minute.ts";
import { clients, freePort, jsonLines, type Server, scratchProject, startServer, waitForOutput } from "./helpers.ts";

const SIGNING_KEY = "local-config-signing-key-0123456789abcdefgh";
const RETIRED_KEY = "local-config-retired-key-0123456789abcdefgh";
const ISSUER = "https://auth.example.test";
const AUDIENCE = "https://api.example.test";
const EXEMPT_SOURCE = "203.0.113.77";

/** Key pairs made by jose: the signing JWK and a retired one (its public part in TOKEN_VERIFICATION_JWKS). */
async function keyPair(alg: "ES256" | "EdDSA", kid: string) {
  const pair = await jose.generateKeyPair(alg, { extractable: true, crv: alg === "EdDSA" ? "Ed25519" : undefined });
  return {
    kid,
    privateKey: pair.privateKey,
    privateJwk: { ...(await jose.exportJWK(pair.privateKey)), kid, alg },
    publicJwk: { ...(await jose.exportJWK(pair.publicKey)), kid, alg },
  };
}
const SIGNING_PAIR = await keyPair("ES256", "local-es256");
const RETIRED_PAIR = await keyPair("EdDSA", "local-retired-ed25519");

/** npm start's .dev.vars: every optional secret and var but the one given with --var. */
const DEV_VARS: Record<string, string> = {
  TOKEN_SIGNING_KEY: SIGNING_KEY,
  TOKEN_VERIFICATION_KEYS: RETIRED_KEY,
  TOKEN_SIGNING_JWK: JSON.stringify(SIGNING_PAIR.privateJwk),
  TOKEN_VERIFICATION_JWKS: JSON.stringify({ keys: [RETIRED_PAIR.publicJwk] }),
  ISSUER,
  DEFAULT_AUDIENCE: AUDIENCE,
  SCOPES_SUPPORTED: "read write admin",
  AUDIT_LOG: "off",
  CLIENT_CACHE_TTL: "0",
  THROTTLE_EXEMPT_CIDRS: "203.0.113.0/24 2001:db8:77::/48",
  DPOP_NONCE: "on",
};
const VAR_ARGS: Record<string, string> = { DEFAULT_TOKEN_TTL: "900" };
/** wrangler dev's .dev.vars: vars whose effect shows only when they are wrong. */
const INVALID_DEV_VARS: Record<string, string> = {
  TOKEN_SIGNING_KEY: SIGNING_KEY,
  KV_CACHE_TTL: "5",
  KV_TIMEOUT_MS: "0",
  CLAIMS_HOOK_TIMEOUT_MS: "5",
  CLAIMS_HOOK_FAILURE: "sometimes",
};

/** One line per setting; JSON values in single quotes, as a user pastes them. */
function dotenv(vars: Record<string, string>): string {
  return Object.entries(vars)
    .map(([name, value]) => (value.startsWith("{") ? `${name}='${value}'\n` : `${name}="${value}"\n`))
    .join("");
}

let configured: { project: string; server: Server };
let invalid: { project: string; server: Server };

async function serve(devVars: Record<string, string>, command: string, args: string[]) {
  const project = await scratchProject();
  await writeFile(join(project, ".dev.vars"), dotenv(devVars));
  const port = await freePort();
  const server = await startServer(command, [...args, "--port", String(port), "--ip", "127.0.0.1"], project, port);
  return { project, server };
}

beforeAll(async () => {
  const varArgs = Object.entries(VAR_ARGS).flatMap(([name, value]) => ["--var", `${name}:${value}`]);
  [configured, invalid] = await Promise.all([
    serve(DEV_VARS, "npm", ["start", "--", ...varArgs]),
    serve(INVALID_DEV_VARS, "wrangler", ["dev"]),
  ]);
});

afterAll(async () => {
  await Promise.all([configured?.server.stop(), invalid?.server.stop()]);
});

async function createClient(args: string[] = []): Promise<{ client_id: string; client_secret: string }> {
  const created = await clients(configured.project, ["create", "--name", "local-config", ...args]);
  expect(created.code, created.stderr).toBe(0);
  return JSON.parse(created.stdout) as { client_id: string; client_secret: string };
}

function tokenRequest(id: string, secret: string, source?: string): Promise<Response> {
  return fetch(`${configured.server.url}/oauth2/token`, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      Authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`,
      ...(source === undefined ? {} : { "CF-Connecting-IP": source }),
    },
    body: "grant_type=client_credentials",
  });
}

/** Whether the configured server's introspection finds `token` active (RFC 7662), asked by a --can-introspect client. */
async function introspect(id: string, secret: string, token: string): Promise<boolean> {
  const res = await fetch(`${configured.server.url}/oauth2/introspect`, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      Authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`,
    },
    body: new URLSearchParams({ token }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { active: boolean }).active;
}

describe("the settings this file sets", () => {
  it("cover every secret and var of src/settings.ts", () => {
    const covered = [...Object.keys(DEV_VARS), ...Object.keys(VAR_ARGS), ...Object.keys(INVALID_DEV_VARS)];
    expect([...new Set(covered)].sort()).toEqual([...SETTING_NAMES].sort());
  });
});

describe("npm start with every optional setting in .dev.vars and one --var", () => {
  it("prints once which optional settings are in effect, by name only", () => {
    const output = configured.server.output();
    const summaries = output.split("\n").filter((l) => l.startsWith("keymint: optional settings"));
    expect(summaries).toEqual([
      "keymint: optional settings in effect (names only): .dev.vars: AUDIT_LOG, CLIENT_CACHE_TTL, DEFAULT_AUDIENCE, DPOP_NONCE, ISSUER, SCOPES_SUPPORTED, THROTTLE_EXEMPT_CIDRS, TOKEN_SIGNING_JWK, TOKEN_VERIFICATION_JWKS, TOKEN_VERIFICATION_KEYS; --var: DEFAULT_TOKEN_TTL",
    ]);
    expect(output).not.toContain(RETIRED_KEY);
    expect(output).not.toContain(SIGNING_KEY);
    expect(output).not.toContain(String(SIGNING_PAIR.privateJwk.d));
  });

  it("issues tokens signed with TOKEN_SIGNING_JWK, with ISSUER, DEFAULT_AUDIENCE and the --var DEFAULT_TOKEN_TTL", async () => {
    const { client_id: id, client_secret: secret } = await createClient();
    const res = await tokenRequest(id, secret);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { access_token: string; expires_in: number };
    expect(body.expires_in).toBe(900);
    const { payload, protectedHeader } = await jose.jwtVerify(
      body.access_token,
      jose.createRemoteJWKSet(new URL(`${configured.server.url}/.well-known/jwks.json`)),
      { typ: "at+jwt", algorithms: ["ES256"], issuer: ISSUER, audience: AUDIENCE },
    );
    expect(protectedHeader.kid).toBe(SIGNING_PAIR.kid);
    expect((payload.exp as number) - (payload.iat as number)).toBe(900);
  });

  it("publishes the signing JWK's and TOKEN_VERIFICATION_JWKS's public parts at /.well-known/jwks.json", async () => {
    const res = await fetch(`${configured.server.url}/.well-known/jwks.json`);
    expect(res.status).toBe(200);
    const { keys } = (await res.json()) as { keys: Record<string, unknown>[] };
    expect(keys.map((k) => k.kid)).toEqual([SIGNING_PAIR.kid, RETIRED_PAIR.kid]);
    for (const key of keys) expect(key).not.toHaveProperty("d");
  });

  it("accepts at introspection tokens of TOKEN_VERIFICATION_JWKS's key and of TOKEN_SIGNING_KEY (HS256 before the switch)", async () => {
    const { client_id: id, client_secret: secret } = await createClient(["--can-introspect"]);
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: ISSUER, sub: id, client_id: id, aud: AUDIENCE, iat: now, exp: now + 600 };
    const retired = await new jose.SignJWT({ ...claims, jti: crypto.randomUUID() })
      .setProtectedHeader({ alg: "EdDSA", typ: "at+jwt", kid: RETIRED_PAIR.kid })
      .sign(RETIRED_PAIR.privateKey);
    const hs256 = await signJwt(await importSigningKey(SIGNING_KEY), { ...claims, jti: crypto.randomUUID() });
    for (const token of [retired, hs256]) expect(await introspect(id, secret, token)).toBe(true);
  });

  it("advertises SCOPES_SUPPORTED and the configured issuer in the metadata (RFC 8414)", async () => {
    const res = await fetch(`${configured.server.url}/.well-known/oauth-authorization-server`);
    expect(res.status).toBe(200);
    const metadata = (await res.json()) as Record<string, unknown>;
    expect(metadata.issuer).toBe(ISSUER);
    expect(metadata.scopes_supported).toEqual(["read", "write", "admin"]);
  });

  it("accepts at introspection a token signed with a key of TOKEN_VERIFICATION_KEYS, and not one signed with another key (RFC 7662)", async () => {
    const { client_id: id, client_secret: secret } = await createClient(["--can-introspect"]);
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: ISSUER, sub: id, client_id: id, aud: AUDIENCE, iat: now, exp: now + 600 };
    const signedWith = async (key: string) =>
      introspect(id, secret, await signJwt(await importSigningKey(key), { ...claims, jti: crypto.randomUUID() }));
    expect(await signedWith(RETIRED_KEY)).toBe(true);
    expect(await signedWith("some-other-key-never-configured-0123456789")).toBe(false);
  });

  it("never throttles a source in THROTTLE_EXEMPT_CIDRS, and throttles others (CONTRACT: throttling)", async () => {
    const { client_id: id } = await createClient();
    const statuses = async (source: string) => {
      const out: number[] = [];
      for (let i = 0; i < 11; i++) {
        const res = await tokenRequest(id, `wrong-${i}-0123456789abcdefghijklmnop`, source);
        await res.arrayBuffer();
        out.push(res.status);
      }
      return out;
    };
    expect(await statuses(EXEMPT_SOURCE)).toEqual(Array(11).fill(401));
    // The local binding's windows are aligned to the wall clock: the counted run must not cross a minute.
    await freshMinute(30);
    expect((await statuses("198.51.100.77")).slice(10)).toEqual([429]);
  });

  it("asks a DPoP token request for a server nonce with DPOP_NONCE=on (RFC 9449 §8)", async () => {
    const { client_id: id, client_secret: secret } = await createClient();
    const pair = await jose.generateKeyPair("ES256");
    const proof = async (nonce?: string) =>
      new jose.SignJWT({
        htm: "POST",
        htu: `${configured.server.url}/oauth2/token`,
        iat: Math.floor(Date.now() / 1000),
        jti: crypto.randomUUID(),
        ...(nonce === undefined ? {} : { nonce }),
      })
        .setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk: await jose.exportJWK(pair.publicKey) })
        .sign(pair.privateKey);
    const request = async (dpop: string) =>
      fetch(`${configured.server.url}/oauth2/token`, {
        method: "POST",
        headers: {
          "Content-Type": "application/x-www-form-urlencoded",
          Authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`,
          DPoP: dpop,
        },
        body: "grant_type=client_credentials",
      });
    const first = await request(await proof());
    expect(first.status).toBe(400);
    expect(((await first.json()) as { error: string }).error).toBe("use_dpop_nonce");
    const nonce = first.headers.get("dpop-nonce") as string;
    const retry = await request(await proof(nonce));
    expect(retry.status).toBe(200);
    expect(((await retry.json()) as { token_type: string }).token_type).toBe("DPoP");
  });

  it("sees a disabled client at once with CLIENT_CACHE_TTL=0 (no in-isolate cache)", async () => {
    const { client_id: id, client_secret: secret } = await createClient();
    expect((await tokenRequest(id, secret)).status).toBe(200);
    expect((await clients(configured.project, ["disable", id])).code).toBe(0);
    expect((await tokenRequest(id, secret)).status).toBe(401);
  });

  it("writes no audit line with AUDIT_LOG=off (the other requests of this file included)", async () => {
    const { client_id: id, client_secret: secret } = await createClient();
    const res = await tokenRequest(id, secret);
    expect(res.status).toBe(200);
    // wrangler dev's own line for this request comes after anything the Worker logged while serving it.
    await waitForOutput(configured.server, (output) =>
      output.split("\n").filter((l) => /POST \/oauth2\/token 200/.test(l)).length >= 3 ? true : undefined,
    );
    const audit = jsonLines(configured.server.output()).filter((l) => l.event === "token" || l.event === "introspect");
    expect(audit).toEqual([]);
  });
});

describe("npx wrangler dev with out-of-range vars in .dev.vars", () => {
  it("answers 500 server_error and logs one line naming every invalid setting and its fix", async () => {
    const res = await fetch(`${invalid.server.url}/.well-known/oauth-authorization-server`);
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({
      error: "server_error",
      error_description: "The authorization server encountered an internal error",
    });
    const line = await waitForOutput(invalid.server, (output) =>
      jsonLines(output).find((l) => l.event === "configuration_error"),
    );
    for (const name of ["KV_CACHE_TTL", "KV_TIMEOUT_MS", "CLAIMS_HOOK_TIMEOUT_MS", "CLAIMS_HOOK_FAILURE"]) {
      expect(line.cause).toContain(name);
      expect(line.fix).toContain(name);
    }
  });
});
