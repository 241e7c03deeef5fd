/** RFC 7396 merge patches of a client's claims: applying one (the API) and making one (the CLI's `update --claim`). */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LifecycleError } from "../../../src/clients/lifecycle.ts";
import { mergePatch, mergePatchFor } from "../../../src/clients/operations.ts";

describe("mergePatch (RFC 7396 §2)", () => {
  it("follows the RFC's appendix A examples", () => {
    const cases: [unknown, unknown, unknown][] = [
      [{ a: "b" }, { a: "c" }, { a: "c" }],
      [{ a: "b" }, { b: "c" }, { a: "b", b: "c" }],
      [{ a: "b" }, { a: null }, {}],
      [{ a: "b", b: "c" }, { a: null }, { b: "c" }],
      [{ a: ["b"] }, { a: "c" }, { a: "c" }],
      [{ a: "c" }, { a: ["b"] }, { a: ["b"] }],
      [{ a: { b: "c" } }, { a: { b: "d", c: null } }, { a: { b: "d" } }],
      [{ a: [{ b: "c" }] }, { a: [1] }, { a: [1] }],
      [
        ["a", "b"],
        ["c", "d"],
        ["c", "d"],
      ],
      [{ a: "b" }, ["c"], ["c"]],
      [{ a: "foo" }, null, null],
      [{ a: "foo" }, "bar", "bar"],
      [{ e: null }, { a: 1 }, { e: null, a: 1 }],
      [[1, 2], { a: "b", c: null }, { a: "b" }],
      [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
    ];
    for (const [target, patch, result] of cases) expect(mergePatch(target, patch)).toEqual(result);
  });

  it("keeps a member named __proto__ as data, never as the prototype", () => {
    const patch = JSON.parse('{"__proto__": {"polluted": true}}');
    const result = mergePatch({}, patch) as Record<string, unknown>;
    expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
    expect(Object.hasOwn(result, "__proto__")).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("mergePatchFor: the patch that turns one claims object into another", () => {
  const nullFree = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: "small" },
      fc.string(),
      fc.integer(),
      fc.boolean(),
      fc.array(fc.oneof(fc.string(), fc.integer(), fc.constant(null))),
      tie("object"),
    ),
    object: fc.dictionary(fc.string({ minLength: 1, maxLength: 4 }), tie("value"), { maxKeys: 4 }),
  })).object as fc.Arbitrary<Record<string, unknown>>;

  it("applied to the first gives the second (property)", () => {
    fc.assert(
      fc.property(nullFree, nullFree, (from, to) => {
        expect(mergePatch(from, mergePatchFor(from, to))).toEqual(to);
      }),
    );
  });

  it("is empty when nothing changes, and removes with null", () => {
    expect(mergePatchFor({ a: 1, b: { c: 2 } }, { a: 1, b: { c: 2 } })).toEqual({});
    expect(mergePatchFor({ a: 1, b: 2 }, { a: 1 })).toEqual({ b: null });
  });

  it("refuses a change to a value holding null (a merge patch cannot say it)", () => {
    expect(() => mergePatchFor({}, { a: null })).toThrow(LifecycleError);
    expect(() => mergePatchFor({ a: {} }, { a: { b: null } })).toThrow(LifecycleError);
    // Arrays are replaced whole, so a null inside one can be said.
    expect(mergePatchFor({}, { a: [null] })).toEqual({ a: [null] });
  });
});
