/**
 * Client authentication at the token, introspection and revocation endpoints: `client_secret_basic` or
 * `client_secret_post` (RFC 6749 §2.3.1), a signed JWT (`private_key_jwt`, RFC 7523 §2.2; a federated
 * client's outside token comes the same way), or a TLS client certificate with the body's `client_id`
 * (`tls_client_auth`, `self_signed_tls_client_auth`, RFC 8705 §2) — exactly one per request. This module picks
 * the method and delegates; every failure is the same `invalid_client`, told apart only by its logged `detail`.
 */

import { type AssertionContext, verifyClientAssertion } from "../clients/auth/assertion.ts";
import { verifyClientCertificate } from "../clients/auth/mtls.ts";
import { isMtlsMethod, type MtlsMethod } from "../clients/record.ts";
import { type ClientStore, CorruptRecordError, type PreparedClient } from "../clients/store.ts";
import { verifyClientSecret } from "../clients/verify.ts";
import { peekJws } from "../jwt/verify.ts";
import { log } from "../log.ts";
import { JWT_BEARER } from "../oauth/client-assertion.ts";
import { invalidClient, invalidRequest } from "../oauth/errors.ts";
import { base64Decode, isBase64Text, UTF8_STRICT } from "../util/base64url.ts";
import { type PresentedCertificate, presentedCertificate } from "../x509/presented.ts";
import { type FormParams, formDecode } from "./form.ts";

export type AuthMethod = "client_secret_basic" | "client_secret_post" | "private_key_jwt" | MtlsMethod;

export interface PresentedCredentials {
  clientId: string;
  secret: string;
  method: "client_secret_basic" | "client_secret_post";
}

/**
 * What the request carried: a secret, a JWT assertion (with the client id it names), or nothing (with whether
 * an Authorization header was used).
 */
export type CredentialsResult =
  | { kind: "credentials"; credentials: PresentedCredentials }
  | { kind: "assertion"; clientId: string; assertion: string }
  | { kind: "certificate"; clientId: string; certificate: PresentedCertificate }
  | { kind: "none"; usedAuthorizationHeader: boolean };

/** The client id a request names, whatever the method; `undefined` without credentials. */
export function presentedClientId(found: CredentialsResult): string | undefined {
  if (found.kind === "credentials") return found.credentials.clientId;
  return found.kind === "assertion" || found.kind === "certificate" ? found.clientId : undefined;
}

const ASCII = /^[\x00-\x7f]*$/;

/** Base64 of UTF-8 text to the text; throws when either layer is malformed. */
function decodeBase64Text(token: string): string {
  if (!isBase64Text(token, "base64")) throw new Error("not base64");
  // Credentials are nearly always ASCII, whose Latin-1 reading (atob) is already the text: no buffer needed.
  const binary = atob(token);
  if (ASCII.test(binary)) return binary;
  const bytes = base64Decode(token, "base64");
  if (bytes === null) throw new Error("not base64");
  return UTF8_STRICT.decode(bytes);
}

/**
 * Decodes `Authorization: Basic` per RFC 6749 §2.3.1: Base64 of `urlencode(id):urlencode(secret)`, so a
 * `:`, `%`, `+` or space inside a secret arrives intact. Malformed values are `invalid_request`.
 */
export function decodeBasic(token: string): { clientId: string; secret: string } {
  let decoded: string;
  try {
    decoded = decodeBase64Text(token.trim());
  } catch {
    throw invalidRequest("The Basic credentials are not valid Base64 of UTF-8 text", { challenge: true });
  }
  const colon = decoded.indexOf(":");
  if (colon === -1) throw invalidRequest("The Basic credentials have no ':' separator", { challenge: true });
  const clientId = formDecode(decoded.slice(0, colon));
  const secret = formDecode(decoded.slice(colon + 1));
  if (clientId === null || secret === null) {
    throw invalidRequest("The Basic credentials have a malformed percent-encoding (RFC 6749 section 2.3.1)", {
      challenge: true,
    });
  }
  return { clientId, secret };
}

/**
 * A JWT assertion (RFC 7521 §4.2): `client_assertion_type` must be the JWT bearer URN and come with
 * `client_assertion`; no other method may be used alongside. The client is the body's `client_id`, else the
 * assertion's `sub` (RFC 7523 §3: the client id), which the assertion's own checks then confirm.
 */
function extractAssertion(authorization: string | null, form: FormParams): CredentialsResult {
  const type = form.get("client_assertion_type");
  const assertion = form.get("client_assertion");
  if (type === undefined || assertion === undefined) {
    throw invalidRequest("client_assertion and client_assertion_type go together (RFC 7521 section 4.2)");
  }
  if (type !== JWT_BEARER) {
    throw invalidRequest(`client_assertion_type must be ${JWT_BEARER} (RFC 7523 section 2.2)`);
  }
  if (form.get("client_secret") !== undefined || (authorization !== null && /^\s*basic\s/i.test(authorization))) {
    throw invalidRequest("Use exactly one client authentication method (RFC 6749 section 2.3)");
  }
  const named = peekJws(assertion)?.payload;
  const fromJwt = typeof named?.sub === "string" ? named.sub : typeof named?.iss === "string" ? named.iss : "";
  return { kind: "assertion", clientId: form.get("client_id") ?? fromJwt, assertion };
}

/**
 * Finds the client's credentials in the request. Using two methods, or sending a body `client_id` that
 * differs from the Basic one, is `invalid_request` (RFC 6749 §2.3: one method per request). A TLS client
 * certificate is a fact about the connection, not a method of its own: it authenticates only a request that
 * names its client in the body and carries no other credentials (RFC 8705 §2), so the request's `cf` is read
 * only then, never on the secret and assertion paths.
 */
