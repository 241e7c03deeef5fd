/** The public signing keys as a JWK Set (RFC 7517 §5) at `GET /.well-known/jwks.json`. */

import type { KeymintEnv } from "../env.ts";
import { cachedKeyring, getKeyring } from "../jwt/keyring.ts";
import { errorResponse, JSON_TYPE, toOAuthError } from "./errors.ts";

/**
 * How long verifiers may cache the key set. Short enough that a key published before a switch (README, "Key-pair
 * rotation") reaches every verifier within minutes; verifiers also refetch when they meet an unknown `kid`.
 */
export const JWKS_MAX_AGE = 300;

/**
 * Public, cacheable JSON with CORS `*`: the public parts of `TOKEN_SIGNING_JWK` and of every key in
 * `TOKEN_VERIFICATION_JWKS`, never a private or symmetric member; `{"keys":[]}` with HMAC signing only.
 */
export async function jwksEndpoint(request: Request, env: KeymintEnv): Promise<Response> {
  try {
    const keyring = cachedKeyring(env) ?? (await getKeyring(env));
    return new Response(request.method === "HEAD" ? null : keyring.jwks, {
      status: 200,
      headers: {
        "Content-Type": JSON_TYPE,
        "Cache-Control": `public, max-age=${JWKS_MAX_AGE}`,
        "Access-Control-Allow-Origin": "*",
      },
    });
  } catch (err) {
    return errorResponse(toOAuthError(err, "jwks"));
  }
}
