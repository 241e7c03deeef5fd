/**
 * mTLS clients (RFC 8705) from the user's side: the clients CLI as a real process (create, show, update, the
 * errors), and `npm start` serving the metadata and refusing an mTLS client that presents no certificate. The
 * TLS handshake itself happens at Cloudflare's edge and cannot run locally (docs/mtls.md).
 */

import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CERTIFICATES } from "../worker/fixtures/certificates.ts";
import { tlsClientAuth } from "../worker/fixtures/tls-client-auth.ts";
import { clients, freePort, ROOT, run, type Server, scratchProject, startServer } from "./helpers.ts";

const { payments, device, otherDevice } = CERTIFICATES;
let project: string;

async function ok(args: string[]): Promise<Record<string, unknown>> {
  const result = await clients(project, args);
  expect(result.code, `${args.join(" ")}\n${result.stderr}`).toBe(0);
  return result.stdout.trim().startsWith("{") ? (JSON.parse(result.stdout) as Record<string, unknown>) : {};
}

async function fails(args: string[], message: RegExp): Promise<void> {
  const result = await clients(project, args);
  expect(result.code, result.stdout).not.toBe(0);
  expect(result.stderr).toMatch(message);
  expect(result.stdout).toBe("");
}

/** x5t#S256 (base64url) of a fixture certificate, from Node's own X.509 parser. */
function x5t(certificate: { fingerprintSha256: string }): string {
  return Buffer.from(certificate.fingerprintSha256, "hex").toString("base64url");
}

beforeAll(async () => {
  project = await scratchProject();
  await writeFile(join(project, "device.pem"), device.pem);
  await writeFile(join(project, "devices.pem"), `${device.pem}${otherDevice.pem}`);
  await writeFile(join(project, "device.jwks.json"), JSON.stringify({ keys: [{ kty: "EC", x5c: [device.der] }] }));
  await writeFile(
    join(project, "key.pem"),
    "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n",
  );
});

