/**
 * Benchmark clients. Client `i` of a run is derived from the run's random seed, so the KV service (which
 * stores the records) and the load generator (which presents the credentials) agree without passing
 * 100 000 secrets between processes. Records are built with the project's own code, exactly as the CLI
 * builds them.
 */

import { createHash, randomBytes } from "node:crypto";
import type { ClientSettings } from "../../src/clients/lifecycle.ts";
import { clientKey } from "../../src/clients/record.ts";
import { recordForNewClient } from "../../src/clients/register.ts";

export interface Credentials {
  clientId: string;
  secret: string;
}

/** A new random run seed (hex). */
export function newSeed(): string {
  return randomBytes(16).toString("hex");
}

/** Client `index` of the run: a 32-hex-digit id and a 43-character (256-bit) base64url secret. */
export function benchCredentials(seed: string, index: number): Credentials {
  const clientId = createHash("sha256").update(`${seed}:id:${index}`).digest("hex").slice(0, 32);
  const secret = createHash("sha256").update(`${seed}:secret:${index}`).digest("base64url");
  return { clientId, secret };
}

/** `Authorization: Basic` value (RFC 6749 §2.3.1; ids and secrets here need no form-encoding). */
export function basicAuthorization(credentials: Credentials): string {
  return `Basic ${Buffer.from(`${credentials.clientId}:${credentials.secret}`).toString("base64")}`;
}

/** The 3 static claims of the benchmark's claims rows (`hs256-claims`, `claims-hook`, micro `token-claims`). */
export const BENCH_CLAIMS = { tenant: "acme", roles: ["reader", "billing"], tier: 3 };

/** The KV key and JSON value of client `index`, as the real CLI would store it (`extra`: more settings). */
export async function benchRecord(
  seed: string,
  index: number,
  now: number,
  extra: ClientSettings = {},
): Promise<[key: string, value: string]> {
  const { clientId, secret } = benchCredentials(seed, index);
  const record = await recordForNewClient(
    {
      clientId,
      secret,
      secretExpiresAt: null,
      settings: { name: `bench client ${index}`, scopes: ["read", "write"], ...extra },
    },
    now,
  );
  return [clientKey(clientId), JSON.stringify(record)];
}

/** The token request body every benchmark request sends. */
export const TOKEN_REQUEST_BODY = "grant_type=client_credentials";
export const FORM_CONTENT_TYPE = "application/x-www-form-urlencoded";
export const TOKEN_PATH = "/oauth2/token";

export interface TokenCheck {
  ok: boolean;
  status: number;
  detail: string;
}

/** Requests one token and checks the response shape (200, JSON, a three-part JWT, no-store headers). */
export async function requestToken(baseUrl: string, credentials: Credentials): Promise<TokenCheck> {
  let response: Response;
  try {
    response = await fetch(`${baseUrl}${TOKEN_PATH}`, {
      method: "POST",
      headers: { authorization: basicAuthorization(credentials), "content-type": FORM_CONTENT_TYPE },
      body: TOKEN_REQUEST_BODY,
    });
  } catch (err) {
    return { ok: false, status: 0, detail: err instanceof Error ? err.message : String(err) };
  }
  const text = await response.text();
  let token: unknown;
  try {
    token = (JSON.parse(text) as { access_token?: unknown }).access_token;
  } catch {
    token = undefined;
  }
  const ok =
    response.status === 200 &&
    typeof token === "string" &&
    token.split(".").length === 3 &&
    response.headers.get("cache-control") === "no-store" &&
    response.headers.get("pragma") === "no-cache" &&
    (response.headers.get("content-type") ?? "").startsWith("application/json");
  return { ok, status: response.status, detail: text.slice(0, 300) };
}
