/**
 * An MCP server on Workers (Streamable HTTP at /mcp), protected by keymint's resource-server kit. Agents need
 * only its URL: the 401 names its RFC 9728 metadata, which names keymint, whose RFC 8414 metadata gives the
 * token endpoint (the MCP client-credentials extension). Each tool has its own scope; a call without it is
 * refused with 403 `insufficient_scope` before the MCP server sees it.
 *
 * Stateless: the official SDK's server with its Web-standard transport, a fresh server per request and JSON
 * responses, so it needs no Durable Object and every isolate can answer every request.
 */

import type { AuthInfo } from "@modelcontextprotocol/sdk/server/auth/types.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { CfWorkerJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/cfworker";
import { type Context, Hono } from "hono";
import { z } from "zod";
import {
  hmacKeysFromEnv,
  protectedResourceMetadata,
  type RequireTokenOptions,
  requireToken,
  type TokenVariables,
} from "../../../src/resource-server/index.ts";

export interface McpEnv {
  /** keymint's issuer: the `iss` of its tokens and this server's authorization server. */
  KEYMINT_ISSUER: string;
  /** This server's MCP URL, its RFC 9728 resource identifier; every token's `aud` must contain it. */
  MCP_RESOURCE: string;
  /** keymint's jwks_uri; empty: KEYMINT_ISSUER/.well-known/jwks.json. */
  KEYMINT_JWKS_URL?: string;
  /** Optional service binding to keymint for the JWKS. */
  KEYMINT?: { fetch(request: Request): Promise<Response> };
  /** keymint's HMAC key, for HS256 tokens (keymint's default set-up); unset with key-pair signing only. */
  TOKEN_SIGNING_KEY?: string;
  TOKEN_VERIFICATION_KEYS?: string;
}

/** The scope each tool's calls need. */
export const TOOL_SCOPES: Readonly<Record<string, string>> = { echo: "mcp:echo", whoami: "mcp:whoami" };

type Env = Record<string, unknown>;

/** A JSON-RPC message that calls a tool. */
function calledTool(message: unknown): string | undefined {
  if (typeof message !== "object" || message === null) return undefined;
  const { method, params } = message as { method?: unknown; params?: { name?: unknown } };
  if (method !== "tools/call" || typeof params?.name !== "string") return undefined;
  return params.name;
}

/** The scopes the request's tool calls need (a batch needs every one); none for anything else. */
async function scopesForRequest(c: Context): Promise<string[]> {
  if (c.req.method !== "POST") return [];
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    return [];
  }
  const messages = Array.isArray(body) ? body : [body];
  const scopes = new Set<string>();
  for (const message of messages) {
    const scope = TOOL_SCOPES[calledTool(message) ?? ""];
    if (scope !== undefined) scopes.add(scope);
  }
  return [...scopes];
}

const keymint: RequireTokenOptions = {
  issuer: (env) => String(env.KEYMINT_ISSUER),
  audience: (env) => String(env.MCP_RESOURCE),
  // Key-pair tokens through keymint's JWKS, HS256 tokens through the shared key when this Worker has it.
  jwksUrl: (env) => String(env.KEYMINT_JWKS_URL || `${env.KEYMINT_ISSUER}/.well-known/jwks.json`),
  fetcher: (env) => env.KEYMINT as McpEnv["KEYMINT"],
  keys: hmacKeysFromEnv,
  scopes: scopesForRequest,
  scopesSupported: Object.values(TOOL_SCOPES),
  resourceName: "keymint example MCP server",
};

/** The MCP server: one per request (stateless), its tools seeing the caller through `authInfo`. */
function mcpServer(): McpServer {
  const server = new McpServer(
    { name: "keymint-example-mcp", version: "1.0.0" },
    { jsonSchemaValidator: new CfWorkerJsonSchemaValidator() },
  );
  server.registerTool(
    "echo",
    {
      description: `Answers with the text it is given (needs scope ${TOOL_SCOPES.echo})`,
      inputSchema: { text: z.string() },
    },
    async ({ text }) => ({ content: [{ type: "text", text }] }),
  );
  server.registerTool(
    "whoami",
    { description: `The calling client and its scopes (needs scope ${TOOL_SCOPES.whoami})` },
    async (extra) => ({
      content: [
        { type: "text", text: JSON.stringify({ client_id: extra.authInfo?.clientId, scopes: extra.authInfo?.scopes }) },
      ],
    }),
  );
  return server;
}

/** What the SDK hands tool handlers as `extra.authInfo`, from the verified token. */
function authInfoOf(token: TokenVariables["token"], authorization: string, env: Env): AuthInfo {
  const info: AuthInfo = {
    token: authorization.replace(/^\S+\s+/, ""),
    clientId: token.client_id,
    scopes: (token.scope ?? "").split(" ").filter(Boolean),
    resource: new URL(String(env.MCP_RESOURCE)),
  };
  if (typeof token.exp === "number") info.expiresAt = token.exp;
  return info;
}

export const app = new Hono<{ Bindings: McpEnv; Variables: TokenVariables }>();

const metadata = protectedResourceMetadata(keymint);
app.get("/.well-known/oauth-protected-resource", metadata);
app.get("/.well-known/oauth-protected-resource/*", metadata);

app.all("/mcp", requireToken(keymint), async (c) => {
  const server = mcpServer();
  const transport = new WebStandardStreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
    enableJsonResponse: true,
  });
  await server.connect(transport);
  const authInfo = authInfoOf(c.get("token"), c.req.header("authorization") ?? "", c.env as unknown as Env);
  // The scope check already read a POST's JSON body; Hono keeps it, so the transport gets it parsed.
  let parsedBody: unknown;
  if (c.req.method === "POST") {
    try {
      parsedBody = await c.req.json();
    } catch {
      return c.json({ jsonrpc: "2.0", id: null, error: { code: -32700, message: "Parse error" } }, 400);
    }
  }
  const response = await transport.handleRequest(
    c.req.raw,
    parsedBody === undefined ? { authInfo } : { parsedBody, authInfo },
  );
  c.executionCtx.waitUntil(server.close());
  return response;
});

export default app;
