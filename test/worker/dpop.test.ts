/**
 * DPoP (RFC 9449) through the worker's fetch: proofs at the token endpoint (§4.3, §5), sender-constrained tokens
 * at introspection and revocation (§6), server nonces (§8), and the resource-server kit (§7) through the example
 * API: accepted proofs, every rejection, replay, and bound tokens sent as Bearer.
 */

import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Hono } from "hono";
import * as jose from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import api, { type ApiEnv } from "../../examples/resource-server/src/index.ts";
import { newKeyClientRecord } from "../../src/clients/lifecycle.ts";
import worker from "../../src/index.ts";
import { proofShard } from "../../src/replay/claim.ts";
import { requireToken } from "../../src/resource-server/index.ts";
import {
  basicAuth,
  FORM,
  INVALID_CLIENT_BODY,
  nowSeconds,
  ORIGIN,
  post,
  putRecord,
  randomIp,
  type SeededClient,
  seedClient,
  TOKEN_URL,
} from "./helpers.ts";

type Alg = "ES256" | "EdDSA" | "RS256" | "PS256";

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

interface ProofKey {
  alg: Alg;
  privateKey: CryptoKey;
  publicJwk: jose.JWK;
  jkt: string;
}

async function proofKey(alg: Alg = "ES256"): Promise<ProofKey> {
  const pair = await jose.generateKeyPair(alg, { extractable: true, crv: alg === "EdDSA" ? "Ed25519" : undefined });
  const publicJwk = await jose.exportJWK(pair.publicKey);
  return { alg, privateKey: pair.privateKey, publicJwk, jkt: await jose.calculateJwkThumbprint(publicJwk) };
}

/** A DPoP proof (RFC 9449 §4.2) made by jose, with any claim or header member overridden. */
function proof(
  key: ProofKey,
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
): Promise<string> {
  return new jose.SignJWT({ htm: "POST", htu: TOKEN_URL, iat: nowSeconds(), jti: crypto.randomUUID(), ...claims })
    .setProtectedHeader({ alg: key.alg, typ: "dpop+jwt", jwk: key.publicJwk, ...header } as jose.JWTHeaderParameters)
    .sign(key.privateKey);
}

function tokenRequest(client: SeededClient, dpop?: string, options: { url?: string; envOverride?: object } = {}) {
  const headers: Record<string, string> = {
    "Content-Type": FORM,
    Authorization: basicAuth(client.clientId, client.secret),
    "CF-Connecting-IP": randomIp(),
  };
  if (dpop !== undefined) headers.DPoP = dpop;
  return worker.fetch(
    new Request(options.url ?? TOKEN_URL, { method: "POST", headers, body: "grant_type=client_credentials" }),
    { ...env, ...options.envOverride } as typeof env,
    createExecutionContext(),
  );
}

async function expectDpopError(res: Response, description: RegExp): Promise<void> {
  const body = (await res.json()) as { error: string; error_description: string };
  expect(res.status, JSON.stringify(body)).toBe(400);
  expect(res.headers.get("cache-control")).toBe("no-store");
  expect(body.error).toBe("invalid_dpop_proof");
  expect(body.error_description).toMatch(description);
  expect(body.error_description).toMatch(/^[\x20\x21\x23-\x5b\x5d-\x7e]+$/);
}

const client: SeededClient = await seedClient({ scopes: ["read", "write"], audiences: ["https://api.example.com"] });

