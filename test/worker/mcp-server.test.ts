/** The MCP example (examples/mcp-server): RFC 9728 discovery, audience binding and per-tool scopes, over JSON-RPC. */

import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import * as jose from "jose";
import { describe, expect, it } from "vitest";
import mcp, { type McpEnv } from "../../examples/mcp-server/src/index.ts";
import worker from "../../src/index.ts";
import { basicAuth, FORM, ORIGIN, requestToken, seedClient } from "./helpers.ts";

const RESOURCE = "https://mcp.example.com/mcp";
const mcpEnv: McpEnv = {
  KEYMINT_ISSUER: ORIGIN,
  MCP_RESOURCE: RESOURCE,
  // keymint in its default set-up (HS256): its JWKS is empty, the shared key verifies its tokens.
  KEYMINT_JWKS_URL: "https://keymint.test/.well-known/jwks.json",
  KEYMINT: { fetch: async (request: Request) => worker.fetch(request, env, createExecutionContext()) },
  TOKEN_SIGNING_KEY: env.TOKEN_SIGNING_KEY,
};
const RM = `resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"`;

async function tokenWith(scopes: string[], audiences = [RESOURCE]): Promise<string> {
  const client = await seedClient({ scopes, audiences });
  return ((await (await requestToken(client, { resource: audiences[0] as string })).json()) as { access_token: string })
    .access_token;
}

let id = 0;
async function rpc(token: string | null, method: string, params: Record<string, unknown> = {}) {
  const headers: Record<string, string> = {
    "Content-Type": "application/json",
    Accept: "application/json, text/event-stream",
    "MCP-Protocol-Version": "2025-06-18",
  };
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  const ctx = createExecutionContext();
  const res = await mcp.fetch(
    new Request(RESOURCE, {
      method: "POST",
      headers,
      body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params }),
    }),
    mcpEnv,
    ctx,
  );
  const text = await res.text();
  await waitOnExecutionContext(ctx);
  return { status: res.status, challenge: res.headers.get("www-authenticate"), body: text ? JSON.parse(text) : null };
}

