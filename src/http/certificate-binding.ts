/** Certificate-bound access tokens at the token endpoint (RFC 8705 §3): the certificate a new token is bound to. */

import { invalidRequest } from "../oauth/errors.ts";
import { certificateProblem, presentedCertificate } from "../x509/presented.ts";
import type { Exchange } from "./authenticated.ts";
import type { Authenticated } from "./client-auth.ts";

/**
 * The `x5t#S256` a new access token must carry in `cnf`, or `undefined` when the client is not registered with
 * `tls_client_certificate_bound_access_tokens` (then the connection's certificate, if any, plays no part). An
 * mTLS client's token is bound to the certificate it authenticated with; a secret or key client's to the
 * certificate of the connection, which must then be present, unrevoked and within its validity period (else 400
 * `invalid_request`: the client did authenticate, it just cannot get a bound token this way).
 */
export function certificateBinding(exchange: Exchange, authenticated: Authenticated): string | undefined {
  if (!authenticated.client.record.tls_client_certificate_bound_access_tokens) return undefined;
  const certificate = authenticated.certificate ?? presentedCertificate(exchange.request.cf);
  if (certificate === null) {
    throw invalidRequest(
      "This client's access tokens are bound to its TLS client certificate: connect with mutual TLS (RFC 8705 section 3)",
      { detail: "certificate binding without a certificate" },
    );
  }
  const problem = certificateProblem(certificate, exchange.ctx.now);
  if (problem !== null) {
    throw invalidRequest("The TLS client certificate is revoked or outside its validity period", {
      detail: `certificate binding: ${problem}`,
    });
  }
  exchange.audit.certificate = certificate.thumbprint;
  return certificate.thumbprint;
}