describe("token endpoint with a DPoP proof (RFC 9449 §5)", () => {
  for (const alg of ["ES256", "EdDSA", "RS256", "PS256"] as const) {
    it(`issues a DPoP token bound to an ${alg} key: token_type DPoP and cnf.jkt = the key's thumbprint`, async () => {
      const key = await proofKey(alg);
      const res = await tokenRequest(client, await proof(key));
      const body = (await res.json()) as Record<string, unknown>;
      expect(res.status, JSON.stringify(body)).toBe(200);
      expect(body.token_type).toBe("DPoP");
      expect(jose.decodeJwt(body.access_token as string).cnf).toEqual({ jkt: key.jkt });
    });
  }

  it("issues a plain Bearer token without a proof, to a client that does not require DPoP", async () => {
    const res = await tokenRequest(client);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.token_type).toBe("Bearer");
    expect(jose.decodeJwt(body.access_token as string).cnf).toBeUndefined();
  });

  it("refuses a --require-dpop client's request without a proof with 400 invalid_dpop_proof", async () => {
    const bound = await seedClient({ requireDpop: true });
    await expectDpopError(await tokenRequest(bound), /must send a DPoP proof/);
    const res = await tokenRequest(bound, await proof(await proofKey()));
    expect(((await res.json()) as { token_type: string }).token_type).toBe("DPoP");
  });

  it("compares htu without query and fragment, after RFC 3986 normalization", async () => {
    const key = await proofKey();
    for (const htu of [
      `${TOKEN_URL}?x=1`,
      `${TOKEN_URL}#frag`,
      "HTTP://KEYMINT.TEST:80/oauth2/token",
      "http://keymint.test/oauth2/./token",
    ]) {
      expect((await tokenRequest(client, await proof(key, { htu }))).status, htu).toBe(200);
    }
    // The request's own query string does not count either.
    expect((await tokenRequest(client, await proof(key), { url: `${TOKEN_URL}?trace=1` })).status).toBe(200);
  });

  describe("answers 400 invalid_dpop_proof with a precise description", async () => {
    const key = await proofKey("ES256");
    const other = await proofKey("ES256");
    const now = nowSeconds();
    const b64 = (value: object) => jose.base64url.encode(JSON.stringify(value));
    const cases: [string, () => Promise<string>, RegExp][] = [
      ["not a JWT", async () => "not-a-jwt", /well-formed/],
      [
        "two proofs in one header (two DPoP headers)",
        async () => `${await proof(key)}, ${await proof(key)}`,
        /exactly one/,
      ],
      ["typ JWT", () => proof(key, {}, { typ: "JWT" }), /typ must be dpop\+jwt/],
      ["no typ", () => proof(key, {}, { typ: undefined }), /typ must be dpop\+jwt/],
      [
        "alg none",
        async () =>
          `${b64({ alg: "none", typ: "dpop+jwt", jwk: key.publicJwk })}.${b64({ htm: "POST", htu: TOKEN_URL, iat: now, jti: "n" })}.`,
        /alg must be one of/,
      ],
      [
        "HS256 (symmetric)",
        () =>
          new jose.SignJWT({ htm: "POST", htu: TOKEN_URL, iat: now, jti: crypto.randomUUID() })
            .setProtectedHeader({ alg: "HS256", typ: "dpop+jwt", jwk: key.publicJwk })
            .sign(new TextEncoder().encode("x".repeat(32))),
        /alg must be one of/,
      ],
      ["no jwk header", () => proof(key, {}, { jwk: undefined }), /jwk header must hold the public key/],
      [
        "a private key in the jwk header",
        async () => {
          const pair = await jose.generateKeyPair("ES256", { extractable: true });
          const priv = await jose.exportJWK(pair.privateKey);
          return new jose.SignJWT({ htm: "POST", htu: TOKEN_URL, iat: now, jti: crypto.randomUUID() })
            .setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk: priv })
            .sign(pair.privateKey);
        },
        /must not contain a private key/,
      ],
      [
        "an EdDSA key under alg ES256",
        async () => proof(key, {}, { jwk: (await proofKey("EdDSA")).publicJwk }),
        /not a usable key/,
      ],
      [
        "signed by another key than its jwk",
        () => proof(key, {}, { jwk: other.publicJwk }),
        /signature does not verify/,
      ],
      ["htm GET", () => proof(key, { htm: "GET" }), /htm does not match/],
      ["htu of another endpoint", () => proof(key, { htu: `${ORIGIN}/oauth2/introspect` }), /htu does not match/],
      ["htu of another host", () => proof(key, { htu: "https://evil.example/oauth2/token" }), /htu does not match/],
      ["iat too old", () => proof(key, { iat: now - 600 }), /iat is more than 300 seconds old/],
      ["iat in the future", () => proof(key, { iat: now + 600 }), /iat is in the future/],
      ["no iat", () => proof(key, { iat: undefined }), /iat is missing/],
      ["no jti", () => proof(key, { jti: undefined }), /jti is missing/],
    ];
    for (const [name, make, description] of cases) {
      it(name, async () => {
        await expectDpopError(await tokenRequest(client, await make()), description);
      });
    }
    it("a replayed proof (same jti)", async () => {
      const once = await proof(key);
      expect((await tokenRequest(client, once)).status).toBe(200);
      await expectDpopError(await tokenRequest(client, once), /already used/);
    });
    it("control: the same construction with valid values gets a token", async () => {
      expect((await tokenRequest(client, await proof(key))).status).toBe(200);
    });
  });

  it("answers a bad client with the usual 401, whatever the proof (client errors first, no proof details)", async () => {
    const res = await tokenRequest({ ...client, secret: "wrong-0123456789abcdefghijklmnopqrstu" }, "garbage");
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual(INVALID_CLIENT_BODY);
  });

  it("does not count proof errors as failed authentications (throttling unchanged)", async () => {
    const key = await proofKey();
    const ip = randomIp();
    for (let i = 0; i < 15; i++) {
      const res = await post("grant_type=client_credentials", {
        auth: basicAuth(client.clientId, client.secret),
        headers: { "CF-Connecting-IP": ip, DPoP: await proof(key, { htm: "GET" }) },
      });
      expect(res.status).toBe(400);
      await res.arrayBuffer();
    }
  });
});

