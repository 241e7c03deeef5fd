/**
 * Mutual TLS (RFC 8705) through the worker's fetch, with requests carrying `request.cf.tlsClientAuth` exactly as
 * Cloudflare's edge sets it: tls_client_auth (§2.1) by subject DN and by each SAN type, self_signed_tls_client_auth
 * (§2.2), every refusal (the same 401 as a wrong secret), certificate-bound tokens (§3) at issuance, introspection
 * and the resource-server kit, and which binding wins when DPoP is in play.
 */

import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import * as jose from "jose";
import { describe, expect, it } from "vitest";
import api, { type ApiEnv } from "../../examples/resource-server/src/index.ts";
import {
  type ClientSettings,
  type MtlsRegistration,
  newMtlsClientRecord,
  setEnabled,
} from "../../src/clients/lifecycle.ts";
import { CERTIFICATES, type TestCertificate } from "./fixtures/certificates.ts";
import { cfWith, NOT_PRESENTED, x5tOf } from "./fixtures/tls-client-auth.ts";
import {
  basicAuth,
  freshMinute,
  INVALID_CLIENT_BODY,
  nowSeconds,
  ORIGIN,
  post,
  putRecord,
  randomIp,
  seedClient,
  TOKEN_URL,
} from "./helpers.ts";

const { payments, billing, expiredPayments, device, otherDevice, expiredDevice } = CERTIFICATES;
const AUDIENCE = "https://api.example.com";

async function mtlsClient(
  mtls: MtlsRegistration,
  settings: Partial<ClientSettings> = {},
  enabled = true,
): Promise<string> {
  const clientId = `mtls-${crypto.randomUUID()}`;
  const record = newMtlsClientRecord(
    { clientId, mtls, settings: { name: "mtls client", scopes: ["read"], audiences: [AUDIENCE], ...settings } },
    nowSeconds(),
  );
  await putRecord(enabled ? record : setEnabled(record, false, nowSeconds()));
  return clientId;
}

const dnClient = (dn = payments.subjectDn, settings: Partial<ClientSettings> = {}) =>
  mtlsClient({ token_endpoint_auth_method: "tls_client_auth", tls_client_auth_subject_dn: dn }, settings);

async function selfSignedClient(certificates: TestCertificate[], settings: Partial<ClientSettings> = {}) {
  const thumbprints = await Promise.all(certificates.map(x5tOf));
  return mtlsClient(
    { token_endpoint_auth_method: "self_signed_tls_client_auth", tls_client_certificate_thumbprints: thumbprints },
    settings,
  );
}

interface Call {
  cf?: Record<string, unknown>;
  fields?: Record<string, string>;
  headers?: Record<string, string>;
  auth?: string;
  url?: string;
}

/** A token request naming the client in the body (RFC 8705 §2) over a connection with `cf`. */
function tokenRequest(clientId: string | undefined, call: Call = {}) {
  const fields: Record<string, string> = { grant_type: "client_credentials", ...call.fields };
  if (clientId !== undefined) fields.client_id = clientId;
  return post(new URLSearchParams(fields), { cf: call.cf, headers: call.headers, auth: call.auth, url: call.url });
}

async function issued(res: Response): Promise<{ body: Record<string, unknown>; claims: jose.JWTPayload }> {
  const text = await res.text();
  expect(res.status, text).toBe(200);
  const body = JSON.parse(text) as Record<string, unknown>;
  const key = new TextEncoder().encode(env.TOKEN_SIGNING_KEY);
  const { payload } = await jose.jwtVerify(body.access_token as string, key, {
    typ: "at+jwt",
    algorithms: ["HS256"],
    issuer: ORIGIN,
  });
  return { body, claims: payload };
}

/** Status, body and the headers that could tell failures apart. */
async function failure(res: Response) {
  return {
    status: res.status,
    body: await res.json(),
    challenge: res.headers.get("www-authenticate"),
    cache: res.headers.get("cache-control"),
  };
}

