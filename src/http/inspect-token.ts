/** Verifies a presented access token and decides whether it is active (shared by introspection and revocation). */

import type { ClientRecord } from "../clients/record.ts";
import { type ClientStore, CorruptRecordError, type PreparedClient } from "../clients/store.ts";
import { requireClientsBinding } from "../config.ts";
import type { KeymintEnv } from "../env.ts";
import { verifyAccessTokenJws } from "../jwt/access-token.ts";
import type { AccessTokenClaims } from "../jwt/claims.ts";
import type { Keyring } from "../jwt/keyring.ts";
import { type InactiveReason, inactiveReason, ownInactiveReason } from "../oauth/token-state.ts";
import { isRevoked } from "../tokens/revocation-store.ts";
import type { RequestContext } from "./context.ts";

export type Inspection =
  | { active: true; claims: AccessTokenClaims }
  | { active: false; reason: InactiveReason; claims?: AccessTokenClaims };

/** The token's client as registered now; a corrupt record counts as no client (its tokens are inactive). */
function currentClient(store: ClientStore, clientId: string): ClientRecord | null | Promise<ClientRecord | null> {
  const recordOf = (found: PreparedClient | null) => found?.record ?? null;
  const corruptIsNone = (err: unknown) => {
    if (err instanceof CorruptRecordError) return null;
    throw err;
  };
  try {
    const found = store.find(clientId);
    return found instanceof Promise ? found.then(recordOf, corruptIsNone) : recordOf(found);
  } catch (err) {
    return corruptIsNone(err);
  }
}

/**
 * Signature (by `kid`, with that key's own algorithm only), time and issuer, then the client's current state and
 * the revocation list, looked up together (each answered from the isolate's cache when it can: see
 * docs/introspection.md for the window this gives a revocation). Every failure is just "inactive"; the reason
 * is for logs.
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
  const own = ownInactiveReason(claims, ctx.issuer, ctx.now);
  if (own !== null) return { active: false, reason: own, claims };
  const client = currentClient(ctx.store, claims.client_id);
  const revoked = isRevoked(
    {
      kv: requireClientsBinding(env),
      timeoutMs: ctx.config.kvTimeoutMs,
      cacheTtlMs: ctx.config.clientCacheTtlMs,
    },
    claims.jti,
    claims.exp,
  );
  const [record, isRevokedNow] =
    client instanceof Promise || revoked instanceof Promise ? await Promise.all([client, revoked]) : [client, revoked];
  const reason = inactiveReason({ claims, issuer: ctx.issuer, now: ctx.now, client: record, revoked: isRevokedNow });
  return reason === null ? { active: true, claims } : { active: false, reason, claims };
}