describe("server nonces (RFC 9449 §8, DPOP_NONCE=on)", () => {
  const nonceEnv = { DPOP_NONCE: "on" };

  it("asks for a nonce with 400 use_dpop_nonce and DPoP-Nonce, then accepts the retry and hands out the next nonce", async () => {
    const key = await proofKey();
    const first = await tokenRequest(client, await proof(key), { envOverride: nonceEnv });
    expect(first.status).toBe(400);
    expect(await first.json()).toEqual({
      error: "use_dpop_nonce",
      error_description: "A fresh DPoP nonce is required",
    });
    const nonce = first.headers.get("dpop-nonce");
    expect(nonce).toMatch(/^[0-9a-z]+\.[A-Za-z0-9_-]{22}$/);
    const retry = await tokenRequest(client, await proof(key, { nonce }), { envOverride: nonceEnv });
    expect(retry.status).toBe(200);
    expect(retry.headers.get("dpop-nonce")).toMatch(/^[0-9a-z]+\./);
  });

  it("asks for the nonce before authenticating the client, so the retry may reuse the same client assertion", async () => {
    const key = await proofKey();
    const clientKey = await jose.generateKeyPair("ES256", { extractable: true });
    const clientId = `dpop-kc-${crypto.randomUUID()}`;
    await putRecord(
      newKeyClientRecord(
        {
          clientId,
          keys: { jwks: { keys: [{ ...(await jose.exportJWK(clientKey.publicKey)), kid: "k", alg: "ES256" }] } },
          settings: { name: "dpop key client" },
        },
        nowSeconds(),
      ),
    );
    const now = nowSeconds();
    const assertion = await new jose.SignJWT({
      iss: clientId,
      sub: clientId,
      aud: ORIGIN,
      iat: now,
      exp: now + 60,
      jti: crypto.randomUUID(),
    })
      .setProtectedHeader({ alg: "ES256", kid: "k" })
      .sign(clientKey.privateKey);
    const send = (dpop: string) =>
      worker.fetch(
        new Request(TOKEN_URL, {
          method: "POST",
          headers: { "Content-Type": FORM, DPoP: dpop, "CF-Connecting-IP": randomIp() },
          body: new URLSearchParams({
            grant_type: "client_credentials",
            client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            client_assertion: assertion,
          }),
        }),
        { ...env, ...nonceEnv } as typeof env,
        createExecutionContext(),
      );
    const first = await send(await proof(key));
    expect(first.status).toBe(400);
    const nonce = first.headers.get("dpop-nonce") as string;
    const retry = await send(await proof(key, { nonce }));
    expect(retry.status).toBe(200);
    expect(((await retry.json()) as { token_type: string }).token_type).toBe("DPoP");
  });

  it("refuses a forged nonce and one from two windows ago", async () => {
    const key = await proofKey();
    const nonce = (await tokenRequest(client, await proof(key), { envOverride: nonceEnv })).headers.get(
      "dpop-nonce",
    ) as string;
    const forged = `${nonce.split(".")[0]}.${"A".repeat(22)}`;
    expect((await tokenRequest(client, await proof(key, { nonce: forged }), { envOverride: nonceEnv })).status).toBe(
      400,
    );
    vi.useFakeTimers({ now: Date.now() + 150_000, toFake: ["Date"] });
    const stale = await tokenRequest(client, await proof(key, { nonce }), { envOverride: nonceEnv });
    expect(((await stale.json()) as { error: string }).error).toBe("use_dpop_nonce");
  });
});

