/**
 * End to end under `npm start`, with TOKEN_SIGNING_JWK in .dev.vars and `--var DPOP_NONCE:on`: the README's
 * "Verify tokens in your API" snippets run as written (jose in Node, PyJWT from Debian's python3-jwt) against
 * the served JWKS; a client created with `--jwks` gets a token with an assertion made by jose (and with the
 * README's assertion script); a federated client gets one with a JWT from an OpenID Connect issuer this test
 * serves on 127.0.0.1; oauth4webapi gets a DPoP-bound token through the nonce round trip.
 */

import { execFileSync } from "node:child_process";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { createServer, type Server as HttpServer } from "node:http";
import { join } from "node:path";
import * as jose from "jose";
import * as oauth from "oauth4webapi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clients, freePort, ROOT, run, type Server, scratchProject, startServer } from "./helpers.ts";

const AUDIENCE = "https://api.example.com";
const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const PYTHON = "/usr/bin/python3";

let project: string;
let server: Server;
let signingKid: string;

beforeAll(async () => {
  project = await scratchProject();
  const generated = await run("npm", ["run", "-s", "keys", "--", "generate", "--alg", "ES256"], { cwd: project });
  expect(generated.code, generated.stderr).toBe(0);
  signingKid = (JSON.parse(generated.stdout) as { kid: string }).kid;
  await writeFile(
    join(project, ".dev.vars"),
    `TOKEN_SIGNING_KEY="key-pairs-e2e-signing-key-0123456789abcdef"\nTOKEN_SIGNING_JWK='${generated.stdout.trim()}'\n`,
  );
  const port = await freePort();
  server = await startServer(
    "npm",
    ["start", "--", "--port", String(port), "--ip", "127.0.0.1", "--var", "DPOP_NONCE:on"],
    project,
    port,
  );
});

afterAll(async () => {
  await server?.stop();
});

async function createClient(args: string[]): Promise<string> {
  const created = await clients(project, [
    "create",
    "--name",
    "e2e",
    ...(args.includes("--scope") ? [] : ["--scope", "read"]),
    ...args,
  ]);
  expect(created.code, created.stderr).toBe(0);
  const output = JSON.parse(created.stdout) as Record<string, unknown>;
  return output.client_id as string;
}

async function tokenWith(body: Record<string, string>, auth?: string): Promise<Response> {
  return fetch(`${server.url}/oauth2/token`, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      ...(auth === undefined ? {} : { Authorization: auth }),
    },
    body: new URLSearchParams({ grant_type: "client_credentials", ...body }),
  });
}

async function accessToken(): Promise<string> {
  const created = await clients(project, ["create", "--name", "api-caller", "--scope", "read", "--audience", AUDIENCE]);
  const { client_id: id, client_secret: secret } = JSON.parse(created.stdout) as Record<string, string>;
  const res = await tokenWith({}, `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

/**
 * A code block marked `<!-- snippet: NAME -->` in the README or a guide under docs/, with the example issuer
 * replaced by this server's.
 */
async function snippet(name: string): Promise<string> {
  const guides = (await readdir(join(ROOT, "docs"))).filter((f) => f.endsWith(".md")).map((f) => join("docs", f));
  const texts = await Promise.all(["README.md", ...guides].map((f) => readFile(join(ROOT, f), "utf8")));
  const pattern = new RegExp(`<!-- snippet: ${name} -->\\n\`\`\`\\w+\\n([\\s\\S]*?)\\n\`\`\``);
  const match = texts.map((text) => pattern.exec(text)).find((m) => m !== null) ?? null;
  if (match === null) throw new Error(`neither the README nor docs/ has a snippet ${name}`);
  return (match[1] as string).replaceAll("https://auth.example.com", server.url);
}

