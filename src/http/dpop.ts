/** DPoP at the token endpoint (RFC 9449 §5): the request's proof, or its absence, for an authenticated client. */

import type { PreparedClient } from "../clients/store.ts";
import { checkDpopProof, DpopReplayCache } from "../oauth/dpop.ts";
import { OAuthError } from "../oauth/errors.ts";
import { currentNonce, isFreshNonce } from "../tokens/dpop-nonce.ts";
import type { Exchange } from "./authenticated.ts";

/** Proof `jti`s accepted by this isolate's token endpoint. */
const replay = new DpopReplayCache();

function invalidProof(description: string, reason: string): OAuthError {
  return new OAuthError("invalid_dpop_proof", description, { detail: `dpop ${reason}` });
}

/**
 * Checks the `DPoP` header of a token request and returns the thumbprint (`jkt`) the token must be bound to,
 * or `undefined` when there is no proof and the client does not require one. A client registered with
 * `dpop_bound_access_tokens` must send one. With `DPOP_NONCE=on`, a proof without a fresh server nonce gets
 * 400 `use_dpop_nonce` with a new nonce in `DPoP-Nonce` (RFC 9449 §8).
 */
export async function tokenRequestProof(exchange: Exchange, client: PreparedClient): Promise<string | undefined> {
  const proof = exchange.request.headers.get("dpop");
  if (proof === null) {
    if (!client.record.dpop_bound_access_tokens) return undefined;
    throw invalidProof("This client must send a DPoP proof (RFC 9449 section 5)", "required");
  }
  const { config, now } = exchange.ctx;
  const nonceKey = exchange.keyring.nonceKey;
  const result = await checkDpopProof(proof, {
    method: exchange.request.method,
    url: exchange.request.url,
    now,
    replay,
    nonce: config.dpopNonce ? (nonce) => isFreshNonce(nonceKey, nonce, now) : undefined,
  });
  if (result.ok) {
    exchange.audit.dpop_jkt = result.jkt;
    return result.jkt;
  }
  if (result.reason === "nonce") {
    throw new OAuthError("use_dpop_nonce", result.description, {
      detail: "dpop nonce",
      dpopNonce: await currentNonce(nonceKey, now),
    });
  }
  throw invalidProof(result.description, result.reason);
}

/** The `DPoP-Nonce` to hand out with a response when nonces are on (RFC 9449 §8), else `undefined`. */
export async function nextNonce(exchange: Exchange): Promise<string | undefined> {
  return exchange.ctx.config.dpopNonce ? currentNonce(exchange.keyring.nonceKey, exchange.ctx.now) : undefined;
}
