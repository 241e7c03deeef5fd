/** The clients CLI run as a real process against a real local registry (and a recorded --remote). */

import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as jose from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { clients, ROOT, type RunResult, run, scratchProject } from "./helpers.ts";

let project: string;
const allOutput: string[] = [];

async function cli(args: string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<RunResult> {
  const result = await clients(project, args, options);
  allOutput.push(result.stdout, result.stderr);
  return result;
}

async function ok(args: string[], options?: { input?: string; env?: Record<string, string> }) {
  const result = await cli(args, options);
  expect(result.code, `${args.join(" ")}\n${result.stderr}`).toBe(0);
  return result.stdout;
}

async function createClient(
  extra: string[] = [],
): Promise<{ client_id: string; client_secret: string } & Record<string, unknown>> {
  return JSON.parse(await ok(["create", "--name", "cli-test", ...extra]));
}

/** The salt and hashes actually stored for a client (read with wrangler itself), to prove they never leak. */
async function storedSecrets(clientId: string): Promise<string[]> {
  const raw = await run(
    "wrangler",
    ["kv", "key", "get", `client:${clientId}`, "--binding", "CLIENTS", "--local", "--text"],
    {
      cwd: project,
    },
  );
  const record = JSON.parse(raw.stdout) as { salt: string; secrets: { hash: string }[] };
  return [record.salt, ...record.secrets.map((s) => s.hash)].filter((value) => value !== "");
}

beforeAll(async () => {
  project = await scratchProject();
});

describe("create", () => {
  it("prints one JSON object with a URL-safe generated id and a 256-bit secret, and nothing secret-derived", async () => {
    const created = await createClient([
      "--scope",
      "read write",
      "--audience",
      "https://api.example.com",
      "--ttl",
      "900",
    ]);
    expect(created.client_id).toMatch(/^[0-9a-f]{32}$/);
    expect(created.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(created).toMatchObject({
      name: "cli-test",
      scopes: ["read", "write"],
      audiences: ["https://api.example.com"],
      ttl: 900,
    });
    expect(created).not.toHaveProperty("salt");
    expect(JSON.stringify(created)).not.toMatch(/hash/);
  });

  it("imports a given id and secret, also from standard input", async () => {
    const id = `imported-${Date.now()}`;
    const secret = "an:imported%secret+with spaces-0123456789";
    const created = await createClient(["--client-id", id, "--client-secret", secret]);
    expect(created).toMatchObject({ client_id: id, client_secret: secret });
    const emptyStdin = await cli(["create", "--name", "x", "--client-id", `${id}-stdin`, "--client-secret", "-"]);
    expect(emptyStdin.code).toBe(1);
    expect(emptyStdin.stderr).toMatch(/too short: 0 characters/);
    const piped = JSON.parse(
      await ok(["create", "--name", "x", "--client-id", `${id}-pipe`, "--client-secret", "-"], {
        input: `${secret}\n`,
      }),
    );
    expect(piped.client_secret).toBe(secret);
  });

  it("refuses a weak imported secret with one clear line and writes nothing", async () => {
    const id = `weak-${Date.now()}`;
    const result = await cli(["create", "--name", "weak", "--client-id", id, "--client-secret", "short-secret"]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(/too short: 12 characters, at least 32/);
    expect(result.stdout).toBe("");
    expect((await cli(["show", id])).code).toBe(1);
  });

  it("refuses a duplicate client id", async () => {
    const first = await createClient();
    const again = await cli(["create", "--name", "dup", "--client-id", first.client_id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists/);
  });

  it("rejects unknown flags and bad values with a non-zero exit and a message", async () => {
    const badFlag = await cli(["create", "--name", "x", "--colour", "red"]);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toMatch(/--colour/);
    const badTtl = await cli(["create", "--name", "x", "--ttl", "5"]);
    expect(badTtl.code).toBe(1);
    expect(badTtl.stderr).toMatch(/ttl must be/);
    const noName = await cli(["create"]);
    expect(noName.code).toBe(1);
    expect(noName.stderr).toMatch(/--name is required/);
    const unknown = await cli(["frobnicate"]);
    expect(unknown.code).toBe(2);
  });
});

describe("list, show, update", () => {
  it("lists clients as a table and as a JSON array of client objects", async () => {
    const created = await createClient(["--scope", "alpha"]);
    const table = await ok(["list"]);
    expect(table.split("\n")[0]).toMatch(/^CLIENT ID\s+NAME\s+STATUS\s+SCOPES/);
    expect(table).toContain(created.client_id);
    const json = JSON.parse(await ok(["list", "--json"])) as { client_id: string; scopes: string[] }[];
    expect(Array.isArray(json)).toBe(true);
    expect(json.find((c) => c.client_id === created.client_id)?.scopes).toEqual(["alpha"]);
  });

  it("shows one client, and fails clearly for an unknown id", async () => {
    const created = await createClient();
    expect(await ok(["show", created.client_id])).toMatch(new RegExp(`client_id\\s+${created.client_id}`));
    expect(JSON.parse(await ok(["show", created.client_id, "--json"])).client_id).toBe(created.client_id);
    const missing = await cli(["show", "no-such-client"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('error: no client "no-such-client" in the local registry (.wrangler/state)\n');
  });

  it("updates name, scopes, audiences, TTL, introspection and quota; 'default' and 'none' reset", async () => {
    const created = await createClient(["--ttl", "600", "--quota", "10"]);
    const updated = JSON.parse(
      await ok([
        "update",
        created.client_id,
        "--name",
        "renamed",
        "--scope",
        "a b",
        "--audience",
        "https://x.example",
        "--audience",
        "https://y.example",
        "--ttl",
        "default",
        "--can-introspect",
        "--quota",
        "none",
        "--json",
      ]),
    );
    expect(updated).toMatchObject({
      name: "renamed",
      scopes: ["a", "b"],
      audiences: ["https://x.example", "https://y.example"],
      ttl: null,
      can_introspect: true,
      quota_per_minute: null,
    });
    expect(updated.updated_at >= created.created_at).toBe(true);
    const back = JSON.parse(await ok(["update", created.client_id, "--no-can-introspect", "--json"]));
    expect(back.can_introspect).toBe(false);
    expect((await cli(["update", created.client_id])).stderr).toMatch(/nothing to update/);
  });
});

describe("rotate-secret, disable, enable, delete", () => {
  it("rotates with and without a grace period and reports the old secret's expiry", async () => {
    const created = await createClient();
    const now = Math.floor(Date.now() / 1000);
    const rotated = JSON.parse(await ok(["rotate-secret", created.client_id, "--grace", "24h"]));
    expect(rotated.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(rotated.client_secret).not.toBe(created.client_secret);
    expect(rotated.previous_secret_expires_at).toBeGreaterThanOrEqual(now + 86_400 - 5);
    expect(rotated.secrets).toHaveLength(2);
    const immediate = JSON.parse(await ok(["rotate-secret", created.client_id]));
    expect(immediate.previous_secret_expires_at).toBeNull();
    expect(immediate.secrets).toHaveLength(1);
    expect(immediate.secret_rotated_at >= created.secret_rotated_at).toBe(true);
    expect((await cli(["rotate-secret", created.client_id, "--grace", "soon"])).stderr).toMatch(/duration/);
  });

  it("disables, enables and deletes", async () => {
    const created = await createClient();
    expect(await ok(["disable", created.client_id])).toBe(`disabled client ${created.client_id}\n`);
    expect(JSON.parse(await ok(["show", created.client_id, "--json"])).enabled).toBe(false);
    expect(JSON.parse(await ok(["enable", created.client_id, "--json"])).enabled).toBe(true);
    expect(await ok(["delete", created.client_id])).toBe(`deleted client ${created.client_id}\n`);
    expect((await cli(["delete", created.client_id])).code).toBe(1);
  });
});

describe("import", () => {
  it("imports every client of a valid file", async () => {
    const file = join(project, "import-ok.json");
    const stamp = Date.now();
    await writeFile(
      file,
      JSON.stringify([
        {
          client_id: `mig-a-${stamp}`,
          client_secret: "migrated-secret-a-0123456789abcdefghij",
          name: "A",
          scope: "read",
        },
        {
          client_id: `mig-b-${stamp}`,
          client_secret: "migrated-secret-b-0123456789abcdefghij",
          scopes: ["x"],
          ttl: 300,
          enabled: false,
        },
      ]),
    );
    expect(await ok(["import", file])).toBe(`imported 2 clients: mig-a-${stamp}, mig-b-${stamp}\n`);
    expect(JSON.parse(await ok(["show", `mig-b-${stamp}`, "--json"]))).toMatchObject({
      ttl: 300,
      enabled: false,
      scopes: ["x"],
    });
  });

  it("validates the whole file before writing: one bad entry imports nothing", async () => {
    const stamp = Date.now();
    for (const [label, entries, message] of [
      [
        "weak secret",
        [
          { client_id: `ok-${stamp}`, client_secret: "good-secret-0123456789abcdefghijkl" },
          { client_id: `weak-${stamp}`, client_secret: "weak" },
        ],
        /entry 1 \(weak-\d+\): client secret is too short/,
      ],
      [
        "duplicate in file",
        [
          { client_id: `d-${stamp}`, client_secret: "good-secret-0123456789abcdefghijkl" },
          { client_id: `d-${stamp}`, client_secret: "good-secret-0123456789abcdefghijkl" },
        ],
        /duplicate client_id/,
      ],
      [
        "unknown field",
        [{ client_id: `u-${stamp}`, client_secret: "good-secret-0123456789abcdefghijkl", scopez: "x" }],
        /unknown field "scopez"/,
      ],
    ] as const) {
      const file = join(project, `import-${label.replace(/ /g, "-")}.json`);
      await writeFile(file, JSON.stringify(entries));
      const result = await cli(["import", file]);
      expect(result.code, label).toBe(1);
      expect(result.stderr).toMatch(message);
    }
    expect((await cli(["show", `ok-${stamp}`])).code).toBe(1);
    expect((await cli(["show", `d-${stamp}`])).code).toBe(1);
  });

  it("refuses to import over an existing client", async () => {
    const existing = await createClient();
    const file = join(project, "import-existing.json");
    const fresh = `fresh-${Date.now()}`;
    await writeFile(
      file,
      JSON.stringify([
        { client_id: fresh, client_secret: "good-secret-0123456789abcdefghijkl" },
        { client_id: existing.client_id, client_secret: "good-secret-0123456789abcdefghijkl" },
      ]),
    );
    const result = await cli(["import", file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/already exists in the local registry \(.wrangler\/state\); nothing was imported/);
    expect((await cli(["show", fresh])).code).toBe(1);
  });
});

describe("help", () => {
  it("has --help for every command", async () => {
    const main = await ok(["--help"]);
    const commands = [
      "create",
      "list",
      "show",
      "update",
      "rotate-secret",
      "disable",
      "enable",
      "revoke-tokens",
      "delete",
      "import",
    ];
    for (const command of commands) expect(main).toContain(command);
    for (const command of commands) {
      const help = await ok([command, "--help"]);
      expect(help).toMatch(new RegExp(`^Usage: npm run -s clients -- ${command}`));
    }
  });
});

describe("--driver wrangler: the exact wrangler kv commands used for --remote, run against local storage", () => {
  it("creates, reads, lists, updates, rotates and deletes through wrangler kv", async () => {
    const created = JSON.parse(await ok(["create", "--name", "via-wrangler", "--driver", "wrangler"]));
    // Written by wrangler kv, read back in-process (and vice versa): same storage, same format.
    expect(JSON.parse(await ok(["show", created.client_id, "--json"])).name).toBe("via-wrangler");
    expect(JSON.parse(await ok(["show", created.client_id, "--json", "--driver", "wrangler"])).name).toBe(
      "via-wrangler",
    );
    const listed = JSON.parse(await ok(["list", "--json", "--driver", "wrangler"])) as { client_id: string }[];
    expect(listed.map((c) => c.client_id)).toContain(created.client_id);
    await ok(["disable", created.client_id, "--driver", "wrangler"]);
    expect(JSON.parse(await ok(["show", created.client_id, "--json"])).enabled).toBe(false);
    const rotated = JSON.parse(await ok(["rotate-secret", created.client_id, "--grace", "1h", "--driver", "wrangler"]));
    expect(rotated.secrets).toHaveLength(2);
    await ok(["delete", created.client_id, "--driver", "wrangler"]);
    expect((await cli(["show", created.client_id])).code).toBe(1);
  });
});

describe("--remote", () => {
  async function fakeRemote(mode = "") {
    const dir = project;
    const log = join(dir, `wrangler-calls-${Date.now()}.log`);
    const env = {
      KEYMINT_WRANGLER: join(ROOT, "test/node/fixtures/fake-wrangler.mjs"),
      FAKE_WRANGLER_LOG: log,
      FAKE_WRANGLER_STATE: join(dir, `remote-state-${Date.now()}.json`),
      FAKE_WRANGLER_MODE: mode,
    };
    const calls = async () =>
      (await readFile(log, "utf8"))
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as string[]);
    return { env, calls };
  }

  it("drives `wrangler kv … --binding CLIENTS --remote` for every command", async () => {
    const remote = await fakeRemote();
    const created = JSON.parse(
      await ok(["create", "--name", "remote", "--remote", "--config", "wrangler.toml"], { env: remote.env }),
    );
    await ok(["disable", created.client_id, "--remote"], { env: remote.env });
    await ok(["list", "--remote"], { env: remote.env });
    await ok(["delete", created.client_id, "--remote"], { env: remote.env });
    const calls = await remote.calls();
    const key = `client:${created.client_id}`;
    const shape = calls.map((c) => c.map((a) => (a.includes("/keymint-") ? "<tmpfile>" : a)));
    expect(shape).toEqual([
      ["kv", "bulk", "get", "<tmpfile>", "--binding", "CLIENTS", "--config", "wrangler.toml", "--remote"],
      ["kv", "key", "put", key, "--path", "<tmpfile>", "--binding", "CLIENTS", "--config", "wrangler.toml", "--remote"],
      ["kv", "bulk", "get", "<tmpfile>", "--binding", "CLIENTS", "--remote"],
      ["kv", "key", "put", key, "--path", "<tmpfile>", "--binding", "CLIENTS", "--remote"],
      ["kv", "key", "list", "--prefix", "client:", "--binding", "CLIENTS", "--remote"],
      ["kv", "bulk", "get", "<tmpfile>", "--binding", "CLIENTS", "--remote"],
      ["kv", "bulk", "get", "<tmpfile>", "--binding", "CLIENTS", "--remote"],
      ["kv", "key", "delete", key, "--binding", "CLIENTS", "--remote"],
    ]);
  });

  it("says in one line that wrangler is not logged in, and exits non-zero", async () => {
    const remote = await fakeRemote("logged-out");
    const result = await cli(["list", "--remote"], { env: remote.env });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      "error: wrangler is not logged in to Cloudflare: run `npx wrangler login` (or set CLOUDFLARE_API_TOKEN) and retry\n",
    );
  });

  it("prints the commands instead of running them with --dry-run", async () => {
    const result = await cli(["create", "--name", "dry", "--client-id", "dry-run-id", "--remote", "--dry-run"]);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^would run: wrangler kv bulk get \S+ --binding CLIENTS --remote$/m);
    expect(result.stderr).toMatch(
      /^would run: wrangler kv key put client:dry-run-id --path \S+ --binding CLIENTS --remote$/m,
    );
  });
});

describe("clients without a secret (private_key_jwt, federation)", () => {
  async function jwksFile(keys: Record<string, unknown>[], name = `jwks-${Date.now()}-${Math.random()}.json`) {
    const path = join(project, name);
    await writeFile(path, JSON.stringify({ keys }));
    return path;
  }

  async function publicKey(alg: "ES256" | "EdDSA" | "RS256" | "PS256", kid: string) {
    const pair = await jose.generateKeyPair(alg, { extractable: true, crv: alg === "EdDSA" ? "Ed25519" : undefined });
    return {
      private: { ...(await jose.exportJWK(pair.privateKey)), kid, alg },
      public: { ...(await jose.exportJWK(pair.publicKey)), kid, alg },
    };
  }

  it("creates a --jwks client: JSON with client_id and private_key_jwt, no client_secret, keys stored public only", async () => {
    const key = await publicKey("ES256", "k1");
    const created = JSON.parse(await ok(["create", "--name", "signer", "--jwks", await jwksFile([key.public])]));
    expect(created.client_id).toMatch(/^[0-9a-f]{32}$/);
    expect(created).not.toHaveProperty("client_secret");
    expect(created).toMatchObject({ token_endpoint_auth_method: "private_key_jwt", secrets: [], jwks_uri: null });
    expect(created.jwks.keys).toEqual([
      { kty: "EC", crv: "P-256", x: key.public.x, y: key.public.y, kid: "k1", alg: "ES256", use: "sig" },
    ]);
    const shown = JSON.parse(await ok(["show", created.client_id, "--json"]));
    expect(shown.token_endpoint_auth_method).toBe("private_key_jwt");
    expect(await ok(["show", created.client_id])).toMatch(
      /token_endpoint_auth_method\s+private_key_jwt[\s\S]*jwks\s+ES256 kid=k1/,
    );
    const table = await ok(["list"]);
    expect(table).toMatch(new RegExp(`${created.client_id}.*none \\(jwks: 1 key\\)`));
    const rotate = await cli(["rotate-secret", created.client_id]);
    expect(rotate.code).toBe(1);
    expect(rotate.stderr).toMatch(/has no secret; replace its keys with `update/);
  });

  it("creates --jwks-uri and federated clients and reports their settings", async () => {
    const uri = JSON.parse(await ok(["create", "--name", "uri", "--jwks-uri", "https://client.example/jwks.json"]));
    expect(uri).toMatchObject({
      token_endpoint_auth_method: "private_key_jwt",
      jwks_uri: "https://client.example/jwks.json",
      jwks: null,
    });
    const federated = JSON.parse(
      await ok([
        "create",
        "--name",
        "ci",
        "--federated-issuer",
        "https://token.actions.githubusercontent.com",
        "--federated-subject",
        "repo:acme/app:ref:refs/heads/main",
        "--federated-audience",
        "https://keymint.example",
      ]),
    );
    expect(federated).not.toHaveProperty("client_secret");
    expect(federated.federation).toEqual({
      issuer: "https://token.actions.githubusercontent.com",
      subject: "repo:acme/app:ref:refs/heads/main",
      audience: "https://keymint.example",
    });
    expect(await ok(["show", federated.client_id])).toMatch(/federated_subject\s+repo:acme\/app:ref:refs\/heads\/main/);
  });

  it("replaces keys with update, and turns a secret client into a key client (its secrets stop working)", async () => {
    const first = await publicKey("EdDSA", "a");
    const second = await publicKey("RS256", "b");
    const created = JSON.parse(await ok(["create", "--name", "swap", "--jwks", await jwksFile([first.public])]));
    const updated = JSON.parse(
      await ok(["update", created.client_id, "--jwks", await jwksFile([second.public]), "--json"]),
    );
    expect(updated.jwks.keys.map((k: { kid: string }) => k.kid)).toEqual(["b"]);
    const moved = JSON.parse(
      await ok(["update", created.client_id, "--jwks-uri", "https://client.example/k.json", "--json"]),
    );
    expect(moved).toMatchObject({ jwks: null, jwks_uri: "https://client.example/k.json" });
    const secretClient = await createClient();
    const converted = await cli(["update", secretClient.client_id, "--jwks", await jwksFile([first.public]), "--json"]);
    expect(converted.code).toBe(0);
    expect(converted.stderr).toMatch(/now authenticates with private_key_jwt; its secrets no longer work/);
    expect(JSON.parse(converted.stdout)).toMatchObject({ token_endpoint_auth_method: "private_key_jwt", secrets: [] });
  });

  it("refuses private keys, RSA keys without alg, plain-http URLs and mixed options, writing nothing", async () => {
    const key = await publicKey("ES256", "p");
    const cases: [string[], RegExp][] = [
      [["--jwks", await jwksFile([key.private])], /holds private key material/],
      [
        ["--jwks", await jwksFile([{ ...(await publicKey("RS256", "r")).public, alg: undefined }])],
        /RSA\) needs "alg" RS256 or PS256/,
      ],
      [["--jwks", await jwksFile([{ ...key.public, crv: "P-384" }])], /unsupported alg or key type|needs crv/],
      [["--jwks", await jwksFile([{ ...key.public, y: Buffer.alloc(32, 7).toString("base64url") }])], /cannot be used/],
      [["--jwks-uri", "http://client.example/jwks.json"], /must use https/],
      [["--jwks", await jwksFile([key.public]), "--jwks-uri", "https://client.example/k"], /only one of/],
      [["--jwks", await jwksFile([key.public]), "--client-secret", "x".repeat(40)], /has no secret/],
      [["--federated-issuer", "https://issuer.example"], /go together/],
      [["--jwks", join(project, "missing.json")], /cannot read --jwks/],
    ];
    for (const [args, message] of cases) {
      const id = `refused-${Date.now()}-${Math.random().toString(36).slice(2)}`;
      const result = await cli(["create", "--name", "bad", "--client-id", id, ...args]);
      expect(result.code, args.join(" ")).toBe(1);
      expect(result.stderr, args.join(" ")).toMatch(message);
      expect((await cli(["show", id])).code).toBe(1);
    }
  });
});

describe("DPoP requirement (RFC 9449 §5.2 dpop_bound_access_tokens)", () => {
  it("is set with --require-dpop and removed with update --no-require-dpop", async () => {
    const created = await createClient(["--require-dpop"]);
    expect(created.dpop_bound_access_tokens).toBe(true);
    expect(await ok(["show", created.client_id])).toMatch(/dpop_bound_access_tokens\s+yes/);
    const updated = JSON.parse(await ok(["update", created.client_id, "--no-require-dpop", "--json"]));
    expect(updated.dpop_bound_access_tokens).toBe(false);
    expect(JSON.parse(await ok(["show", created.client_id, "--json"])).dpop_bound_access_tokens).toBe(false);
  });
});

describe("static claims (CONTRACT: Claims in tokens)", () => {
  it("sets claims with --claim NAME=VALUE (JSON when it parses, else a string) and --claims-file, shown by show and list", async () => {
    const file = join(project, "claims.json");
    await writeFile(file, JSON.stringify({ region: "eu", limits: { rps: 10 } }));
    const created = await createClient([
      "--claims-file",
      file,
      "--claim",
      "tenant=acme",
      "--claim",
      'roles=["reader","billing"]',
      "--claim",
      "tier=3",
      "--claim",
      "beta=true",
      "--claim",
      'quoted="42"',
      "--claim",
      "note=not json, a string",
      "--claim",
      "https://example.com/team=core",
    ]);
    const expected = {
      region: "eu",
      limits: { rps: 10 },
      tenant: "acme",
      roles: ["reader", "billing"],
      tier: 3,
      beta: true,
      quoted: "42",
      note: "not json, a string",
      "https://example.com/team": "core",
    };
    expect(created.claims).toEqual(expected);
    expect(JSON.parse(await ok(["show", created.client_id, "--json"])).claims).toEqual(expected);
    const listed = JSON.parse(await ok(["list", "--json"])) as { client_id: string; claims: unknown }[];
    expect(listed.find((c) => c.client_id === created.client_id)?.claims).toEqual(expected);
    expect(await ok(["show", created.client_id])).toMatch(/claims\s+\{"region":"eu",.*"tenant":"acme"/);
    expect(JSON.parse(await ok(["show", (await createClient()).client_id, "--json"])).claims).toEqual({});
  });

  it("updates: --claim sets or replaces one claim, --claim NAME= removes it, --claims-file replaces all, --no-claims clears", async () => {
    const { client_id: id } = await createClient(["--claim", "tenant=acme", "--claim", "tier=1"]);
    const claimsAfter = async (args: string[]) => JSON.parse(await ok(["update", id, ...args, "--json"])).claims;
    expect(await claimsAfter(["--claim", "tier=2", "--claim", "env=prod"])).toEqual({
      tenant: "acme",
      tier: 2,
      env: "prod",
    });
    expect(await claimsAfter(["--claim", "tier="])).toEqual({ tenant: "acme", env: "prod" });
    const file = join(project, "replace.json");
    await writeFile(file, JSON.stringify({ team: "core" }));
    expect(await claimsAfter(["--claims-file", file, "--claim", "env=dev"])).toEqual({ team: "core", env: "dev" });
    expect(await claimsAfter(["--no-claims"])).toEqual({});
    expect(await claimsAfter(["--no-claims", "--claim", "fresh=1"])).toEqual({ fresh: 1 });
  });

  it("refuses every reserved name on create with a message on stderr and a non-zero exit, writing nothing", async () => {
    const names = [
      ..."iss sub aud exp nbf iat jti client_id scope cnf act may_act auth_time acr amr azp typ".split(" "),
      "keymint_role",
      "KEYMINT",
    ];
    for (const name of names) {
      // --dry-run prints every wrangler kv command it would run: no "put" means nothing would be written.
      const result = await cli([
        "create",
        "--name",
        "x",
        "--claim",
        "tenant=acme",
        "--claim",
        `${name}=x`,
        "--dry-run",
      ]);
      expect(result.code, name).toBe(1);
      expect(result.stdout, name).toBe("");
      expect(result.stderr, name).toContain(`error: claims: "${name}" is reserved`);
      expect(result.stderr, name).not.toMatch(/kv key put/);
    }
  });

  it("refuses reserved names and limits on update and leaves the client as it was", async () => {
    const { client_id: id } = await createClient(["--claim", "tenant=acme"]);
    const before = await ok(["show", id, "--json"]);
    const refusals: [string[], RegExp][] = [
      [["--claim", "sub=admin"], /claims: "sub" is reserved/],
      [["--claim", "keymint:admin=true"], /claims: "keymint:admin" is reserved/],
      [["--claim", `big=${"x".repeat(2100)}`], /claims take \d+ bytes as JSON, more than the 2048/],
      [["--claim", "id=12345678901234567890"], /beyond 2\^53.*as a string/],
    ];
    for (const [args, message] of refusals) {
      const result = await cli(["update", id, ...args]);
      expect(result.code, args.join(" ")).toBe(1);
      expect(result.stderr, args.join(" ")).toMatch(message);
    }
    // Mistakes in the options themselves are found before the registry is read (--dry-run: nothing runs).
    const mistakes: [string[], RegExp][] = [
      [["--claim", "noequals"], /--claim must be NAME=VALUE/],
      [["--claim", "a=1", "--claim", "a=2"], /--claim a is given more than once/],
      [["--no-claims", "--claims-file", "x.json"], /exclude each other/],
      [["--claims-file", "/no/such/file.json"], /cannot read --claims-file/],
    ];
    for (const [args, message] of mistakes) {
      const result = await cli(["update", id, ...args, "--dry-run"]);
      expect(result.code, args.join(" ")).toBe(1);
      expect(result.stderr, args.join(" ")).toMatch(message);
    }
    expect(await ok(["show", id, "--json"])).toBe(before);
    const createRemove = await cli(["create", "--name", "x", "--claim", "tenant=", "--dry-run"]);
    expect(createRemove.code).toBe(1);
    expect(createRemove.stderr).toMatch(/removes a claim \(only with update\)/);
  });

  it("imports claims with a client, validated like create", async () => {
    const file = join(project, "import-claims.json");
    const id = `imp-claims-${Date.now()}`;
    const secret = "imported-secret-with-enough-entropy-0123456789";
    await writeFile(file, JSON.stringify([{ client_id: id, client_secret: secret, claims: { tenant: "acme" } }]));
    await ok(["import", file]);
    expect(JSON.parse(await ok(["show", id, "--json"])).claims).toEqual({ tenant: "acme" });
    await writeFile(file, JSON.stringify([{ client_id: `${id}-2`, client_secret: secret, claims: { iss: "x" } }]));
    const refused = await cli(["import", file]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/claims: "iss" is reserved/);
  });
});

describe("no output ever reveals a salt or a secret hash", () => {
  it("holds for everything the CLI printed in this file", async () => {
    const records = JSON.parse(await ok(["list", "--json"])) as { client_id: string }[];
    expect(records.length).toBeGreaterThan(5);
    const text = allOutput.join("\n");
    expect(text).not.toMatch(/"salt"|"hash"/);
    for (const { client_id } of records.slice(0, 5)) {
      for (const stored of await storedSecrets(client_id)) expect(text).not.toContain(stored);
    }
  });
});