describe("README: verify tokens in your API, against the served JWKS", () => {
  it("the jose snippet verifies an ES256 token and refuses a tampered one", async () => {
    const file = join(project, "verify-snippet.mjs");
    await writeFile(file, await snippet("jose"));
    const { verifyAccessToken } = (await import(file)) as {
      verifyAccessToken(token: string): Promise<Record<string, unknown>>;
    };
    const token = await accessToken();
    expect(jose.decodeProtectedHeader(token)).toMatchObject({ alg: "ES256", kid: signingKid, typ: "at+jwt" });
    const payload = await verifyAccessToken(token);
    expect(payload).toMatchObject({ iss: server.url, aud: AUDIENCE, scope: "read" });
    const [h, p] = token.split(".");
    await expect(verifyAccessToken(`${h}.${p}.${"A".repeat(86)}`)).rejects.toThrow();
  });

  it("the PyJWT snippet (PyJWKClient, Debian's python3-jwt) verifies the same token independently", async () => {
    const token = await accessToken();
    const program = `${await snippet("pyjwt")}\n\nimport json, sys\nprint(json.dumps(verify_access_token(sys.argv[1])))\n`;
    const file = join(project, "verify_snippet.py");
    await writeFile(file, program);
    const payload = JSON.parse(execFileSync(PYTHON, [file, token], { encoding: "utf8" })) as Record<string, unknown>;
    expect(payload).toMatchObject({ iss: server.url, aud: AUDIENCE, scope: "read" });
    const forged = `${token.slice(0, token.lastIndexOf("."))}.${"A".repeat(86)}`;
    expect(() => execFileSync(PYTHON, [file, forged], { encoding: "utf8", stdio: "pipe" })).toThrow();
  });
});

describe("private_key_jwt client created with the CLI (RFC 7523)", () => {
  it("the README's assertion.mjs gets a token for a key made by `keys generate`", async () => {
    const keyFile = join(project, "private.jwk.json");
    const generated = await run("npm", ["run", "-s", "keys", "--", "generate", "--alg", "EdDSA"], { cwd: project });
    await writeFile(keyFile, generated.stdout);
    const publicSet = await run("npm", ["run", "-s", "keys", "--", "public"], {
      cwd: project,
      input: generated.stdout,
    });
    const jwksPath = join(project, "readme-public.jwks.json");
    await writeFile(jwksPath, publicSet.stdout);
    const clientId = await createClient(["--jwks", jwksPath]);
    const script = join(project, "assertion.mjs");
    await writeFile(script, await snippet("assertion"));
    const result = await run("node", [script, clientId, keyFile, server.url], { cwd: project });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/access_token: '[\w-]+\.[\w-]+\.[\w-]+'/);
    expect(result.stdout).toMatch(/token_type: 'Bearer'/);
  });

  it("gets a token with an assertion made by jose, and not twice with the same one", async () => {
    const pair = await jose.generateKeyPair("EdDSA", { extractable: true, crv: "Ed25519" });
    const kid = "e2e-ed25519";
    const jwksPath = join(project, "client-jwks.json");
    await writeFile(
      jwksPath,
      JSON.stringify({ keys: [{ ...(await jose.exportJWK(pair.publicKey)), kid, alg: "EdDSA" }] }),
    );
    const clientId = await createClient(["--jwks", jwksPath]);
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new jose.SignJWT({ jti: crypto.randomUUID() })
      .setProtectedHeader({ alg: "EdDSA", kid })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(server.url)
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(pair.privateKey);
    const body = { client_assertion_type: JWT_BEARER, client_assertion: assertion };
    const res = await tokenWith(body);
    const json = (await res.json()) as Record<string, unknown>;
    expect(res.status, JSON.stringify(json)).toBe(200);
    expect(jose.decodeJwt(json.access_token as string)).toMatchObject({ client_id: clientId, scope: "read" });
    const replay = await tokenWith(body);
    expect(replay.status).toBe(401);
    expect(await replay.json()).toEqual({ error: "invalid_client", error_description: "Client authentication failed" });
  });
});

