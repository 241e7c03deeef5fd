/** `WWW-Authenticate` challenges for access tokens: RFC 6750 §3 (Bearer) and RFC 9449 §7.1 (DPoP). */

import { DPOP_ALG_NAMES } from "./dpop.ts";

/** A quoted-string value fit for a challenge parameter (no `"` or `\`, which would need escaping). */
function quoted(value: string): string {
  return `"${value.replace(/["\\]/g, "")}"`;
}

/** RFC 9449 §7.1 `WWW-Authenticate: DPoP` challenge, with the accepted proof algorithms. */
export function dpopChallenge(
  error?: string,
  description?: string,
  scope?: readonly string[],
  resourceMetadata?: string,
): string {
  const params: string[] = [];
  if (error !== undefined) params.push(`error=${quoted(error)}`);
  if (description !== undefined) params.push(`error_description=${quoted(description)}`);
  if (scope !== undefined && scope.length > 0) params.push(`scope=${quoted(scope.join(" "))}`);
  params.push(`algs="${DPOP_ALG_NAMES.join(" ")}"`);
  if (resourceMetadata !== undefined) params.push(`resource_metadata=${quoted(resourceMetadata)}`);
  return `DPoP ${params.join(", ")}`;
}

/**
 * RFC 6750 §3 `WWW-Authenticate: Bearer` value; `realm` is left out when `undefined`, `resourceMetadata` is
 * RFC 9728 §5.1's parameter.
 */
export function bearerChallenge(
  realm: string | undefined,
  error?: string,
  description?: string,
  scope?: readonly string[],
  resourceMetadata?: string,
): string {
  const params: string[] = [];
  if (realm !== undefined) params.push(`realm=${quoted(realm)}`);
  if (error !== undefined) params.push(`error=${quoted(error)}`);
  if (description !== undefined) params.push(`error_description=${quoted(description)}`);
  if (scope !== undefined && scope.length > 0) params.push(`scope=${quoted(scope.join(" "))}`);
  if (resourceMetadata !== undefined) params.push(`resource_metadata=${quoted(resourceMetadata)}`);
  return params.length === 0 ? "Bearer" : `Bearer ${params.join(", ")}`;
}
