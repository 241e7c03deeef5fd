/** Shared test helpers: seed clients through the CLI's own code, build RFC-conformant requests. */

import { env, exports } from "cloudflare:workers";
import type { ClientSettings } from "../../src/clients/lifecycle.ts";
import { type ClientRecord, clientKey } from "../../src/clients/record.ts";
import { recordForNewClient } from "../../src/clients/register.ts";
import { generateClientId, generateSecret } from "../../src/clients/secrets.ts";

export const ORIGIN = "http://keymint.test";
export const TOKEN_URL = `${ORIGIN}/oauth2/token`;
export const FORM = "application/x-www-form-urlencoded";

export interface SeededClient {
  clientId: string;
  secret: string;
  record: ClientRecord;
}

export interface SeedOptions extends ClientSettings {
  clientId?: string;
  secret?: string;
  secretExpiresAt?: number | null;
  enabled?: boolean;
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** Registers a client in the real local KV exactly as `clients create` does. */
export async function seedClient(options: SeedOptions = {}): Promise<SeededClient> {
  const clientId = options.clientId ?? generateClientId();
  const secret = options.secret ?? generateSecret();
  const { clientId: _id, secret: _s, secretExpiresAt, enabled, ...settings } = options;
  const record = await recordForNewClient(
    {
      clientId,
      secret,
      secretExpiresAt: secretExpiresAt ?? null,
      enabled: enabled ?? true,
      settings: { name: "test client", scopes: ["read", "write"], ...settings },
    },
    nowSeconds(),
  );
  await putRecord(record);
  return { clientId, secret, record };
}

export async function putRecord(record: ClientRecord): Promise<void> {
  await env.CLIENTS.put(clientKey(record.client_id), JSON.stringify(record));
}

/** RFC 6749 §2.3.1: form-urlencode id and secret, join with ":", then Base64. */
export function basicAuth(clientId: string, secret: string): string {
  const enc = (s: string) => new URLSearchParams({ x: s }).toString().slice(2);
  const bytes = new TextEncoder().encode(`${enc(clientId)}:${enc(secret)}`);
  return `Basic ${btoa(String.fromCharCode(...bytes))}`;
}

export function randomIp(): string {
  const b = crypto.getRandomValues(new Uint8Array(2));
  return `198.18.${b[0]}.${b[1]}`;
}

export interface PostOptions {
  auth?: string;
  contentType?: string | null;
  headers?: Record<string, string>;
  method?: string;
  url?: string;
  /** The request's `request.cf` (e.g. Cloudflare's `tlsClientAuth`), as the edge would set it. */
  cf?: Record<string, unknown>;
}

/** Sends a request through the worker's real `fetch`. */
export function post(body: BodyInit | null, options: PostOptions = {}): Promise<Response> {
  const headers = new Headers(options.headers);
  // A fresh source address per request, so brute-force counters of unrelated tests never meet.
  if (!headers.has("CF-Connecting-IP")) headers.set("CF-Connecting-IP", randomIp());
  if (options.contentType !== null) headers.set("Content-Type", options.contentType ?? FORM);
  if (options.auth !== undefined) headers.set("Authorization", options.auth);
  const init: RequestInit = { method: options.method ?? "POST", headers, body };
  if (options.cf !== undefined) (init as { cf?: unknown }).cf = options.cf;
  return exports.default.fetch(options.url ?? TOKEN_URL, init);
}

/** A token request with Basic authentication and the given form fields. */
export function requestToken(client: { clientId: string; secret: string }, fields: Record<string, string> = {}) {
  return post(new URLSearchParams({ grant_type: "client_credentials", ...fields }), {
    auth: basicAuth(client.clientId, client.secret),
  });
}

/** Decodes a JWT part without verifying it (assertions only; verification is jose's job in the tests). */
export function decodePart(token: string, index: 0 | 1): Record<string, unknown> {
  const part = token.split(".")[index] ?? "";
  const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
  return JSON.parse(atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4)));
}

export const INVALID_CLIENT_BODY = { error: "invalid_client", error_description: "Client authentication failed" };

export { freshMinute } from "../fresh-minute.ts";
