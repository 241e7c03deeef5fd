/** The web console (docs/console.md) and the home page: static text bundled with the Worker, served with a strict CSP. */

import styles from "../console/console.css";
import script from "../console/console.js";
import home from "../console/home.html";
import page from "../console/index.html";

/**
 * The console's policy: its own script and style only (no inline script, no eval), requests to this origin only
 * (the admin API and the token endpoint), never framed, no form ever submitted natively (so credentials can never
 * end up in a URL), and DOM sinks that parse HTML refused outright (Trusted Types with no policy).
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  // data: only for the empty favicon (`<link rel="icon" href="data:,">`), which spares a request answered 404.
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join("; ");

/** Headers on every console and home-page response. */
export const CONSOLE_HEADERS: Readonly<Record<string, string>> = {
  "Content-Security-Policy": CONSOLE_CSP,
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Resource-Policy": "same-origin",
  // Revalidated on every load (ETag), so a deploy reaches open consoles at their next load.
  "Cache-Control": "no-cache",
};

interface Asset {
  body: string;
  type: string;
  etag?: string;
}

const ASSETS: Readonly<Record<string, Asset>> = {
  page: { body: page, type: "text/html; charset=utf-8" },
  script: { body: script, type: "text/javascript; charset=utf-8" },
  styles: { body: styles, type: "text/css; charset=utf-8" },
  home: { body: home, type: "text/html; charset=utf-8" },
};

export type ConsoleAsset = "page" | "script" | "styles" | "home";

/** A strong validator for a bundled text: FNV-1a over its UTF-16 code units, with its length. Computed once. */
function etagOf(asset: Asset): string {
  if (asset.etag === undefined) {
    let hash = 0x811c9dc5;
    for (let i = 0; i < asset.body.length; i++) {
      hash ^= asset.body.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193);
    }
    asset.etag = `"${asset.body.length.toString(36)}-${(hash >>> 0).toString(36)}"`;
  }
  return asset.etag;
}

/** `GET`/`HEAD` of one console file; `304` when `If-None-Match` names its current ETag. */
export function consoleAsset(request: Request, name: ConsoleAsset): Response {
  const asset = ASSETS[name] as Asset;
  const etag = etagOf(asset);
  const headers = new Headers(CONSOLE_HEADERS);
  headers.set("ETag", etag);
  if (name === "home") headers.set("Vary", "Accept");
  const match = request.headers.get("If-None-Match");
  if (match?.split(",").some((tag) => tag.trim() === etag || tag.trim() === "*")) {
    return new Response(null, { status: 304, headers });
  }
  headers.set("Content-Type", asset.type);
  return new Response(request.method === "HEAD" ? null : asset.body, { status: 200, headers });
}

/** A browser navigating to `/` (its `Accept` lists `text/html`); API clients keep their JSON answers. */
export function wantsHtml(request: Request): boolean {
  const accept = request.headers.get("Accept");
  if (accept === null) return false;
  return accept.split(",").some((range) => {
    const [type, ...params] = range.split(";").map((part) => part.trim().toLowerCase());
    return type === "text/html" && !params.some((param) => /^q=0(\.0*)?$/.test(param));
  });
}
