// @ts-check
/**
 * keymint console (docs/console.md): a page over the admin API of the same origin, nothing else.
 *
 * - Sign-in gets an access token at /oauth2/token with client_secret_post (never Basic, so a wrong secret can
 *   never bring up the browser's own login prompt). The token lives in this module's memory only: no cookie, no
 *   Web Storage, no URL. The session ends when the token expires or on "Sign out".
 * - Every value from the API reaches the page through textContent or an attribute, never as HTML (the page's
 *   CSP refuses HTML sinks outright: Trusted Types with no policy).
 * - A read-only admin (keymint:clients:read) gets no control that would fail.
 */

const SCOPE_READ = "keymint:clients:read";
const SCOPE_WRITE = "keymint:clients:write";
/** Seconds before the end of a session at which the page says it is about to end. */
const EXPIRY_WARNING = 60;

/**
 * @typedef {object} Client A client object of the admin API (`clients show ID --json`).
 * @property {string} client_id
 * @property {string} name
 * @property {boolean} enabled
 * @property {string[]} scopes
 * @property {string[]} audiences
 * @property {number | null} ttl
 * @property {boolean} can_introspect
 * @property {string} token_endpoint_auth_method
 * @property {string[]} [grant_types]
 * @property {number | null} [quota_per_minute]
 * @property {number | null} [tokens_revoked_before]
 * @property {boolean} [dpop_bound_access_tokens]
 * @property {{ keys: Record<string, unknown>[] } | null} [jwks]
 * @property {string | null} [jwks_uri]
 * @property {{ issuer: string, subject: string, audience: string | null } | null} [federation]
 * @property {{ created_at: string, expires_at: number | null }[]} [secrets]
 * @property {number} [client_secret_expires_at]
 * @property {Record<string, unknown> | null} [claims]
 * @property {string} [created_at]
 * @property {string} [updated_at]
 * @property {string} [secret_rotated_at]
 * @property {string} [problem] Set by the console for a record the API could not read (`{client_id, error}`).
 */

/**
 * @typedef {object} Session
 * @property {AdminCredential} credential
 * @property {string} clientId
 * @property {boolean} canWrite
 * @property {number} expiresAt Milliseconds since the epoch.
 * @property {number[]} timers
 */

/** @type {Session | null} */
let session = null;
/** @type {Client[]} */
let clients = [];
/** @type {string | null} */
let selectedId = null;

/** The session ended (expired, signed out or refused): whatever was being done stops quietly. */
class SessionEnded extends Error {}

/** An error answer of the admin API or the token endpoint (RFC 6749 §5.2 body). */
class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} description
   */
  constructor(status, code, description) {
    super(description || code);
    this.status = status;
    this.code = code;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// DOM helpers: elements are built with text children only.

/**
 * @param {string} tag
 * @param {Record<string, string | boolean | undefined>} [attributes]
 * @param {...(Node | string | null | undefined)} children
 * @returns {HTMLElement}
 */
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) element.append(child);
  }
  return element;
}

/**
 * @template {Element} T
 * @param {ParentNode} root
 * @param {string} name
 * @param {new (...args: any[]) => T} type
 * @returns {T}
 */
function slot(root, name, type) {
  const element = root.querySelector(`[data-slot="${name}"]`);
  if (!(element instanceof type)) throw new Error(`console: no ${type.name} slot "${name}"`);
  return element;
}

/**
 * @param {string} id
 * @returns {DocumentFragment}
 */
function template(id) {
  const element = document.getElementById(id);
  if (!(element instanceof HTMLTemplateElement)) throw new Error(`console: no template #${id}`);
  return /** @type {DocumentFragment} */ (element.content.cloneNode(true));
}

/**
 * @template {Element} T
 * @param {string} id
 * @param {new (...args: any[]) => T} type
 * @returns {T}
 */
function byId(id, type) {
  const element = document.getElementById(id);
  if (!(element instanceof type)) throw new Error(`console: no ${type.name} #${id}`);
  return element;
}

/**
 * Shows an error in `container` as an alert (announced at once by screen readers).
 * @param {Element} container
 * @param {string} message
 */
function showAlert(container, message) {
  container.replaceChildren(h("p", { role: "alert", class: "alert" }, message));
}

/**
 * Shows a confirmation in `container` (announced politely).
 * @param {Element} container
 * @param {string} message
 */
function showStatus(container, message) {
  container.replaceChildren(h("p", { role: "status", class: "notice" }, message));
}

/** @param {HTMLElement} element */
function focus(element) {
  element.focus({ preventScroll: false });
}

/**
 * Runs `work` for a button; while it runs, the button says it is busy and ignores further presses (it stays
 * focusable, so keyboard users keep their place).
 * @param {HTMLButtonElement} button
 * @param {() => Promise<void>} work
 * @param {(message: string) => void} onError
 */
async function busy(button, work, onError) {
  if (button.getAttribute("aria-disabled") === "true") return;
  button.setAttribute("aria-disabled", "true");
  try {
    await work();
  } catch (err) {
    if (!(err instanceof SessionEnded)) onError(describeError(err));
  } finally {
    button.removeAttribute("aria-disabled");
  }
}

/**
 * Runs `work` when `form` is submitted (Enter in a field or its submit button), through `busy` on that button.
 * @param {HTMLFormElement} form
 * @param {() => Promise<void>} work
 * @param {(message: string) => void} onError
 */
function onSubmit(form, work, onError) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    if (button instanceof HTMLButtonElement) void busy(button, work, onError);
  });
}

