/**
 * The console in a real browser (Debian's chromium through playwright-core) against `npm start` in a scratch
 * copy of the project: the admin client npm start creates, every screen checked with axe, the changes checked
 * from outside with curl (tokens, introspection), and nothing left in storage or the URL.
 */

import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import AxeBuilder from "@axe-core/playwright";
import { exportJWK, generateKeyPair } from "jose";
import type { Browser, BrowserContext, Page, Request as PwRequest } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshMinute } from "../fresh-minute.ts";
import { clients, curl, freePort, ROOT, type Server, scratchProject, startServer } from "../node/helpers.ts";
import { launchChromium, newContext } from "./chromium.ts";

let project: string;
let port: number;
let server: Server;
let browser: Browser;
let admin: { id: string; secret: string };
let demo: { id: string; secret: string };

/** The `client_id:` / `client_secret:` pair printed right after `heading` in npm start's output. */
function printedCredentials(output: string, heading: string): { id: string; secret: string } {
  const after = output.slice(output.indexOf(heading));
  const id = /client_id:\s+(\S+)/.exec(after)?.[1];
  const secret = /client_secret:\s+(\S+)/.exec(after)?.[1];
  if (id === undefined || secret === undefined || !output.includes(heading)) {
    throw new Error(`npm start printed no credentials after "${heading}":\n${output}`);
  }
  return { id, secret };
}

