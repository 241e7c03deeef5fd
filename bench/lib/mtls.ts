/**
 * The benchmark's mTLS client (RFC 8705 tls_client_auth) and the `request.cf` Cloudflare's edge would hand keymint
 * for it: a production-sized cf object (location, TLS and bot fields besides `tlsClientAuth`), so reading
 * `request.cf` costs what it costs behind the edge. bare workerd takes it from the `cf-blob` request header
 * (its `cfBlobHeader` socket option); the certificate itself is made up, since no TLS handshake happens here.
 */

import { createHash } from "node:crypto";
import { newMtlsClientRecord } from "../../src/clients/lifecycle.ts";
import { clientKey } from "../../src/clients/record.ts";

/** The request header bare workerd reads `request.cf` from (bench/lib/workerd.ts). */
export const CF_BLOB_HEADER = "cf-blob";
export const MTLS_SUBJECT_DN = "CN=keymint-bench-mtls,OU=Benchmarks,O=Keymint,C=US";

/** `request.cf` for a request over mutual TLS whose certificate has MTLS_SUBJECT_DN, as Cloudflare sets it. */
export function edgeCf(): Record<string, unknown> {
  const fingerprint = createHash("sha256").update("keymint bench client certificate").digest("hex");
  return {
    asn: 13335,
    asOrganization: "Cloudflare",
    botManagement: {
      corporateProxy: false,
      verifiedBot: false,
      jsDetection: { passed: false },
      staticResource: false,
      detectionIds: [],
      score: 99,
    },
    city: "Frankfurt am Main",
    clientAcceptEncoding: "gzip, deflate, br",
    clientTcpRtt: 4,
    colo: "FRA",
    continent: "EU",
    country: "DE",
    edgeRequestKeepAliveStatus: 1,
    httpProtocol: "HTTP/2",
    isEUCountry: "1",
    latitude: "50.11552",
    longitude: "8.68417",
    postalCode: "60313",
    region: "Hesse",
    regionCode: "HE",
    requestPriority: "weight=16;exclusive=0;group=0;group-weight=0",
    timezone: "Europe/Berlin",
    tlsCipher: "AEAD-AES128-GCM-SHA256",
    tlsVersion: "TLSv1.3",
    tlsClientAuth: {
      certPresented: "1",
      certVerified: "SUCCESS",
      certRevoked: "0",
      certIssuerDN: "CN=Keymint Bench CA, O=Keymint",
      certSubjectDN: "CN=keymint-bench-mtls, OU=Benchmarks, O=Keymint, C=US",
      certIssuerDNRFC2253: "CN=Keymint Bench CA,O=Keymint",
      certSubjectDNRFC2253: MTLS_SUBJECT_DN,
      certIssuerDNLegacy: "/O=Keymint/CN=Keymint Bench CA",
      certSubjectDNLegacy: "/C=US/O=Keymint/OU=Benchmarks/CN=keymint-bench-mtls",
      certSerial: "1A2B3C4D5E6F",
      certIssuerSerial: "0F1E2D3C",
      certSKI: "BB:AF:7E:02:3D:FA:A6:F1:3C:84:8E:AD:EE:38:98:EC:D9:32:32:D4",
      certIssuerSKI: "AA:BF:7E:02:3D:FA:A6:F1:3C:84:8E:AD:EE:38:98:EC:D9:32:32:D5",
      certFingerprintSHA1: createHash("sha1").update("keymint bench client certificate").digest("hex"),
      certFingerprintSHA256: fingerprint,
      certNotBefore: "Jan  1 00:00:00 2025 GMT",
      certNotAfter: "Jan  1 00:00:00 2125 GMT",
      certRFC9440: "",
      certRFC9440TooLarge: false,
      certChainRFC9440: "",
      certChainRFC9440TooLarge: false,
    },
  };
}

/** The KV key and JSON value of the mTLS client, as `clients create --tls-subject-dn` stores it. */
export function mtlsRecord(clientId: string, now: number): [key: string, value: string] {
  const record = newMtlsClientRecord(
    {
      clientId,
      mtls: { token_endpoint_auth_method: "tls_client_auth", tls_client_auth_subject_dn: MTLS_SUBJECT_DN },
      settings: { name: "bench mTLS client", scopes: ["read", "write"] },
    },
    now,
  );
  return [clientKey(clientId), JSON.stringify(record)];
}

/** The token request body of the mTLS client (RFC 8705 §2: its client_id, no secret). */
export function mtlsTokenBody(clientId: string): string {
  return `grant_type=client_credentials&client_id=${clientId}`;
}