/** @param {unknown} err */
function describeError(err) {
  if (err instanceof ApiError) {
    if (err.status === 403) {
      return `keymint refused: ${err.message}. This needs an admin client with ${SCOPE_WRITE}.`;
    }
    return err.message;
  }
  if (err instanceof TypeError) return "keymint cannot be reached. Check the connection and try again.";
  return err instanceof Error ? err.message : String(err);
}

// ---------------------------------------------------------------------------------------------------------------
// Formatting

/** @param {number} seconds Unix time. */
function formatUnix(seconds) {
  return formatDate(new Date(seconds * 1000));
}

/** @param {Date} date */
function formatDate(date) {
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** @param {string | undefined} iso */
function formatIso(iso) {
  if (iso === undefined) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : formatDate(date);
}

/** @param {number} seconds */
function formatDuration(seconds) {
  if (seconds % 86400 === 0) return `${seconds / 86400} d`;
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

/** @param {Client} client */
function isSecretClient(client) {
  return client.token_endpoint_auth_method.startsWith("client_secret");
}

/** How the client authenticates, in words. @param {Client} client */
function authLabel(client) {
  switch (client.token_endpoint_auth_method) {
    case "client_secret_basic":
    case "client_secret_post":
      return "Secret";
    case "private_key_jwt":
      if (client.federation) return "Federated";
      if (client.jwks_uri) return "Key pair (JWKS URL)";
      return "Key pair (JWKS)";
    case "tls_client_auth":
      return "mTLS certificate (PKI)";
    case "self_signed_tls_client_auth":
      return "mTLS certificate (self-signed)";
    default:
      return client.token_endpoint_auth_method;
  }
}

/**
 * When the client's current secret expires: "never", a date, or a warning when it is close or past.
 * @param {Client} client
 * @returns {{ text: string, className?: string }}
 */
function secretExpiry(client) {
  if (!isSecretClient(client)) return { text: "no secret", className: "muted" };
  const current = client.secrets?.[0];
  const fromSecrets = current === undefined ? undefined : current.expires_at;
  const expiresAt =
    typeof client.client_secret_expires_at === "number"
      ? client.client_secret_expires_at === 0
        ? null
        : client.client_secret_expires_at
      : (fromSecrets ?? null);
  if (expiresAt === null) return { text: "never" };
  const left = expiresAt - Date.now() / 1000;
  if (left <= 0) return { text: `expired ${formatUnix(expiresAt)}`, className: "expiring" };
  if (left < 7 * 86400)
    return { text: `${formatUnix(expiresAt)} (in ${Math.ceil(left / 86400)} d)`, className: "expiring" };
  return { text: formatUnix(expiresAt) };
}

// ---------------------------------------------------------------------------------------------------------------
// Talking to keymint

/**
 * @param {Response} response
 * @returns {Promise<Record<string, unknown> | null>}
 */
async function jsonBody(response) {
  try {
    const body = await response.json();
    return typeof body === "object" && body !== null ? body : null;
  } catch {
    return null;
  }
}

// DPoP (RFC 9449): each sign-in makes a P-256 key pair whose private half cannot be exported, and the token is
// bound to it. A token copied out of the page is useless without that key, which lives only in this page.

/**
 * @typedef {object} AdminCredential What the page authenticates admin API calls with.
 * @property {string} token
 * @property {"DPoP" | "Bearer"} type
 * @property {ProofKey | null} key
 */

/** @typedef {{ privateKey: CryptoKey, jwk: { kty: string, crv: string, x: string, y: string } }} ProofKey */

/** Milliseconds to add to the local clock for keymint's (from `Date` headers), so proofs' `iat` fit its window. */
let clockOffset = 0;

/** @param {Response} response */
function learnClock(response) {
  const date = Date.parse(response.headers.get("Date") ?? "");
  if (!Number.isNaN(date)) clockOffset = date - Date.now();
}

/** @param {Uint8Array} bytes */
function base64url(bytes) {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** @param {unknown} value */
function jsonPart(value) {
  return base64url(new TextEncoder().encode(JSON.stringify(value)));
}

/** @returns {Promise<ProofKey | null>} `null` where WebCrypto is unavailable (not a secure context). */
async function newProofKey() {
  if (globalThis.crypto?.subtle === undefined) return null;
  const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
  const { kty, crv, x, y } = await crypto.subtle.exportKey("jwk", pair.publicKey);
  if (kty === undefined || crv === undefined || x === undefined || y === undefined) return null;
  return { privateKey: pair.privateKey, jwk: { kty, crv, x, y } };
}

/**
 * A DPoP proof for one request (RFC 9449 §4.2): `htu` without query, `ath` when it carries an access token.
 * @param {ProofKey} key
 * @param {string} method
 * @param {string} path
 * @param {{ token?: string, nonce?: string | null }} [bound]
 */
async function proofFor(key, method, path, bound = {}) {
  const url = new URL(path, location.origin);
  /** @type {Record<string, unknown>} */
  const claims = {
    jti: crypto.randomUUID(),
    htm: method,
    htu: `${url.origin}${url.pathname}`,
    iat: Math.floor((Date.now() + clockOffset) / 1000),
  };
  if (bound.token !== undefined) {
    claims.ath = base64url(
      new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(bound.token))),
    );
  }
  if (bound.nonce) claims.nonce = bound.nonce;
  const input = `${jsonPart({ typ: "dpop+jwt", alg: "ES256", jwk: key.jwk })}.${jsonPart(claims)}`;
  const signature = await crypto.subtle.sign(
    { name: "ECDSA", hash: "SHA-256" },
    key.privateKey,
    new TextEncoder().encode(input),
  );
  return `${input}.${base64url(new Uint8Array(signature))}`;
}

/**
 * Whether keymint asked for a fresh DPoP nonce (RFC 9449 §8, §9); the caller retries once with it.
 * @param {Response} response
 * @param {Record<string, unknown> | null} data
 */
function nonceRequested(response, data) {
  const challenge = response.headers.get("WWW-Authenticate") ?? "";
  return (
    response.headers.has("DPoP-Nonce") && (data?.error === "use_dpop_nonce" || challenge.includes("use_dpop_nonce"))
  );
}

/**
 * One admin API call with `credential`; an error answer becomes an `ApiError`.
 * @param {AdminCredential} credential
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<any>}
 */
async function call(credential, method, path, body) {
  /** @type {string | null} */
  let nonce = null;
  for (let attempt = 0; ; attempt++) {
    /** @type {Record<string, string>} */
    const headers = { Authorization: `${credential.type} ${credential.token}`, Accept: "application/json" };
    if (credential.key !== null) {
      headers.DPoP = await proofFor(credential.key, method, path, { token: credential.token, nonce });
    }
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
      redirect: "error",
    });
    learnClock(response);
    if (response.status === 204) return null;
    const data = await jsonBody(response);
    if (credential.key !== null && attempt === 0 && nonceRequested(response, data)) {
      nonce = response.headers.get("DPoP-Nonce");
      continue;
    }
    if (!response.ok) {
      throw new ApiError(
        response.status,
        typeof data?.error === "string" ? data.error : "error",
        typeof data?.error_description === "string" ? data.error_description : `HTTP ${response.status}`,
      );
    }
    if (data === null) {
      throw new ApiError(response.status, "server_error", "keymint answered something other than JSON");
    }
    return data;
  }
}

