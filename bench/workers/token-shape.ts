/**
 * The constant response of the floor Workers: shaped and sized like a real keymint token response (an
 * HS256 JWT with keymint's claims for a 32-hex-digit client id) with the same headers (RFC 6749 §5.1).
 */

export const FLOOR_ACCESS_TOKEN =
  "eyJhbGciOiJIUzI1NiIsInR5cCI6ImF0K2p3dCIsImtpZCI6IlFtOXZkSE4wY21Gd1MybGsifQ." +
  "eyJpc3MiOiJodHRwOi8vMTI3LjAuMC4xOjQwMDAwIiwic3ViIjoiMGYzYzliMWU3YTJkNGM1YjhlNmYxYTJiM2M0ZDVlNmYiLCJhdWQiOiJodHRwOi8vMTI3LjAuMC4xOjQwMDAwIiwiZXhwIjoxNzkwMDAwMDAwLCJpYXQiOjE3ODk5OTY0MDAsImp0aSI6IjZmMWMyYTllLTNiN2QtNGU1Zi05YThiLTFjMmQzZTRmNWE2YiIsImNsaWVudF9pZCI6IjBmM2M5YjFlN2EyZDRjNWI4ZTZmMWEyYjNjNGQ1ZTZmIiwic2NvcGUiOiJyZWFkIHdyaXRlIn0." +
  "7Jrrc3SMPdcw1wznJkjehncR_2g3J04cD3Y9rbFNGm0";

export const FLOOR_BODY = JSON.stringify({
  access_token: FLOOR_ACCESS_TOKEN,
  token_type: "Bearer",
  expires_in: 3600,
  scope: "read write",
});

/** The same headers as keymint's NO_STORE_HEADERS (src/http/errors.ts). */
export const FLOOR_HEADERS: Readonly<Record<string, string>> = {
  "Content-Type": "application/json; charset=utf-8",
  "Cache-Control": "no-store",
  Pragma: "no-cache",
};

export const TOKEN_ROUTE = "/oauth2/token";