const REFUSED = { status: 401, body: INVALID_CLIENT_BODY, challenge: null, cache: "no-store" };

describe("tls_client_auth: a certificate from a trusted CA with the registered subject (RFC 8705 §2.1)", () => {
  it("issues a token for the body's client_id when the certificate's subject DN matches", async () => {
    const clientId = await dnClient();
    const { body, claims } = await issued(await tokenRequest(clientId, { cf: cfWith(payments) }));
    expect(body).toMatchObject({ token_type: "Bearer", expires_in: 3600, scope: "read" });
    expect(claims).toMatchObject({ sub: clientId, client_id: clientId, aud: AUDIENCE, scope: "read" });
    // Without tls_client_certificate_bound_access_tokens the token is an ordinary Bearer token.
    expect(claims.cnf).toBeUndefined();
  });

  it("compares DNs by distinguishedNameMatch (RFC 4517 §4.2.15): case, spaces, type names and OIDs do not count", async () => {
    for (const dn of [
      "cn=Payments-Service, ou=payments, o=ACME  CORP, c=us",
      "2.5.4.3=payments-service,2.5.4.11=Payments,2.5.4.10=Acme Corp,2.5.4.6=US",
      "CN=payments-service;OU=Payments;O=Acme Corp;C=US",
      "commonName=payments-service,OU=Payments,O=Acme\\20Corp,C=US",
    ]) {
      const clientId = await dnClient(dn);
      expect((await tokenRequest(clientId, { cf: cfWith(payments) })).status, dn).toBe(200);
    }
  });

  it("matches an escaped comma in the DN (RFC 4514 §2.4) and nothing looser", async () => {
    const clientId = await dnClient("CN=billing-service,OU=Billing,O=Acme\\, Inc.,C=US");
    expect((await tokenRequest(clientId, { cf: cfWith(billing) })).status).toBe(200);
    // RDN order matters: the same attributes in another order are another name.
    const reordered = await dnClient("OU=Billing,CN=billing-service,O=Acme\\, Inc.,C=US");
    expect(await failure(await tokenRequest(reordered, { cf: cfWith(billing) }))).toEqual(REFUSED);
    const fewer = await dnClient("CN=billing-service,OU=Billing");
    expect(await failure(await tokenRequest(fewer, { cf: cfWith(billing) }))).toEqual(REFUSED);
  });

  it("matches each SAN type RFC 8705 §2.1.2 registers, read from the RFC 9440 leaf Cloudflare forwards", async () => {
    const registrations: [keyof MtlsRegistration, string][] = [
      ["tls_client_auth_san_dns", "Payments.ACME.example"],
      ["tls_client_auth_san_uri", "spiffe://acme.example/ns/prod/sa/payments"],
      ["tls_client_auth_san_ip", "10.1.2.3"],
      // Compared in binary (RFC 5952 §8): any spelling of the address.
      ["tls_client_auth_san_ip", "2001:DB8:0:0::7"],
      // The domain of an e-mail address is case-insensitive, its local part is not (RFC 5280 §7.5).
      ["tls_client_auth_san_email", "payments@acme.example"],
    ];
    for (const [field, value] of registrations) {
      const clientId = await mtlsClient({ token_endpoint_auth_method: "tls_client_auth", [field]: value });
      expect((await tokenRequest(clientId, { cf: cfWith(payments) })).status, `${field} ${value}`).toBe(200);
    }
  });

  it("refuses a SAN the certificate does not have, and a SAN client whose leaf Cloudflare left out", async () => {
    const refusals: [keyof MtlsRegistration, string][] = [
      ["tls_client_auth_san_dns", "billing.acme.example"],
      ["tls_client_auth_san_dns", "*.acme.example"],
      ["tls_client_auth_san_uri", "spiffe://acme.example/ns/prod/sa/billing"],
      ["tls_client_auth_san_uri", "SPIFFE://acme.example/ns/prod/sa/payments"],
      ["tls_client_auth_san_ip", "10.1.2.4"],
      ["tls_client_auth_san_ip", "::ffff:10.1.2.3"],
      ["tls_client_auth_san_email", "Payments@acme.example"],
    ];
    for (const [field, value] of refusals) {
      const clientId = await mtlsClient({ token_endpoint_auth_method: "tls_client_auth", [field]: value });
      expect(await failure(await tokenRequest(clientId, { cf: cfWith(payments) })), `${field} ${value}`).toEqual(
        REFUSED,
      );
    }
    const dns = await mtlsClient({
      token_endpoint_auth_method: "tls_client_auth",
      tls_client_auth_san_dns: "payments.acme.example",
    });
    // Over 10 KiB Cloudflare sends no leaf (certRFC9440TooLarge): no SAN can be read, so none matches.
    const tooLarge = cfWith(payments, { certRFC9440: "", certRFC9440TooLarge: true });
    expect(await failure(await tokenRequest(dns, { cf: tooLarge }))).toEqual(REFUSED);
  });

  it("refuses every mismatch with the same 401 invalid_client as a wrong secret", async () => {
    const clientId = await dnClient();
    const secretClient = await seedClient();
    const wrongSecret = await failure(
      await post(
        new URLSearchParams({
          grant_type: "client_credentials",
          client_id: secretClient.clientId,
          client_secret: "nope",
        }),
      ),
    );
    expect(wrongSecret).toEqual(REFUSED);
    const cases: [string, string | undefined, Record<string, unknown> | undefined][] = [
      ["wrong DN (another client's certificate)", clientId, cfWith(billing)],
      [
        "not verified by the edge",
        clientId,
        cfWith(payments, { certVerified: "FAILED:unable to get local issuer certificate" }),
      ],
      [
        "self-signed with the same subject",
        clientId,
        cfWith(payments, { certVerified: "FAILED:self signed certificate" }),
      ],
      ["revoked (verified, but certRevoked)", clientId, cfWith(payments, { certRevoked: "1" })],
      [
        "expired, as the edge reports it",
        clientId,
        cfWith(expiredPayments, { certVerified: "FAILED:certificate has expired" }),
      ],
      ["expired, even if the edge said SUCCESS", clientId, cfWith(expiredPayments)],
      ["not yet valid", clientId, cfWith(payments, { certNotBefore: "Jan  1 00:00:00 2999 GMT" })],
      ["mTLS on, no certificate presented (Cloudflare's placeholder)", clientId, { tlsClientAuth: NOT_PRESENTED }],
      ["no mTLS on the hostname (no tlsClientAuth)", clientId, { colo: "FRA" }],
      ["no cf object at all (not through Cloudflare)", clientId, undefined],
      ["an odd tlsClientAuth (fingerprint missing)", clientId, cfWith(payments, { certFingerprintSHA256: undefined })],
      ['an odd tlsClientAuth (certPresented true, not "1")', clientId, cfWith(payments, { certPresented: true })],
      ["an unknown client id with a valid certificate", `mtls-${crypto.randomUUID()}`, cfWith(payments)],
      ["a secret client naming itself with a certificate", secretClient.clientId, cfWith(payments)],
    ];
    for (const [label, id, cf] of cases) {
      expect(await failure(await tokenRequest(id, { cf })), label).toEqual(REFUSED);
    }
  });

  it("refuses a disabled client after a matching certificate, like after a valid secret", async () => {
    const clientId = await mtlsClient(
      { token_endpoint_auth_method: "tls_client_auth", tls_client_auth_subject_dn: payments.subjectDn },
      {},
      false,
    );
    expect(await failure(await tokenRequest(clientId, { cf: cfWith(payments) }))).toEqual(REFUSED);
  });

  it("refuses a secret or an assertion presented for an mTLS client, certificate or not (one method per client)", async () => {
    const clientId = await dnClient();
    const withSecret = await post(
      new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: "x".repeat(43) }),
      { cf: cfWith(payments) },
    );
    expect(await failure(withSecret)).toEqual(REFUSED);
    const basic = await post(new URLSearchParams({ grant_type: "client_credentials" }), {
      auth: basicAuth(clientId, "y".repeat(43)),
      cf: cfWith(payments),
    });
    expect(basic.status).toBe(401);
    expect(basic.headers.get("www-authenticate")).toMatch(/^Basic/);
    const pair = await jose.generateKeyPair("ES256");
    const jwt = await new jose.SignJWT({ jti: crypto.randomUUID() })
      .setProtectedHeader({ alg: "ES256" })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(ORIGIN)
      .setExpirationTime("1m")
      .sign(pair.privateKey);
    const assertion = await tokenRequest(clientId, {
      cf: cfWith(payments),
      fields: {
        client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion: jwt,
      },
    });
    expect(await failure(assertion)).toEqual(REFUSED);
  });

  it("lets a secret client keep using its secret over an mTLS connection: the certificate plays no part", async () => {
    const client = await seedClient();
    const res = await post(new URLSearchParams({ grant_type: "client_credentials" }), {
      auth: basicAuth(client.clientId, client.secret),
      cf: cfWith(payments),
    });
    const { claims } = await issued(res);
    expect(claims.cnf).toBeUndefined();
  });

  it("authenticates at introspection and revocation the same way", async () => {
    const introspector = await mtlsClient(
      {
        token_endpoint_auth_method: "tls_client_auth",
        tls_client_auth_san_uri: "spiffe://acme.example/ns/prod/sa/payments",
      },
      { canIntrospect: true },
    );
    const subject = await dnClient(billing.subjectDn);
    const { body } = await issued(await tokenRequest(subject, { cf: cfWith(billing) }));
    const introspect = await post(
      new URLSearchParams({ token: body.access_token as string, client_id: introspector }),
      {
        url: `${ORIGIN}/oauth2/introspect`,
        cf: cfWith(payments),
      },
    );
    expect(introspect.status).toBe(200);
    expect(await introspect.json()).toMatchObject({ active: true, client_id: subject });
    const revoke = await post(new URLSearchParams({ token: body.access_token as string, client_id: subject }), {
      url: `${ORIGIN}/oauth2/revoke`,
      cf: cfWith(billing),
    });
    expect(revoke.status).toBe(200);
    const again = await post(new URLSearchParams({ token: body.access_token as string, client_id: introspector }), {
      url: `${ORIGIN}/oauth2/introspect`,
      cf: cfWith(payments),
    });
    expect(await again.json()).toEqual({ active: false });
  });

  it("counts wrong certificates like wrong secrets: the (source, client id) pair gets 429 over its limit", async () => {
    await freshMinute();
    const clientId = await dnClient();
    const ip = randomIp();
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      statuses.push(
        (await tokenRequest(clientId, { cf: cfWith(billing), headers: { "CF-Connecting-IP": ip } })).status,
      );
    }
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(statuses.slice(10)).toEqual([429, 429]);
    // The right certificate from another source still works (client ids are public).
    expect((await tokenRequest(clientId, { cf: cfWith(payments) })).status).toBe(200);
  }, 70_000);
});