/**
 * One admin API call in the session. A 401 ends the session (the token expired or was revoked, or its client was
 * disabled or deleted) and is said on the sign-in page.
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<any>}
 */
async function api(method, path, body) {
  const current = session;
  if (current === null) throw new SessionEnded();
  if (Date.now() >= current.expiresAt) {
    expireSession();
    throw new SessionEnded();
  }
  try {
    const data = await call(current.credential, method, path, body);
    if (session !== current) throw new SessionEnded();
    return data;
  } catch (err) {
    if (session !== current) throw new SessionEnded();
    if (err instanceof ApiError && err.status === 401) {
      endSession(`Your session has ended: keymint no longer accepts its token (${err.message}). Sign in again.`);
      throw new SessionEnded();
    }
    throw err;
  }
}

/** @param {string} id */
function clientPath(id) {
  return `/admin/clients/${encodeURIComponent(id)}`;
}

/**
 * A list entry for a record keymint could not read: shown (and deletable), never acted on otherwise.
 * @param {{ client_id: string, error: string }} entry
 * @returns {Client}
 */
function unreadable(entry) {
  return {
    client_id: entry.client_id,
    name: "(unreadable record)",
    enabled: false,
    scopes: [],
    audiences: [],
    ttl: null,
    can_introspect: false,
    token_endpoint_auth_method: "unknown",
    problem: entry.error,
  };
}

/** @param {Client} a @param {Client} b */
function byName(a, b) {
  return a.name.localeCompare(b.name) || a.client_id.localeCompare(b.client_id);
}

/**
 * Every client, following the cursor through all pages.
 * @param {(method: string, path: string) => Promise<any>} get
 * @returns {Promise<Client[]>}
 */
async function fetchAllClients(get) {
  /** @type {Client[]} */
  const all = [];
  /** @type {string | undefined} */
  let cursor;
  do {
    const page = await get(
      "GET",
      `/admin/clients${cursor === undefined ? "" : `?cursor=${encodeURIComponent(cursor)}`}`,
    );
    for (const entry of page.clients) all.push(typeof entry.error === "string" ? unreadable(entry) : entry);
    cursor = typeof page.cursor === "string" && page.cursor !== "" ? page.cursor : undefined;
  } while (cursor !== undefined);
  return all.sort(byName);
}

/**
 * Exchanges an admin client's credentials for an access token (client_secret_post), DPoP-bound to a new key
 * pair when WebCrypto is there.
 * @param {string} clientId
 * @param {string} secret
 * @returns {Promise<{ credential: AdminCredential, expiresIn: number, scopes: string[] }>}
 */
