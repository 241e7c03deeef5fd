/**
 * Property: whatever sequence of admin API and RFC 7591/7592 calls runs, no answer ever contains a salt, a secret
 * hash or a registration token hash, and a secret (or registration access token) appears only in the one answer
 * that issued it (create, rotate, register).
 */

import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { clientKey } from "../../src/clients/record.ts";
import { ADMIN, adminToken, call, REGISTER } from "./admin-helpers.ts";

type Op =
  | { kind: "create"; scopes: string[]; imported: boolean; ttl: number | null }
  | { kind: "register"; scope: string }
  | { kind: "show" | "disable" | "enable" | "revoke" | "delete" | "regRead" | "regPut"; pick: number }
  | { kind: "patch"; pick: number; body: Record<string, unknown> }
  | { kind: "rotate"; pick: number; grace: number }
  | { kind: "list" };

const scope = fc.constantFrom("read", "write", "deploy", "a:b");
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant("create" as const),
    scopes: fc.array(scope, { maxLength: 3 }),
    imported: fc.boolean(),
    ttl: fc.option(fc.integer({ min: 30, max: 90_000 }), { nil: null }),
  }),
  fc.record({ kind: fc.constant("register" as const), scope: fc.constantFrom("read", "read write", "") }),
  fc.record({
    kind: fc.constantFrom("show", "disable", "enable", "revoke", "delete", "regRead", "regPut"),
    pick: fc.nat(),
  }) as fc.Arbitrary<Op>,
  fc.record({
    kind: fc.constant("patch" as const),
    pick: fc.nat(),
    body: fc.oneof(
      fc.record({ name: fc.string({ maxLength: 20 }) }),
      fc.record({ scopes: fc.array(scope, { maxLength: 2 }) }),
      fc.record({ ttl: fc.oneof(fc.constant(null), fc.integer({ min: -5, max: 100_000 })) }),
      fc.record({ jwks_uri: fc.constantFrom("https://c.example/jwks.json", "ftp://nope") }),
      fc.constant({ salt: "x" }),
    ),
  }),
  fc.record({ kind: fc.constant("rotate" as const), pick: fc.nat(), grace: fc.integer({ min: -1, max: 3600 }) }),
  fc.constant({ kind: "list" as const }),
);

interface Known {
  id: string;
  registration?: { uri: string; token: string };
}

describe("no admin answer leaks a secret (property)", () => {
  it("holds for random sequences of calls", async () => {
    const token = await adminToken();
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 3, maxLength: 12 }), async (ops) => {
        const known: Known[] = [];
        /** Secrets and registration tokens, each with the one answer allowed to show it. */
        const issued = new Map<string, string>();
        const answers: { label: string; text: string }[] = [];
        const pick = (n: number) => known[n % Math.max(1, known.length)];
        for (const [i, o] of ops.entries()) {
          const label = `${i}:${o.kind}`;
          let res: Awaited<ReturnType<typeof call>> | undefined;
          if (o.kind === "create") {
            const body: Record<string, unknown> = { name: `p${i}`, scopes: o.scopes, ttl: o.ttl };
            if (o.imported) body.client_secret = `imported-${crypto.randomUUID()}-secret`;
            res = await call(ADMIN, { method: "POST", token, body });
            if (res.status === 201) known.push({ id: res.json.client_id as string });
          } else if (o.kind === "register") {
            res = await call(REGISTER, { method: "POST", token, body: { client_name: `r${i}`, scope: o.scope } });
            if (res.status === 201) {
              known.push({
                id: res.json.client_id as string,
                registration: {
                  uri: res.json.registration_client_uri as string,
                  token: res.json.registration_access_token as string,
                },
              });
              issued.set(res.json.registration_access_token as string, label);
            }
          } else if (o.kind === "list") {
            res = await call(ADMIN, { token });
          } else {
            const target = pick(o.pick);
            if (target === undefined) continue;
            const url = `${ADMIN}/${target.id}`;
            switch (o.kind) {
              case "show":
                res = await call(url, { token });
                break;
              case "disable":
              case "enable":
                res = await call(`${url}/${o.kind}`, { method: "POST", token });
                break;
              case "revoke":
                res = await call(`${url}/revoke-tokens`, { method: "POST", token });
                break;
              case "delete":
                res = await call(url, { method: "DELETE", token });
                break;
              case "patch":
                res = await call(url, { method: "PATCH", token, body: o.body });
                break;
              case "rotate":
                res = await call(`${url}/secret`, { method: "POST", token, body: { grace_seconds: o.grace } });
                break;
              case "regRead":
              case "regPut":
                if (target.registration === undefined) continue;
                res = await call(target.registration.uri, {
                  method: o.kind === "regRead" ? "GET" : "PUT",
                  token: target.registration.token,
                  body: o.kind === "regPut" ? { client_id: target.id, client_name: `put${i}` } : undefined,
                });
                break;
            }
          }
          if (res === undefined) continue;
          expect(res.status).toBeLessThan(500);
          const secret = res.json?.client_secret;
          if (typeof secret === "string") issued.set(secret, label);
          answers.push({ label, text: `${res.text}\n${[...res.headers].join("\n")}` });
        }
        const forbidden: string[] = [];
        for (const { id } of known) {
          const raw = await env.CLIENTS.get(clientKey(id));
          if (raw === null) continue;
          const record = JSON.parse(raw) as {
            salt: string;
            secrets: { hash: string }[];
            registration: { token_hash: string } | null;
          };
          if (record.salt !== "") forbidden.push(record.salt);
          for (const s of record.secrets) forbidden.push(s.hash);
          if (record.registration !== null) forbidden.push(record.registration.token_hash);
        }
        for (const { label, text } of answers) {
          for (const value of forbidden) expect(text, label).not.toContain(value);
          for (const [value, allowedIn] of issued) if (allowedIn !== label) expect(text, label).not.toContain(value);
          expect(text, label).not.toMatch(/"(salt|hash|token_hash|registration)"/);
        }
      }),
      { numRuns: 12 },
    );
  });
});
