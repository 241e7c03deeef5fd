/**
 * The pure parts of mTLS (RFC 8705): distinguished names (RFC 4514, distinguishedNameMatch of RFC 4517
 * §4.2.15), subject alternative names from DER (RFC 5280 §4.2.1.6), Cloudflare's tlsClientAuth read
 * defensively, thumbprints (RFC 8705 §3.1), and the record and lifecycle rules for mTLS clients.
 */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  LifecycleError,
  type MtlsRegistration,
  mtlsFields,
  mtlsRegistrationOf,
  newClientRecord,
  newMtlsClientRecord,
  setClientKeys,
  setClientMtls,
  updateClient,
} from "../../../src/clients/lifecycle.ts";
import { parseRecord, RecordError, toPublic } from "../../../src/clients/record.ts";
import { asAccessTokenClaims } from "../../../src/jwt/claims.ts";
import { decideClientCredentials } from "../../../src/oauth/client-credentials.ts";
import { activeIntrospection } from "../../../src/oauth/token-state.ts";
import { canonicalDn, parseDn } from "../../../src/x509/dn.ts";
import {
  certificateProblem,
  hexToThumbprint,
  parseCertificateTime,
  presentedCertificate,
} from "../../../src/x509/presented.ts";
import { subjectAltNames } from "../../../src/x509/san.ts";
import {
  CertificateError,
  jwksThumbprints,
  normalizeFingerprint,
  pemCertificates,
  thumbprintOf,
} from "../../../src/x509/thumbprint.ts";
import { CERTIFICATES } from "../fixtures/certificates.ts";
import { NOT_PRESENTED, tlsClientAuth, x5tOf } from "../fixtures/tls-client-auth.ts";

const NOW = 1_800_000_000;
const der = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
const { payments, billing, device } = CERTIFICATES;

describe("distinguished names (RFC 4514, RFC 4517 §4.2.15)", () => {
  const same = (a: string, b: string) => canonicalDn(a) !== null && canonicalDn(a) === canonicalDn(b);

  it("matches regardless of type case, names vs OIDs, value case and insignificant spaces", () => {
    expect(same("CN=Client One,O=Acme,C=US", "cn=client one, o=ACME, c=us")).toBe(true);
    expect(same("CN=Client One,O=Acme", "2.5.4.3=Client One,2.5.4.10=Acme")).toBe(true);
    expect(same("CN=Client One,O=Acme", "OID.2.5.4.3=Client   One , O = Acme")).toBe(true);
    expect(same("commonName=x,organizationName=y,emailAddress=a@b", "CN=x,O=y,E=a@b")).toBe(true);
    expect(same("CN=x;O=y", "CN=x,O=y")).toBe(true);
  });

  it("undoes escapes: special characters, hex pairs and UTF-8 in hex", () => {
    expect(parseDn("CN=Acme\\, Inc.,O=a\\+b")).toEqual([[["cn", "Acme, Inc."]], [["o", "a+b"]]]);
    expect(same("CN=Jos\\C3\\A9", "CN=José")).toBe(true);
    expect(same("CN=\\#hash", "CN=\\23hash")).toBe(true);
    expect(same("CN=a\\ ", "CN=a")).toBe(true);
  });

  it("treats a multi-valued RDN as a set, but the RDN sequence as ordered", () => {
    expect(same("CN=a+UID=b,O=c", "UID=b+CN=a,O=c")).toBe(true);
    expect(same("CN=a,O=c", "O=c,CN=a")).toBe(false);
    expect(same("CN=a+UID=b,O=c", "CN=a,UID=b,O=c")).toBe(false);
    expect(same("CN=a,O=c", "CN=a,O=c,C=US")).toBe(false);
  });

  it("keeps a BER hexstring distinct from a string that happens to spell it", () => {
    expect(same("CN=#0c0161", "CN=#0C0161")).toBe(true);
    expect(same("CN=#0c0161", "CN=\\#0c0161")).toBe(false);
  });

  it("refuses what is not a DN", () => {
    for (const bad of [
      "",
      "CN",
      "CN=a,",
      "=a",
      "C N=a",
      "CN=a\\",
      "CN=a\\q",
      "CN=a\\C3",
      'CN="a"',
      "CN=#0",
      "1=a",
      "01.2=a",
    ]) {
      expect(canonicalDn(bad), bad).toBeNull();
    }
    expect(canonicalDn(`CN=${"a".repeat(1100)}`)).toBeNull();
  });

  it("reads Cloudflare's RFC 2253 subject of each test certificate as the name OpenSSL wrote", () => {
    expect(parseDn(billing.subjectDn)).toEqual([
      [["cn", "billing-service"]],
      [["ou", "Billing"]],
      [["o", "Acme, Inc."]],
      [["c", "US"]],
    ]);
  });

  it("never throws, whatever the input", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (text) => {
        const canonical = canonicalDn(text);
        if (canonical !== null) expect(canonicalDn(text)).toBe(canonical);
      }),
      { numRuns: 2000, seed: 8705 },
    );
  });
});

