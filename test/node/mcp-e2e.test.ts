/**
 * End to end with the official MCP SDK client: `npm start` (keymint) next to `npm run example:mcp` (the MCP
 * server under wrangler dev). Given only the MCP server's URL, the SDK's ClientCredentialsProvider and
 * PrivateKeyJwtProvider discover keymint through RFC 9728 → RFC 8414, get a token for the resource, and list and
 * call tools; a client without the tool's scope is refused. Once with keymint's default HS256 set-up (the MCP
 * server verifies with .dev.vars' TOKEN_SIGNING_KEY, keymint's JWKS is empty), once with a key pair.
 */

import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ClientCredentialsProvider, PrivateKeyJwtProvider } from "@modelcontextprotocol/sdk/client/auth-extensions.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import * as jose from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clients, freePort, jsonLines, run, type Server, scratchProject, startServer } from "./helpers.ts";

interface Seen {
  method: string;
  url: string;
  status: number;
  challenge: string | null;
  body?: string;
  /** The token request's form (client_assertion and client_secret left out). */
  form?: Record<string, string>;
}

/** The SDK's HTTP traffic, through the transport's `fetch` option (which the SDK also uses for discovery and tokens). */
function recorder() {
  const seen: Seen[] = [];
  const fetchFn = async (input: string | URL, init?: RequestInit) => {
    const res = await fetch(input, init);
    const entry: Seen = {
      method: init?.method ?? "GET",
      url: String(input),
      status: res.status,
      challenge: res.headers.get("www-authenticate"),
    };
    if (init?.body instanceof URLSearchParams) {
      entry.form = Object.fromEntries(
        [...init.body].filter(([k]) => k !== "client_assertion" && k !== "client_secret"),
      );
    }
    if (!res.ok) entry.body = await res.clone().text();
    seen.push(entry);
    return res;
  };
  return { seen, fetchFn };
}

async function connect(mcpUrl: string, authProvider: ClientCredentialsProvider | PrivateKeyJwtProvider) {
  const { seen, fetchFn } = recorder();
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider, fetch: fetchFn });
  const client = new Client({ name: "keymint-e2e-agent", version: "1.0.0" });
  await client.connect(transport);
  return { client, seen };
}

function created(result: { code: number; stdout: string; stderr: string }): Record<string, string> {
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as Record<string, string>;
}

/** keymint (npm start) and the MCP example in one scratch project; `devVars` seeds .dev.vars first. */
async function startPair(devVars?: string) {
  const project = await scratchProject();
  if (devVars !== undefined) await writeFile(join(project, ".dev.vars"), devVars, { mode: 0o600 });
  const keymintPort = await freePort();
  const keymint = await startServer(
    "npm",
    ["start", "--", "--port", String(keymintPort), "--ip", "127.0.0.1"],
    project,
    keymintPort,
  );
  const mcpPort = await freePort();
  const mcp = await startServer(
    "npm",
    ["run", "-s", "example:mcp", "--", "--port", String(mcpPort), "--issuer", keymint.url],
    project,
    mcpPort,
  );
  return { project, keymint, mcp, mcpUrl: `${mcp.url}/mcp` };
}

