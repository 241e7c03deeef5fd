/** The access token checked by an independent implementation (panva/jose), per RFC 9068 and the contract. */

import { env } from "cloudflare:workers";
import * as jose from "jose";
import { describe, expect, it } from "vitest";
import { deriveKid } from "../../../src/jwt/keys.ts";
import { ORIGIN, post, requestToken, seedClient } from "../helpers.ts";

const key = () => new TextEncoder().encode(env.TOKEN_SIGNING_KEY);

async function issue(client: { clientId: string; secret: string }, fields: Record<string, string> = {}) {
  const res = await requestToken(client, fields);
  expect(res.status).toBe(200);
  return (await res.json()) as { access_token: string; expires_in: number; scope?: string };
}

describe("RFC 9068 JWT access token", () => {
  it("verifies with jose as HS256 at+jwt and carries the contract's claims", async () => {
    const client = await seedClient({ scopes: ["read", "write"] });
    const body = await issue(client);
    const { payload, protectedHeader } = await jose.jwtVerify(body.access_token, key(), {
      typ: "at+jwt",
      algorithms: ["HS256"],
      issuer: ORIGIN,
      audience: ORIGIN,
      subject: client.clientId,
    });
    expect(protectedHeader).toEqual({ alg: "HS256", typ: "at+jwt", kid: await deriveKid(env.TOKEN_SIGNING_KEY) });
    expect(Object.keys(payload).sort()).toEqual(["aud", "client_id", "exp", "iat", "iss", "jti", "scope", "sub"]);
    expect(payload.client_id).toBe(client.clientId);
    expect(payload.scope).toBe("read write");
    expect((payload.exp as number) - (payload.iat as number)).toBe(body.expires_in);
    expect(Math.abs((payload.iat as number) - Date.now() / 1000)).toBeLessThan(5);
    expect(payload.jti).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it("gives every token a unique jti", async () => {
    const client = await seedClient();
    const jtis = new Set<unknown>();
    for (let i = 0; i < 20; i++) jtis.add(jose.decodeJwt((await issue(client)).access_token).jti);
    expect(jtis.size).toBe(20);
  });

  it("sets aud from the client's --audience and exp - iat from its --ttl", async () => {
    const client = await seedClient({ audiences: ["https://api.example.com"], ttl: 300 });
    const body = await issue(client);
    const { payload } = await jose.jwtVerify(body.access_token, key(), { audience: "https://api.example.com" });
    expect(payload.exp! - payload.iat!).toBe(300);
    expect(body.expires_in).toBe(300);
  });

  it("uses the request origin as issuer by default, so iss follows the host", async () => {
    const client = await seedClient();
    const res = await post(
      new URLSearchParams({
        grant_type: "client_credentials",
        client_id: client.clientId,
        client_secret: client.secret,
      }),
      {
        url: "http://127.0.0.1:8787/oauth2/token",
      },
    );
    const { access_token: token } = (await res.json()) as { access_token: string };
    expect(jose.decodeJwt(token).iss).toBe("http://127.0.0.1:8787");
  });

  it("is rejected by jose under a different key (the signature really covers the token)", async () => {
    const client = await seedClient();
    const body = await issue(client);
    await expect(
      jose.jwtVerify(body.access_token, new TextEncoder().encode("another-key-0123456789abcdefghijklmnop")),
    ).rejects.toThrow();
  });
});
