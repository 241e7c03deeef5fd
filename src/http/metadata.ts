/** RFC 8414 authorization server metadata at `GET /.well-known/oauth-authorization-server`. */

import type { KeymintEnv } from "../env.ts";
import { metadataFor } from "../oauth/metadata.ts";
import { requestContext } from "./context.ts";
import { errorResponse, JSON_TYPE, toOAuthError } from "./errors.ts";

/** Public, cacheable JSON; its `issuer` is exactly the `iss` of tokens issued through the same host. */
export function metadataEndpoint(request: Request, env: KeymintEnv): Response {
  try {
    const ctx = requestContext(request, env);
    const body = JSON.stringify(metadataFor(ctx.issuer, ctx.config.scopesSupported));
    return new Response(request.method === "HEAD" ? null : body, {
      status: 200,
      headers: {
        "Content-Type": JSON_TYPE,
        "Cache-Control": "public, max-age=300",
        "Access-Control-Allow-Origin": "*",
      },
    });
  } catch (err) {
    return errorResponse(toOAuthError(err, "metadata"));
  }
}