describe("examples/mcp-server", () => {
  it("answers an MCP request without a token with 401 naming its RFC 9728 metadata (RFC 9728 §5.1)", async () => {
    const res = await rpc(null, "tools/list");
    expect(res.status).toBe(401);
    expect(res.challenge).toMatch(new RegExp(`^Bearer realm="${RESOURCE}", ${RM}, DPoP `));
    const doc = await mcp.fetch(
      new Request("https://mcp.example.com/.well-known/oauth-protected-resource/mcp"),
      mcpEnv,
      createExecutionContext(),
    );
    expect(await doc.json()).toEqual({
      resource: RESOURCE,
      authorization_servers: [ORIGIN],
      scopes_supported: ["mcp:echo", "mcp:whoami"],
      bearer_methods_supported: ["header"],
      dpop_signing_alg_values_supported: ["ES256", "EdDSA", "RS256", "PS256", "Ed25519"],
      dpop_bound_access_tokens_required: false,
      resource_name: "keymint example MCP server",
    });
  });

  it("initializes, lists its tools and calls echo with a token carrying mcp:echo (HS256, keymint's default)", async () => {
    const token = await tokenWith(["mcp:echo"]);
    const init = await rpc(token, "initialize", {
      protocolVersion: "2025-06-18",
      capabilities: {},
      clientInfo: { name: "test", version: "1" },
    });
    expect(init.status).toBe(200);
    expect(init.body.result.serverInfo.name).toBe("keymint-example-mcp");
    const list = await rpc(token, "tools/list");
    expect(list.status).toBe(200);
    expect(list.body.result.tools.map((t: { name: string }) => t.name).sort()).toEqual(["echo", "whoami"]);
    const echo = await rpc(token, "tools/call", { name: "echo", arguments: { text: "hello, keymint" } });
    expect(echo.status).toBe(200);
    expect(echo.body.result).toEqual({ content: [{ type: "text", text: "hello, keymint" }] });
  });

  it("refuses a tool call without the tool's scope with 403 insufficient_scope naming it (RFC 6750 §3.1)", async () => {
    const token = await tokenWith(["mcp:whoami"]);
    const echo = await rpc(token, "tools/call", { name: "echo", arguments: { text: "x" } });
    expect(echo.status).toBe(403);
    expect(echo.body).toEqual({
      error: "insufficient_scope",
      error_description: "The access token lacks scope mcp:echo",
    });
    expect(echo.challenge).toBe(
      `Bearer realm="${RESOURCE}", error="insufficient_scope", error_description="The access token lacks scope mcp:echo", scope="mcp:echo", ${RM}`,
    );
    // The same token may list tools and call the tool its scope covers, which sees the caller.
    expect((await rpc(token, "tools/list")).status).toBe(200);
    const who = await rpc(token, "tools/call", { name: "whoami", arguments: {} });
    expect(who.status).toBe(200);
    expect(JSON.parse(who.body.result.content[0].text)).toMatchObject({ scopes: ["mcp:whoami"] });
    // A batch is refused when any of its calls lacks a scope.
    const ctx = createExecutionContext();
    const batch = await mcp.fetch(
      new Request(RESOURCE, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json, text/event-stream",
          Authorization: `Bearer ${token}`,
        },
        body: JSON.stringify([
          { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whoami", arguments: {} } },
          { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "echo", arguments: { text: "x" } } },
        ]),
      }),
      mcpEnv,
      ctx,
    );
    expect(batch.status).toBe(403);
  });

  it("refuses a token minted for another MCP server (RFC 9728 §7.4)", async () => {
    const token = await tokenWith(["mcp:echo"], ["https://other-mcp.example.com/mcp"]);
    const res = await rpc(token, "tools/call", { name: "echo", arguments: { text: "x" } });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe("invalid_token");
    expect(res.challenge).toMatch(/error="invalid_token".*resource_metadata=/);
  });

  it("verifies keymint's key-pair tokens through its JWKS too (ES256)", async () => {
    const pair = await jose.generateKeyPair("ES256", { extractable: true });
    const jwk = { ...(await jose.exportJWK(pair.privateKey)), kid: "mcp-es", alg: "ES256" };
    const keymint = { ...env, TOKEN_SIGNING_JWK: JSON.stringify(jwk) } as typeof env;
    const client = await seedClient({ scopes: ["mcp:echo"], audiences: [RESOURCE] });
    const res = await worker.fetch(
      new Request(`${ORIGIN}/oauth2/token`, {
        method: "POST",
        headers: { "Content-Type": FORM, Authorization: basicAuth(client.clientId, client.secret) },
        body: `grant_type=client_credentials&resource=${encodeURIComponent(RESOURCE)}`,
      }),
      keymint,
      createExecutionContext(),
    );
    const { access_token: token } = (await res.json()) as { access_token: string };
    expect(jose.decodeProtectedHeader(token).alg).toBe("ES256");
    const keyPairEnv: McpEnv = {
      ...mcpEnv,
      KEYMINT_JWKS_URL: "https://keymint.test/.well-known/jwks.json?mode=key-pair",
      KEYMINT: { fetch: async (request: Request) => worker.fetch(request, keymint, createExecutionContext()) },
      TOKEN_SIGNING_KEY: undefined,
    };
    const ctx = createExecutionContext();
    const call = await mcp.fetch(
      new Request(RESOURCE, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json, text/event-stream",
          Authorization: `Bearer ${token}`,
        },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "tools/call",
          params: { name: "echo", arguments: { text: "es" } },
        }),
      }),
      keyPairEnv,
      ctx,
    );
    expect(call.status).toBe(200);
    expect(((await call.json()) as { result: unknown }).result).toEqual({ content: [{ type: "text", text: "es" }] });
    await waitOnExecutionContext(ctx);
  });
});