async function requestToken(clientId, secret) {
  const key = await newProofKey();
  /** @type {string | null} */
  let nonce = null;
  /** @type {Response} */
  let response;
  /** @type {Record<string, unknown> | null} */
  let data;
  for (let attempt = 0; ; attempt++) {
    /** @type {Record<string, string>} */
    const headers = { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" };
    if (key !== null) headers.DPoP = await proofFor(key, "POST", "/oauth2/token", { nonce });
    response = await fetch("/oauth2/token", {
      method: "POST",
      headers,
      body: new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: secret }),
      credentials: "omit",
      cache: "no-store",
      redirect: "error",
    });
    learnClock(response);
    data = await jsonBody(response);
    if (key === null || attempt > 0 || !nonceRequested(response, data)) break;
    nonce = response.headers.get("DPoP-Nonce");
  }
  if (response.status === 429) {
    const wait = Number(response.headers.get("Retry-After"));
    const when = Number.isFinite(wait) && wait > 0 ? `in ${Math.ceil(wait)} seconds` : "later";
    throw new Error(`Too many failed sign-in attempts for this client from your address. Try again ${when}.`);
  }
  if (response.status === 401) {
    throw new Error("Sign-in failed: the client ID or the client secret is wrong, or the client is disabled.");
  }
  if (!response.ok || data === null || typeof data.access_token !== "string") {
    const description =
      typeof data?.error_description === "string" ? data.error_description : `HTTP ${response.status}`;
    throw new Error(`Sign-in failed: ${description}.`);
  }
  const expiresIn = typeof data.expires_in === "number" && data.expires_in > 0 ? data.expires_in : 300;
  const scopes = typeof data.scope === "string" ? data.scope.split(" ").filter(Boolean) : [];
  const bound = key !== null && data.token_type === "DPoP";
  return {
    credential: { token: data.access_token, type: bound ? "DPoP" : "Bearer", key: bound ? key : null },
    expiresIn,
    scopes,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Session

function mainElement() {
  return byId("main", HTMLElement);
}

/** @param {string} [notice] */
function showSignIn(notice) {
  const view = template("t-sign-in");
  const form = slot(view, "form", HTMLFormElement);
  const idInput = slot(view, "id", HTMLInputElement);
  const secretInput = slot(view, "secret", HTMLInputElement);
  const error = slot(view, "error", HTMLElement);
  slot(view, "notice", HTMLElement).textContent = notice ?? "";
  onSubmit(
    form,
    async () => {
      const clientId = idInput.value.trim();
      const secret = secretInput.value;
      if (clientId === "" || secret === "") {
        showAlert(error, "Enter the client ID and the client secret of an admin client.");
        focus(clientId === "" ? idInput : secretInput);
        return;
      }
      error.replaceChildren();
      try {
        await signIn(clientId, secret);
      } finally {
        secretInput.value = "";
      }
    },
    (message) => {
      showAlert(error, message);
      focus(secretInput);
    },
  );
  mainElement().replaceChildren(view);
  byId("session", HTMLElement).hidden = true;
  focus(byId("sign-in-title", HTMLElement));
}

/**
 * @param {string} clientId
 * @param {string} secret
 */
async function signIn(clientId, secret) {
  const { credential, expiresIn, scopes } = await requestToken(clientId, secret);
  const canWrite = scopes.includes(SCOPE_WRITE);
  if (!canWrite && !scopes.includes(SCOPE_READ)) {
    throw new Error(
      `This client is not an admin: its tokens have no ${SCOPE_READ} (read only) or ${SCOPE_WRITE} scope.`,
    );
  }
  /** @type {Client[]} */
  let listed;
  try {
    listed = await fetchAllClients((method, path) => call(credential, method, path));
  } catch (err) {
    if (err instanceof ApiError && err.status === 403) {
      throw new Error(`This client's token may not read clients: it needs ${SCOPE_READ} or ${SCOPE_WRITE}.`);
    }
    if (err instanceof ApiError && err.status === 401) {
      throw new Error(
        `keymint issued a token but its admin API refused it (${err.message}). The admin client's tokens must have keymint's issuer as their audience: create it without an audience.`,
      );
    }
    throw err;
  }
  /** @type {Session} */
  const started = { credential, clientId, canWrite, expiresAt: Date.now() + expiresIn * 1000, timers: [] };
  dropSession();
  session = started;
  clients = listed;
  started.timers.push(
    window.setTimeout(expireSession, Math.max(0, started.expiresAt - Date.now())),
    window.setTimeout(warnExpiry, Math.max(0, started.expiresAt - Date.now() - EXPIRY_WARNING * 1000)),
  );
  showSessionBar(started);
  selectedId = null;
  showClients();
}

/** @param {Session} current */
function showSessionBar(current) {
  byId("session-client", HTMLElement).textContent = current.clientId;
  byId("session-role", HTMLElement).textContent = current.canWrite ? "admin" : "read only";
  const ends = new Date(current.expiresAt).toLocaleTimeString(undefined, { timeStyle: "short" });
  byId("session-expiry", HTMLElement).textContent = `Session ends at ${ends}`;
  byId("session", HTMLElement).hidden = false;
}

function warnExpiry() {
  if (session === null) return;
  byId("session-expiry", HTMLElement).replaceChildren(
    h("span", { role: "status" }, "Your session ends in less than a minute: sign in again to continue."),
  );
}

/** Forgets the token and everything read with it. */
function dropSession() {
  if (session !== null) for (const timer of session.timers) window.clearTimeout(timer);
  session = null;
  clients = [];
  selectedId = null;
}

/** @param {string} notice Said on the sign-in page. */
function endSession(notice) {
  dropSession();
  showSignIn(notice);
}

function expireSession() {
  if (session === null) return;
  const ended = new Date(session.expiresAt).toLocaleTimeString(undefined, { timeStyle: "short" });
  endSession(`Your session ended at ${ended}: its access token expired. Sign in again to continue.`);
}

// ---------------------------------------------------------------------------------------------------------------
// Clients view

/** The parts of the clients view that later renders update. */
let view =
  /** @type {null | { rows: HTMLElement, count: HTMLElement, search: HTMLInputElement, panel: HTMLElement, message: HTMLElement }} */ (
    null
  );

function showClients() {
  const current = session;
  if (current === null) return;
  const fragment = template("t-clients");
  const rows = slot(fragment, "rows", HTMLElement);
  const count = slot(fragment, "count", HTMLElement);
  const search = slot(fragment, "search", HTMLInputElement);
  const panel = slot(fragment, "panel", HTMLElement);
  const message = slot(fragment, "message", HTMLElement);
  const newButton = slot(fragment, "new", HTMLButtonElement);
  const refresh = slot(fragment, "refresh", HTMLButtonElement);
  if (current.canWrite) {
    newButton.addEventListener("click", () => showNewClient());
  } else {
    newButton.remove();
    slot(fragment, "read-only", HTMLElement).hidden = false;
  }
  refresh.addEventListener("click", () =>
    busy(
      refresh,
      async () => {
        clients = await fetchAllClients(api);
        renderRows();
        if (selectedId !== null) {
          const selected = clients.find((c) => c.client_id === selectedId);
          if (selected === undefined) closePanel();
          else showDetails(selected, { focusTitle: false });
        }
        showStatus(message, `Refreshed: ${clients.length} client${clients.length === 1 ? "" : "s"}.`);
      },
      (text) => showAlert(message, text),
    ),
  );
  search.addEventListener("input", () => renderRows());
  view = { rows, count, search, panel, message };
  mainElement().replaceChildren(fragment);
  renderRows();
  focus(byId("clients-title", HTMLElement));
}

/** @param {Client} client @param {string} query */
function matches(client, query) {
  if (query === "") return true;
  const haystack = [
    client.client_id,
    client.name,
    client.enabled ? "enabled" : "disabled",
    authLabel(client),
    client.token_endpoint_auth_method,
    ...client.scopes,
    ...client.audiences,
  ]
    .join("\n")
    .toLowerCase();
  return query
    .toLowerCase()
    .split(/\s+/)
    .every((word) => haystack.includes(word));
}

function renderRows() {
  if (view === null) return;
  const query = view.search.value.trim();
  const shown = clients.filter((client) => matches(client, query));
  view.rows.replaceChildren(...shown.map(clientRow));
  if (shown.length === 0) {
    view.rows.append(
      h(
        "tr",
        {},
        h(
          "td",
          { colspan: "6", class: "empty" },
          clients.length === 0 ? "No clients yet." : "No client matches the search.",
        ),
      ),
    );
  }
  const total = `${clients.length} client${clients.length === 1 ? "" : "s"}`;
  view.count.textContent = query === "" ? total : `${shown.length} of ${total} match`;
}

/**
 * @param {string} label
 * @param {...(Node | string)} content
 */
function cell(label, ...content) {
  return h("td", { "data-label": label }, ...content);
}

/** @param {Client} client */
function clientRow(client) {
  const open = h("button", { type: "button", class: "link", "aria-controls": "client-panel" }, client.client_id);
  open.addEventListener("click", () => showDetails(client, { focusTitle: true }));
  const expiry = secretExpiry(client);
  return h(
    "tr",
    { "aria-current": client.client_id === selectedId ? "true" : undefined },
    h("th", { scope: "row", "data-label": "Client ID" }, open),
    cell("Name", client.name),
    cell("Status", statusBadge(client)),
    cell("Authentication", authLabel(client)),
    cell("Scopes", scopeList(client.scopes)),
    cell("Secret expires", h("span", { class: expiry.className }, expiry.text)),
  );
}

/** @param {Client} client */
function statusBadge(client) {
  if (client.problem !== undefined) return h("span", { class: "status-disabled" }, "Unreadable");
  return h(
    "span",
    { class: client.enabled ? "status-enabled" : "status-disabled" },
    client.enabled ? "Enabled" : "Disabled",
  );
}

/**
 * A token as text with line-break opportunities after `:`, `/` and `.` (scopes like `keymint:clients:write`, URLs),
 * so narrow columns wrap between its parts instead of inside them.
 * @param {string} text
 * @returns {(string | HTMLElement)[]}
 */
function breakable(text) {
  return text.split(/(?<=[:/.])/).flatMap((part, i) => (i === 0 ? [part] : [h("wbr"), part]));
}

/** @param {string[]} scopes */
function scopeList(scopes) {
  if (scopes.length === 0) return h("span", { class: "muted" }, "none");
  return h("ul", { class: "scope-list" }, ...scopes.map((scope) => h("li", {}, h("code", {}, ...breakable(scope)))));
}

/** Replaces a client in the list (after a change) and re-renders the table. @param {Client} client */
function storeClient(client) {
  const index = clients.findIndex((c) => c.client_id === client.client_id);
  const { client_secret: _secret, ...plain } = /** @type {Client & { client_secret?: string }} */ (client);
  if (index === -1) clients.push(plain);
  else clients[index] = plain;
  clients.sort(byName);
  renderRows();
  return plain;
}

function closePanel() {
  if (view === null) return;
  const previous = selectedId;
  selectedId = null;
  view.panel.hidden = true;
  view.panel.replaceChildren();
  renderRows();
  const button = previous === null ? null : findRowButton(previous);
  focus(button ?? byId("clients-title", HTMLElement));
}

/** @param {string} id */
function findRowButton(id) {
  if (view === null) return null;
  for (const button of view.rows.querySelectorAll("th button")) {
    if (button.textContent === id && button instanceof HTMLElement) return button;
  }
  return null;
}

/**
 * @param {DocumentFragment} content
 * @param {string} titleId
 */
function openPanel(content, titleId) {
  if (view === null) return;
  view.panel.replaceChildren(content);
  view.panel.hidden = false;
  renderRows();
  focus(byId(titleId, HTMLElement));
}

// ---------------------------------------------------------------------------------------------------------------
// One client

/**
 * @param {Element} list
 * @param {string} term
 * @param {Node | string} value
 */
function field(list, term, value) {
  list.append(h("dt", {}, term), h("dd", {}, value));
}

/** @param {unknown} value */
function json(value) {
  return h("pre", {}, JSON.stringify(value, null, 2));
}

/** Fields rendered on their own; anything else the API sends is listed as is. */
const KNOWN_FIELDS = new Set([
  "client_id",
  "name",
  "enabled",
  "scopes",
  "audiences",
  "ttl",
  "can_introspect",
  "token_endpoint_auth_method",
  "grant_types",
  "quota_per_minute",
  "tokens_revoked_before",
  "dpop_bound_access_tokens",
  "jwks",
  "jwks_uri",
  "federation",
  "tls_client_auth_subject_dn",
  "tls_client_auth_san_dns",
  "tls_client_auth_san_uri",
  "tls_client_auth_san_ip",
  "tls_client_auth_san_email",
  "tls_client_certificate_thumbprints",
  "tls_client_certificate_bound_access_tokens",
  "secrets",
  "client_secret",
  "client_secret_expires_at",
  "claims",
  "created_at",
  "updated_at",
  "secret_rotated_at",
]);

/** @param {Element} list @param {Client} client */
function describeClient(list, client) {
  field(list, "Client ID", h("code", {}, client.client_id));
  field(list, "Name", client.name);
  field(list, "Status", statusBadge(client));
  if (client.problem !== undefined) {
    field(list, "Problem", `keymint cannot read this record: ${client.problem}`);
    return;
  }
  field(list, "Authentication", `${authLabel(client)} (${client.token_endpoint_auth_method})`);
  field(list, "Scopes", scopeList(client.scopes));
  field(
    list,
    "Audiences",
    client.audiences.length === 0
      ? h("span", { class: "muted" }, "deployment default")
      : h("ul", {}, ...client.audiences.map((aud) => h("li", {}, h("code", {}, aud)))),
  );
  field(
    list,
    "Token lifetime",
    client.ttl === null ? "deployment default" : `${client.ttl} s (${formatDuration(client.ttl)})`,
  );
  if (client.grant_types !== undefined) {
    field(
      list,
      "Grants",
      client.grant_types.length === 0 ? "none (introspection only)" : client.grant_types.join(", "),
    );
  }
  field(list, "Introspection", client.can_introspect ? "may introspect tokens" : "no");
  field(list, "DPoP", client.dpop_bound_access_tokens ? "required: every token is sender-constrained" : "not required");
  field(
    list,
    "Quota",
    client.quota_per_minute === null || client.quota_per_minute === undefined
      ? "unlimited"
      : `${client.quota_per_minute} tokens per minute`,
  );
  const claims = client.claims ?? null;
  field(
    list,
    "Claims",
    claims === null || Object.keys(claims).length === 0 ? h("span", { class: "muted" }, "none") : json(claims),
  );
  if (client.jwks) {
    field(
      list,
      "Keys",
      h(
        "ul",
        {},
        ...client.jwks.keys.map((key) =>
          h(
            "li",
            {},
            [
              `kid ${typeof key.kid === "string" && key.kid !== "" ? key.kid : "(none)"}`,
              typeof key.alg === "string" ? key.alg : "",
              [key.kty, key.crv].filter((part) => typeof part === "string").join(" "),
            ]
              .filter(Boolean)
              .join(" · "),
          ),
        ),
      ),
    );
  }
  if (client.jwks_uri) field(list, "JWKS URL", h("code", {}, client.jwks_uri));
  if (client.federation) {
    field(list, "Federated issuer", h("code", {}, client.federation.issuer));
    field(list, "Federated subject", h("code", {}, client.federation.subject));
    field(
      list,
      "Federated aud",
      client.federation.audience === null ? "keymint's issuer" : h("code", {}, client.federation.audience),
    );
  }
  /** @type {[string, string][]} */
  const subjects = [
    ["tls_client_auth_subject_dn", "Certificate subject"],
    ["tls_client_auth_san_dns", "Certificate DNS name"],
    ["tls_client_auth_san_uri", "Certificate URI"],
    ["tls_client_auth_san_ip", "Certificate IP address"],
    ["tls_client_auth_san_email", "Certificate email"],
  ];
  const record = /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (client));
  for (const [name, label] of subjects) {
    const value = record[name];
    if (typeof value === "string" && value !== "") field(list, label, h("code", {}, value));
  }
  const thumbprints = record.tls_client_certificate_thumbprints;
  if (Array.isArray(thumbprints) && thumbprints.length > 0) {
    field(
      list,
      "Certificates (x5t#S256)",
      h("ul", {}, ...thumbprints.map((t) => h("li", {}, h("code", {}, String(t))))),
    );
  }
  if (record.tls_client_certificate_bound_access_tokens === true) {
    field(list, "Certificate binding", "required: every token is bound to the client's TLS certificate");
  }
  if (isSecretClient(client)) {
    const expiry = secretExpiry(client);
    field(list, "Secret expires", h("span", { class: expiry.className }, expiry.text));
    const secrets = client.secrets ?? [];
    if (secrets.length > 1) {
      const old = secrets[1];
      field(
        list,
        "Previous secret",
        old?.expires_at === null || old?.expires_at === undefined
          ? "still valid"
          : `valid until ${formatUnix(old.expires_at)}`,
      );
    }
  }
  if (client.secret_rotated_at !== undefined && isSecretClient(client)) {
    field(list, "Secret issued", formatIso(client.secret_rotated_at));
  }
  field(
    list,
    "Tokens revoked",
    typeof client.tokens_revoked_before === "number"
      ? `every token issued until ${formatUnix(client.tokens_revoked_before)}`
      : "none",
  );
  field(list, "Created", formatIso(client.created_at));
  field(list, "Updated", formatIso(client.updated_at));
  for (const [name, value] of Object.entries(client)) {
    if (!KNOWN_FIELDS.has(name)) field(list, name, typeof value === "string" ? value : json(value));
  }
}