describe("self_signed_tls_client_auth: one of the client's registered certificates (RFC 8705 §2.2)", () => {
  it("issues a token when the certificate's SHA-256 is registered, though no CA verified it", async () => {
    const clientId = await selfSignedClient([device]);
    const { claims } = await issued(await tokenRequest(clientId, { cf: cfWith(device) }));
    expect(claims.client_id).toBe(clientId);
  });

  it("accepts each of several registered certificates (rotation) and refuses any other", async () => {
    const clientId = await selfSignedClient([device, otherDevice]);
    expect((await tokenRequest(clientId, { cf: cfWith(device) })).status).toBe(200);
    expect((await tokenRequest(clientId, { cf: cfWith(otherDevice) })).status).toBe(200);
    const only = await selfSignedClient([device]);
    expect(await failure(await tokenRequest(only, { cf: cfWith(otherDevice) }))).toEqual(REFUSED);
    // A certificate with the same subject from a trusted CA is still not the registered certificate.
    const payer = await selfSignedClient([device]);
    expect(await failure(await tokenRequest(payer, { cf: cfWith(payments) }))).toEqual(REFUSED);
  });

  it("refuses a revoked, an expired, and a missing certificate with the same 401", async () => {
    const clientId = await selfSignedClient([device, expiredDevice]);
    for (const [label, cf] of [
      ["revoked", cfWith(device, { certRevoked: "1", certVerified: "SUCCESS" })],
      ["expired", cfWith(expiredDevice)],
      ["not presented", { tlsClientAuth: NOT_PRESENTED }],
      ["fingerprint in another form", cfWith(device, { certFingerprintSHA256: device.fingerprintSha256.slice(2) })],
    ] as const) {
      expect(await failure(await tokenRequest(clientId, { cf })), label).toEqual(REFUSED);
    }
  });

  it("takes Cloudflare's hex fingerprint in either case", async () => {
    const clientId = await selfSignedClient([device]);
    const upper = cfWith(device, { certFingerprintSHA256: device.fingerprintSha256.toUpperCase() });
    expect((await tokenRequest(clientId, { cf: upper })).status).toBe(200);
  });
});

