/**
 * End to end under `npm start` (wrangler dev with the committed wrangler.toml, so the REPLAY_GUARD Durable Object
 * and its SQLite migration as users get them): a client assertion and a DPoP proof are accepted once, refused
 * when replayed — also after wrangler dev restarts, when a fresh Worker (nothing remembered in any isolate) finds
 * the used ids in the replay guard's persisted storage (.wrangler/state).
 */

import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as jose from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clients, freePort, jsonLines, type Server, scratchProject, startServer, waitForOutput } from "./helpers.ts";

const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

let project: string;
let port: number;
let server: Server;

function start(): Promise<Server> {
  return startServer("npm", ["start", "--", "--port", String(port), "--ip", "127.0.0.1"], project, port);
}

beforeAll(async () => {
  project = await scratchProject();
  port = await freePort();
  server = await start();
});

afterAll(async () => {
  await server?.stop();
});

function token(body: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server.url}/oauth2/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams({ grant_type: "client_credentials", ...body }),
  });
}

/** The detail of the last rejected token request in the server's audit log. */
function lastRejection(output: string): string | undefined {
  const rejected = jsonLines(output).filter((l) => l.event === "token" && l.outcome === "rejected");
  return rejected.at(-1)?.detail as string | undefined;
}

describe("single use across restarts of npm start (the replay guard's storage)", () => {
  it("refuses a replayed assertion and a replayed DPoP proof, before and after a restart", async () => {
    const assertionKey = await jose.generateKeyPair("ES256", { extractable: true });
    const jwksPath = join(project, "replay-e2e.jwks.json");
    const publicJwk = { ...(await jose.exportJWK(assertionKey.publicKey)), kid: "e2e", alg: "ES256" };
    await writeFile(jwksPath, JSON.stringify({ keys: [publicJwk] }));
    const keyClient = await clients(project, ["create", "--name", "replay-e2e", "--jwks", jwksPath]);
    expect(keyClient.code, keyClient.stderr).toBe(0);
    const clientId = (JSON.parse(keyClient.stdout) as { client_id: string }).client_id;
    const secretClient = await clients(project, ["create", "--name", "dpop-e2e"]);
    const { client_id: id, client_secret: secret } = JSON.parse(secretClient.stdout) as Record<string, string>;
    const basic = `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;
    const proofKey = await jose.generateKeyPair("ES256", { extractable: true });
    const proofJwk = await jose.exportJWK(proofKey.publicKey);

    const now = Math.floor(Date.now() / 1000);
    const assertion = await new jose.SignJWT({ jti: crypto.randomUUID() })
      .setProtectedHeader({ alg: "ES256", kid: "e2e" })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(server.url)
      .setIssuedAt(now)
      .setExpirationTime(now + 240)
      .sign(assertionKey.privateKey);
    const proof = await new jose.SignJWT({
      htm: "POST",
      htu: `${server.url}/oauth2/token`,
      iat: now,
      jti: crypto.randomUUID(),
    })
      .setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk: proofJwk })
      .sign(proofKey.privateKey);
    const withAssertion = () => token({ client_assertion_type: JWT_BEARER, client_assertion: assertion });
    const withProof = () => token({}, { Authorization: basic, DPoP: proof });

    const first = await withAssertion();
    expect(first.status, await first.clone().text()).toBe(200);
    const bound = await withProof();
    expect(bound.status, await bound.clone().text()).toBe(200);
    expect(((await bound.json()) as { token_type: string }).token_type).toBe("DPoP");

    const expectRefused = async () => {
      const replayed = await withAssertion();
      expect(replayed.status).toBe(401);
      expect(await replayed.json()).toEqual({
        error: "invalid_client",
        error_description: "Client authentication failed",
      });
      expect(await waitForOutput(server, lastRejection)).toBe("assertion_replayed");
      const reproof = await withProof();
      expect(reproof.status).toBe(400);
      expect(await reproof.json()).toEqual({
        error: "invalid_dpop_proof",
        error_description: "Invalid DPoP proof: this proof was already used",
      });
    };
    await expectRefused();

    // A new wrangler dev: a fresh Worker remembers nothing; the replay guard's SQLite storage does.
    await server.stop();
    server = await start();
    await expectRefused();
  });
});