/**
 * @param {Client} client
 * @param {{ focusTitle: boolean }} options
 */
function showDetails(client, options) {
  const current = session;
  if (current === null || view === null) return;
  selectedId = client.client_id;
  const fragment = template("t-details");
  slot(fragment, "title", HTMLElement).textContent = client.name;
  slot(fragment, "self", HTMLElement).hidden = client.client_id !== current.clientId;
  describeClient(slot(fragment, "fields", HTMLElement), client);
  const message = slot(fragment, "message", HTMLElement);
  const actions = slot(fragment, "actions", HTMLElement);
  slot(fragment, "close", HTMLButtonElement).addEventListener("click", closePanel);
  if (!current.canWrite) {
    actions.remove();
  } else {
    wireActions(fragment, client, message);
  }
  if (options.focusTitle) {
    openPanel(fragment, "details-title");
  } else {
    view.panel.replaceChildren(fragment);
    view.panel.hidden = false;
    renderRows();
  }
}

/**
 * @param {DocumentFragment} fragment
 * @param {Client} client
 * @param {HTMLElement} message
 */
function wireActions(fragment, client, message) {
  const id = client.client_id;
  const onError = (/** @type {string} */ text) => showAlert(message, text);
  const rotate = slot(fragment, "rotate", HTMLFormElement);
  const grace = slot(fragment, "grace", HTMLInputElement);
  const remove = slot(fragment, "delete", HTMLButtonElement);
  remove.addEventListener("click", () => confirmDelete(client, remove, onError));
  if (client.problem !== undefined) {
    // Only deleting makes sense for a record keymint cannot read.
    for (const name of ["toggle", "revoke"]) slot(fragment, name, HTMLButtonElement).remove();
    rotate.remove();
    return;
  }
  if (!isSecretClient(client)) {
    rotate.remove();
  } else {
    onSubmit(
      rotate,
      async () => {
        const seconds = grace.value.trim() === "" ? 0 : Number(grace.value);
        if (!Number.isInteger(seconds) || seconds < 0) {
          showAlert(message, "Grace period: enter a whole number of seconds (0 or more).");
          focus(grace);
          return;
        }
        const rotated = await api("POST", `${clientPath(id)}/secret`, seconds > 0 ? { grace_seconds: seconds } : {});
        const fresh = await api("GET", clientPath(id));
        const stored = storeClient(fresh);
        showDetails(stored, { focusTitle: false });
        const panel = view?.panel;
        if (!panel) return;
        const note =
          seconds > 0
            ? `New secret for ${stored.name}. The old secret keeps working for ${seconds} s. Copy the new one now: it is shown only this once.`
            : `New secret for ${stored.name}. The old secret no longer works. Copy the new one now: it is shown only this once.`;
        slot(panel, "secret", HTMLElement).replaceChildren(secretBox(id, rotated.client_secret, note));
        focus(slot(panel, "copy", HTMLButtonElement));
      },
      onError,
    );
  }
  const toggle = slot(fragment, "toggle", HTMLButtonElement);
  toggle.textContent = client.enabled ? "Disable" : "Enable";
  toggle.addEventListener("click", () =>
    busy(
      toggle,
      async () => {
        const changed = await api("POST", `${clientPath(id)}/${client.enabled ? "disable" : "enable"}`);
        const stored = storeClient(changed);
        showDetails(stored, { focusTitle: false });
        const panel = view?.panel;
        if (!panel) return;
        showStatus(
          slot(panel, "message", HTMLElement),
          stored.enabled
            ? `${stored.name} is enabled: it can get tokens again.`
            : `${stored.name} is disabled: it gets no tokens.`,
        );
        focus(slot(panel, "toggle", HTMLButtonElement));
      },
      onError,
    ),
  );
  const revoke = slot(fragment, "revoke", HTMLButtonElement);
  revoke.addEventListener("click", () =>
    busy(
      revoke,
      async () => {
        await api("POST", `${clientPath(id)}/revoke-tokens`);
        const fresh = await api("GET", clientPath(id));
        const stored = storeClient(fresh);
        showDetails(stored, { focusTitle: false });
        const panel = view?.panel;
        if (!panel) return;
        showStatus(slot(panel, "message", HTMLElement), `Every token issued to ${stored.name} until now is revoked.`);
        focus(slot(panel, "revoke", HTMLButtonElement));
      },
      onError,
    ),
  );
}