describe("DPoP tokens at introspection and revocation (RFC 9449 §6.2)", () => {
  it("reports token_type DPoP and cnf, and revokes a DPoP token", async () => {
    const key = await proofKey("EdDSA");
    const owner = await seedClient({ canIntrospect: true });
    const token = ((await (await tokenRequest(owner, await proof(key))).json()) as { access_token: string })
      .access_token;
    const introspect = () =>
      post(new URLSearchParams({ token }), {
        url: `${ORIGIN}/oauth2/introspect`,
        auth: basicAuth(owner.clientId, owner.secret),
      });
    expect(await (await introspect()).json()).toMatchObject({
      active: true,
      token_type: "DPoP",
      cnf: { jkt: key.jkt },
    });
    const revoked = await post(new URLSearchParams({ token }), {
      url: `${ORIGIN}/oauth2/revoke`,
      auth: basicAuth(owner.clientId, owner.secret),
    });
    expect(revoked.status).toBe(200);
    expect(await (await introspect()).json()).toEqual({ active: false });
  });
});

describe("the resource-server kit with DPoP (RFC 9449 §7) through the example API", () => {
  const API = "https://api.example.com";
  const apiEnv: ApiEnv = {
    KEYMINT_ISSUER: ORIGIN,
    API_AUDIENCE: API,
    KEYMINT_JWKS_URL: "",
    TOKEN_SIGNING_KEY: env.TOKEN_SIGNING_KEY,
  };

  async function dpopToken(key: ProofKey): Promise<string> {
    const res = await tokenRequest(client, await proof(key));
    return ((await res.json()) as { access_token: string }).access_token;
  }

  async function apiProof(
    key: ProofKey,
    token: string,
    claims: Record<string, unknown> = {},
    path = "/reports",
    method = "GET",
  ) {
    return proof(key, { htm: method, htu: `${API}${path}`, ath: await ath(token), ...claims });
  }

  async function ath(token: string): Promise<string> {
    return jose.base64url.encode(
      new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token))),
    );
  }

  async function call(headers: Record<string, string>, path = "/reports", method = "GET") {
    const res = await api.fetch(new Request(`${API}${path}`, { method, headers }), apiEnv, createExecutionContext());
    return {
      status: res.status,
      challenge: res.headers.get("www-authenticate"),
      body: (await res.json()) as Record<string, unknown>,
    };
  }

  it("accepts a DPoP-bound token with the DPoP scheme and a proof with ath, htm and htu of the API request", async () => {
    const key = await proofKey();
    const token = await dpopToken(key);
    const res = await call({ Authorization: `DPoP ${token}`, DPoP: await apiProof(key, token) });
    expect(res.status).toBe(200);
    const paid = await call(
      { Authorization: `DPoP ${token}`, DPoP: await apiProof(key, token, {}, "/payments", "POST") },
      "/payments",
      "POST",
    );
    expect(paid.status).toBe(201);
    expect(paid.body).toEqual({ paid: true, by: client.clientId, key: key.jkt });
  });

  it("refuses a bound token sent as Bearer with 401 and a DPoP challenge naming the algorithms (RFC 9449 §7.1)", async () => {
    const token = await dpopToken(await proofKey());
    const res = await call({ Authorization: `Bearer ${token}` });
    expect(res.status).toBe(401);
    expect(res.challenge).toMatch(
      /^DPoP error="invalid_token", error_description="[^"]*DPoP-bound[^"]*", algs="ES256 EdDSA RS256 PS256 Ed25519", resource_metadata="https:\/\/api\.example\.com\/\.well-known\/oauth-protected-resource"$/,
    );
  });

  describe("refuses with 401", async () => {
    const key = await proofKey();
    const token = await dpopToken(key);
    const cases: [string, () => Promise<Record<string, string>>, string][] = [
      ["no proof", async () => ({ Authorization: `DPoP ${token}` }), "invalid_dpop_proof"],
      [
        "a proof with the wrong ath",
        async () => ({
          Authorization: `DPoP ${token}`,
          DPoP: await apiProof(key, token, { ath: await ath("another-token") }),
        }),
        "invalid_dpop_proof",
      ],
      [
        "a proof without ath",
        async () => ({ Authorization: `DPoP ${token}`, DPoP: await apiProof(key, token, { ath: undefined }) }),
        "invalid_dpop_proof",
      ],
      [
        "a proof by another key",
        async () => ({ Authorization: `DPoP ${token}`, DPoP: await apiProof(await proofKey(), token) }),
        "invalid_token",
      ],
      [
        "a proof for another method",
        async () => ({ Authorization: `DPoP ${token}`, DPoP: await apiProof(key, token, { htm: "POST" }) }),
        "invalid_dpop_proof",
      ],
      [
        "a proof for another URL",
        async () => ({ Authorization: `DPoP ${token}`, DPoP: await apiProof(key, token, { htu: `${API}/admin` }) }),
        "invalid_dpop_proof",
      ],
      [
        "a stale proof",
        async () => ({ Authorization: `DPoP ${token}`, DPoP: await apiProof(key, token, { iat: nowSeconds() - 900 }) }),
        "invalid_dpop_proof",
      ],
      [
        "an unbound token with the DPoP scheme",
        async () => {
          const plain = ((await (await tokenRequest(client)).json()) as { access_token: string }).access_token;
          return { Authorization: `DPoP ${plain}`, DPoP: await apiProof(key, plain) };
        },
        "invalid_token",
      ],
    ];
    for (const [name, headers, error] of cases) {
      it(name, async () => {
        const res = await call(await headers());
        expect(res.status).toBe(401);
        expect(res.body.error).toBe(error);
        expect(res.challenge).toMatch(
          new RegExp(`^DPoP error="${error}".*algs="ES256 EdDSA RS256 PS256 Ed25519", resource_metadata="[^"]+"$`),
        );
      });
    }
    it("a proof replayed in the last second of its window", async () => {
      const iat = nowSeconds() - 299;
      const late = await apiProof(key, token, { iat });
      expect((await call({ Authorization: `DPoP ${token}`, DPoP: late })).status).toBe(200);
      vi.useFakeTimers({ now: (iat + 300) * 1000, toFake: ["Date"] });
      expect((await call({ Authorization: `DPoP ${token}`, DPoP: late })).status).toBe(401);
    });
    it("a replayed proof", async () => {
      const once = await apiProof(key, token);
      expect((await call({ Authorization: `DPoP ${token}`, DPoP: once })).status).toBe(200);
      const again = await call({ Authorization: `DPoP ${token}`, DPoP: once });
      expect(again.status).toBe(401);
      expect(again.body.error_description).toMatch(/already used/);
    });
  });

  describe("with keymint's replay guard bound (the kit's replayGuard option)", () => {
    const guarded = (replayGuard: unknown) => ({ ...apiEnv, REPLAY_GUARD: replayGuard as DurableObjectNamespace });
    const callGuarded = async (apiEnvWith: ApiEnv, headers: Record<string, string>) => {
      const res = await api.fetch(new Request(`${API}/reports`, { headers }), apiEnvWith, createExecutionContext());
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };

    it("refuses a proof already spent in another location: the guard, not this isolate, decides", async () => {
      const key = await proofKey();
      const token = await dpopToken(key);
      const spent = await apiProof(key, token);
      const { jti, iat } = jose.decodeJwt(spent) as { jti: string; iat: number };
      // Another isolate (or another location) accepted this proof first: it spent the jti in the key's object.
      expect(await env.REPLAY_GUARD.getByName(proofShard(key.jkt)).claim(jti, iat + 300)).toBe(true);
      expect((await call({ Authorization: `DPoP ${token}`, DPoP: spent })).status).toBe(200);
      const res = await callGuarded(guarded(env.REPLAY_GUARD), { Authorization: `DPoP ${token}`, DPoP: spent });
      expect(res.status).toBe(401);
      expect(res.body.error_description).toMatch(/already used/);
      const fresh = await apiProof(key, token);
      expect(
        (await callGuarded(guarded(env.REPLAY_GUARD), { Authorization: `DPoP ${token}`, DPoP: fresh })).status,
      ).toBe(200);
      expect(
        await env.REPLAY_GUARD.getByName(proofShard(key.jkt)).claim(jose.decodeJwt(fresh).jti as string, iat + 300),
      ).toBe(false);
    });

    it("answers 503 temporarily_unavailable when the guard fails, never an unchecked pass", async () => {
      const errors = vi.spyOn(console, "error").mockImplementation(() => {});
      const key = await proofKey();
      const token = await dpopToken(key);
      const failing = (env as unknown as { FAILING_REPLAY_GUARD: DurableObjectNamespace }).FAILING_REPLAY_GUARD;
      const res = await callGuarded(guarded(failing), {
        Authorization: `DPoP ${token}`,
        DPoP: await apiProof(key, token),
      });
      expect(res).toEqual({
        status: 503,
        body: {
          error: "temporarily_unavailable",
          error_description: "The DPoP proof cannot be checked for replay, retry later",
        },
      });
      expect(errors.mock.calls.map((c) => String(c[0])).join("\n")).toMatch(/"event":"replay_guard_unavailable"/);
    });

    it("answers 500 with a fix in the log when replayGuard finds no binding", async () => {
      const errors = vi.spyOn(console, "error").mockImplementation(() => {});
      const key = await proofKey();
      const token = await dpopToken(key);
      const app = new Hono();
      app.get("/reports", requireToken({ issuer: ORIGIN, audience: API, replayGuard: () => undefined }), (c) =>
        c.text("ok"),
      );
      const res = await app.fetch(
        new Request(`${API}/reports`, {
          headers: { Authorization: `DPoP ${token}`, DPoP: await apiProof(key, token) },
        }),
        apiEnv,
      );
      expect(res.status).toBe(500);
      expect(errors.mock.calls.map((c) => String(c[0])).join("\n")).toMatch(
        /resource_server_misconfigured.*ReplayGuard/,
      );
    });
  });

  it("requires DPoP on a route that says so: a Bearer token gets 401 with only the DPoP challenge", async () => {
    const plain = ((await (await tokenRequest(client)).json()) as { access_token: string }).access_token;
    const res = await call({ Authorization: `Bearer ${plain}` }, "/payments", "POST");
    expect(res.status).toBe(401);
    expect(res.challenge).toBe(
      'DPoP algs="ES256 EdDSA RS256 PS256 Ed25519", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource"',
    );
  });
});
