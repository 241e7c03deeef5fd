/** keymint driven by a real, independent OAuth client library (panva/oauth4webapi). */

import { createExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import * as jose from "jose";
import * as oauth from "oauth4webapi";
import { describe, expect, it } from "vitest";
import api from "../../../examples/resource-server/src/index.ts";
import { newKeyClientRecord } from "../../../src/clients/lifecycle.ts";
import { nowSeconds, putRecord, seedClient } from "../helpers.ts";

// oauth4webapi insists on https; the worker answers any origin.
const ORIGIN = "https://keymint.test";

const as: oauth.AuthorizationServer = { issuer: ORIGIN, token_endpoint: `${ORIGIN}/oauth2/token` };

const viaWorker: typeof fetch = (input, init) => exports.default.fetch(new Request(input, init));

describe("oauth4webapi client credentials grant", () => {
  for (const [name, auth] of [
    ["client_secret_basic", oauth.ClientSecretBasic],
    ["client_secret_post", oauth.ClientSecretPost],
  ] as const) {
    it(`obtains a token with ${name}, even for a secret with reserved characters`, async () => {
      const client = await seedClient({ secret: "s3cret:with%reserved+chars and spaces/0123456789" });
      const response = await oauth.clientCredentialsGrantRequest(
        as,
        { client_id: client.clientId },
        auth(client.secret),
        new URLSearchParams({ scope: "read" }),
        { [oauth.customFetch]: viaWorker },
      );
      const result = await oauth.processClientCredentialsResponse(as, { client_id: client.clientId }, response);
      expect(result.token_type).toBe("bearer");
      expect(result.scope).toBe("read");
      expect(result.expires_in).toBe(3600);
      expect(result.refresh_token).toBeUndefined();
    });
  }

  it("sees the Basic challenge and the invalid_client body of a failed authentication", async () => {
    const client = await seedClient();
    const response = await oauth.clientCredentialsGrantRequest(
      as,
      { client_id: client.clientId },
      oauth.ClientSecretBasic("wrong-secret"),
      new URLSearchParams(),
      { [oauth.customFetch]: viaWorker },
    );
    const error = await oauth
      .processClientCredentialsResponse(as, { client_id: client.clientId }, response)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(oauth.WWWAuthenticateChallengeError);
    const challengeError = error as oauth.WWWAuthenticateChallengeError;
    expect(challengeError.status).toBe(401);
    expect(challengeError.cause[0]?.scheme).toBe("basic");
    expect(await challengeError.response.json()).toEqual({
      error: "invalid_client",
      error_description: "Client authentication failed",
    });
  });
});

describe("oauth4webapi private_key_jwt (RFC 7523)", () => {
  for (const alg of ["ES256", "EdDSA", "RS256", "PS256"] as const) {
    it(`obtains a token with an ${alg} assertion built by oauth4webapi's PrivateKeyJwt`, async () => {
      const pair = await jose.generateKeyPair(alg, { crv: alg === "EdDSA" ? "Ed25519" : undefined, extractable: true });
      const kid = `oauth4webapi-${alg}`;
      const clientId = `o4w-${crypto.randomUUID()}`;
      await putRecord(
        newKeyClientRecord(
          {
            clientId,
            keys: { jwks: { keys: [{ ...(await jose.exportJWK(pair.publicKey)), kid, alg }] } },
            settings: { name: "oauth4webapi", scopes: ["read"] },
          },
          nowSeconds(),
        ),
      );
      const client = { client_id: clientId };
      const response = await oauth.clientCredentialsGrantRequest(
        as,
        client,
        oauth.PrivateKeyJwt({ key: pair.privateKey, kid }),
        new URLSearchParams({ scope: "read" }),
        { [oauth.customFetch]: viaWorker },
      );
      const result = await oauth.processClientCredentialsResponse(as, client, response);
      expect(result.token_type).toBe("bearer");
      expect(jose.decodeJwt(result.access_token)).toMatchObject({ client_id: clientId, scope: "read" });
    });
  }
});

describe("oauth4webapi DPoP (RFC 9449)", () => {
  it("gets a DPoP-bound token with oauth4webapi's proofs and calls the kit with it", async () => {
    const client = await seedClient({ scopes: ["read"], audiences: ["https://api.example.com"] });
    const dpop = oauth.DPoP({}, await oauth.generateKeyPair("ES256"));
    const request = () =>
      oauth.clientCredentialsGrantRequest(
        as,
        { client_id: client.clientId },
        oauth.ClientSecretBasic(client.secret),
        new URLSearchParams({ scope: "read" }),
        { DPoP: dpop, [oauth.customFetch]: viaWorker },
      );
    const result = await oauth.processClientCredentialsResponse(as, { client_id: client.clientId }, await request());
    expect(result.token_type).toBe("dpop");
    expect(jose.decodeJwt(result.access_token).cnf).toMatchObject({ jkt: expect.any(String) });
    const apiEnv = {
      KEYMINT_ISSUER: ORIGIN,
      API_AUDIENCE: "https://api.example.com",
      KEYMINT_JWKS_URL: "",
      TOKEN_SIGNING_KEY: env.TOKEN_SIGNING_KEY,
    };
    const response = await oauth.protectedResourceRequest(
      result.access_token,
      "GET",
      new URL("https://api.example.com/reports"),
      new Headers(),
      null,
      {
        DPoP: dpop,
        [oauth.customFetch]: async (input, init) =>
          api.fetch(new Request(input, init as RequestInit), apiEnv, createExecutionContext()),
      },
    );
    expect(response.status).toBe(200);
    expect(((await response.json()) as { for: string }).for).toBe(client.clientId);
  });
});