describe("subject alternative names from DER (RFC 5280 §4.2.1.6)", () => {
  it("reads dNSName, URI, iPAddress and rfc822Name entries", () => {
    const names = subjectAltNames(der(payments.der));
    expect(names).toEqual({
      dns: ["payments.acme.example"],
      uri: ["spiffe://acme.example/ns/prod/sa/payments"],
      ip: [Uint8Array.of(10, 1, 2, 3), Uint8Array.of(0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7)],
      email: ["payments@Acme.Example"],
    });
  });

  it("answers no names for a certificate without the extension, and null for malformed DER", () => {
    expect(subjectAltNames(der(device.der))).toEqual({ dns: [], uri: [], ip: [], email: [] });
    const bytes = der(payments.der);
    expect(subjectAltNames(bytes.slice(0, bytes.length - 1))).toBeNull();
    expect(subjectAltNames(new Uint8Array([0x30, 0x84, 0xff, 0xff, 0xff, 0xff]))).toBeNull();
    expect(subjectAltNames(new Uint8Array())).toBeNull();
  });

  it("never throws on corrupted certificates", () => {
    const bytes = der(payments.der);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(bytes.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.nat(bytes.length),
        (edits, cut) => {
          const copy = bytes.slice(0, Math.max(cut, 1));
          for (const [at, value] of edits) if (at < copy.length) copy[at] = value;
          subjectAltNames(copy);
        },
      ),
      { numRuns: 3000, seed: 5280 },
    );
  });
});

