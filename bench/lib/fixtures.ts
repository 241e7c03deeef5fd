/**
 * The benchmark's extra clients and keys, beyond the seed-derived secret clients of clients.ts: a client per
 * `private_key_jwt` algorithm (its key pair made per run), a federated client whose outside OpenID Connect
 * issuer (discovery + JWKS, RS256) the KV service serves on loopback, a client whose tokens are meant for the
 * example API (audience `https://api.example.com`, scope `read`) and a client allowed to introspect. The KV
 * service builds the records with the project's own code and hands the private parts to the orchestrator over
 * loopback (`GET /__bench/fixtures`); nothing here is a real credential.
 */

import { createPrivateKey, generateKeyPairSync, type JsonWebKey, type KeyObject, sign } from "node:crypto";
import { type ClientSettings, newKeyClientRecord } from "../../src/clients/lifecycle.ts";
import { clientKey } from "../../src/clients/record.ts";
import { recordForNewClient } from "../../src/clients/register.ts";
import { BENCH_CLAIMS, benchCredentials, type Credentials } from "./clients.ts";
import { mtlsRecord } from "./mtls.ts";

export const API_AUDIENCE = "https://api.example.com";
/** The `aud` the federated client requires of its outside tokens. */
export const FEDERATED_AUDIENCE = "keymint-bench";
export const FEDERATED_SUBJECT = "repo:keymint/bench:ref:refs/heads/main";
/** Path prefix of the outside issuer served by the KV service. */
export const ISSUER_PATH = "/__issuer";

export type AssertionAlg = "ES256" | "EdDSA";
export const ASSERTION_ALGS: readonly AssertionAlg[] = ["ES256", "EdDSA"];

export interface KeyClient {
  alg: AssertionAlg;
  clientId: string;
  /** The client's private JWK (with kid and alg): signs its assertions. */
  privateJwk: JsonWebKey;
}

/** What the orchestrator gets from the KV service. */
export interface Fixtures {
  keyClients: KeyClient[];
  federated: { clientId: string; issuer: string; tokens: string[] };
  api: Credentials;
  introspector: Credentials;
  /** A tls_client_auth client (RFC 8705): its id; the certificate is the one in bench/lib/mtls.ts edgeCf(). */
  mtls: { clientId: string };
  /** A secret client with 3 static claims (BENCH_CLAIMS), tenant "acme": the example hook grants it everything. */
  claims: Credentials;
}

const API_INDEX = 2_000_001;
const INTROSPECTOR_INDEX = 2_000_002;
const CLAIMS_INDEX = 2_000_003;

export function keyPair(alg: AssertionAlg | "RS256"): {
  privateKey: KeyObject;
  publicJwk: JsonWebKey;
  privateJwk: JsonWebKey;
} {
  const { privateKey, publicKey } =
    alg === "ES256"
      ? generateKeyPairSync("ec", { namedCurve: "P-256" })
      : alg === "EdDSA"
        ? generateKeyPairSync("ed25519")
        : generateKeyPairSync("rsa", { modulusLength: 2048 });
  const kid = `bench-${alg.toLowerCase()}`;
  return {
    privateKey,
    publicJwk: { ...publicKey.export({ format: "jwk" }), kid, alg, use: "sig" },
    privateJwk: { ...privateKey.export({ format: "jwk" }), kid, alg },
  };
}

/** A compact JWS of `claims` with `key` (ES256 in JOSE r‖s form, EdDSA, RS256). */
export function signJws(
  alg: AssertionAlg | "RS256",
  key: KeyObject,
  kid: string,
  claims: Record<string, unknown>,
  typ?: string,
): string {
  const header = Buffer.from(JSON.stringify({ alg, kid, ...(typ === undefined ? {} : { typ }) })).toString("base64url");
  const payload = Buffer.from(JSON.stringify(claims)).toString("base64url");
  const input = Buffer.from(`${header}.${payload}`);
  const signature =
    alg === "ES256"
      ? sign("sha256", input, { key, dsaEncoding: "ieee-p1363" })
      : alg === "EdDSA"
        ? sign(null, input, key)
        : sign("sha256", input, key);
  return `${header}.${payload}.${signature.toString("base64url")}`;
}

