/** Helpers for the admin API tests: admin clients, their tokens, and calls through the worker's fetch. */

import { exports } from "cloudflare:workers";
import { expect } from "vitest";
import { ORIGIN, randomIp, requestToken, type SeededClient, type SeedOptions, seedClient } from "./helpers.ts";

export const ADMIN = `${ORIGIN}/admin/clients`;
export const REGISTER = `${ORIGIN}/oauth2/register`;
export const WRITE = "keymint:clients:write";
export const READ = "keymint:clients:read";

/** An admin client (secret) with the given admin scope; no audience, so its tokens are for keymint's issuer. */
export function seedAdmin(scope = WRITE, options: SeedOptions = {}): Promise<SeededClient> {
  return seedClient({ name: "admin", scopes: [scope], ...options });
}

export async function tokenOf(client: SeededClient, fields: Record<string, string> = {}): Promise<string> {
  const res = await requestToken(client, fields);
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

export async function adminToken(scope = WRITE): Promise<string> {
  return tokenOf(await seedAdmin(scope));
}

export interface Call {
  method?: string;
  token?: string | null;
  body?: unknown;
  /** Raw body (sent as is). */
  raw?: string | Uint8Array;
  headers?: Record<string, string>;
  ip?: string;
}

/** Calls the admin API through the worker's fetch; a fresh source address unless `ip` is given. */
export async function call(url: string, options: Call = {}) {
  const headers = new Headers(options.headers);
  headers.set("CF-Connecting-IP", options.ip ?? randomIp());
  if (options.token !== undefined && options.token !== null) headers.set("Authorization", `Bearer ${options.token}`);
  let body: string | Uint8Array | undefined;
  if (options.raw !== undefined) body = options.raw;
  else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    if (!headers.has("Content-Type")) headers.set("Content-Type", "application/json");
  }
  const res = await exports.default.fetch(url, { method: options.method ?? "GET", headers, body });
  const text = await res.text();
  let json: unknown;
  try {
    json = text === "" ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json: json as Record<string, unknown> };
}
