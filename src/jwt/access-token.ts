/** Verification of keymint's own access tokens (RFC 9068 §4) through the one JWS verifier. */

import { type AccessTokenClaims, asAccessTokenClaims } from "./claims.ts";
import type { JwsAlg, VerificationKey } from "./keys.ts";
import { type JwsError, typIs, verifyJws } from "./verify.ts";

/** Every algorithm keymint has ever signed access tokens with. */
const ACCESS_TOKEN_ALGS: readonly JwsAlg[] = ["HS256", "ES256", "EdDSA", "RS256"];

export type AccessTokenVerifyError = JwsError | "bad_claims";

export type AccessTokenVerifyResult =
  | { ok: true; claims: AccessTokenClaims; kid: string }
  | { ok: false; error: AccessTokenVerifyError };

/** How a verifier finds a key: a map by `kid`, or a lookup (e.g. a remote JWKS) given the header's kid and alg. */
export type KeyLookup =
  | ReadonlyMap<string, VerificationKey>
  | ((kid: string, alg: string) => VerificationKey | undefined | Promise<VerificationKey | undefined>);

/**
 * Verifies a keymint access token's JWS: `typ` `at+jwt` (RFC 9068 §4), the key chosen strictly by `kid`, and
 * only that key's own algorithm (an HS256 token "signed" with a public key finds no HS256 key of that `kid`, so
 * algorithm confusion is impossible; `none` is never accepted). Time and issuer checks are the caller's.
 */
export async function verifyAccessTokenJws(token: string, keys: KeyLookup): Promise<AccessTokenVerifyResult> {
  const result = await verifyJws(token, {
    typ: (typ) => typIs(typ, "at+jwt"),
    algorithms: ACCESS_TOKEN_ALGS,
    key(header, alg) {
      if (typeof header.kid !== "string") return undefined;
      return typeof keys === "function" ? keys(header.kid, alg) : keys.get(header.kid);
    },
  });
  if (!result.ok) return { ok: false, error: result.error };
  const claims = asAccessTokenClaims(result.payload);
  if (claims === null) return { ok: false, error: "bad_claims" };
  return { ok: true, claims, kid: result.key.kid };
}