export function extractCredentials(
  authorization: string | null,
  form: FormParams,
  connection?: { readonly cf?: unknown },
): CredentialsResult {
  if (form.has("client_assertion") || form.has("client_assertion_type")) return extractAssertion(authorization, form);
  const postId = form.get("client_id");
  const postSecret = form.get("client_secret");
  if (authorization !== null) {
    const match = /^\s*basic\s+(\S*)\s*$/i.exec(authorization);
    if (match === null) {
      // Another scheme (Bearer, Digest…) is not a way to authenticate a client here.
      if (postSecret !== undefined) {
        throw invalidRequest("Use exactly one client authentication method", { challenge: true });
      }
      return { kind: "none", usedAuthorizationHeader: true };
    }
    const { clientId, secret } = decodeBasic(match[1] ?? "");
    if (postSecret !== undefined) {
      throw invalidRequest("Use exactly one client authentication method (RFC 6749 section 2.3)", { challenge: true });
    }
    if (postId !== undefined && postId !== clientId) {
      throw invalidRequest("client_id in the body differs from the Basic credentials", { challenge: true });
    }
    if (clientId === "" || secret === "") return { kind: "none", usedAuthorizationHeader: true };
    return { kind: "credentials", credentials: { clientId, secret, method: "client_secret_basic" } };
  }
  if (postId !== undefined && postSecret === undefined && connection !== undefined) {
    const certificate = presentedCertificate(connection.cf);
    if (certificate !== null) return { kind: "certificate", clientId: postId, certificate };
  }
  if (postId === undefined || postSecret === undefined) return { kind: "none", usedAuthorizationHeader: false };
  return { kind: "credentials", credentials: { clientId: postId, secret: postSecret, method: "client_secret_post" } };
}

type LookedUp = PreparedClient | null | "corrupt";

/** Logs a corrupt record with the fix; rethrows anything else (a KV fault is a 503). */
function corrupt(err: unknown): "corrupt" {
  if (!(err instanceof CorruptRecordError)) throw err;
  log("error", "corrupt_client_record", {
    client_id: err.clientId,
    reason: err.message,
    fix: `inspect it with \`npm run -s clients -- show ${err.clientId}\`, then recreate or re-import the client`,
  });
  return "corrupt";
}

/**
 * The client record, `null` when it does not exist, or "corrupt". Synchronous on a cache hit (no promise on the
 * hot path), the pending read otherwise.
 */
function lookUp(store: ClientStore, clientId: string): LookedUp | Promise<LookedUp> {
  try {
    const found = store.find(clientId);
    return found instanceof Promise ? found.catch(corrupt) : found;
  } catch (err) {
    return corrupt(err);
  }
}

export interface AuthenticationContext {
  store: ClientStore;
  /** Unix seconds. */
  now: number;
  /** What verifying a JWT assertion needs (issuer, replay store, fetcher), built only when one is presented. */
  assertion: () => AssertionContext;
}

export interface Authenticated {
  client: PreparedClient;
  method: AuthMethod;
  /** Which secret matched: 0 the current one, 1 the previous one (rotation grace); 0 for other methods. */
  secretSlot: number;
  /** The TLS client certificate that authenticated the client (mTLS methods only). */
  certificate?: PresentedCertificate;
}

/**
 * Authenticates the request's client. Unknown id, wrong or expired secret, a key or mTLS client's secret, a
 * secret client's assertion, a bad or replayed assertion, a certificate that is not the client's (or revoked,
 * expired, unverified), disabled client and missing credentials all end in the same `invalid_client` (status,
 * body and headers); secret checks do the same work whether the client exists or not, and so do signature and
 * certificate checks.
 */
export async function authenticateClient(found: CredentialsResult, ctx: AuthenticationContext): Promise<Authenticated> {
  if (found.kind === "none") {
    throw invalidClient("no client credentials", found.usedAuthorizationHeader);
  }
  if (found.kind === "assertion") {
    const client = await lookUp(ctx.store, found.clientId);
    const result = await verifyClientAssertion(client === "corrupt" ? null : client, found.assertion, ctx.assertion());
    if (!result.ok) throw invalidClient(client === "corrupt" ? "corrupt_record" : result.reason, false);
    return { client: result.client, method: "private_key_jwt", secretSlot: 0 };
  }
  if (found.kind === "certificate") {
    const looked = lookUp(ctx.store, found.clientId);
    const client = looked instanceof Promise ? await looked : looked;
    const result = verifyClientCertificate(client === "corrupt" ? null : client, found.certificate, ctx.now);
    if (!result.ok) throw invalidClient(client === "corrupt" ? "corrupt_record" : result.reason, false);
    const method = result.client.record.token_endpoint_auth_method as MtlsMethod;
    return { client: result.client, method, secretSlot: 0, certificate: found.certificate };
  }
  const { clientId, secret, method } = found.credentials;
  const challenge = method === "client_secret_basic";
  const looked = lookUp(ctx.store, clientId);
  const client = looked instanceof Promise ? await looked : looked;
  const result = await verifyClientSecret(client === "corrupt" ? null : client, secret, ctx.now);
  if (client === "corrupt") throw invalidClient("corrupt_record", challenge);
  if (!result.ok) {
    const method = client?.record.token_endpoint_auth_method;
    const reason =
      method === "private_key_jwt"
        ? "secret_for_key_client"
        : isMtlsMethod(method)
          ? "secret_for_mtls_client"
          : result.reason;
    throw invalidClient(reason, challenge);
  }
  return { client: result.client, method, secretSlot: result.slot };
}
