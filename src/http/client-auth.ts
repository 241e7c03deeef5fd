/**
 * Client authentication at the token, introspection and revocation endpoints (RFC 6749 §2.3.1):
 * `client_secret_basic` or `client_secret_post`, exactly one per request.
 */

import { type ClientStore, CorruptRecordError, type PreparedClient } from "../clients/store.ts";
import { verifyClientSecret } from "../clients/verify.ts";
import { log } from "../log.ts";
import { invalidClient, invalidRequest } from "../oauth/errors.ts";
import { base64Decode, isBase64Text, UTF8_STRICT } from "../util/base64url.ts";
import { type FormParams, formDecode } from "./form.ts";

export type AuthMethod = "client_secret_basic" | "client_secret_post";

export interface PresentedCredentials {
  clientId: string;
  secret: string;
  method: AuthMethod;
}

/** What the request carried: credentials, or nothing (with whether an Authorization header was used). */
export type CredentialsResult =
  | { kind: "credentials"; credentials: PresentedCredentials }
  | { kind: "none"; usedAuthorizationHeader: boolean };

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
 * Finds the client's credentials in the request. Using both methods, or sending a body `client_id` that
 * differs from the Basic one, is `invalid_request` (RFC 6749 §2.3: one method per request).
 */
export function extractCredentials(authorization: string | null, form: FormParams): CredentialsResult {
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
  if (postId === undefined || postSecret === undefined) return { kind: "none", usedAuthorizationHeader: false };
  return { kind: "credentials", credentials: { clientId: postId, secret: postSecret, method: "client_secret_post" } };
}

/**
 * Authenticates the request's client. Unknown id, wrong or expired secret, disabled client and missing
 * credentials all end in the same `invalid_client` (status, body and headers), after the same work.
 */
export async function authenticateClient(
  found: CredentialsResult,
  store: ClientStore,
  now: number,
): Promise<{ client: PreparedClient; method: AuthMethod; secretSlot: number }> {
  if (found.kind === "none") {
    throw invalidClient("no client credentials", found.usedAuthorizationHeader);
  }
  const { clientId, secret, method } = found.credentials;
  const challenge = method === "client_secret_basic";
  let client: PreparedClient | null;
  try {
    const found = store.find(clientId);
    client = found instanceof Promise ? await found : found;
  } catch (err) {
    if (!(err instanceof CorruptRecordError)) throw err;
    log("error", "corrupt_client_record", {
      client_id: err.clientId,
      reason: err.message,
      fix: `inspect it with \`npm run -s clients -- show ${err.clientId}\`, then recreate or re-import the client`,
    });
    await verifyClientSecret(null, secret, now);
    throw invalidClient("corrupt_record", challenge);
  }
  const result = await verifyClientSecret(client, secret, now);
  if (!result.ok) throw invalidClient(result.reason, challenge);
  return { client: result.client, method, secretSlot: result.slot };
}