describe("Cloudflare's request.cf.tlsClientAuth, read defensively", () => {
  it("reads a presented certificate: thumbprint from the hex fingerprint, dates, subject, leaf", async () => {
    const found = presentedCertificate({ tlsClientAuth: tlsClientAuth(payments) });
    expect(found).toEqual({
      thumbprint: await x5tOf(payments),
      verification: "SUCCESS",
      revoked: false,
      notBefore: Date.UTC(2025, 0, 1) / 1000,
      notAfter: Date.UTC(2125, 0, 1) / 1000,
      subjectDn: payments.subjectDn,
      leaf: payments.der,
    });
  });

  it("treats the placeholder, a missing object and every odd field as no certificate", () => {
    const odd: Record<string, unknown>[] = [
      { certPresented: 1 },
      { certPresented: "0" },
      { certVerified: "NONE" },
      { certVerified: undefined },
      { certRevoked: "true" },
      { certFingerprintSHA256: "" },
      { certFingerprintSHA256: payments.fingerprintSha1 },
      { certFingerprintSHA256: `${payments.fingerprintSha256}00` },
      { certNotAfter: "" },
      { certNotAfter: "2125-01-01T00:00:00Z" },
      { certNotBefore: "Feb 30 00:00:00 2025 GMT" },
    ];
    for (const overrides of odd) {
      expect(
        presentedCertificate({ tlsClientAuth: tlsClientAuth(payments, overrides) }),
        JSON.stringify(overrides),
      ).toBeNull();
    }
    for (const cf of [undefined, null, "x", {}, { tlsClientAuth: null }, { tlsClientAuth: NOT_PRESENTED }]) {
      expect(presentedCertificate(cf)).toBeNull();
    }
  });

  it("parses OpenSSL's time form, day padded with a space", () => {
    expect(parseCertificateTime("Dec 22 19:39:00 2018 GMT")).toBe(Date.UTC(2018, 11, 22, 19, 39) / 1000);
    expect(parseCertificateTime("Jan  5 01:02:03 2030 GMT")).toBe(Date.UTC(2030, 0, 5, 1, 2, 3) / 1000);
    for (const bad of [
      "Jan 5 01:02:03 2030",
      "jan  5 01:02:03 2030 GMT",
      "Foo  5 01:02:03 2030 GMT",
      "Jan 32 01:02:03 2030 GMT",
    ]) {
      expect(parseCertificateTime(bad), bad).toBeNull();
    }
  });

  it("refuses a revoked certificate and one outside its validity period, both dates included (RFC 5280 §4.1.2.5)", () => {
    const found = presentedCertificate({ tlsClientAuth: tlsClientAuth(payments) });
    if (found === null) throw new Error("not presented");
    expect(certificateProblem(found, found.notBefore)).toBeNull();
    expect(certificateProblem(found, found.notAfter)).toBeNull();
    expect(certificateProblem(found, found.notAfter + 1)).toBe("certificate_expired");
    expect(certificateProblem(found, found.notBefore - 1)).toBe("certificate_not_yet_valid");
    expect(certificateProblem({ ...found, revoked: true }, NOW)).toBe("certificate_revoked");
  });
});

describe("thumbprints (RFC 8705 §3.1 x5t#S256)", () => {
  it("gives the same value from the DER, Cloudflare's hex fingerprint, a PEM and a JWK's x5c", async () => {
    const expected = await thumbprintOf(der(payments.der));
    expect(expected).toBe(await x5tOf(payments));
    expect(hexToThumbprint(payments.fingerprintSha256)).toBe(expected);
    expect(normalizeFingerprint(payments.fingerprintSha256.toUpperCase().replace(/(..)(?!$)/g, "$1:"))).toBe(expected);
    expect(normalizeFingerprint(expected)).toBe(expected);
    const [fromPem] = pemCertificates(`junk\n${payments.pem}`);
    expect(await thumbprintOf(fromPem as Uint8Array)).toBe(expected);
    expect(await jwksThumbprints({ keys: [{ kty: "EC", x5c: [payments.der, CERTIFICATES.ca.der] }] })).toEqual([
      expected,
    ]);
    expect(await jwksThumbprints({ keys: [{ "x5t#S256": expected }] })).toEqual([expected]);
  });

  it("refuses SHA-1 fingerprints, private keys, a PEM without certificates and inconsistent JWKs", async () => {
    expect(() => normalizeFingerprint(payments.fingerprintSha1)).toThrow(CertificateError);
    expect(() => pemCertificates("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")).toThrow(
      /private key/,
    );
    expect(() => pemCertificates("hello")).toThrow(/no -----BEGIN CERTIFICATE/);
    await expect(jwksThumbprints({ keys: [{ x5c: [payments.der], "x5t#S256": "A".repeat(43) }] })).rejects.toThrow(
      /not the thumbprint/,
    );
    await expect(jwksThumbprints({ keys: [{ kty: "EC" }] })).rejects.toThrow(/neither x5c nor/);
    await expect(jwksThumbprints({ keys: [{ x5c: [payments.der], d: "secret" }] })).rejects.toThrow(/private/);
  });
});

