/**
 * Fetching outside JSON documents (JWKS URLs, OpenID Connect discovery): https only (loopback http for local
 * testing), a timeout, a size cap, and the freshness lifetime their `Cache-Control` grants.
 */

import { readAtMost } from "../util/stream.ts";
import { remoteUrlProblem } from "./url.ts";

export { remoteUrlProblem };

/** A remote document could not be fetched or used; at keymint's endpoints this is 503 `temporarily_unavailable`. */
export class RemoteFetchError extends Error {
  override readonly name = "RemoteFetchError";
  readonly url: string;
  constructor(url: string, reason: string) {
    super(`fetching ${url} failed: ${reason}`);
    this.url = url;
  }
}

/** Something that fetches: the global `fetch`, or a service binding (`env.KEYMINT`) for Worker-to-Worker calls. */
export type Fetcher = (request: Request) => Promise<Response>;

export interface FetchJsonOptions {
  timeoutMs: number;
  maxBytes: number;
  fetcher?: Fetcher | undefined;
}

/** Freshness bounds in seconds: `Cache-Control` is honoured between `min` and `max`; `fallback` without one. */
export interface Lifetime {
  min: number;
  max: number;
  fallback: number;
}

/** Seconds a response may be reused: its `max-age` (`no-store`/`no-cache`: 0) clamped to `lifetime`. */
export function freshnessSeconds(cacheControl: string | null, lifetime: Lifetime): number {
  if (cacheControl === null) return lifetime.fallback;
  const directives = cacheControl.toLowerCase();
  let seconds: number | null = null;
  if (/(^|[\s,])(no-store|no-cache)([\s,=]|$)/.test(directives)) seconds = 0;
  else {
    const match = /(^|[\s,])max-age\s*=\s*"?(\d+)"?/.exec(directives);
    if (match !== null) seconds = Number(match[2]);
  }
  if (seconds === null) return lifetime.fallback;
  return Math.min(lifetime.max, Math.max(lifetime.min, seconds));
}

async function readBounded(response: Response, maxBytes: number, url: string): Promise<string> {
  const declared = Number(response.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel();
    throw new RemoteFetchError(url, `the document exceeds ${maxBytes} bytes`);
  }
  const bytes = await readAtMost(response.body, maxBytes);
  if (bytes === null) throw new RemoteFetchError(url, `the document exceeds ${maxBytes} bytes`);
  return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
}

/**
 * GETs a JSON document. Redirects are not followed (a JWKS or discovery URL is configured exactly); any status but
 * 200, a timeout, an oversized or non-JSON body is a `RemoteFetchError`. Returns the value and the seconds its
 * `Cache-Control` allows it to be reused (within `lifetime`).
 */
export async function fetchJson(
  url: string,
  options: FetchJsonOptions,
  lifetime: Lifetime,
): Promise<{ value: unknown; freshFor: number }> {
  const problem = remoteUrlProblem(url);
  if (problem !== null) throw new RemoteFetchError(url, problem);
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new RemoteFetchError(url, `no answer within ${options.timeoutMs} ms`));
    }, options.timeoutMs);
  });
  const request = new Request(url, {
    headers: { Accept: "application/json, application/jwk-set+json" },
    redirect: "manual",
    signal: controller.signal,
  });
  const fetcher = options.fetcher ?? ((r: Request) => fetch(r));
  try {
    const response = await Promise.race([fetcher(request), timeout]);
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new RemoteFetchError(url, `HTTP status ${response.status}`);
    }
    const text = await Promise.race([readBounded(response, options.maxBytes, url), timeout]);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new RemoteFetchError(url, "the document is not JSON");
    }
    return { value, freshFor: freshnessSeconds(response.headers.get("cache-control"), lifetime) };
  } catch (err) {
    if (err instanceof RemoteFetchError) throw err;
    throw new RemoteFetchError(url, err instanceof Error ? err.message : String(err));
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