beforeAll(async () => {
  project = await scratchProject();
  port = await freePort();
  server = await startServer("npm", ["start", "--", "--port", String(port), "--ip", "127.0.0.1"], project, port);
  admin = printedCredentials(server.output(), "created a console admin client");
  demo = printedCredentials(server.output(), "created a demo client");
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

let ipCounter = 0;
/** A source address of its own (wrangler dev passes CF-Connecting-IP through), so throttles never meet. */
function freshIp(): string {
  ipCounter += 1;
  return `198.51.${100 + Math.floor(ipCounter / 250)}.${(ipCounter % 250) + 1}`;
}

interface Session {
  context: BrowserContext;
  page: Page;
  /** Every request the page sent. */
  requests: PwRequest[];
  /** Uncaught errors and console errors on the page. */
  errors: string[];
  /** Alerts, confirms and prompts the page opened (an XSS payload would open one). */
  dialogs: string[];
}

async function open(options: { colorScheme?: "light" | "dark"; width?: number; clock?: boolean } = {}) {
  const context = await newContext(browser, { ip: freshIp(), ...options });
  const page = await context.newPage();
  const session: Session = { context, page, requests: [], errors: [], dialogs: [] };
  page.on("request", (request) => session.requests.push(request));
  page.on("pageerror", (err) => session.errors.push(err.message));
  page.on("console", (message) => {
    // Failed requests are logged as errors by Chromium: the tests provoke 401s on purpose.
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) {
      session.errors.push(message.text());
    }
  });
  page.on("dialog", (dialog) => {
    session.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    void dialog.dismiss();
  });
  if (options.clock) await page.clock.install();
  await page.goto(`${server.url}/console`);
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  return session;
}

async function signIn(page: Page, id: string, secret: string): Promise<void> {
  await page.getByLabel("Client ID").fill(id);
  await page.getByLabel("Client secret").fill(secret);
  await page.getByRole("button", { name: "Sign in" }).click();
}

async function signInAsAdmin(page: Page, credentials = admin): Promise<void> {
  await signIn(page, credentials.id, credentials.secret);
  await page.getByRole("heading", { name: "Clients", level: 1 }).waitFor();
}

/** No serious or critical accessibility violation on the screen as it is now. */
async function expectAccessible(page: Page, screen: string): Promise<void> {
  const results = await new AxeBuilder({ page }).analyze();
  const bad = results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  expect(bad, `axe on the ${screen} screen`).toEqual([]);
}

/** The status code and JSON body of a token request with Basic credentials, through curl, from a fresh source. */
async function curlToken(id: string, secret: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await curl([
    "-u",
    `${id}:${secret}`,
    "-H",
    `CF-Connecting-IP: ${freshIp()}`,
    "-d",
    "grant_type=client_credentials",
    "-w",
    "\n%{http_code}",
    `${server.url}/oauth2/token`,
  ]);
  const cut = res.body.lastIndexOf("\n");
  return { status: Number(res.body.slice(cut + 1)), body: JSON.parse(res.body.slice(0, cut)) };
}

/** Polls `check` until it holds: changes reach the token endpoint once the isolate's client cache (10 s) expires. */
async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 40_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The rendered text of the `<dd>` after the `<dt>` named `term`, whitespace collapsed. */
async function definition(page: Page, term: string): Promise<string> {
  const value = page.locator("dt", { hasText: new RegExp(`^${term}$`) }).locator("xpath=following-sibling::dd[1]");
  // biome-ignore lint/performance/useDomNodeTextContent: the text as rendered (list items apart) is what is checked.
  return (await value.first().innerText()).replace(/\s+/g, " ").trim();
}

/** Creates a client through the console's form; returns its id and (for a secret client) its secret. */
async function createClient(page: Page, fields: { name: string; scopes?: string; introspect?: boolean }) {
  await page.getByRole("button", { name: "New client" }).click();
  await page.getByLabel("Name", { exact: true }).fill(fields.name);
  if (fields.scopes !== undefined) await page.getByLabel("Scopes", { exact: true }).fill(fields.scopes);
  if (fields.introspect) await page.getByLabel("May call the introspection endpoint").check();
  await page.getByRole("button", { name: "Create" }).click();
  await page.getByRole("heading", { name: "Client created" }).waitFor();
  const id = await definition(page, "Client ID");
  const secret = (await page.locator(".secret-value code").textContent()) ?? "";
  return { id, secret };
}

function row(page: Page, clientId: string) {
  return page.getByRole("row").filter({ has: page.getByRole("button", { name: clientId, exact: true }) });
}

async function introspect(introspector: { id: string; secret: string }, token: string): Promise<boolean> {
  const res = await curl([
    "-u",
    `${introspector.id}:${introspector.secret}`,
    "-H",
    `CF-Connecting-IP: ${freshIp()}`,
    "--data-urlencode",
    `token=${token}`,
    `${server.url}/oauth2/introspect`,
  ]);
  return (JSON.parse(res.body) as { active: boolean }).active;
}

/** Everything a browser could keep across visits: all must be empty. */
async function storedState(session: Session) {
  const inPage = await session.page.evaluate(async () => ({
    localStorage: localStorage.length,
    sessionStorage: sessionStorage.length,
    cookie: document.cookie,
    indexedDB: (await indexedDB.databases()).length,
    caches: (await caches.keys()).length,
    url: location.href,
  }));
  return { ...inPage, cookies: (await session.context.cookies()).length };
}

describe("GET / and npm start", () => {
  it("gives a browser at / a page naming keymint that links the console and the metadata", async () => {
    const session = await open();
    await session.page.goto(`${server.url}/`);
    await expect(session.page.getByRole("heading", { name: "keymint", level: 1 }).isVisible()).resolves.toBe(true);
    await expect(
      session.page.getByRole("link", { name: "Authorization server metadata" }).getAttribute("href"),
    ).resolves.toBe("/.well-known/oauth-authorization-server");
    await expectAccessible(session.page, "home");
    await session.page.getByRole("link", { name: "Console" }).click();
    await session.page.getByRole("heading", { name: "Sign in" }).waitFor();
    expect(session.page.url()).toBe(`${server.url}/console`);
    expect(session.errors).toEqual([]);
    await session.context.close();
  });

  it("prints the console URL and an admin client after the demo's curl, which stays the first curl line", () => {
    const output = server.output();
    const curlLines = output.split("\n").filter((l) => /curl -u [^ ]* -d grant_type=client_credentials [^ ]*/.test(l));
    expect(curlLines[0]).toContain(`curl -u ${demo.id}:${demo.secret} `);
    expect(output).toContain(`open http://127.0.0.1:${port}/console and sign in with the admin client above`);
    expect(output.indexOf("created a console admin client")).toBeGreaterThan(output.indexOf(curlLines[0] as string));
  });
});

describe("signing in (CONTRACT: Console)", () => {
  it("shows an alert and no clients for a wrong secret, with client_secret_post and never a Basic challenge", async () => {
    const session = await open();
    await expectAccessible(session.page, "sign-in");
    await signIn(session.page, admin.id, "not-the-secret");
    const alert = session.page.getByRole("alert");
    await expect(alert.textContent()).resolves.toContain("client ID or the client secret is wrong");
    expect(await session.page.getByRole("table").count()).toBe(0);
    expect(await session.page.getByLabel("Client secret").inputValue()).toBe("");
    const tokenRequests = session.requests.filter((r) => r.url().endsWith("/oauth2/token"));
    expect(tokenRequests).toHaveLength(1);
    const request = tokenRequests[0] as PwRequest;
    expect(await request.headerValue("authorization")).toBeNull();
    expect(new URLSearchParams(request.postData() ?? "").get("client_id")).toBe(admin.id);
    const response = await request.response();
    expect(response?.status()).toBe(401);
    expect(await response?.headerValue("www-authenticate")).toBeNull();
    await expectAccessible(session.page, "sign-in with an error");
    await session.context.close();
  });

  it("shows an alert and no clients for a client without an admin scope", async () => {
    const session = await open();
    await signIn(session.page, demo.id, demo.secret);
    await expect(session.page.getByRole("alert").textContent()).resolves.toContain("not an admin");
    expect(await session.page.getByRole("table").count()).toBe(0);
    expect(session.requests.some((r) => r.url().includes("/admin/"))).toBe(false);
    await session.context.close();
  });

  it("says so when sign-in attempts are throttled (429 slow_down), with when to try again", async () => {
    const session = await open();
    // Stay inside one rate-limit minute.
    await freshMinute(25);
    let status = 0;
    for (let attempt = 0; attempt < 15 && status !== 429; attempt++) {
      const [response] = await Promise.all([
        session.page.waitForResponse((r) => r.url().endsWith("/oauth2/token")),
        signIn(session.page, admin.id, `wrong-${attempt}`),
      ]);
      status = response.status();
      // The page ignores presses while an attempt is still being handled.
      const button = session.page.getByRole("button", { name: "Sign in" });
      await expect.poll(() => button.getAttribute("aria-disabled")).toBeNull();
    }
    expect(status).toBe(429);
    await session.page.getByRole("alert").filter({ hasText: "Too many" }).waitFor();
    await expect(session.page.getByRole("alert").textContent()).resolves.toMatch(
      /^Too many failed sign-in attempts for this client from your address\. Try again in \d+ seconds\.$/,
    );
    expect(await session.page.getByRole("table").count()).toBe(0);
    await session.context.close();
  });
});

describe("managing clients (CONTRACT: Console)", () => {
  it("creates, rotates, disables, enables, revokes and deletes, each change confirmed from outside", async () => {
    const session = await open();
    const { page } = session;
    let adminToken = "";
    let adminTokenType = "";
    page.on("response", async (response) => {
      if (response.url().endsWith("/oauth2/token") && response.status() === 200) {
        const body = (await response.json()) as { access_token: string; token_type: string };
        adminToken = body.access_token;
        adminTokenType = body.token_type;
      }
    });
    await signInAsAdmin(page);
    // The console's token is DPoP-bound (RFC 9449): copied out of the page, without the page's key, it is refused.
    expect(adminTokenType).toBe("DPoP");
    for (const scheme of ["Bearer", "DPoP"]) {
      const stolen = await curl([
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        `Authorization: ${scheme} ${adminToken}`,
        `${server.url}/admin/clients`,
      ]);
      expect(stolen.body, `${scheme} without the page's proof`).toBe("401");
    }
    await expect(row(page, demo.id).getByRole("cell").first().textContent()).resolves.toBe("demo");
    await expect(row(page, admin.id).count()).resolves.toBe(1);
    await expect(page.getByText(`Signed in as ${admin.id}`).count()).resolves.toBe(1);
    await expectAccessible(page, "clients");

    // New client: the secret is shown once, as text, and works with curl.
    await page.getByRole("button", { name: "New client" }).click();
    await expectAccessible(page, "new client");
    await page.getByRole("button", { name: "Cancel" }).click();
    const introspector = await createClient(page, { name: "introspector", introspect: true });
    const created = await createClient(page, { name: "billing-service", scopes: "read write" });
    expect(created.secret).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    await expectAccessible(page, "client created");
    const first = await curlToken(created.id, created.secret);
    expect(first.status).toBe(200);
    expect(first.body.scope).toBe("read write");
    await expect(row(page, created.id).count()).resolves.toBe(1);

    // Its details: every field, then the actions.
    await page.getByRole("button", { name: "Show the client" }).click();
    await page.getByRole("heading", { name: "billing-service", level: 2 }).waitFor();
    await expect(definition(page, "DPoP")).resolves.toBe("not required");
    await expect(definition(page, "Quota")).resolves.toBe("unlimited");
    await expect(definition(page, "Claims")).resolves.toBe("none");
    await expect(definition(page, "Scopes")).resolves.toBe("read write");
    await expectAccessible(page, "client details");
    expect(adminToken).not.toBe("");
    const during = await page.content();
    expect(during).not.toContain(admin.secret);
    expect(during).not.toContain(adminToken);

    // Rotate with a grace period: the old secret works until it ends, then is refused; the new one works.
    await page.getByLabel("Grace period (seconds)").fill("15");
    await page.getByRole("button", { name: "Rotate secret" }).click();
    await page.getByRole("button", { name: "Copy secret" }).waitFor();
    const rotated = (await page.locator(".secret-value code").textContent()) ?? "";
    expect(rotated).not.toBe(created.secret);
    expect(rotated).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    await expect(definition(page, "Previous secret")).resolves.toMatch(/^valid until /);
    await eventually(
      "the rotated secret gets a token",
      async () => (await curlToken(created.id, rotated)).status === 200,
    );
    expect((await curlToken(created.id, created.secret)).status).toBe(200);
    await eventually(
      "the old secret is refused after the grace period",
      async () => (await curlToken(created.id, created.secret)).status === 401,
    );

    // Disable: token requests refused; enable: accepted again.
    const before = (await curlToken(created.id, rotated)).body.access_token as string;
    expect(await introspect(introspector, before)).toBe(true);
    await page.getByRole("button", { name: "Disable", exact: true }).click();
    await page.getByRole("button", { name: "Enable", exact: true }).waitFor();
    await expect(row(page, created.id).getByText("Disabled").count()).resolves.toBe(1);
    await eventually("a disabled client gets no token", async () => {
      const res = await curlToken(created.id, rotated);
      return res.status === 401 && res.body.error === "invalid_client";
    });
    await page.getByRole("button", { name: "Enable", exact: true }).click();
    await page.getByRole("button", { name: "Disable", exact: true }).waitFor();
    await expect(row(page, created.id).getByText("Enabled").count()).resolves.toBe(1);
    await eventually(
      "an enabled client gets tokens again",
      async () => (await curlToken(created.id, rotated)).status === 200,
    );

    // Revoke tokens: a token issued before is inactive.
    await eventually("the earlier token is active again", () => introspect(introspector, before));
    await page.getByRole("button", { name: "Revoke tokens" }).click();
    await page.getByText(/until now is revoked/).waitFor();
    await eventually(
      "a token issued before the revocation is inactive",
      async () => !(await introspect(introspector, before)),
    );

    // Delete: confirmed in a dialog whose confirming button is also "Delete"; Escape cancels.
    await page.getByRole("button", { name: "Delete", exact: true }).click();
    const dialog = page.getByRole("dialog");
    await expect(dialog.getByRole("button", { name: "Delete", exact: true }).isVisible()).resolves.toBe(true);
    await expectAccessible(page, "delete confirmation");
    await page.keyboard.press("Escape");
    await expect(dialog.count()).resolves.toBe(0);
    await expect(row(page, created.id).count()).resolves.toBe(1);
    await page.getByRole("button", { name: "Delete", exact: true }).click();
    await dialog.getByRole("button", { name: "Delete", exact: true }).click();
    await page.getByText(`Deleted billing-service (${created.id}).`).waitFor();
    await expect(row(page, created.id).count()).resolves.toBe(0);
    await eventually(
      "a deleted client gets no token",
      async () => (await curlToken(created.id, rotated)).status === 401,
    );

    // Search narrows the table.
    await page.getByLabel("Search clients").fill("introspector");
    await expect(
      page
        .getByRole("row")
        .filter({ has: page.getByRole("button") })
        .count(),
    ).resolves.toBe(1);
    await page.getByLabel("Search clients").fill("");

    // Sign out: back to the sign-in page, nothing kept.
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByText("You have signed out.").waitFor();
    expect(await page.getByRole("table").count()).toBe(0);
    expect(await storedState(session)).toEqual({
      localStorage: 0,
      sessionStorage: 0,
      cookie: "",
      indexedDB: 0,
      caches: 0,
      url: `${server.url}/console`,
      cookies: 0,
    });
    expect(adminToken).not.toBe("");
    const html = await page.content();
    for (const secret of [admin.secret, adminToken, created.secret, rotated, introspector.secret]) {
      expect(html).not.toContain(secret);
      for (const request of session.requests) expect(request.url()).not.toContain(secret);
    }
    expect(session.requests.every((r) => new URL(r.url()).origin === server.url)).toBe(true);
    expect(session.errors).toEqual([]);
    expect(session.dialogs).toEqual([]);
    await session.context.close();
  });

  it("shows a client named with HTML as that text, never as markup", async () => {
    const session = await open();
    const { page } = session;
    await signInAsAdmin(page);
    const name = "<img src=x onerror=alert(1)>";
    const created = await createClient(page, { name });
    await page.getByRole("button", { name: "Show the client" }).click();
    await expect(page.getByRole("heading", { level: 2 }).textContent()).resolves.toBe(name);
    await expect(row(page, created.id).getByRole("cell").first().textContent()).resolves.toBe(name);
    expect(await page.locator("main img").count()).toBe(0);
    await page.getByRole("button", { name: "Refresh" }).click();
    await page.getByText(/^Refreshed: /).waitFor();
    await expect(row(page, created.id).getByRole("cell").first().textContent()).resolves.toBe(name);
    expect(await page.locator("img").count()).toBe(0);
    expect(session.dialogs).toEqual([]);
    expect(session.errors).toEqual([]);
    await session.context.close();
  });

  it("shows key-pair, federated and disabled clients for what they are: keys, federation, DPoP, quota", async () => {
    const dir = await mkdtemp(join(tmpdir(), "keymint-console-"));
    const { publicKey } = await generateKeyPair("ES256");
    const jwksFile = join(dir, "jwks.json");
    await writeFile(
      jwksFile,
      JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: "deploy-2026", alg: "ES256" }] }),
    );
    // One after another: three CLI processes writing the local store next to wrangler dev at once can meet a
    // locked SQLite file (KV PUT 500), which is not what this test is about.
    const made = [];
    for (const args of [
      ["create", "--name", "deploy-bot", "--jwks", jwksFile, "--require-dpop", "--quota", "60"],
      [
        "create",
        "--name",
        "ci-release",
        "--federated-issuer",
        "https://token.actions.githubusercontent.com",
        "--federated-subject",
        "repo:acme/app:ref:refs/heads/main",
        "--scope",
        "deploy",
      ],
      ["create", "--name", "legacy-cron", "--scope", "read", "--ttl", "900"],
    ]) {
      made.push(await clients(project, args));
    }
    for (const result of made) expect(result.code, result.stderr).toBe(0);
    const [keys, federated, legacy] = made.map((r) => JSON.parse(r.stdout) as { client_id: string });
    const disabled = await clients(project, ["disable", (legacy as { client_id: string }).client_id]);
    expect(disabled.code, disabled.stderr).toBe(0);

    const session = await open();
    const { page } = session;
    await signInAsAdmin(page);
    const cells = async (id: string) => (await row(page, id).getByRole("cell").allTextContents()).slice(0, 4);
    expect(await cells(keys?.client_id as string)).toEqual(["deploy-bot", "Enabled", "Key pair (JWKS)", "none"]);
    expect(await cells(federated?.client_id as string)).toEqual(["ci-release", "Enabled", "Federated", "deploy"]);
    expect(await cells(legacy?.client_id as string)).toEqual(["legacy-cron", "Disabled", "Secret", "read"]);
    await expect(
      row(page, keys?.client_id as string)
        .getByRole("cell")
        .nth(4)
        .textContent(),
    ).resolves.toBe("no secret");

    await page.getByRole("button", { name: federated?.client_id as string, exact: true }).click();
    await expect(definition(page, "Federated issuer")).resolves.toBe("https://token.actions.githubusercontent.com");
    await expect(definition(page, "Federated subject")).resolves.toBe("repo:acme/app:ref:refs/heads/main");
    await expect(definition(page, "Federated aud")).resolves.toBe("keymint's issuer");
    expect(await page.getByRole("button", { name: "Rotate secret" }).count()).toBe(0);

    await page.getByRole("button", { name: legacy?.client_id as string, exact: true }).click();
    await expect(definition(page, "Token lifetime")).resolves.toBe("900 s (15 min)");
    await expect(page.getByRole("button", { name: "Enable", exact: true }).count()).resolves.toBe(1);

    await page.getByRole("button", { name: keys?.client_id as string, exact: true }).click();
    await expect(definition(page, "Keys")).resolves.toBe("kid deploy-2026 · ES256 · EC P-256");
    await expect(definition(page, "DPoP")).resolves.toBe("required: every token is sender-constrained");
    await expect(definition(page, "Quota")).resolves.toBe("60 tokens per minute");
    await expectAccessible(page, "key client details");
    if (process.env.CONSOLE_SCREENSHOT === "1") {
      // README's picture of the clients screen: `CONSOLE_SCREENSHOT=1 npx vitest run --project browser`.
      await page.screenshot({ path: join(ROOT, "docs", "console.png") });
    }
    await session.context.close();
  });

  it("gives a read-only admin every client and no control that would fail", async () => {
    const made = await clients(project, ["create", "--name", "auditor", "--scope", "keymint:clients:read"]);
    expect(made.code, made.stderr).toBe(0);
    const reader = JSON.parse(made.stdout) as { client_id: string; client_secret: string };
    const session = await open();
    const { page } = session;
    await signInAsAdmin(page, { id: reader.client_id, secret: reader.client_secret });
    await page.getByText(/^Read only: /).waitFor();
    await expect(row(page, demo.id).count()).resolves.toBe(1);
    await page.getByRole("button", { name: demo.id, exact: true }).click();
    await page.getByRole("heading", { name: "demo", level: 2 }).waitFor();
    await expect(definition(page, "Scopes")).resolves.toBe("read write");
    for (const name of ["New client", "Rotate secret", "Disable", "Enable", "Revoke tokens", "Delete"]) {
      expect(await page.getByRole("button", { name, exact: true }).count(), name).toBe(0);
    }
    await expectAccessible(page, "read-only details");
    expect(session.requests.filter((r) => r.url().includes("/admin/")).every((r) => r.method() === "GET")).toBe(true);
    await session.context.close();
  });
});