export function privateKeyOf(jwk: JsonWebKey): KeyObject {
  return createPrivateKey({ key: jwk, format: "jwk" });
}

/** The outside issuer: its RS256 key pair, discovery and JWKS documents, and tokens for the federated client. */
export interface OutsideIssuer {
  issuer: string;
  discovery: string;
  jwks: string;
  token(now: number): string;
}

export function outsideIssuer(baseUrl: string): OutsideIssuer {
  const issuer = `${baseUrl}${ISSUER_PATH}`;
  const { privateKey, publicJwk } = keyPair("RS256");
  return {
    issuer,
    discovery: JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks`, id_token_signing_alg_values_supported: ["RS256"] }),
    jwks: JSON.stringify({ keys: [publicJwk] }),
    token: (now) =>
      signJws("RS256", privateKey, publicJwk.kid as string, {
        iss: issuer,
        sub: FEDERATED_SUBJECT,
        aud: FEDERATED_AUDIENCE,
        iat: now,
        exp: now + 3600,
      }),
  };
}

/**
 * The extra records (KV key, JSON value) and the fixtures for the orchestrator. `issuer` is the outside issuer
 * the federated client trusts.
 */
export async function extraClients(
  seed: string,
  issuer: OutsideIssuer,
  now: number,
): Promise<{ records: [string, string][]; fixtures: Fixtures }> {
  const records: [string, string][] = [];
  const keyClients: KeyClient[] = [];
  for (const alg of ASSERTION_ALGS) {
    const { publicJwk, privateJwk } = keyPair(alg);
    const clientId = benchCredentials(seed, API_INDEX + 10 + keyClients.length).clientId;
    const record = newKeyClientRecord(
      {
        clientId,
        keys: { jwks: { keys: [publicJwk] } },
        settings: { name: `bench ${alg} key client`, scopes: ["read"] },
      },
      now,
    );
    records.push([clientKey(clientId), JSON.stringify(record)]);
    keyClients.push({ alg, clientId, privateJwk });
  }
  const federatedId = benchCredentials(seed, API_INDEX + 20).clientId;
  const federated = newKeyClientRecord(
    {
      clientId: federatedId,
      keys: { federation: { issuer: issuer.issuer, subject: FEDERATED_SUBJECT, audience: FEDERATED_AUDIENCE } },
      settings: { name: "bench federated client", scopes: ["read"] },
    },
    now,
  );
  records.push([clientKey(federatedId), JSON.stringify(federated)]);
  const mtlsId = benchCredentials(seed, API_INDEX + 30).clientId;
  records.push(mtlsRecord(mtlsId, now));
  const api = benchCredentials(seed, API_INDEX);
  const introspector = benchCredentials(seed, INTROSPECTOR_INDEX);
  const claims = benchCredentials(seed, CLAIMS_INDEX);
  const secretClients: [Credentials, ClientSettings & { name: string }][] = [
    [api, { name: "bench API client", scopes: ["read"], audiences: [API_AUDIENCE] }],
    [introspector, { name: "bench introspector", scopes: ["read"], canIntrospect: true }],
    [claims, { name: "bench claims client", scopes: ["read", "write"], claims: BENCH_CLAIMS }],
  ];
  for (const [credentials, settings] of secretClients) {
    const record = await recordForNewClient(
      { clientId: credentials.clientId, secret: credentials.secret, secretExpiresAt: null, settings },
      now,
    );
    records.push([clientKey(credentials.clientId), JSON.stringify(record)]);
  }
  return {
    records,
    fixtures: {
      keyClients,
      federated: {
        clientId: federatedId,
        issuer: issuer.issuer,
        tokens: [0, 1, 2, 3].map((i) => issuer.token(now - i)),
      },
      api,
      introspector,
      mtls: { clientId: mtlsId },
      claims,
    },
  };
}
