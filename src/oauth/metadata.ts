/** RFC 8414 §2 authorization server metadata for keymint. */

const AUTH_METHODS = ["client_secret_basic", "client_secret_post"];

export interface AuthorizationServerMetadata {
  issuer: string;
  token_endpoint: string;
  introspection_endpoint: string;
  revocation_endpoint: string;
  jwks_uri: string;
  grant_types_supported: string[];
  response_types_supported: string[];
  token_endpoint_auth_methods_supported: string[];
  introspection_endpoint_auth_methods_supported: string[];
  revocation_endpoint_auth_methods_supported: string[];
  scopes_supported?: string[];
}

/** The metadata document; endpoint URLs are built from the issuer so they always agree with `iss`. */
export function metadataFor(issuer: string, scopesSupported: string[] | null): AuthorizationServerMetadata {
  const metadata: AuthorizationServerMetadata = {
    issuer,
    token_endpoint: `${issuer}/oauth2/token`,
    introspection_endpoint: `${issuer}/oauth2/introspect`,
    revocation_endpoint: `${issuer}/oauth2/revoke`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    grant_types_supported: ["client_credentials"],
    // No authorization endpoint: RFC 8414 requires the member, and no response type is supported.
    response_types_supported: [],
    token_endpoint_auth_methods_supported: AUTH_METHODS,
    introspection_endpoint_auth_methods_supported: AUTH_METHODS,
    revocation_endpoint_auth_methods_supported: AUTH_METHODS,
  };
  if (scopesSupported !== null) metadata.scopes_supported = scopesSupported;
  return metadata;
}