describe("federated workload identity with an OpenID Connect issuer on 127.0.0.1", () => {
  let issuerServer: HttpServer;
  let issuer: string;
  let signing: CryptoKey;
  let fetches: string[];

  beforeAll(async () => {
    const pair = await jose.generateKeyPair("RS256", { extractable: true });
    signing = pair.privateKey;
    const jwk = { ...(await jose.exportJWK(pair.publicKey)), kid: "ci-1", alg: "RS256", use: "sig" };
    const port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    fetches = [];
    issuerServer = createServer((req, res) => {
      fetches.push(req.url ?? "");
      const documents: Record<string, unknown> = {
        "/.well-known/openid-configuration": { issuer, jwks_uri: `${issuer}/.well-known/jwks` },
        "/.well-known/jwks": { keys: [jwk] },
      };
      const document = documents[req.url ?? ""];
      res.writeHead(document === undefined ? 404 : 200, { "Content-Type": "application/json" });
      res.end(JSON.stringify(document ?? {}));
    });
    await new Promise<void>((resolve) => issuerServer.listen(port, "127.0.0.1", resolve));
  });

  afterAll(() => new Promise<void>((resolve) => issuerServer.close(() => resolve())));

  function workloadToken(sub: string): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new jose.SignJWT({ repository: "acme/app" })
      .setProtectedHeader({ alg: "RS256", kid: "ci-1", typ: "JWT" })
      .setIssuer(issuer)
      .setSubject(sub)
      .setAudience("keymint")
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(signing);
  }

  it("exchanges the workload's JWT for a token, discovering the issuer's keys once", async () => {
    const subject = "repo:acme/app:ref:refs/heads/main";
    const clientId = await createClient([
      "--federated-issuer",
      issuer,
      "--federated-subject",
      subject,
      "--federated-audience",
      "keymint",
    ]);
    for (let i = 0; i < 2; i++) {
      const res = await tokenWith({
        client_id: clientId,
        client_assertion_type: JWT_BEARER,
        client_assertion: await workloadToken(subject),
      });
      const json = (await res.json()) as Record<string, unknown>;
      expect(res.status, JSON.stringify(json)).toBe(200);
      expect(jose.decodeJwt(json.access_token as string).client_id).toBe(clientId);
    }
    expect(fetches).toEqual(["/.well-known/openid-configuration", "/.well-known/jwks"]);
    const other = await tokenWith({
      client_id: clientId,
      client_assertion_type: JWT_BEARER,
      client_assertion: await workloadToken("repo:evil/app:ref:refs/heads/main"),
    });
    expect(other.status).toBe(401);
  });
});

describe("DPoP with oauth4webapi (RFC 9449), server nonces on", () => {
  it("gets a DPoP-bound token: use_dpop_nonce first, then the retry with the server's nonce", async () => {
    const created = await clients(project, ["create", "--name", "dpop", "--require-dpop"]);
    expect(created.code, created.stderr).toBe(0);
    const output = JSON.parse(created.stdout) as {
      client_id: string;
      client_secret: string;
      dpop_bound_access_tokens: boolean;
    };
    expect(output.dpop_bound_access_tokens).toBe(true);
    const { client_id: clientId, client_secret: clientSecret } = output;
    // oauth4webapi insists on https issuers unless told otherwise.
    const as: oauth.AuthorizationServer = { issuer: server.url, token_endpoint: `${server.url}/oauth2/token` };
    const options = { [oauth.allowInsecureRequests]: true };
    const dpop = oauth.DPoP({}, await oauth.generateKeyPair("EdDSA"));
    const request = () =>
      oauth.clientCredentialsGrantRequest(
        as,
        { client_id: clientId },
        oauth.ClientSecretPost(clientSecret),
        new URLSearchParams(),
        {
          DPoP: dpop,
          ...options,
        },
      );
    let response = await request();
    const first = await oauth
      .processClientCredentialsResponse(as, { client_id: clientId }, response)
      .catch((e: unknown) => e);
    expect(oauth.isDPoPNonceError(first)).toBe(true);
    response = await request();
    const result = await oauth.processClientCredentialsResponse(as, { client_id: clientId }, response);
    expect(result.token_type).toBe("dpop");
    expect(jose.decodeJwt(result.access_token).cnf).toMatchObject({ jkt: expect.any(String) });
  });
});

describe("the README's DPoP client against npm start and the example API (wrangler dev, key-pair mode)", () => {
  let apiServer: Server;

  beforeAll(async () => {
    const port = await freePort();
    apiServer = await startServer(
      "wrangler",
      [
        "dev",
        "--port",
        String(port),
        "--ip",
        "127.0.0.1",
        "--var",
        `KEYMINT_ISSUER:${server.url}`,
        "--var",
        `KEYMINT_JWKS_URL:${server.url}/.well-known/jwks.json`,
      ],
      join(ROOT, "examples", "resource-server"),
      port,
    );
  });

  afterAll(async () => {
    await apiServer?.stop();
  });

  it("gets a DPoP token (nonce round trip included) and reads /reports with it through the kit", async () => {
    const created = await clients(project, [
      "create",
      "--name",
      "dpop-readme",
      "--scope",
      "read",
      "--audience",
      AUDIENCE,
    ]);
    const { client_id: id, client_secret: secret } = JSON.parse(created.stdout) as Record<string, string>;
    const script = join(project, "dpop-client.mjs");
    await writeFile(script, await snippet("dpop"));
    const result = await run("node", [script, server.url, id, secret, `${apiServer.url}/reports`], { cwd: project });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe(`200 {"reports":["q1","q2"],"for":"${id}"}`);
  });
});
