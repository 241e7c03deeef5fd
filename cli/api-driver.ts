/**
 * The CLI's `--api URL` driver: the same client operations as the local and remote drivers, through keymint's
 * admin API with an admin token. The admin client's credentials come from the environment:
 *
 * - `KEYMINT_CLIENT_ID` + `KEYMINT_CLIENT_SECRET`: a secret admin (`client_secret_basic`);
 * - `KEYMINT_CLIENT_ID` + `KEYMINT_CLIENT_KEY`: a private_key_jwt admin; the private JWK itself (one JSON line,
 *   as `npm run -s keys -- generate` prints it) or the path of a file holding it;
 * - `KEYMINT_CLIENT_ID` + `KEYMINT_CLIENT_ASSERTION`: a ready client assertion, e.g. a federated admin's outside
 *   token (a GitHub Actions OIDC token), used once for the one token request of the command.
 */

import { readFile } from "node:fs/promises";
import * as jose from "jose";
import { LifecycleError } from "../src/clients/lifecycle.ts";
import {
  ClientExistsError,
  type ClientFields,
  type ClientManager,
  ClientNotFoundError,
  type CreatedClient,
  type ListEntry,
  type NewClientInput,
  type RotatedClient,
  type RotateInput,
  type Versioned,
  VersionMismatchError,
} from "../src/clients/operations.ts";
import { isValidClientId, type PublicClient } from "../src/clients/record.ts";
import { CliError } from "./registry.ts";

const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

type Credentials =
  | { kind: "secret"; clientId: string; secret: string }
  | { kind: "key"; clientId: string; key: string }
  | { kind: "assertion"; clientId: string; assertion: string };

/** The admin credentials in the environment, or a `CliError` saying which variables to set. */
export function credentialsFromEnv(env: NodeJS.ProcessEnv): Credentials {
  const clientId = env.KEYMINT_CLIENT_ID;
  const given = (["KEYMINT_CLIENT_SECRET", "KEYMINT_CLIENT_KEY", "KEYMINT_CLIENT_ASSERTION"] as const).filter(
    (name) => (env[name] ?? "") !== "",
  );
  if (clientId === undefined || clientId === "" || given.length !== 1) {
    throw new CliError(
      "--api needs the admin client's credentials: KEYMINT_CLIENT_ID and one of KEYMINT_CLIENT_SECRET, KEYMINT_CLIENT_KEY (a private JWK or its file) or KEYMINT_CLIENT_ASSERTION",
    );
  }
  const value = env[given[0] as string] as string;
  if (given[0] === "KEYMINT_CLIENT_SECRET") return { kind: "secret", clientId, secret: value };
  if (given[0] === "KEYMINT_CLIENT_KEY") return { kind: "key", clientId, key: value };
  return { kind: "assertion", clientId, assertion: value };
}

function formEncode(value: string): string {
  return encodeURIComponent(value).replace(/%20/g, "+");
}

async function privateKeyAssertion(clientId: string, keyText: string, tokenUrl: string): Promise<string> {
  let text = keyText.trim();
  if (!text.startsWith("{")) {
    try {
      text = (await readFile(text, "utf8")).trim();
    } catch (err) {
      throw new CliError(`cannot read KEYMINT_CLIENT_KEY file ${keyText}: ${(err as Error).message}`);
    }
  }
  let jwk: jose.JWK;
  try {
    jwk = JSON.parse(text) as jose.JWK;
  } catch {
    throw new CliError("KEYMINT_CLIENT_KEY is not a JSON private JWK (or the path of a file holding one)");
  }
  if (typeof jwk.alg !== "string" || jwk.d === undefined) {
    throw new CliError('KEYMINT_CLIENT_KEY must be a private JWK with "alg" (npm run -s keys -- generate prints one)');
  }
  const key = await jose.importJWK(jwk, jwk.alg);
  const header: jose.JWTHeaderParameters = { alg: jwk.alg };
  if (typeof jwk.kid === "string") header.kid = jwk.kid;
  return new jose.SignJWT({ jti: crypto.randomUUID() })
    .setProtectedHeader(header)
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(tokenUrl)
    .setIssuedAt()
    .setExpirationTime("2m")
    .sign(key);
}

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown> | undefined;
}