describe("certificate-bound access tokens (RFC 8705 §3)", () => {
  it("binds an mTLS client's token to its certificate: cnf.x5t#S256 (§3.1), token_type Bearer", async () => {
    const clientId = await dnClient(payments.subjectDn, { requireMtlsBinding: true });
    const { body, claims } = await issued(await tokenRequest(clientId, { cf: cfWith(payments) }));
    expect(body.token_type).toBe("Bearer");
    expect(claims.cnf).toEqual({ "x5t#S256": await x5tOf(payments) });
  });

  it("carries a certificate client's static claims next to its binding (claims never touch cnf)", async () => {
    const clientId = await dnClient(payments.subjectDn, {
      requireMtlsBinding: true,
      claims: { tenant: "acme", roles: ["payer"] },
    });
    const { claims } = await issued(await tokenRequest(clientId, { cf: cfWith(payments) }));
    expect(claims).toMatchObject({ tenant: "acme", roles: ["payer"], sub: clientId });
    expect(claims.cnf).toEqual({ "x5t#S256": await x5tOf(payments) });
  });

  it("binds a secret client's token to the connection's certificate when it asks for binding", async () => {
    const client = await seedClient({ requireMtlsBinding: true });
    const res = await post(new URLSearchParams({ grant_type: "client_credentials" }), {
      auth: basicAuth(client.clientId, client.secret),
      cf: cfWith(device),
    });
    expect((await issued(res)).claims.cnf).toEqual({ "x5t#S256": await x5tOf(device) });
  });

  it("refuses (400) a bound-token client that connects without a usable certificate", async () => {
    const client = await seedClient({ requireMtlsBinding: true });
    for (const cf of [
      undefined,
      { tlsClientAuth: NOT_PRESENTED },
      cfWith(device, { certRevoked: "1" }),
      cfWith(expiredDevice),
    ]) {
      const res = await post(new URLSearchParams({ grant_type: "client_credentials" }), {
        auth: basicAuth(client.clientId, client.secret),
        cf,
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toBe("invalid_request");
    }
  });

  it("reports the binding at introspection (§3.2) with token_type Bearer", async () => {
    const introspector = await seedClient({ canIntrospect: true });
    const clientId = await selfSignedClient([device], { requireMtlsBinding: true });
    const { body } = await issued(await tokenRequest(clientId, { cf: cfWith(device) }));
    const res = await post(new URLSearchParams({ token: body.access_token as string }), {
      url: `${ORIGIN}/oauth2/introspect`,
      auth: basicAuth(introspector.clientId, introspector.secret),
    });
    expect(await res.json()).toMatchObject({
      active: true,
      client_id: clientId,
      token_type: "Bearer",
      cnf: { "x5t#S256": await x5tOf(device) },
    });
  });
});

describe("one binding per token: DPoP (RFC 9449) and mTLS (RFC 8705)", () => {
  async function dpopProof(): Promise<string> {
    const pair = await jose.generateKeyPair("ES256", { extractable: true });
    return new jose.SignJWT({ htm: "POST", htu: TOKEN_URL, iat: nowSeconds(), jti: crypto.randomUUID() })
      .setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk: await jose.exportJWK(pair.publicKey) })
      .sign(pair.privateKey);
  }

  it("the registered certificate binding wins over a DPoP proof: cnf holds x5t#S256 only, token_type Bearer", async () => {
    const clientId = await dnClient(payments.subjectDn, { requireMtlsBinding: true });
    const res = await tokenRequest(clientId, { cf: cfWith(payments), headers: { DPoP: await dpopProof() } });
    const { body, claims } = await issued(res);
    expect(body.token_type).toBe("Bearer");
    expect(claims.cnf).toEqual({ "x5t#S256": await x5tOf(payments) });
  });

  it("without a registered certificate binding, a DPoP proof binds the token of an mTLS client", async () => {
    const clientId = await dnClient();
    const res = await tokenRequest(clientId, { cf: cfWith(payments), headers: { DPoP: await dpopProof() } });
    const { body, claims } = await issued(res);
    expect(body.token_type).toBe("DPoP");
    expect(Object.keys(claims.cnf as object)).toEqual(["jkt"]);
  });
});

