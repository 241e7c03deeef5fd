/** DPoP at the token endpoint (RFC 9449 §5): the request's proof, or its absence, for an authenticated client. */

import type { PreparedClient } from "../clients/store.ts";
import { peekJws } from "../jwt/verify.ts";
import { checkDpopProof } from "../oauth/dpop.ts";
import { OAuthError } from "../oauth/errors.ts";
import { proofShard } from "../replay/claim.ts";
import { currentNonce, deriveNonceKey, isFreshNonce } from "../tokens/dpop-nonce.ts";
import type { Exchange } from "./authenticated.ts";
import { oneTimeIdsFor } from "./context.ts";

/** The nonce key, derived once per isolate from the signing key (kept as a value, never a shared promise). */
let nonceMemo: { signing: string; key: CryptoKey } | undefined;

async function nonceKeyOf(exchange: Exchange): Promise<CryptoKey> {
  const signing = String(exchange.env.TOKEN_SIGNING_KEY ?? "");
  if (nonceMemo?.signing === signing) return nonceMemo.key;
  const key = await deriveNonceKey(signing);
  nonceMemo = { signing, key };
  return key;
}

async function nonceChallenge(exchange: Exchange, detail: string): Promise<OAuthError> {
  return new OAuthError("use_dpop_nonce", "A fresh DPoP nonce is required", {
    detail,
    dpopNonce: await currentNonce(await nonceKeyOf(exchange), exchange.ctx.now),
  });
}

/**
 * With `DPOP_NONCE=on`, asks for a nonce (400 `use_dpop_nonce`) before the client is authenticated when the
 * proof carries no fresh one: the client's retry may then reuse its credentials as they are, a client assertion
 * included (whose `jti` would otherwise already be spent). The nonce read here is unverified; the full check
 * after authentication verifies it again, signed. Returns `undefined`, not a promise, when there is nothing to
 * check (nonces off or no proof), so the common token request awaits nothing here.
 */
export function requireFreshNonce(exchange: Exchange): Promise<void> | undefined {
  if (!exchange.ctx.config.dpopNonce) return undefined;
  const proof = exchange.request.headers.get("dpop");
  if (proof === null) return undefined;
  return checkNonce(exchange, proof);
}

async function checkNonce(exchange: Exchange, proof: string): Promise<void> {
  const nonce = peekJws(proof)?.payload.nonce;
  if (!(await isFreshNonce(await nonceKeyOf(exchange), nonce, exchange.ctx.now))) {
    throw await nonceChallenge(exchange, "dpop nonce (before client authentication)");
  }
}

function invalidProof(description: string, reason: string): OAuthError {
  return new OAuthError("invalid_dpop_proof", description, { detail: `dpop ${reason}` });
}

/**
 * Checks the `DPoP` header of a token request and returns the thumbprint (`jkt`) the token must be bound to,
 * or `undefined` when there is no proof and the client does not require one. A client registered with
 * `dpop_bound_access_tokens` must send one. With `DPOP_NONCE=on`, a proof without a fresh server nonce gets
 * 400 `use_dpop_nonce` with a new nonce in `DPoP-Nonce` (RFC 9449 §8). Without a proof the answer is synchronous
 * (no promise on the common path).
 */
export function tokenRequestProof(
  exchange: Exchange,
  client: PreparedClient,
): string | undefined | Promise<string | undefined> {
  const proof = exchange.request.headers.get("dpop");
  if (proof === null) {
    if (!client.record.dpop_bound_access_tokens) return undefined;
    throw invalidProof("This client must send a DPoP proof (RFC 9449 section 5)", "required");
  }
  return checkProof(exchange, proof);
}

async function checkProof(exchange: Exchange, proof: string): Promise<string> {
  const { config, now } = exchange.ctx;
  const nonceKey = config.dpopNonce ? await nonceKeyOf(exchange) : undefined;
  const result = await checkDpopProof(proof, {
    method: exchange.request.method,
    url: exchange.request.url,
    now,
    // Single use everywhere: the proof's jti is spent in the replay guard's object for its key.
    replay: (spent) => oneTimeIdsFor(exchange.env, config).claim(proofShard(spent.jkt), spent.jti, spent.until, now),
    nonce: nonceKey === undefined ? undefined : (nonce) => isFreshNonce(nonceKey, nonce, now),
  });
  if (result.ok) {
    exchange.audit.dpop_jkt = result.jkt;
    return result.jkt;
  }
  if (result.reason === "nonce") throw await nonceChallenge(exchange, "dpop nonce");
  throw invalidProof(result.description, result.reason);
}

/** The `DPoP-Nonce` to hand out with a response when nonces are on (RFC 9449 §8), else `undefined`. */
export async function nextNonce(exchange: Exchange): Promise<string | undefined> {
  return exchange.ctx.config.dpopNonce ? currentNonce(await nonceKeyOf(exchange), exchange.ctx.now) : undefined;
}