describe("session and usability", () => {
  it("ends the session when the token expires and says so", async () => {
    const session = await open({ clock: true });
    const { page } = session;
    await signInAsAdmin(page);
    await expect(page.getByText(/^Session ends at /).count()).resolves.toBe(1);
    // The admin client npm start creates has 15-minute tokens.
    await page.clock.fastForward("14:10");
    await page.getByText(/session ends in less than a minute/).waitFor();
    await page.clock.fastForward("01:00");
    await page.getByText(/its access token expired/).waitFor();
    expect(await page.getByRole("table").count()).toBe(0);
    await expect(page.getByRole("button", { name: "Sign out" }).isVisible()).resolves.toBe(false);
    await session.context.close();
  });

  it("works with the keyboard alone: sign in, create a client, delete it", async () => {
    const session = await open();
    const { page } = session;
    const focused = () =>
      page.evaluate(() => document.activeElement?.getAttribute("id") ?? document.activeElement?.textContent);
    await page.keyboard.press("Tab");
    expect(await focused()).toBe("sign-in-id");
    await page.keyboard.type(admin.id);
    await page.keyboard.press("Tab");
    await page.keyboard.type(admin.secret);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Clients", level: 1 }).waitFor();
    expect(await focused()).toBe("clients-title");
    await page.keyboard.press("Tab");
    expect(await focused()).toBe("New client");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "New client" }).waitFor();
    expect(await focused()).toBe("new-title");
    // Close, Name.
    await page.keyboard.press("Tab");
    await page.keyboard.press("Tab");
    expect(await focused()).toBe("new-name");
    await page.keyboard.type("keyboard-made");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Client created" }).waitFor();
    await page.keyboard.press("Tab");
    expect(await focused()).toBe("Copy secret");
    await page.keyboard.press("Tab");
    expect(await focused()).toBe("Show the client");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "keyboard-made", level: 2 }).waitFor();
    const deleteButton = page.getByRole("button", { name: "Delete", exact: true });
    for (let i = 0; i < 10 && !(await deleteButton.evaluate((b) => b === document.activeElement)); i++) {
      await page.keyboard.press("Tab");
    }
    await page.keyboard.press("Enter");
    await page.getByRole("dialog").waitFor();
    expect(await focused()).toBe("Cancel");
    await page.keyboard.press("Tab");
    expect(await focused()).toBe("Delete");
    await page.keyboard.press("Enter");
    await page.getByText(/^Deleted keyboard-made /).waitFor();
    expect(await focused()).toBe("clients-title");
    await session.context.close();
  });

  it("is readable 375 px wide and in dark mode, without horizontal scrolling", async () => {
    const session = await open({ colorScheme: "dark", width: 375 });
    const { page } = session;
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(await overflow()).toBeLessThanOrEqual(0);
    await expectAccessible(page, "sign-in (dark, 375 px)");
    await signInAsAdmin(page);
    expect(await overflow()).toBeLessThanOrEqual(0);
    await expectAccessible(page, "clients (dark, 375 px)");
    await page.getByRole("button", { name: admin.id, exact: true }).click();
    await page.getByRole("heading", { name: "console admin", level: 2 }).waitFor();
    expect(await overflow()).toBeLessThanOrEqual(0);
    await expectAccessible(page, "client details (dark, 375 px)");
    await page.getByRole("button", { name: "New client" }).click();
    expect(await overflow()).toBeLessThanOrEqual(0);
    await expectAccessible(page, "new client (dark, 375 px)");
    await session.context.close();
  });
});

describe("npm start, a second time", () => {
  it("creates no second admin client and prints where the console is", async () => {
    await server.stop();
    const again = await startServer("npm", ["start", "--", "--port", String(port), "--ip", "127.0.0.1"], project, port);
    server = again;
    expect(again.output()).not.toContain("created a console admin client");
    expect(again.output()).not.toContain("created a demo client");
    expect(again.output()).toContain(`keymint: console at http://127.0.0.1:${port}/console`);
  });
});