/**
 * @param {Client} client
 * @param {HTMLButtonElement} opener
 * @param {(message: string) => void} onError
 */
function confirmDelete(client, opener, onError) {
  const dialog = byId("confirm-delete", HTMLDialogElement);
  slot(dialog, "id", HTMLElement).textContent = client.client_id;
  slot(dialog, "name", HTMLElement).textContent = client.name;
  const confirm = slot(dialog, "confirm", HTMLButtonElement);
  const cancel = slot(dialog, "cancel", HTMLButtonElement);
  const controller = new AbortController();
  const done = () => {
    controller.abort();
    if (dialog.open) dialog.close();
  };
  cancel.addEventListener("click", done, { signal: controller.signal });
  dialog.addEventListener("close", () => controller.abort(), { signal: controller.signal });
  confirm.addEventListener(
    "click",
    () => {
      done();
      busy(
        opener,
        async () => {
          await api("DELETE", clientPath(client.client_id));
          clients = clients.filter((c) => c.client_id !== client.client_id);
          selectedId = null;
          if (view === null) return;
          view.panel.hidden = true;
          view.panel.replaceChildren();
          renderRows();
          showStatus(view.message, `Deleted ${client.name} (${client.client_id}).`);
          focus(byId("clients-title", HTMLElement));
        },
        onError,
      );
    },
    { signal: controller.signal },
  );
  dialog.showModal();
  focus(cancel);
}

