/** Verifies a presented access token and decides whether it is active (shared by introspection and revocation). */

import { CorruptRecordError } from "../clients/store.ts";
import { requireClientsBinding } from "../config.ts";
import type { KeymintEnv } from "../env.ts";
import { verifyAccessTokenJws } from "../jwt/access-token.ts";
import type { AccessTokenClaims } from "../jwt/claims.ts";
import type { Keyring } from "../jwt/keyring.ts";
import { type InactiveReason, inactiveReason } from "../oauth/token-state.ts";
import { isRevoked } from "../tokens/revocation-store.ts";
import type { RequestContext } from "./context.ts";

export type Inspection =
  | { active: true; claims: AccessTokenClaims }
  | { active: false; reason: InactiveReason; claims?: AccessTokenClaims };

/**
 * Signature (by `kid`, with that key's own algorithm only), then time, issuer, the client's current state and the revocation
 * list. Every failure is just "inactive"; the reason is for logs.
 */
export async function inspectToken(
  token: string,
  ctx: RequestContext,
  env: KeymintEnv,
  keyring: Keyring,
): Promise<Inspection> {
  const verified = await verifyAccessTokenJws(token, keyring.byKid);
  if (!verified.ok) return { active: false, reason: verified.error };
  const { claims } = verified;
  let client = null;
  try {
    client = (await ctx.store.find(claims.client_id))?.record ?? null;
  } catch (err) {
    if (!(err instanceof CorruptRecordError)) throw err;
  }
  const early = inactiveReason({ claims, issuer: ctx.issuer, now: ctx.now, client, revoked: false });
  if (early !== null) return { active: false, reason: early, claims };
  if (await isRevoked(requireClientsBinding(env), claims.jti, ctx.config.kvTimeoutMs)) {
    return { active: false, reason: "revoked", claims };
  }
  return { active: true, claims };
}
