/** Form parsing and Basic decoding (RFC 6749 §2.3.1, §3.2, Appendix B). */

import { describe, expect, it } from "vitest";
import { decodeBasic, extractCredentials } from "../../../src/http/client-auth.ts";
import { formDecode, parseForm } from "../../../src/http/form.ts";
import { OAuthError } from "../../../src/oauth/errors.ts";

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof OAuthError ? err.code : "not-oauth";
  }
  return undefined;
}

describe("formDecode (application/x-www-form-urlencoded)", () => {
  it("turns + into space and decodes UTF-8 percent escapes", () => {
    expect(formDecode("a+b%2Bc%3A%25%20%CE%B1")).toBe("a b+c:% α");
  });
  it("returns null for malformed escapes", () => {
    expect(formDecode("%zz")).toBeNull();
    expect(formDecode("%E2%82")).toBeNull();
  });
});

describe("parseForm", () => {
  it("parses parameters and drops empty values (RFC 6749 §3.2)", () => {
    const form = parseForm("grant_type=client_credentials&scope=&x&=y&&a=1");
    expect(form.get("grant_type")).toBe("client_credentials");
    expect(form.has("scope")).toBe(false);
    expect(form.has("x")).toBe(false);
    expect(form.get("a")).toBe("1");
  });
  it("rejects a repeated parameter", () => {
    expect(code(() => parseForm("a=1&a=2"))).toBe("invalid_request");
  });
  it("allows a repeated resource (RFC 8707 §2)", () => {
    expect(parseForm("resource=https%3A%2F%2Fa&resource=https%3A%2F%2Fb").getAll("resource")).toEqual([
      "https://a",
      "https://b",
    ]);
  });
  it("keeps '=' inside values", () => {
    expect(parseForm("a=b=c").get("a")).toBe("b=c");
  });
});

describe("decodeBasic", () => {
  it("form-decodes both halves after Base64", () => {
    expect(decodeBasic(btoa("my%20id:s%3Ac+r%25t"))).toEqual({ clientId: "my id", secret: "s:c r%t" });
  });
  it("splits at the first colon only (an unencoded colon in a secret still works)", () => {
    expect(decodeBasic(btoa("id:a:b"))).toEqual({ clientId: "id", secret: "a:b" });
  });
  it("rejects bad Base64, missing colon and invalid UTF-8", () => {
    expect(code(() => decodeBasic("!!!"))).toBe("invalid_request");
    expect(code(() => decodeBasic(btoa("nocolon")))).toBe("invalid_request");
    expect(code(() => decodeBasic(btoa(String.fromCharCode(0xff, 0x3a, 0x61))))).toBe("invalid_request");
  });
});

describe("extractCredentials", () => {
  it("finds post credentials", () => {
    const found = extractCredentials(null, parseForm("client_id=a&client_secret=b"));
    expect(found).toEqual({
      kind: "credentials",
      credentials: { clientId: "a", secret: "b", method: "client_secret_post" },
    });
  });
  it("reports no credentials without a secret", () => {
    expect(extractCredentials(null, parseForm("client_id=a"))).toEqual({
      kind: "none",
      usedAuthorizationHeader: false,
    });
  });
  it("refuses two methods at once", () => {
    expect(code(() => extractCredentials(`Basic ${btoa("a:b")}`, parseForm("client_secret=b")))).toBe(
      "invalid_request",
    );
  });
});

describe("readForm body paths", () => {
  const url = "https://keymint.test/oauth2/token";
  const type = { "content-type": "application/x-www-form-urlencoded" };

  it("reads a body of known length (Content-Length) and refuses invalid UTF-8 or a declared oversize", async () => {
    const { readForm } = await import("../../../src/http/form.ts");
    // As a client such as curl sends it; JavaScript-built requests do not set Content-Length by themselves.
    const ok = new Request(url, {
      method: "POST",
      headers: { ...type, "content-length": "29" },
      body: "grant_type=client_credentials",
    });
    expect((await readForm(ok)).get("grant_type")).toBe("client_credentials");
    const bad = new Request(url, {
      method: "POST",
      headers: { ...type, "content-length": "4" },
      body: new Uint8Array([0x61, 0x3d, 0xc3, 0x28]),
    });
    await expect(readForm(bad)).rejects.toMatchObject({
      code: "invalid_request",
      description: "The request body is not valid UTF-8",
    });
    const declaredTooLong = new Request(url, {
      method: "POST",
      headers: { ...type, "content-length": "20000" },
      body: "a=1",
    });
    await expect(readForm(declaredTooLong)).rejects.toMatchObject({ code: "invalid_request", status: 413 });
  });

  it("reads a chunked body (no Content-Length) strictly too", async () => {
    const { readForm } = await import("../../../src/http/form.ts");
    const stream = (bytes: Uint8Array) =>
      new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(bytes);
          c.close();
        },
      });
    const ok = new Request(url, { method: "POST", headers: type, body: stream(new TextEncoder().encode("a=1")) });
    expect(ok.headers.get("content-length")).toBeNull();
    expect((await readForm(ok)).get("a")).toBe("1");
    const bad = new Request(url, { method: "POST", headers: type, body: stream(new Uint8Array([0x61, 0x3d, 0xff])) });
    await expect(readForm(bad)).rejects.toMatchObject({ code: "invalid_request" });
  });
});