/**
 * The one time a secret is shown: as text, with a copy button.
 * @param {string} clientId
 * @param {string} secret
 * @param {string} note
 */
function secretBox(clientId, secret, note) {
  const box = template("t-secret");
  slot(box, "note", HTMLElement).textContent = note;
  slot(box, "id", HTMLElement).textContent = clientId;
  const code = slot(box, "secret", HTMLElement);
  code.textContent = secret;
  const copied = slot(box, "copied", HTMLElement);
  const copy = slot(box, "copy", HTMLButtonElement);
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(secret);
      copied.textContent = "Copied to the clipboard.";
    } catch {
      window.getSelection()?.selectAllChildren(code);
      copied.textContent = "The browser refused the clipboard: the secret is selected, copy it with the keyboard.";
    }
  });
  return box;
}

// ---------------------------------------------------------------------------------------------------------------
// New client

function showNewClient() {
  if (session === null || !session.canWrite) return;
  selectedId = null;
  const fragment = template("t-new");
  const form = slot(fragment, "form", HTMLFormElement);
  const message = slot(fragment, "message", HTMLElement);
  slot(fragment, "cancel", HTMLButtonElement).addEventListener("click", closePanel);
  const radios = /** @type {HTMLInputElement[]} */ ([...form.querySelectorAll('input[name="new-auth"]')]);
  const sections = /** @type {HTMLElement[]} */ ([...form.querySelectorAll("[data-auth]")]);
  const chosen = () => radios.find((radio) => radio.checked)?.value ?? "secret";
  const showAuthFields = () => {
    for (const section of sections) section.hidden = section.dataset.auth !== chosen();
  };
  for (const radio of radios) radio.addEventListener("change", showAuthFields);
  showAuthFields();
  onSubmit(
    form,
    async () => {
      const built = buildNewClient(form, chosen());
      if ("problem" in built) {
        showAlert(message, built.problem);
        focus(built.field);
        return;
      }
      const created = await api("POST", "/admin/clients", built.body);
      const stored = storeClient(created);
      showCreated(stored, typeof created.client_secret === "string" ? created.client_secret : null);
    },
    (text) => showAlert(message, text),
  );
  openPanel(fragment, "new-title");
}

