/** RFC 8414 §2 authorization server metadata for keymint. */

import { CLIENT_KEY_ALGS, MTLS_METHODS } from "../clients/record.ts";
import { DPOP_ALG_NAMES } from "./dpop.ts";

/** Every endpoint authenticates clients the same way; the mTLS methods need Cloudflare mTLS on the hostname. */
const AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", ...MTLS_METHODS];
/** Algorithms accepted on client assertions (private_key_jwt) and federated tokens; `Ed25519` is RFC 9864's name. */
const AUTH_SIGNING_ALGS: string[] = [...CLIENT_KEY_ALGS, "Ed25519"];

export interface AuthorizationServerMetadata {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  introspection_endpoint: string;
  revocation_endpoint: string;
  jwks_uri: string;
  grant_types_supported: string[];
  response_types_supported: string[];
  token_endpoint_auth_methods_supported: string[];
  token_endpoint_auth_signing_alg_values_supported: string[];
  introspection_endpoint_auth_methods_supported: string[];
  introspection_endpoint_auth_signing_alg_values_supported: string[];
  revocation_endpoint_auth_methods_supported: string[];
  revocation_endpoint_auth_signing_alg_values_supported: string[];
  dpop_signing_alg_values_supported: string[];
  /** RFC 8705 §3.3: certificate-bound access tokens are supported. */
  tls_client_certificate_bound_access_tokens: boolean;
  scopes_supported?: string[];
}

/** The metadata document; endpoint URLs are built from the issuer so they always agree with `iss`. */
export function metadataFor(issuer: string, scopesSupported: string[] | null): AuthorizationServerMetadata {
  const metadata: AuthorizationServerMetadata = {
    issuer,
    // Supports no response type (every request is refused): here because RFC 8414 clients such as the MCP SDK
    // require the member.
    authorization_endpoint: `${issuer}/oauth2/authorize`,
    token_endpoint: `${issuer}/oauth2/token`,
    introspection_endpoint: `${issuer}/oauth2/introspect`,
    revocation_endpoint: `${issuer}/oauth2/revoke`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    grant_types_supported: ["client_credentials"],
    // RFC 8414 requires the member; no response type is supported.
    response_types_supported: [],
    token_endpoint_auth_methods_supported: AUTH_METHODS,
    token_endpoint_auth_signing_alg_values_supported: AUTH_SIGNING_ALGS,
    introspection_endpoint_auth_methods_supported: AUTH_METHODS,
    introspection_endpoint_auth_signing_alg_values_supported: AUTH_SIGNING_ALGS,
    revocation_endpoint_auth_methods_supported: AUTH_METHODS,
    revocation_endpoint_auth_signing_alg_values_supported: AUTH_SIGNING_ALGS,
    dpop_signing_alg_values_supported: [...DPOP_ALG_NAMES],
    tls_client_certificate_bound_access_tokens: true,
  };
  if (scopesSupported !== null) metadata.scopes_supported = scopesSupported;
  return metadata;
}