describe("clients create/show/update for mTLS clients", () => {
  it("creates a tls_client_auth client from --tls-subject-dn: no secret, RFC 8705 metadata names in the output", async () => {
    const created = await ok(["create", "--name", "payments", "--tls-subject-dn", payments.subjectDn]);
    expect(created).toMatchObject({
      token_endpoint_auth_method: "tls_client_auth",
      tls_client_auth_subject_dn: payments.subjectDn,
      tls_client_auth_san_uri: null,
      tls_client_certificate_bound_access_tokens: false,
      secrets: [],
    });
    expect(created).not.toHaveProperty("client_secret");
    const shown = await clients(project, ["show", created.client_id as string]);
    expect(shown.stdout).toMatch(/token_endpoint_auth_method\s+tls_client_auth/);
    expect(shown.stdout).toMatch(/tls_client_auth_subject_dn\s+CN=payments-service,OU=Payments,O=Acme Corp,C=US\n/);
    expect(shown.stdout).toMatch(/secrets\s+none \(subject_dn: CN=payments-service/);
  });

  it("creates a SAN client with --tls-san-uri and binds its tokens with --require-mtls-binding", async () => {
    const created = await ok([
      "create",
      "--name",
      "spiffe",
      "--tls-san-uri",
      "spiffe://acme.example/ns/prod/sa/payments",
      "--require-mtls-binding",
    ]);
    expect(created).toMatchObject({
      tls_client_auth_san_uri: "spiffe://acme.example/ns/prod/sa/payments",
      tls_client_auth_subject_dn: null,
      tls_client_certificate_bound_access_tokens: true,
    });
    const shown = await clients(project, ["show", created.client_id as string]);
    expect(shown.stdout).toMatch(/tls_client_certificate_bound_access_tokens\s+yes/);
  });

  it("creates a self_signed_tls_client_auth client from a PEM, a JWKS with x5c, or fingerprints alike", async () => {
    const fromPem = await ok(["create", "--name", "device", "--tls-certificate", "device.pem"]);
    expect(fromPem).toMatchObject({
      token_endpoint_auth_method: "self_signed_tls_client_auth",
      tls_client_certificate_thumbprints: [x5t(device)],
    });
    const fromJwks = await ok(["create", "--name", "device", "--tls-certificate", "device.jwks.json"]);
    expect(fromJwks.tls_client_certificate_thumbprints).toEqual([x5t(device)]);
    const colons = device.fingerprintSha256.toUpperCase().replace(/(..)(?!$)/g, "$1:");
    const fromHex = await ok(["create", "--name", "device", "--tls-fingerprint", colons]);
    expect(fromHex.tls_client_certificate_thumbprints).toEqual([x5t(device)]);
    const both = await ok(["create", "--name", "devices", "--tls-certificate", "devices.pem"]);
    expect(both.tls_client_certificate_thumbprints).toEqual([x5t(device), x5t(otherDevice)]);
  });

  it("switches a secret client to mTLS with update (its secret stops working) and toggles the binding", async () => {
    const secretClient = JSON.parse((await clients(project, ["create", "--name", "switch"])).stdout) as {
      client_id: string;
    };
    const result = await clients(project, ["update", secretClient.client_id, "--tls-certificate", "device.pem"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/now authenticates with self_signed_tls_client_auth; its secrets no longer work/);
    const shown = await ok(["show", secretClient.client_id, "--json"]);
    expect(shown).toMatchObject({ token_endpoint_auth_method: "self_signed_tls_client_auth", secrets: [] });
    await ok(["update", secretClient.client_id, "--require-mtls-binding"]);
    expect(await ok(["show", secretClient.client_id, "--json"])).toMatchObject({
      tls_client_certificate_bound_access_tokens: true,
    });
    await ok(["update", secretClient.client_id, "--no-require-mtls-binding"]);
    expect(await ok(["show", secretClient.client_id, "--json"])).toMatchObject({
      tls_client_certificate_bound_access_tokens: false,
    });
    await fails(
      ["rotate-secret", secretClient.client_id],
      /authenticates with self_signed_tls_client_auth and has no secret/,
    );
  });

  it("refuses bad input with a message naming it, and writes nothing", async () => {
    await fails(
      ["create", "--name", "x", "--tls-subject-dn", "not a dn"],
      /tls_client_auth_subject_dn is not an RFC 4514/,
    );
    await fails(
      ["create", "--name", "x", "--tls-subject-dn", "CN=a", "--tls-san-dns", "a.example"],
      /exactly one of --tls-subject-dn and --tls-san-\*/,
    );
    await fails(
      ["create", "--name", "x", "--tls-san-ip", "300.1.1.1"],
      /tls_client_auth_san_ip must be an IPv4 or IPv6/,
    );
    await fails(["create", "--name", "x", "--tls-certificate", "key.pem"], /private key/);
    await fails(["create", "--name", "x", "--tls-certificate", "missing.pem"], /cannot read --tls-certificate/);
    await fails(
      ["create", "--name", "x", "--tls-fingerprint", payments.fingerprintSha1],
      /not a SHA-256 certificate fingerprint/,
    );
    await fails(
      ["create", "--name", "x", "--tls-subject-dn", "CN=a", "--client-secret", "s".repeat(43)],
      /has no secret/,
    );
    await fails(
      ["create", "--name", "x", "--tls-subject-dn", "CN=a", "--require-dpop", "--require-mtls-binding"],
      /exclude each other/,
    );
    const list = await clients(project, ["list", "--json"]);
    expect((JSON.parse(list.stdout) as { name: string }[]).some((c) => c.name === "x")).toBe(false);
  });
});

describe("npm start with an mTLS client", () => {
  let server: Server;

  beforeAll(async () => {
    const port = await freePort();
    server = await startServer("npm", ["start", "--", "--port", String(port), "--ip", "127.0.0.1"], project, port);
  });

  afterAll(async () => {
    await server?.stop();
  });

  it("publishes the mTLS methods and certificate-bound tokens in the metadata (RFC 8705 §3.3)", async () => {
    const metadata = (await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json()) as Record<
      string,
      unknown
    >;
    expect(metadata.tls_client_certificate_bound_access_tokens).toBe(true);
    expect(metadata.token_endpoint_auth_methods_supported).toEqual(
      expect.arrayContaining(["tls_client_auth", "self_signed_tls_client_auth"]),
    );
    expect(metadata).not.toHaveProperty("mtls_endpoint_aliases");
  });

  it("refuses an mTLS client that presents no certificate with the same 401 as a wrong secret", async () => {
    const created = await ok(["create", "--name", "no-cert", "--tls-subject-dn", payments.subjectDn]);
    const token = (body: Record<string, string>) =>
      fetch(`${server.url}/oauth2/token`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: "client_credentials", ...body }),
      });
    const noCertificate = await token({ client_id: created.client_id as string });
    const wrongSecret = await token({ client_id: created.client_id as string, client_secret: "x".repeat(43) });
    for (const res of [noCertificate, wrongSecret]) {
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: "invalid_client", error_description: "Client authentication failed" });
    }
  });

  it("runs docs/mtls.md's local simulation (curl with an MF-CF-Blob header) as written", async () => {
    const docs = await readFile(join(ROOT, "docs", "mtls.md"), "utf8");
    const command = /<!-- snippet: mtls-local -->\n```bash\n([\s\S]*?)\n```/.exec(docs)?.[1];
    expect(command).toBeDefined();
    const created = await ok([
      "create",
      "--name",
      "doc",
      "--tls-subject-dn",
      "CN=payments-service,OU=Payments,O=Acme Corp,C=US",
    ]);
    const result = await run("bash", ["-c", (command as string).replace("http://127.0.0.1:8787", server.url)], {
      env: { CLIENT_ID: created.client_id as string },
    });
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ token_type: "Bearer", expires_in: 3600 });
  });

  it("serves a simulated edge certificate locally through miniflare's MF-CF-Blob header (docs/mtls.md)", async () => {
    const created = await ok([
      "create",
      "--name",
      "simulated",
      "--tls-subject-dn",
      payments.subjectDn,
      "--scope",
      "read",
    ]);
    const res = await fetch(`${server.url}/oauth2/token`, {
      method: "POST",
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        "MF-CF-Blob": JSON.stringify({ tlsClientAuth: tlsClientAuth(payments) }),
      },
      body: new URLSearchParams({ grant_type: "client_credentials", client_id: created.client_id as string }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.json()).toMatchObject({ token_type: "Bearer", scope: "read" });
  });
});