describe("the resource-server kit behind Cloudflare mTLS (RFC 8705 §3)", () => {
  const apiEnv: ApiEnv = {
    KEYMINT_ISSUER: ORIGIN,
    API_AUDIENCE: AUDIENCE,
    KEYMINT_JWKS_URL: "",
    TOKEN_SIGNING_KEY: env.TOKEN_SIGNING_KEY,
  };

  async function boundToken(certificate: TestCertificate): Promise<string> {
    const clientId = await selfSignedClient([certificate], { requireMtlsBinding: true });
    return (await issued(await tokenRequest(clientId, { cf: cfWith(certificate) }))).body.access_token as string;
  }

  async function callApi(token: string, cf?: Record<string, unknown>, scheme = "Bearer") {
    const init: RequestInit = { headers: { Authorization: `${scheme} ${token}` } };
    if (cf !== undefined) (init as { cf?: unknown }).cf = cf;
    const res = await api.fetch(new Request(`${AUDIENCE}/reports`, init), apiEnv, createExecutionContext());
    return { status: res.status, challenge: res.headers.get("www-authenticate"), body: await res.json() };
  }

  it("admits a certificate-bound token presented over mTLS with its certificate", async () => {
    const token = await boundToken(device);
    expect((await callApi(token, cfWith(device))).status).toBe(200);
  });

  it("refuses it with 401 invalid_token for another certificate, none, or a revoked one", async () => {
    const token = await boundToken(device);
    for (const cf of [
      cfWith(otherDevice),
      { tlsClientAuth: NOT_PRESENTED },
      undefined,
      cfWith(device, { certRevoked: "1" }),
    ]) {
      const res = await callApi(token, cf);
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ error: "invalid_token" });
      expect(res.challenge).toMatch(/^Bearer realm="https:\/\/api\.example\.com", error="invalid_token"/);
    }
  });

  it("refuses a certificate-bound token presented with the DPoP scheme, and admits unbound tokens over mTLS", async () => {
    const token = await boundToken(device);
    expect((await callApi(token, cfWith(device), "DPoP")).status).toBe(401);
    const plain = await dnClient();
    const unbound = (await issued(await tokenRequest(plain, { cf: cfWith(payments) }))).body.access_token as string;
    expect((await callApi(unbound, cfWith(device))).status).toBe(200);
    expect((await callApi(unbound)).status).toBe(200);
  });
});