describe("the MCP SDK client against the example, keymint in its default set-up (HS256)", () => {
  let project: string;
  let keymint: Server;
  let mcp: Server;
  let mcpUrl: string;

  beforeAll(async () => {
    ({ project, keymint, mcp, mcpUrl } = await startPair());
  });

  afterAll(async () => {
    await mcp?.stop();
    await keymint?.stop();
  });

  it("ClientCredentialsProvider: 401 → RFC 9728 → RFC 8414 → token for the resource → tools listed and called", async () => {
    const agent = created(
      await clients(project, ["create", "--name", "agent", "--scope", "mcp:echo mcp:whoami", "--audience", mcpUrl]),
    );
    const provider = new ClientCredentialsProvider({
      clientId: agent.client_id as string,
      clientSecret: agent.client_secret as string,
      expectedIssuer: keymint.url,
    });
    const { client, seen } = await connect(mcpUrl, provider);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(["echo", "whoami"]);
    const echoed = await client.callTool({ name: "echo", arguments: { text: "hello from an agent" } });
    expect(echoed.content).toEqual([{ type: "text", text: "hello from an agent" }]);
    const who = await client.callTool({ name: "whoami", arguments: {} });
    expect(JSON.parse((who.content as { text: string }[])[0]?.text as string)).toEqual({
      client_id: agent.client_id,
      scopes: ["mcp:echo", "mcp:whoami"],
    });
    await client.close();

    // The SDK knew only the MCP URL: the 401's resource_metadata led to the metadata, which led to keymint.
    const first = seen[0] as Seen;
    expect(first).toMatchObject({ method: "POST", url: mcpUrl, status: 401 });
    expect(first.challenge).toContain(`resource_metadata="${mcp.url}/.well-known/oauth-protected-resource/mcp"`);
    const urls = seen.map((s) => `${s.method} ${s.url} ${s.status}`);
    expect(urls).toContain(`GET ${mcp.url}/.well-known/oauth-protected-resource/mcp 200`);
    expect(urls).toContain(`GET ${keymint.url}/.well-known/oauth-authorization-server 200`);
    const tokenRequest = seen.find((s) => s.url === `${keymint.url}/oauth2/token`) as Seen;
    expect(tokenRequest.status).toBe(200);
    expect(tokenRequest.form).toMatchObject({ grant_type: "client_credentials", resource: mcpUrl });
    const token = provider.tokens()?.access_token as string;
    expect(jose.decodeProtectedHeader(token).alg).toBe("HS256");
    expect(jose.decodeJwt(token)).toMatchObject({ iss: keymint.url, aud: mcpUrl, client_id: agent.client_id });
    // keymint's own JWKS is empty in this set-up: the MCP server verified with the shared key.
    expect(await (await fetch(`${keymint.url}/.well-known/jwks.json`)).json()).toEqual({ keys: [] });
    expect(jsonLines(keymint.output()).some((l) => l.event === "token" && l.client_id === agent.client_id)).toBe(true);
  });

  it("PrivateKeyJwtProvider: a keyless client (RFC 7523) lists and calls tools", async () => {
    const pair = await jose.generateKeyPair("ES256", { extractable: true });
    const kid = "agent-key-1";
    const publicJwk = { ...(await jose.exportJWK(pair.publicKey)), kid, alg: "ES256", use: "sig" };
    const jwksFile = join(project, "agent-jwks.json");
    await writeFile(jwksFile, JSON.stringify({ keys: [publicJwk] }));
    const agent = created(
      await clients(project, [
        "create",
        "--name",
        "key-agent",
        "--jwks",
        jwksFile,
        "--scope",
        "mcp:echo",
        "--audience",
        mcpUrl,
      ]),
    );
    expect(agent.client_secret).toBeUndefined();
    const provider = new PrivateKeyJwtProvider({
      clientId: agent.client_id as string,
      privateKey: { ...(await jose.exportJWK(pair.privateKey)), kid, alg: "ES256" },
      algorithm: "ES256",
      expectedIssuer: keymint.url,
    });
    const { client, seen } = await connect(mcpUrl, provider);
    expect((await client.listTools()).tools.map((t) => t.name)).toContain("echo");
    const echoed = await client.callTool({ name: "echo", arguments: { text: "signed, not shared" } });
    expect(echoed.content).toEqual([{ type: "text", text: "signed, not shared" }]);
    await client.close();
    const tokenRequest = seen.find((s) => s.url === `${keymint.url}/oauth2/token`) as Seen;
    expect(tokenRequest.form).toMatchObject({
      grant_type: "client_credentials",
      client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
      resource: mcpUrl,
    });
    expect(jsonLines(keymint.output()).some((l) => l.event === "token" && l.client_id === agent.client_id)).toBe(true);
  });

  it("refuses a tool call without the tool's scope with 403 insufficient_scope; other tools still work", async () => {
    const agent = created(
      await clients(project, ["create", "--name", "weak", "--scope", "mcp:whoami", "--audience", mcpUrl]),
    );
    const provider = new ClientCredentialsProvider({
      clientId: agent.client_id as string,
      clientSecret: agent.client_secret as string,
      expectedIssuer: keymint.url,
    });
    const { client, seen } = await connect(mcpUrl, provider);
    expect((await client.listTools()).tools.length).toBe(2);
    await expect(client.callTool({ name: "whoami", arguments: {} })).resolves.toBeDefined();
    await expect(client.callTool({ name: "echo", arguments: { text: "no" } })).rejects.toThrow(/403/);
    await client.close();
    const refused = seen.filter((s) => s.url === mcpUrl && s.status === 403);
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      expect(JSON.parse(r.body as string)).toEqual({
        error: "insufficient_scope",
        error_description: "The access token lacks scope mcp:echo",
      });
      expect(r.challenge).toMatch(/^Bearer .*error="insufficient_scope".*scope="mcp:echo", resource_metadata="/);
    }
  });

  it("refuses a token keymint minted for another resource (audience binding)", async () => {
    const other = "http://127.0.0.1:1/other-mcp";
    const agent = created(
      await clients(project, ["create", "--name", "elsewhere", "--scope", "mcp:echo", "--audience", other]),
    );
    const res = await fetch(`${keymint.url}/oauth2/token`, {
      method: "POST",
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        Authorization: `Basic ${btoa(`${agent.client_id}:${agent.client_secret}`)}`,
      },
      body: "grant_type=client_credentials",
    });
    const { access_token: token } = (await res.json()) as { access_token: string };
    const call = await fetch(mcpUrl, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json, text/event-stream",
        Authorization: `Bearer ${token}`,
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(call.status).toBe(401);
    expect(await call.json()).toEqual({
      error: "invalid_token",
      error_description: "The access token is not meant for this resource",
    });
    // And with the SDK: it asks for this resource, which keymint refuses for a client not registered for it.
    const provider = new ClientCredentialsProvider({
      clientId: agent.client_id as string,
      clientSecret: agent.client_secret as string,
      expectedIssuer: keymint.url,
    });
    await expect(connect(mcpUrl, provider)).rejects.toThrow(/resource|invalid_target/i);
  });
});