/**
 * Reads the new-client form into an admin API body, or names the first field that is wrong.
 * @param {HTMLFormElement} form
 * @param {string} auth
 * @returns {{ body: Record<string, unknown> } | { problem: string, field: HTMLElement }}
 */
function buildNewClient(form, auth) {
  const input = (/** @type {string} */ name) => slot(form, name, HTMLInputElement);
  const area = (/** @type {string} */ name) => slot(form, name, HTMLTextAreaElement);
  /** @type {Record<string, unknown>} */
  const body = {};
  const name = input("name");
  if (name.value.trim() === "") return { problem: "Name: enter a name for the client.", field: name };
  body.name = name.value.trim();
  const scopes = input("scopes").value.split(/\s+/).filter(Boolean);
  if (scopes.length > 0) body.scopes = scopes;
  const audience = input("audience").value.trim();
  if (audience !== "") body.audiences = [audience];
  const ttl = input("ttl");
  if (ttl.value.trim() !== "") {
    const seconds = Number(ttl.value);
    if (!Number.isInteger(seconds) || seconds < 60 || seconds > 86400) {
      return { problem: "Token lifetime: enter a whole number of seconds from 60 to 86400.", field: ttl };
    }
    body.ttl = seconds;
  }
  if (auth === "jwks") {
    const jwks = area("jwks");
    try {
      body.jwks = JSON.parse(jwks.value);
    } catch {
      return { problem: 'JWKS: paste a JSON JWK Set, {"keys":[…]}.', field: jwks };
    }
  } else if (auth === "jwks_uri") {
    const uri = input("jwks-uri");
    if (uri.value.trim() === "") return { problem: "JWKS URL: enter the URL of the client's keys.", field: uri };
    body.jwks_uri = uri.value.trim();
  } else if (auth === "federated") {
    const issuer = input("fed-issuer");
    const subject = input("fed-subject");
    if (issuer.value.trim() === "") return { problem: "Issuer URL: enter the outside issuer's URL.", field: issuer };
    if (subject.value.trim() === "") return { problem: "Subject: enter the workload's exact sub.", field: subject };
    const aud = input("fed-aud").value.trim();
    body.federation = { issuer: issuer.value.trim(), subject: subject.value.trim(), audience: aud === "" ? null : aud };
  }
  if (input("introspect").checked) body.can_introspect = true;
  if (input("dpop").checked) body.dpop_bound_access_tokens = true;
  const quota = input("quota");
  if (quota.value.trim() !== "") {
    const perMinute = Number(quota.value);
    if (!Number.isInteger(perMinute) || perMinute < 1) {
      return { problem: "Quota: enter a whole number of tokens per minute.", field: quota };
    }
    body.quota_per_minute = perMinute;
  }
  const claims = area("claims");
  if (claims.value.trim() !== "") {
    let parsed;
    try {
      parsed = JSON.parse(claims.value);
    } catch {
      parsed = undefined;
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      return { problem: 'Claims: enter a JSON object, e.g. {"tenant":"acme"}.', field: claims };
    }
    body.claims = parsed;
  }
  return { body };
}

/**
 * @param {Client} client
 * @param {string | null} secret
 */
function showCreated(client, secret) {
  const fragment = template("t-created");
  const secretSlot = slot(fragment, "secret", HTMLElement);
  if (secret === null) {
    secretSlot.replaceChildren(
      h(
        "p",
        { class: "notice" },
        `${client.name} (`,
        h("code", {}, client.client_id),
        ") authenticates with keys: it has no secret.",
      ),
    );
  } else {
    secretSlot.replaceChildren(
      secretBox(
        client.client_id,
        secret,
        "Copy the client secret now: keymint keeps only its hash and shows it this once.",
      ),
    );
  }
  slot(fragment, "done", HTMLButtonElement).addEventListener("click", () => showDetails(client, { focusTitle: true }));
  selectedId = client.client_id;
  openPanel(fragment, "created-title");
}

// ---------------------------------------------------------------------------------------------------------------

byId("sign-out", HTMLButtonElement).addEventListener("click", () => endSession("You have signed out."));
showSignIn();
