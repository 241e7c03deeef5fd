/**
 * What every call of the admin API and of RFC 7591/7592 shares: the call's state, reading a bounded JSON body,
 * describing a schema's refusal naming the field, the mapping of every failure to an RFC 6749 §5.2 error, the one
 * audit line, and JSON answers. src/admin/route.ts runs them in order for each route.
 */

import type { Context } from "hono";
import type * as z from "zod/mini";
import { kvRecordStore } from "../clients/kv-registry.ts";
import { forgetClient } from "../clients/kv-store.ts";
import { LifecycleError } from "../clients/lifecycle.ts";
import {
  ClientExistsError,
  ClientNotFoundError,
  ClientOperations,
  VersionMismatchError,
} from "../clients/operations.ts";
import { CorruptRecordError } from "../clients/store.ts";
import { getConfig, requireClientsBinding } from "../config.ts";
import type { KeymintEnv } from "../env.ts";
import { type RequestContext, requestContext } from "../http/context.ts";
import { errorResponse, NO_STORE_HEADERS, toOAuthError } from "../http/errors.ts";
import { log } from "../log.ts";
import { invalidRequest, OAuthError, serverError } from "../oauth/errors.ts";
import { UTF8_STRICT } from "../util/base64url.ts";
import { readRequestBody } from "../util/stream.ts";
import type { AdminCaller } from "./authorize.ts";

/** Largest JSON body accepted, in bytes (a client with 20 RSA keys fits several times). */
export const MAX_JSON_BYTES = 64 * 1024;

/** The admin API (`invalid_request`) or RFC 7591/7592 (`invalid_client_metadata` for bad metadata). */
export type Family = "admin" | "registration";

/** Fields of the one audit line each call writes. */
export interface AdminAudit {
  action: string;
  /** The acting client: the admin token's client, or for RFC 7592 the registered client itself. */
  client_id: string | undefined;
  /** The client acted on. */
  target_client_id: string | undefined;
}

export interface AdminState {
  ctx: RequestContext;
  ops: ClientOperations;
  caller: AdminCaller | undefined;
  audit: AdminAudit;
  family: Family;
  /** The error the call was answered with, for the audit line. */
  failure: OAuthError | undefined;
}

export type AdminEnv = { Bindings: KeymintEnv; Variables: { admin: AdminState } };
export type AdminContext = Context<AdminEnv>;

/** Whether a body rule reads the body as JSON, and whether it must be there. */
export type BodyRule = "none" | "optional" | "required";

const JSON_MEDIA = /^application\/([\w.-]+\+)?json$/i;

function tooLarge(): OAuthError {
  return invalidRequest(`The request body exceeds ${MAX_JSON_BYTES} bytes`, { status: 413 });
}

/**
 * Reads the request body within MAX_JSON_BYTES (a declared or a chunked length), so every answer comes after the
 * whole body arrived, and returns it parsed: with a JSON rule it must be JSON (`Content-Type: application/json`
 * or `…+json`, valid UTF-8 and JSON, an object); an absent optional body is `{}`. Other routes read and drop a
 * body they do not use (`undefined`).
 */
