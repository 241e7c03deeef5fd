/** GET /console and GET /: what the Worker serves to browsers, and that API clients keep their JSON answers. */

import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ORIGIN } from "./helpers.ts";

function get(path: string, headers: Record<string, string> = {}, method = "GET"): Promise<Response> {
  return exports.default.fetch(new Request(`${ORIGIN}${path}`, { method, headers }));
}

/** The policy's directives by name. */
function directives(csp: string | null): Map<string, string> {
  expect(csp).not.toBeNull();
  return new Map(
    (csp as string).split(";").map((part) => {
      const [name, ...values] = part.trim().split(/\s+/);
      return [name as string, values.join(" ")];
    }),
  );
}

function expectConsoleHeaders(res: Response): void {
  const csp = directives(res.headers.get("Content-Security-Policy"));
  expect(csp.get("script-src")).toBe("'self'");
  expect(csp.get("default-src")).toBe("'none'");
  expect(csp.get("frame-ancestors")).toBe("'none'");
  expect(csp.get("connect-src")).toBe("'self'");
  expect(csp.get("form-action")).toBe("'none'");
  expect(csp.get("require-trusted-types-for")).toBe("'script'");
  expect(res.headers.get("Content-Security-Policy")).not.toContain("unsafe-");
  expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
  expect(res.headers.get("Referrer-Policy")).toBe("no-referrer");
  expect(res.headers.get("X-Frame-Options")).toBe("DENY");
}

describe("GET /console (CONTRACT: Console)", () => {
  it("serves the console page with a CSP that allows no inline script and no framing", async () => {
    const res = await get("/console", { Accept: "text/html" });
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("text/html; charset=utf-8");
    expectConsoleHeaders(res);
    const html = await res.text();
    expect(html).toContain('<script type="module" src="/console/console.js"></script>');
    expect(html).toContain('<link rel="stylesheet" href="/console/console.css">');
    // No inline script and no inline event handler anywhere: the CSP would refuse them.
    expect(html.match(/<script\b[^>]*>/g)).toEqual(['<script type="module" src="/console/console.js">']);
    expect(html).not.toMatch(/\son[a-z]+=/i);
    expect(html).not.toMatch(/\sstyle=/i);
  });

  it("serves its script and stylesheet with their types and the same headers", async () => {
    const script = await get("/console/console.js");
    expect(script.status).toBe(200);
    expect(script.headers.get("Content-Type")).toBe("text/javascript; charset=utf-8");
    expectConsoleHeaders(script);
    const source = await script.text();
    expect(source).toContain("/oauth2/token");
    expect(source).toContain("client_secret");
    // The sign-in never uses Basic (a failed Basic authentication brings up the browser's own prompt).
    expect(source).not.toMatch(/Basic /);
    // Nothing is ever kept in the browser's storage.
    expect(source).not.toMatch(/localStorage|sessionStorage|document\.cookie|indexedDB/);
    expect(source).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
    const styles = await get("/console/console.css");
    expect(styles.status).toBe(200);
    expect(styles.headers.get("Content-Type")).toBe("text/css; charset=utf-8");
    expectConsoleHeaders(styles);
  });

  it("revalidates with its ETag: 304 for a matching If-None-Match", async () => {
    const first = await get("/console");
    const etag = first.headers.get("ETag");
    expect(etag).toMatch(/^"[0-9a-z]+-[0-9a-z]+"$/);
    expect(first.headers.get("Cache-Control")).toBe("no-cache");
    const again = await get("/console", { "If-None-Match": etag as string });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe("");
    expect(again.headers.get("ETag")).toBe(etag);
    expectConsoleHeaders(again);
    const other = await get("/console", { "If-None-Match": '"stale"' });
    expect(other.status).toBe(200);
  });

  it("answers HEAD without a body, and another method with 405 and Allow", async () => {
    const head = await get("/console", {}, "HEAD");
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
    expectConsoleHeaders(head);
    const post = await get("/console", {}, "POST");
    expect(post.status).toBe(405);
    expect(post.headers.get("Allow")).toBe("GET, HEAD");
    expect(await post.json()).toMatchObject({ error: "invalid_request" });
  });

  it("serves the same page at /console/ (its files have absolute paths)", async () => {
    const res = await get("/console/");
    expect(res.status).toBe(200);
    expectConsoleHeaders(res);
    expect(await res.text()).toBe(await (await get("/console")).text());
  });

  it("keeps JSON 404s for paths under /console that do not exist", async () => {
    const res = await get("/console/nope.js");
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: "invalid_request", error_description: "No such endpoint" });
  });
});

describe("GET /", () => {
  it("gives a browser a small page naming the service and linking the console and the metadata", async () => {
    const res = await get("/", { Accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8" });
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("text/html; charset=utf-8");
    expect(res.headers.get("Vary")).toBe("Accept");
    expectConsoleHeaders(res);
    const html = await res.text();
    expect(html).toContain("<title>keymint</title>");
    expect(html).toContain('href="/console"');
    expect(html).toContain('href="/.well-known/oauth-authorization-server"');
    expect(html).not.toMatch(/<script/);
  });

  it("keeps the JSON 404 for API clients (no Accept, */*, application/json, text/html;q=0)", async () => {
    for (const accept of [undefined, "*/*", "application/json", "text/html;q=0", "text/htmlx"]) {
      const res = await get("/", accept === undefined ? {} : { Accept: accept });
      expect(res.status, String(accept)).toBe(404);
      expect(res.headers.get("Content-Type")).toBe("application/json; charset=utf-8");
      expect(await res.json()).toEqual({ error: "invalid_request", error_description: "No such endpoint" });
    }
  });
});