/** A `ClientManager` over keymint's admin API. */
export class ApiClientManager implements ClientManager {
  readonly label: string;
  readonly #base: string;
  readonly #credentials: Credentials;
  #token: Promise<string> | undefined;

  constructor(url: string, credentials: Credentials) {
    let base: URL;
    try {
      base = new URL(url);
    } catch {
      throw new CliError(`--api ${url} is not a URL (e.g. https://auth.example.com)`);
    }
    if (base.protocol !== "https:" && base.protocol !== "http:")
      throw new CliError(`--api ${url} is not an http(s) URL`);
    this.#base = base.origin;
    this.#credentials = credentials;
    this.label = `registry at ${this.#base}`;
  }

  async #fetch(path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(`${this.#base}${path}`, init);
    } catch (err) {
      throw new CliError(`cannot reach ${this.#base}: ${(err as Error).cause ?? (err as Error).message}`);
    }
  }

  /** One admin token per command, from the token endpoint. */
  #adminToken(): Promise<string> {
    this.#token ??= this.#requestToken();
    return this.#token;
  }

  async #requestToken(): Promise<string> {
    const c = this.#credentials;
    const tokenUrl = `${this.#base}/oauth2/token`;
    const headers: Record<string, string> = { "Content-Type": "application/x-www-form-urlencoded" };
    let body = "grant_type=client_credentials";
    if (c.kind === "secret") {
      headers.Authorization = `Basic ${btoa(`${formEncode(c.clientId)}:${formEncode(c.secret)}`)}`;
    } else {
      const assertion = c.kind === "key" ? await privateKeyAssertion(c.clientId, c.key, tokenUrl) : c.assertion;
      body += `&client_id=${formEncode(c.clientId)}&client_assertion_type=${formEncode(JWT_BEARER)}&client_assertion=${formEncode(assertion)}`;
    }
    const res = await this.#fetch("/oauth2/token", { method: "POST", headers, body });
    const answer = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (res.status !== 200 || typeof answer.access_token !== "string") {
      throw new CliError(
        `cannot get an admin token from ${tokenUrl}: ${res.status} ${String(answer.error ?? "")} ${String(answer.error_description ?? "")}`.trim(),
      );
    }
    if (answer.token_type !== "Bearer") {
      throw new CliError(
        "the admin client gets DPoP-bound tokens (--require-dpop); the CLI's --api needs a Bearer admin",
      );
    }
    return answer.access_token;
  }

  async #call(method: string, path: string, body?: unknown, ifMatch?: string): Promise<Answer> {
    const headers: Record<string, string> = { Authorization: `Bearer ${await this.#adminToken()}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (ifMatch !== undefined) headers["If-Match"] = ifMatch;
    const res = await this.#fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: Record<string, unknown> | undefined;
    try {
      parsed = text === "" ? undefined : (JSON.parse(text) as Record<string, unknown>);
    } catch {
      parsed = undefined;
    }
    return { status: res.status, headers: res.headers, body: parsed };
  }

  /** The answer's body, or the error the CLI reports for it (the same errors the local drivers throw). */
  #expect(answer: Answer, ok: number, id?: string): Record<string, unknown> {
    if (answer.status === ok) return answer.body ?? {};
    const description = String(answer.body?.error_description ?? "");
    if (answer.status === 404 && id !== undefined) {
      throw new ClientNotFoundError(
        id,
        isValidClientId(id) ? `no client "${id}" in the ${this.label}` : `"${id}" is not a valid client id`,
      );
    }
    if (answer.status === 409 && id !== undefined) {
      throw new ClientExistsError(id, `client "${id}" already exists in the ${this.label}`);
    }
    if (answer.status === 412) throw new VersionMismatchError(description);
    if (answer.status === 400 && answer.body?.error === "invalid_request") throw new LifecycleError(description);
    const code = String(answer.body?.error ?? "error");
    if (answer.status === 401 || answer.status === 403) {
      throw new CliError(`the admin API refused the admin token (${answer.status} ${code}: ${description})`);
    }
    throw new CliError(`the admin API answered ${answer.status} ${code}: ${description}`);
  }

  #versioned<T>(answer: Answer, ok: number, id?: string): Versioned<T> {
    const value = this.#expect(answer, ok, id) as T;
    return { value, etag: answer.headers.get("etag") ?? "" };
  }

  #path(id: string, suffix = ""): string {
    return `/admin/clients/${encodeURIComponent(id)}${suffix}`;
  }

  async list(options: { cursor?: string | undefined; limit?: number } = {}) {
    const query = new URLSearchParams();
    if (options.cursor !== undefined) query.set("cursor", options.cursor);
    if (options.limit !== undefined) query.set("limit", String(options.limit));
    const suffix = query.size === 0 ? "" : `?${query}`;
    const body = this.#expect(await this.#call("GET", `/admin/clients${suffix}`), 200);
    const clients = body.clients as ListEntry[];
    return typeof body.cursor === "string" ? { clients, cursor: body.cursor } : { clients };
  }

  async show(id: string): Promise<Versioned<PublicClient>> {
    return this.#versioned(await this.#call("GET", this.#path(id)), 200, id);
  }

  async create(input: NewClientInput): Promise<Versioned<CreatedClient>> {
    return this.#versioned(await this.#call("POST", "/admin/clients", input), 201, input.client_id ?? "");
  }

  async update(id: string, patch: ClientFields, ifMatch?: string): Promise<Versioned<PublicClient>> {
    return this.#versioned(await this.#call("PATCH", this.#path(id), patch, ifMatch), 200, id);
  }

  async rotateSecret(id: string, input: RotateInput, ifMatch?: string): Promise<Versioned<RotatedClient>> {
    return this.#versioned(await this.#call("POST", this.#path(id, "/secret"), input, ifMatch), 200, id);
  }

  async setEnabled(id: string, enabled: boolean, ifMatch?: string): Promise<Versioned<PublicClient>> {
    const action = enabled ? "/enable" : "/disable";
    return this.#versioned(await this.#call("POST", this.#path(id, action), undefined, ifMatch), 200, id);
  }

  async revokeTokens(id: string, ifMatch?: string): Promise<Versioned<PublicClient>> {
    return this.#versioned(await this.#call("POST", this.#path(id, "/revoke-tokens"), undefined, ifMatch), 200, id);
  }

  async delete(id: string, ifMatch?: string): Promise<void> {
    this.#expect(await this.#call("DELETE", this.#path(id), undefined, ifMatch), 204, id);
  }

  /**
   * Creates every client of an import or none: each id is checked to be free first (the inputs were validated by
   * the caller with the same rules). Over HTTP this is not atomic: a client created by someone else between the
   * check and the writes makes that one create fail (409), and the ones before it stay.
   */
  async importClients(inputs: readonly NewClientInput[]): Promise<PublicClient[]> {
    for (const input of inputs) {
      const id = input.client_id ?? "";
      const answer = await this.#call("GET", this.#path(id));
      if (answer.status === 200) {
        throw new ClientExistsError(id, `client "${id}" already exists in the ${this.label}; nothing was imported`);
      }
      if (answer.status !== 404) this.#expect(answer, 200, id);
    }
    const out: PublicClient[] = [];
    for (const input of inputs) {
      const {
        client_secret: _secret,
        client_secret_expires_at: _expires,
        ...client
      } = (await this.create(input)).value;
      out.push(client as PublicClient);
    }
    return out;
  }
}