export async function readBody(request: Request, rule: BodyRule): Promise<unknown> {
  const declared = Number(request.headers.get("content-length") ?? Number.NaN);
  if (declared > MAX_JSON_BYTES) throw tooLarge();
  const bytes = await readRequestBody(request.body, MAX_JSON_BYTES);
  if (bytes === null) throw tooLarge();
  if (rule === "none") return undefined;
  let text: string;
  try {
    text = UTF8_STRICT.decode(bytes);
  } catch {
    throw invalidRequest("The request body is not valid UTF-8");
  }
  if (text.trim() === "") {
    if (rule === "required") throw invalidRequest("The request body must be a JSON object");
    return {};
  }
  const mediaType = (request.headers.get("content-type") ?? "").split(";")[0]?.trim() ?? "";
  if (!JSON_MEDIA.test(mediaType)) {
    throw invalidRequest("Content-Type must be application/json", { status: 415 });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalidRequest("The request body is not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalidRequest("The request body must be a JSON object");
  }
  return value;
}

/** A new call's state: its request context and the client operations over the CLIENTS namespace. */
export function adminState(c: AdminContext, action: string, family: Family): AdminState {
  const ctx = requestContext(c.req.raw, c.env);
  const kv = requireClientsBinding(c.env);
  const ops = new ClientOperations(kvRecordStore(kv, ctx.config.kvTimeoutMs), {
    now: () => ctx.now,
    changed: (clientId) => forgetClient(kv, clientId),
  });
  return {
    ctx,
    ops,
    caller: undefined,
    audit: { action, client_id: undefined, target_client_id: c.req.param("id") },
    family,
    failure: undefined,
  };
}

/** A field's name as the client object spells it, before the rule's message (which may already start with it). */
function withField(message: string, field: string | undefined): string {
  if (field === undefined || message.startsWith(field)) return message;
  return `${field}: ${message}`;
}

/** Every failure of an admin call as the OAuthError it is answered with. */
export function adminError(err: unknown, family: Family): OAuthError {
  if (err instanceof OAuthError) return err;
  if (err instanceof LifecycleError) {
    const description = withField(err.message, err.field);
    return family === "registration"
      ? new OAuthError("invalid_client_metadata", description)
      : invalidRequest(description);
  }
  if (err instanceof ClientNotFoundError) {
    return invalidRequest("No client with this client_id", { status: 404, detail: err.message });
  }
  if (err instanceof ClientExistsError) {
    return invalidRequest("A client with this client_id already exists", { status: 409, detail: err.message });
  }
  if (err instanceof VersionMismatchError) {
    return invalidRequest(
      "The client changed since it was read (If-Match does not match its ETag): read it again and retry",
      { status: 412 },
    );
  }
  if (err instanceof CorruptRecordError) {
    log("error", "corrupt_client_record", {
      client_id: err.clientId,
      reason: err.reason,
      fix: `delete it (DELETE /admin/clients/${err.clientId} or \`npm run -s clients -- delete ${err.clientId}\`), then recreate or re-import the client`,
    });
    return serverError(err.message);
  }
  return toOAuthError(err, "admin");
}

/** The family of a path: RFC 7591/7592 (`invalid_client_metadata`) or the admin API. */
export function familyOf(path: string): Family {
  return path.startsWith("/oauth2/register") ? "registration" : "admin";
}

/** Renders a failure and remembers it for the audit line. */
export function fail(c: AdminContext, err: unknown): Response {
  const error = adminError(err, familyOf(c.req.path));
  const state = c.get("admin") as AdminState | undefined;
  if (state !== undefined) state.failure = error;
  return errorResponse(error);
}

/** Actions that change a client: always audited, whatever AUDIT_LOG says. */
function isChange(c: AdminContext): boolean {
  return c.req.method !== "GET" && c.req.method !== "HEAD";
}

function auditEnabled(env: KeymintEnv): boolean {
  try {
    return getConfig(env).auditLog;
  } catch {
    return true;
  }
}

/** The call's one audit line (changes always; reads and refusals unless AUDIT_LOG is off). */
export function writeAudit(c: AdminContext, action: string, status: number, started: number): void {
  const state = c.get("admin") as AdminState | undefined;
  const failure = state?.failure;
  if (!(isChange(c) && status < 400) && !auditEnabled(c.env)) return;
  console.log(
    JSON.stringify({
      level: "info",
      event: "admin",
      action,
      outcome: status < 400 ? "ok" : "rejected",
      client_id: state?.audit.client_id,
      target_client_id: state?.audit.target_client_id,
      status,
      error: failure?.code,
      detail: failure?.detail,
      ip: c.req.header("cf-connecting-ip") ?? null,
      latency_ms: Date.now() - started,
    }),
  );
}

/** JSON answer with no-store (it may carry a secret, and client settings are nobody's cache's business). */
export function json(body: unknown, status: number, extra: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { ...NO_STORE_HEADERS, ...extra } });
}

/** An issue's field, as the client object spells it (`scopes[1]`, `federation.subject`). */
function fieldOf(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join("");
}

const TYPE_NAMES: Readonly<Record<string, string>> = { int: "an integer", nonoptional: "present" };

/**
 * One zod issue in words, naming the field (`scopes[1] must be of type string`). zod/mini carries no message
 * texts (they would be ~400 KB of locales in the bundle): the words come from the issue's code and values.
 */
function describeIssue(issue: z.core.$ZodIssue): string {
  const field = fieldOf(issue.path);
  const subject = field === "" ? "the body" : field;
  switch (issue.code) {
    case "invalid_type":
      if (issue.input === undefined) return `${subject} is required`;
      return `${subject} must be ${TYPE_NAMES[issue.expected] ?? `of type ${issue.expected}`}`;
    case "unrecognized_keys":
      return `${field === "" ? "" : `${field}: `}unknown field ${issue.keys.join(", ")}`;
    case "invalid_value":
      return `${subject} must be one of ${issue.values.map(String).join(", ")}`;
    case "too_small":
      return `${subject} must be at least ${String(issue.minimum)}`;
    case "too_big":
      return `${subject} must be at most ${String(issue.maximum)}`;
    case "custom":
      return `${subject}: ${issue.message}`;
    default:
      return `${subject} is invalid`;
  }
}

/**
 * A body, query or path that does not fit its schema: 400 naming the field (`invalid_client_metadata` for
 * RFC 7591/7592).
 */
export function schemaError(error: z.core.$ZodError, family: Family): OAuthError {
  const description = error.issues.slice(0, 3).map(describeIssue).join("; ");
  return family === "registration"
    ? new OAuthError("invalid_client_metadata", description)
    : invalidRequest(description);
}
