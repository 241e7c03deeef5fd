/** RFC 9728 protected-resource metadata: the document, where it lives, and the `resource_metadata` challenge parameter. */

import { DPOP_ALG_NAMES } from "../oauth/dpop.ts";

/** RFC 9728 §3: the well-known path segment, followed by the resource identifier's path (§3.1). */
export const PROTECTED_RESOURCE_WELL_KNOWN = "/.well-known/oauth-protected-resource";

/** RFC 9728 §2 members the kit publishes. */
export interface ProtectedResourceMetadata {
  resource: string;
  authorization_servers: string[];
  scopes_supported?: string[];
  bearer_methods_supported: string[];
  dpop_signing_alg_values_supported: string[];
  dpop_bound_access_tokens_required: boolean;
  resource_name?: string;
}

/**
 * RFC 9728 §3.1: the metadata URL of a resource identifier, the well-known segment inserted between its host and
 * its path (`https://mcp.example.com/mcp` → `https://mcp.example.com/.well-known/oauth-protected-resource/mcp`).
 * `null` when the identifier is not an http(s) URL without a fragment (§1.2), so it has no metadata URL.
 */
export function metadataUrlFor(resource: string): string | null {
  let url: URL;
  try {
    url = new URL(resource);
  } catch {
    return null;
  }
  if ((url.protocol !== "https:" && url.protocol !== "http:") || resource.includes("#")) return null;
  const path = url.pathname === "/" ? "" : url.pathname;
  return `${url.origin}${PROTECTED_RESOURCE_WELL_KNOWN}${path}${url.search}`;
}

/** The paths a resource's metadata is served at: the §3.1 path-suffixed one, and the bare well-known path. */
export function metadataPathsFor(resource: string): string[] {
  const url = metadataUrlFor(resource);
  if (url === null) return [];
  const { pathname } = new URL(url);
  return pathname === PROTECTED_RESOURCE_WELL_KNOWN ? [pathname] : [pathname, PROTECTED_RESOURCE_WELL_KNOWN];
}

/**
 * The RFC 9728 §2 document. `resource` is the identifier the kit checks every token's `aud` against (§7.4),
 * `authorization_servers` keymint's issuer; the kit reads tokens from the Authorization header only, and always
 * accepts DPoP (RFC 9449 §5.2 members), requiring it when configured so.
 */
export function protectedResourceMetadataFor(input: {
  resource: string;
  issuer: string;
  scopesSupported?: readonly string[] | undefined;
  dpopRequired: boolean;
  resourceName?: string | undefined;
}): ProtectedResourceMetadata {
  const metadata: ProtectedResourceMetadata = {
    resource: input.resource,
    authorization_servers: [input.issuer],
    bearer_methods_supported: ["header"],
    dpop_signing_alg_values_supported: [...DPOP_ALG_NAMES],
    dpop_bound_access_tokens_required: input.dpopRequired,
  };
  if (input.scopesSupported !== undefined) metadata.scopes_supported = [...input.scopesSupported];
  if (input.resourceName !== undefined) metadata.resource_name = input.resourceName;
  return metadata;
}
