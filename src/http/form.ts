/** Strict `application/x-www-form-urlencoded` request bodies (RFC 6749 §3.2, Appendix B). */

import { invalidRequest, type OAuthError } from "../oauth/errors.ts";
import { UTF8_STRICT } from "../util/base64url.ts";
import { readRequestBody } from "../util/stream.ts";

/** Largest request body accepted, in bytes. */
export const MAX_BODY_BYTES = 16 * 1024;

/** Parameters that RFC 8707 §2 allows more than once; every other one may appear at most once. */
const REPEATABLE = new Set(["resource"]);

const NONE: readonly string[] = Object.freeze([]);

/**
 * Decoded form parameters. Empty values are dropped (RFC 6749 §3.2: treated as omitted). The map of repeatable
 * parameters is made only when one is present: a token request has none.
 */
export class FormParams {
  readonly #single = new Map<string, string>();
  #multi: Map<string, string[]> | undefined;

  /** @internal */
  add(name: string, value: string): void {
    if (REPEATABLE.has(name)) {
      this.#multi ??= new Map();
      const list = this.#multi.get(name);
      if (list === undefined) this.#multi.set(name, [value]);
      else list.push(value);
      return;
    }
    if (this.#single.has(name)) {
      throw invalidRequest(`The '${safeName(name)}' parameter is repeated (RFC 6749 section 3.2)`);
    }
    this.#single.set(name, value);
  }

  get(name: string): string | undefined {
    return this.#single.get(name);
  }

  getAll(name: string): readonly string[] {
    return this.#multi?.get(name) ?? NONE;
  }

  has(name: string): boolean {
    return this.#single.has(name) || this.#multi?.has(name) === true;
  }
}

/** A parameter name fit for `error_description` (RFC 6749 §5.2: %x20-21 / %x23-5B / %x5D-7E only). */
function safeName(name: string): string {
  return name.length <= 40 && /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/.test(name) ? name : "(unprintable)";
}

/** Decodes one form-urlencoded component: `+` is a space, `%XX` a UTF-8 byte; `null` when malformed. */
export function formDecode(component: string): string | null {
  const plus = component.includes("+") ? component.replace(/\+/g, " ") : component;
  if (!plus.includes("%")) return plus;
  try {
    return decodeURIComponent(plus);
  } catch {
    return null;
  }
}

/** Parses a form-urlencoded string into parameters, rejecting repeats and malformed escapes. */
export function parseForm(body: string): FormParams {
  const params = new FormParams();
  if (body === "") return params;
  for (const pair of body.split("&")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    const name = formDecode(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? "" : formDecode(pair.slice(eq + 1));
    if (name === null || value === null) {
      throw invalidRequest("The request body has a malformed percent-encoding");
    }
    if (value === "" || name === "") continue;
    params.add(name, value);
  }
  return params;
}

function tooLarge(): OAuthError {
  return invalidRequest(`The request body exceeds ${MAX_BODY_BYTES} bytes`, { status: 413 });
}

const FORM_TYPE = "application/x-www-form-urlencoded";

/** The slow path of the content type check: parameters, case and spacing variants. */
function checkContentType(contentType: string): void {
  const [mediaType = "", ...parameters] = contentType.split(";");
  if (mediaType.trim().toLowerCase() !== FORM_TYPE) {
    throw invalidRequest("Content-Type must be application/x-www-form-urlencoded");
  }
  for (const parameter of parameters) {
    const [key = "", value = ""] = parameter.split("=");
    if (key.trim().toLowerCase() === "charset" && !/^"?utf-8"?$/i.test(value.trim())) {
      throw invalidRequest("The request body must be UTF-8");
    }
  }
}

/**
 * Reads a POST body as form parameters: the media type must be `application/x-www-form-urlencoded`
 * (charset, if given, UTF-8), the body at most MAX_BODY_BYTES and valid UTF-8, each parameter at most once.
 */
export async function readForm(request: Request): Promise<FormParams> {
  const contentType = request.headers.get("content-type");
  if (contentType === null) {
    throw invalidRequest("Content-Type must be application/x-www-form-urlencoded");
  }
  if (contentType !== FORM_TYPE) checkContentType(contentType);
  const declared = request.headers.get("content-length");
  const length = declared === null ? Number.NaN : Number(declared);
  if (length > MAX_BODY_BYTES) throw tooLarge();
  let body: string;
  if (Number.isFinite(length)) {
    // The declared length is within the limit. text() decodes leniently, turning any invalid UTF-8 into
    // U+FFFD; a form body has no reason to carry a raw U+FFFD (non-ASCII is percent-encoded), so its
    // presence means the body was not UTF-8.
    body = await request.text();
    if (body.length > MAX_BODY_BYTES) throw tooLarge();
    if (body.includes("\uFFFD")) throw invalidRequest("The request body is not valid UTF-8");
  } else {
    const bytes = await readRequestBody(request.body, MAX_BODY_BYTES);
    if (bytes === null) throw tooLarge();
    try {
      body = UTF8_STRICT.decode(bytes);
    } catch {
      throw invalidRequest("The request body is not valid UTF-8");
    }
  }
  return parseForm(body);
}