describe("the MCP SDK client against the example, keymint signing with a key pair (ES256)", () => {
  let project: string;
  let keymint: Server;
  let mcp: Server;
  let mcpUrl: string;

  beforeAll(async () => {
    const generated = await run("npm", ["run", "-s", "keys", "--", "generate", "--alg", "ES256"]);
    expect(generated.code, generated.stderr).toBe(0);
    ({ project, keymint, mcp, mcpUrl } = await startPair(`TOKEN_SIGNING_JWK='${generated.stdout.trim()}'\n`));
  });

  afterAll(async () => {
    await mcp?.stop();
    await keymint?.stop();
  });

  it("verifies keymint's ES256 tokens through its JWKS", async () => {
    const agent = created(
      await clients(project, ["create", "--name", "agent", "--scope", "mcp:echo", "--audience", mcpUrl]),
    );
    const provider = new ClientCredentialsProvider({
      clientId: agent.client_id as string,
      clientSecret: agent.client_secret as string,
      expectedIssuer: keymint.url,
    });
    const { client } = await connect(mcpUrl, provider);
    const echoed = await client.callTool({ name: "echo", arguments: { text: "key pair" } });
    expect(echoed.content).toEqual([{ type: "text", text: "key pair" }]);
    await client.close();
    expect(jose.decodeProtectedHeader(provider.tokens()?.access_token as string).alg).toBe("ES256");
  });
});
