/**
 * Regenerates test/worker/fixtures/certificates.ts: X.509 certificates for the mTLS tests (RFC 8705) made with
 * the system's `openssl`, with the facts Cloudflare's edge reports about each in `request.cf.tlsClientAuth`
 * (SHA-256 fingerprint in lowercase hex, RFC 2253 subject and issuer, OpenSSL-style dates, serial), as OpenSSL
 * itself prints them. Run `node scripts/test-certificates.ts` when the fixtures must change; the private keys are
 * thrown away (tests never need them: Cloudflare, not keymint, checks possession during the TLS handshake).
 */

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const OUT = new URL("../test/worker/fixtures/certificates.ts", import.meta.url);
const dir = mkdtempSync(join(tmpdir(), "keymint-certs-"));
const START = "20250101000000Z";
const END = "21250101000000Z";

function openssl(...args: string[]): string {
  return execFileSync("openssl", args, { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/**
 * Signs `name.csr` with `openssl ca` (which, unlike \`x509 -req\` in OpenSSL 3.0, sets both validity dates, so the
 * fixtures are valid whatever the test machine's clock says), by the test CA or, with `selfSign`, by its own key.
 */
function sign(name: string, ext: string[], options: { selfSign?: boolean; start?: string; end?: string } = {}): void {
  writeFileSync(
    join(dir, `${name}.cnf`),
    [
      "[ca]",
      "default_ca=test",
      "[test]",
      `dir=${dir}`,
      "database=$dir/index.txt",
      "new_certs_dir=$dir",
      "serial=$dir/serial",
      "default_md=sha256",
      "policy=any",
      "unique_subject=no",
      "copy_extensions=none",
      "[any]",
      "commonName=optional",
      "[ext]",
      ...ext,
      "",
    ].join("\n"),
  );
  openssl(
    "ca",
    "-batch",
    "-notext",
    "-preserveDN",
    "-config",
    `${name}.cnf`,
    "-extensions",
    "ext",
    "-in",
    `${name}.csr`,
    "-out",
    `${name}.pem`,
    "-startdate",
    options.start ?? START,
    "-enddate",
    options.end ?? END,
    ...(options.selfSign === true
      ? ["-selfsign", "-keyfile", `${name}.key`]
      : ["-cert", "ca.pem", "-keyfile", "ca.key"]),
  );
}

function facts(name: string): Record<string, string> {
  const field = (flag: string, ...more: string[]) =>
    openssl("x509", "-in", `${name}.pem`, "-noout", flag, ...more)
      .trim()
      .replace(/^[A-Za-z ]+=\s?/, "");
  const pem = readFileSync(join(dir, `${name}.pem`), "utf8");
  const der = pem.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");
  return {
    pem,
    der,
    fingerprintSha256: field("-fingerprint", "-sha256").replace(/^.*=/, "").replace(/:/g, "").toLowerCase(),
    fingerprintSha1: field("-fingerprint", "-sha1").replace(/^.*=/, "").replace(/:/g, "").toLowerCase(),
    subjectDn: field("-subject", "-nameopt", "RFC2253"),
    issuerDn: field("-issuer", "-nameopt", "RFC2253"),
    notBefore: field("-startdate"),
    notAfter: field("-enddate"),
    serial: field("-serial"),
  };
}

/** A P-256 private key, in the working directory only. */
function key(name: string): void {
  openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", `${name}.key`);
}

try {
  writeFileSync(join(dir, "index.txt"), "");
  writeFileSync(join(dir, "serial"), "1000\n");
  const made: Record<string, Record<string, string>> = {};
  const csr = (name: string, subject: string) => {
    key(name);
    openssl("req", "-new", "-key", `${name}.key`, "-subj", subject, "-out", `${name}.csr`);
  };
  const CLIENT = ["basicConstraints=CA:FALSE", "keyUsage=digitalSignature", "extendedKeyUsage=clientAuth"];
  csr("ca", "/O=Keymint Tests/CN=Keymint Test Client CA");
  sign("ca", ["basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign"], { selfSign: true });
  const client = (name: string, subject: string, ext: string[], dates: { start?: string; end?: string } = {}) => {
    csr(name, subject);
    sign(name, [...CLIENT, ...ext], dates);
    made[name] = facts(name);
  };
  const device = (name: string, subject: string, dates: { start?: string; end?: string } = {}) => {
    csr(name, subject);
    sign(name, CLIENT, { ...dates, selfSign: true });
    made[name] = facts(name);
  };
  const PAYMENTS = "/C=US/O=Acme Corp/OU=Payments/CN=payments-service";
  client("payments", PAYMENTS, [
    "subjectAltName=DNS:payments.acme.example,URI:spiffe://acme.example/ns/prod/sa/payments,IP:10.1.2.3,IP:2001:db8::7,email:payments@Acme.Example",
  ]);
  client("billing", "/C=US/O=Acme, Inc./OU=Billing/CN=billing-service", [
    "subjectAltName=DNS:billing.acme.example,URI:spiffe://acme.example/ns/prod/sa/billing",
  ]);
  client("expiredPayments", PAYMENTS, ["subjectAltName=DNS:payments.acme.example"], {
    start: "20200101000000Z",
    end: "20210101000000Z",
  });
  device("device", "/O=Acme Devices/CN=edge-device-17");
  device("otherDevice", "/O=Acme Devices/CN=edge-device-18");
  device("expiredDevice", "/O=Acme Devices/CN=edge-device-19", { start: "20200101000000Z", end: "20210101000000Z" });
  made.ca = facts("ca");
  const body = Object.entries(made)
    .map(([name, f]) => `  ${name}: ${JSON.stringify(f)},`)
    .join("\n");
  writeFileSync(
    OUT,
    `/**
 * Test certificates for mTLS (RFC 8705), generated by \`node scripts/test-certificates.ts\` with OpenSSL; do not
 * edit. \`ca\` issued \`payments\`, \`billing\` and \`expiredPayments\`; \`device\`, \`otherDevice\` and
 * \`expiredDevice\` are self-signed; the expired ones were valid during 2020 only. Each carries the facts Cloudflare's
 * edge reports in \`request.cf.tlsClientAuth\`, as OpenSSL prints them. No private key is kept.
 */

export interface TestCertificate {
  pem: string;
  /** Base64 DER. */
  der: string;
  /** Lowercase hex SHA-256 of the DER (Cloudflare's certFingerprintSHA256). */
  fingerprintSha256: string;
  /** Lowercase hex SHA-1 of the DER (certFingerprintSHA1). */
  fingerprintSha1: string;
  subjectDn: string;
  issuerDn: string;
  notBefore: string;
  notAfter: string;
  serial: string;
}

export const CERTIFICATES = {
${body}
} satisfies Record<string, TestCertificate>;
`,
  );
  execFileSync("npx", ["biome", "format", "--write", OUT.pathname], { stdio: "ignore" });
  process.stdout.write(`wrote ${OUT.pathname}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
