/** The authorization endpoint that RFC 8414 clients (the MCP SDK) require, supporting no response type. */

import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index.ts";
import { FORM, ORIGIN, seedClient } from "./helpers.ts";

const BODY = {
  error: "unsupported_response_type",
  error_description:
    "keymint supports no response type: request tokens at the token endpoint with the client_credentials grant",
};

function call(method: string, query = "", body?: string) {
  const init: RequestInit = { method, redirect: "manual" };
  if (body !== undefined) init.body = body;
  if (body !== undefined) init.headers = { "Content-Type": FORM };
  return worker.fetch(new Request(`${ORIGIN}/oauth2/authorize${query}`, init), env, createExecutionContext());
}

describe("authorization endpoint (RFC 6749 §3.1, §4.1.2.1)", () => {
  it("is advertised as authorization_endpoint, with no response type supported (RFC 8414 §2)", async () => {
    const res = await worker.fetch(
      new Request(`${ORIGIN}/.well-known/oauth-authorization-server`),
      env,
      createExecutionContext(),
    );
    const metadata = (await res.json()) as Record<string, unknown>;
    expect(metadata.authorization_endpoint).toBe(`${ORIGIN}/oauth2/authorize`);
    expect(metadata.response_types_supported).toEqual([]);
  });

  it("answers a code request for a registered client with 400 unsupported_response_type and no redirect", async () => {
    const client = await seedClient();
    const redirect = encodeURIComponent("https://attacker.example/cb");
    const res = await call(
      "GET",
      `?response_type=code&client_id=${client.clientId}&redirect_uri=${redirect}&state=s&code_challenge=x&code_challenge_method=S256`,
    );
    expect(res.status).toBe(400);
    expect(res.headers.get("location")).toBeNull();
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await res.json()).toEqual(BODY);
  });

  it("gives every method and every parameter set the same 400, never a 405 or a redirect", async () => {
    const cases: [string, string, string | undefined][] = [
      ["GET", "", undefined],
      ["GET", "?response_type=token&client_id=x&redirect_uri=https%3A%2F%2Fa.example", undefined],
      ["POST", "", "response_type=code&client_id=x&redirect_uri=https%3A%2F%2Fa.example"],
      ["PUT", "", undefined],
      ["DELETE", "", undefined],
      ["OPTIONS", "", undefined],
    ];
    for (const [method, query, body] of cases) {
      const res = await call(method, query, body);
      expect(res.status, `${method} ${query}`).toBe(400);
      expect(res.headers.get("location"), method).toBeNull();
      expect(await res.json(), method).toEqual(BODY);
    }
    const head = await call("HEAD");
    expect(head.status).toBe(400);
    expect(head.headers.get("location")).toBeNull();
  });
});
