/** The authorization endpoint (RFC 6749 §3.1): present for RFC 8414 clients, supporting no response type. */

import { OAuthError } from "../oauth/errors.ts";
import { errorResponse } from "./errors.ts";

/** keymint issues tokens only at its token endpoint; the description says where to go instead. */
const UNSUPPORTED = new OAuthError(
  "unsupported_response_type",
  "keymint supports no response type: request tokens at the token endpoint with the client_credentials grant",
);

/**
 * Every request, whatever its method and parameters: 400 `unsupported_response_type` as JSON, never a redirect.
 * No client has a registered redirection URI, and RFC 6749 §4.1.2.1 forbids redirecting to an unverified one.
 */
export function authorizationEndpoint(): Response {
  return errorResponse(UNSUPPORTED);
}
