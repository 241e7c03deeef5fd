/** Which outside URLs keymint may fetch (JWKS URLs, OpenID Connect issuers): pure, shared with the CLI. */

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

/**
 * Why a URL may not be fetched, or `null` when it may: it must be absolute `https`, or `http` on a loopback host
 * (`127.0.0.1`, `localhost`, `[::1]`) for local testing, without credentials or fragment.
 */
export function remoteUrlProblem(raw: string): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "it is not an absolute URL";
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && LOOPBACK.has(url.hostname))) {
    return "it must use https (plain http only on 127.0.0.1 or localhost)";
  }
  if (url.username !== "" || url.password !== "") return "it must not contain credentials";
  if (url.hash !== "") return "it must not contain a fragment";
  return null;
}