describe("mTLS records and lifecycle (RFC 8705 §2.1.2, §3.4)", () => {
  const settings = { name: "mtls", scopes: ["read"] };
  const dn: MtlsRegistration = {
    token_endpoint_auth_method: "tls_client_auth",
    tls_client_auth_subject_dn: "CN=a,O=b",
  };

  it("round-trips an mTLS record and shows its fields publicly", () => {
    const record = newMtlsClientRecord(
      { clientId: "m1", mtls: dn, settings: { ...settings, requireMtlsBinding: true } },
      NOW,
    );
    expect(parseRecord(JSON.parse(JSON.stringify(record)), "m1")).toEqual(record);
    expect(toPublic(record)).toMatchObject({
      token_endpoint_auth_method: "tls_client_auth",
      tls_client_auth_subject_dn: "CN=a,O=b",
      tls_client_auth_san_dns: null,
      tls_client_certificate_thumbprints: [],
      tls_client_certificate_bound_access_tokens: true,
      secrets: [],
    });
  });

  it("reads records written before mTLS existed: no certificate fields, no binding", () => {
    const record = newClientRecord(
      { clientId: "old", salt: "c2FsdA", secretHash: "h".repeat(43), secretExpiresAt: null, settings },
      NOW,
    );
    const old = JSON.parse(JSON.stringify(record)) as Record<string, unknown>;
    for (const key of Object.keys(old)) if (key.startsWith("tls_")) delete old[key];
    expect(parseRecord(old, "old")).toEqual(record);
  });

  it("refuses corrupt mTLS records", () => {
    const record = newMtlsClientRecord({ clientId: "m2", mtls: dn, settings }, NOW);
    const bad: Record<string, unknown>[] = [
      { tls_client_auth_subject_dn: null },
      { tls_client_auth_san_dns: "x.example" },
      { tls_client_auth_subject_dn: "not a dn" },
      { salt: "c2FsdA" },
      { tls_client_certificate_thumbprints: ["A".repeat(43)] },
      { token_endpoint_auth_method: "self_signed_tls_client_auth", tls_client_auth_subject_dn: null },
      { tls_client_certificate_bound_access_tokens: "yes" },
      { tls_client_certificate_bound_access_tokens: true, dpop_bound_access_tokens: true },
    ];
    for (const patch of bad)
      expect(() => parseRecord({ ...record, ...patch }), JSON.stringify(patch)).toThrow(RecordError);
    const secret = newClientRecord(
      { clientId: "s", salt: "c2FsdA", secretHash: "h".repeat(43), secretExpiresAt: null, settings },
      NOW,
    );
    expect(() => parseRecord({ ...secret, tls_client_auth_subject_dn: "CN=a" })).toThrow(RecordError);
  });

  it("requires exactly one subject for tls_client_auth, naming the fields (RFC 8705 §2.1.2)", () => {
    const expectError = (registration: MtlsRegistration, message: RegExp) => {
      expect(() => mtlsFields(registration)).toThrow(LifecycleError);
      expect(() => mtlsFields(registration)).toThrow(message);
    };
    expectError({ token_endpoint_auth_method: "tls_client_auth" }, /exactly one of tls_client_auth_subject_dn/);
    expectError(
      { ...dn, tls_client_auth_san_dns: "a.example" },
      /not tls_client_auth_subject_dn and tls_client_auth_san_dns/,
    );
    expectError(
      { token_endpoint_auth_method: "tls_client_auth", tls_client_auth_subject_dn: "x" },
      /^tls_client_auth_subject_dn is not an RFC 4514/,
    );
    expectError(
      { token_endpoint_auth_method: "tls_client_auth", tls_client_auth_san_ip: "10.0.0.300" },
      /^tls_client_auth_san_ip/,
    );
    expectError(
      { token_endpoint_auth_method: "tls_client_auth", tls_client_auth_san_uri: "no-scheme" },
      /^tls_client_auth_san_uri/,
    );
    expectError(
      { token_endpoint_auth_method: "tls_client_auth", tls_client_auth_san_email: "nobody" },
      /^tls_client_auth_san_email/,
    );
    expectError(
      { token_endpoint_auth_method: "tls_client_auth", tls_client_auth_san_dns: "a b" },
      /^tls_client_auth_san_dns/,
    );
    expectError({ token_endpoint_auth_method: "self_signed_tls_client_auth" }, /^tls_client_certificate_thumbprints/);
    expectError(
      { token_endpoint_auth_method: "self_signed_tls_client_auth", tls_client_certificate_thumbprints: ["abc"] },
      /x5t#S256/,
    );
    expectError(
      {
        token_endpoint_auth_method: "self_signed_tls_client_auth",
        tls_client_auth_subject_dn: "CN=a",
        tls_client_certificate_thumbprints: ["A".repeat(43)],
      },
      /is for tls_client_auth/,
    );
    expectError({ token_endpoint_auth_method: "private_key_jwt" as never }, /token_endpoint_auth_method/);
  });

  it("allows one binding at most: DPoP and certificate binding exclude each other", () => {
    expect(() =>
      newMtlsClientRecord(
        { clientId: "m3", mtls: dn, settings: { ...settings, requireDpop: true, requireMtlsBinding: true } },
        NOW,
      ),
    ).toThrow(/exclude each other/);
    const record = newMtlsClientRecord({ clientId: "m4", mtls: dn, settings: { ...settings, requireDpop: true } }, NOW);
    expect(() => updateClient(record, { requireMtlsBinding: true }, NOW)).toThrow(LifecycleError);
    expect(updateClient(record, { requireDpop: false, requireMtlsBinding: true }, NOW)).toMatchObject({
      dpop_bound_access_tokens: false,
      tls_client_certificate_bound_access_tokens: true,
    });
  });

  it("reads the RFC 8705 §2.1.2 metadata of a JSON client object (admin API, RFC 7591), x5c JWKS included", async () => {
    expect(await mtlsRegistrationOf({ client_name: "s" })).toBeUndefined();
    expect(await mtlsRegistrationOf({ token_endpoint_auth_method: "private_key_jwt", jwks_uri: "x" })).toBeUndefined();
    const byDn = await mtlsRegistrationOf({
      client_name: "payments",
      token_endpoint_auth_method: "tls_client_auth",
      tls_client_auth_subject_dn: payments.subjectDn,
      tls_client_auth_san_dns: null,
    });
    expect(newMtlsClientRecord({ clientId: "j1", mtls: byDn as MtlsRegistration, settings }, NOW)).toMatchObject({
      token_endpoint_auth_method: "tls_client_auth",
      tls_client_auth_subject_dn: payments.subjectDn,
      tls_client_auth_san_dns: null,
    });
    const byJwks = await mtlsRegistrationOf({
      token_endpoint_auth_method: "self_signed_tls_client_auth",
      jwks: { keys: [{ kty: "EC", x5c: [device.der] }] },
    });
    expect(byJwks).toEqual({
      token_endpoint_auth_method: "self_signed_tls_client_auth",
      tls_client_certificate_thumbprints: [await x5tOf(device)],
    });
    const thumbprint = await x5tOf(device);
    const byThumbprint = await mtlsRegistrationOf({
      token_endpoint_auth_method: "self_signed_tls_client_auth",
      tls_client_certificate_thumbprints: [thumbprint, thumbprint],
    });
    expect(mtlsFields(byThumbprint as MtlsRegistration).tls_client_certificate_thumbprints).toEqual([thumbprint]);
  });

  it("refuses JSON metadata it cannot honour, naming the field", async () => {
    const refused = async (metadata: Record<string, unknown>, message: RegExp) => {
      const attempt = async () => mtlsFields((await mtlsRegistrationOf(metadata)) as MtlsRegistration);
      await expect(attempt(), JSON.stringify(metadata)).rejects.toThrow(LifecycleError);
      await expect(attempt()).rejects.toThrow(message);
    };
    const selfSigned = { token_endpoint_auth_method: "self_signed_tls_client_auth" };
    await refused({ ...selfSigned, jwks_uri: "https://client.example/jwks.json" }, /^jwks_uri cannot register/);
    await refused({ ...selfSigned, jwks: { keys: [{ kty: "EC", x: "a" }] } }, /neither x5c nor x5t#S256/);
    await refused({ ...selfSigned, jwks: { keys: [{ kty: "EC", d: "a", x5c: [device.der] }] } }, /private key/);
    await refused(
      { ...selfSigned, jwks: { keys: [{ x5c: [device.der] }] }, tls_client_certificate_thumbprints: [] },
      /not both/,
    );
    // A string is not split into characters, nor a number taken for an empty list.
    await refused(
      { ...selfSigned, tls_client_certificate_thumbprints: "A".repeat(43) },
      /^tls_client_certificate_thumbprints must hold/,
    );
    await refused(
      {
        token_endpoint_auth_method: "tls_client_auth",
        tls_client_auth_subject_dn: "CN=a",
        tls_client_certificate_thumbprints: 7,
      },
      /^tls_client_certificate_thumbprints is for self_signed/,
    );
    await refused(
      { token_endpoint_auth_method: "tls_client_auth", jwks: { keys: [{ x5c: [device.der] }] } },
      /^jwks is for self_signed_tls_client_auth/,
    );
    await refused(
      { token_endpoint_auth_method: "tls_client_auth", tls_client_auth_subject_dn: 42 },
      /^tls_client_auth_subject_dn must be a non-empty string/,
    );
    await refused(
      { token_endpoint_auth_method: "tls_client_auth", tls_client_auth_san_uri: "" },
      /^tls_client_auth_san_uri must be a non-empty string/,
    );
  });

  it("switches a client between secrets, keys and certificates, keeping only the current method's fields", () => {
    const secret = newClientRecord(
      { clientId: "s2", salt: "c2FsdA", secretHash: "h".repeat(43), secretExpiresAt: null, settings },
      NOW,
    );
    const mtls = setClientMtls(secret, dn, NOW + 1);
    expect(mtls).toMatchObject({ token_endpoint_auth_method: "tls_client_auth", salt: "", secrets: [] });
    expect(parseRecord(mtls)).toEqual(mtls);
    const keys = setClientKeys(mtls, { jwksUri: "https://client.example/jwks.json" }, NOW + 2);
    expect(keys).toMatchObject({ token_endpoint_auth_method: "private_key_jwt", tls_client_auth_subject_dn: null });
    expect(parseRecord(keys)).toEqual(keys);
  });
});

describe("certificate-bound claims (RFC 8705 §3.1, §3.2)", () => {
  const client = newMtlsClientRecord(
    {
      clientId: "m5",
      mtls: { token_endpoint_auth_method: "tls_client_auth", tls_client_auth_subject_dn: "CN=a" },
      settings: { name: "x" },
    },
    NOW,
  );
  const base = {
    client,
    scope: undefined,
    resources: [],
    issuer: "https://as.example",
    defaultTtl: 300,
    defaultAudience: null,
    now: NOW,
    jti: "j",
  };

  it("puts x5t#S256 in cnf, and only it when a DPoP thumbprint is also given", () => {
    const x5t = "A".repeat(43);
    expect(decideClientCredentials({ ...base, x5t }).claims.cnf).toEqual({ "x5t#S256": x5t });
    expect(decideClientCredentials({ ...base, x5t, jkt: "k" }).claims.cnf).toEqual({ "x5t#S256": x5t });
    expect(decideClientCredentials({ ...base, jkt: "k" }).claims.cnf).toEqual({ jkt: "k" });
  });

  it("accepts a cnf with exactly one well-formed member, and introspects it as a Bearer token", () => {
    const claims = decideClientCredentials({ ...base, x5t: "A".repeat(43) }).claims;
    expect(asAccessTokenClaims(claims)).not.toBeNull();
    expect(activeIntrospection(claims)).toMatchObject({ token_type: "Bearer", cnf: { "x5t#S256": "A".repeat(43) } });
    for (const cnf of [{}, { "x5t#S256": "short" }, { jkt: "k", "x5t#S256": "A".repeat(43) }, { jkt: "" }, "x"]) {
      expect(asAccessTokenClaims({ ...claims, cnf }), JSON.stringify(cnf)).toBeNull();
    }
  });
});
