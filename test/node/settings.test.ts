/**
 * The one list of settings (src/settings.ts) against everything that repeats it: wrangler.toml, .dev.vars.example,
 * the generated Env, the README's configuration table, and npm start's summary.
 */

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseEnv } from "node:util";
import { describe, expect, it } from "vitest";
import { unstable_readConfig } from "wrangler";
import { describeLocalSettings, varNames } from "../../scripts/local-settings.ts";
import {
  OPTIONAL_BINDINGS,
  OPTIONAL_SECRETS,
  REQUIRED_SECRETS,
  SETTING_NAMES,
  VAR_DEFAULTS,
} from "../../src/settings.ts";
import { ROOT, run } from "./helpers.ts";

const SECRETS: readonly string[] = [...REQUIRED_SECRETS, ...OPTIONAL_SECRETS];
const config = unstable_readConfig({ config: join(ROOT, "wrangler.toml") }, { hideWarnings: true });

describe("wrangler.toml", () => {
  it("declares every var in [vars] with exactly its default from src/settings.ts", () => {
    expect(config.vars).toEqual(VAR_DEFAULTS);
  });

  it("gives no var a secret's name (wrangler secret put of a [vars] name fails on deploy)", () => {
    expect(Object.keys(config.vars).filter((name) => SECRETS.includes(name))).toEqual([]);
  });

  it("leaves the optional bindings out (a binding to a missing Worker fails deploy) but shows them commented", async () => {
    const toml = await readFile(join(ROOT, "wrangler.toml"), "utf8");
    for (const name of OPTIONAL_BINDINGS) {
      expect(config.services?.some((s) => s.binding === name) ?? false, name).toBe(false);
      expect(toml, name).toMatch(new RegExp(`^# binding = "${name}"$`, "m"));
    }
  });

  it("has no [secrets] section, which would make wrangler dev drop every other .dev.vars name", async () => {
    expect(config.secrets).toBeUndefined();
    expect(await readFile(join(ROOT, "wrangler.toml"), "utf8")).not.toMatch(/^\s*\[secrets\]/m);
  });
});

describe(".dev.vars.example", () => {
  it("sets exactly the required secrets, documents every optional one, and is tracked by git", async () => {
    const text = await readFile(join(ROOT, ".dev.vars.example"), "utf8");
    expect(Object.keys(parseEnv(text)).sort()).toEqual([...REQUIRED_SECRETS].sort());
    for (const name of OPTIONAL_SECRETS) expect(text).toMatch(new RegExp(`^# ${name}=`, "m"));
    expect((await run("git", ["check-ignore", ".dev.vars.example"])).code).toBe(1);
  });

  it("types the required secrets and every var in the generated Env, and no optional secret", async () => {
    const types = await readFile(join(ROOT, "worker-configuration.d.ts"), "utf8");
    const env = /interface __BaseEnv_Env \{([^}]*)\}/.exec(types)?.[1] ?? "";
    const typed = [...env.matchAll(/^\s*(\w+): string;$/gm)].map((m) => m[1]);
    expect(typed.sort()).toEqual([...REQUIRED_SECRETS, ...Object.keys(VAR_DEFAULTS)].sort());
    expect(types).toContain("wrangler types --env-file=.dev.vars.example");
  });
});

describe("README configuration table", () => {
  it("lists every secret, var and binding with its kind, and every var with its default", async () => {
    const readme = await readFile(join(ROOT, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Configuration"), readme.indexOf("### Local configuration"));
    const rows = new Map(
      [...section.matchAll(/^\| `(\w+)` \| ([^|]+) \| ([^|]+) \|/gm)].map((m) => [
        m[1] as string,
        { kind: (m[2] as string).trim(), fallback: (m[3] as string).trim() },
      ]),
    );
    for (const name of SECRETS) expect(rows.get(name)?.kind, name).toBe("secret");
    for (const [name, value] of Object.entries(VAR_DEFAULTS)) {
      expect(rows.get(name), name).toEqual({ kind: "var", fallback: value === "" ? '`""`' : `\`${value}\`` });
    }
    const bindings = [
      "CLIENTS",
      ...config.ratelimits.map((r) => r.name),
      ...config.durable_objects.bindings.map((b) => b.name),
      ...OPTIONAL_BINDINGS,
    ];
    for (const name of bindings) expect(rows.get(name)?.kind, name).toMatch(/binding$/);
    expect([...rows.keys()].sort()).toEqual([...SETTING_NAMES, ...bindings].sort());
  });
});

describe("npm start's summary of local settings", () => {
  it("names the optional settings in effect by source, never a value, and flags names keymint does not read", () => {
    const lines = describeLocalSettings(
      'TOKEN_SIGNING_KEY="k-0123456789abcdefghijklmnopqrstuvwxyz"\nAUDIT_LOG=off\nTOKEN_VERIFICATION_KEYS="old-secret-key"\nFOO=1\n',
      { ...VAR_DEFAULTS, KV_CACHE_TTL: "120" },
      ["--port", "8787", "--var", "ISSUER:https://auth.example.com", "DEFAULT_TOKEN_TTL:900", "--var=BAR:2"],
    );
    expect(lines).toEqual([
      "keymint: optional settings in effect (names only): .dev.vars: AUDIT_LOG, TOKEN_VERIFICATION_KEYS; --var: DEFAULT_TOKEN_TTL, ISSUER; [vars] changed from the default: KV_CACHE_TTL",
      'keymint: keymint reads no setting named BAR, FOO (README, "Configuration", lists them all)',
    ]);
    expect(lines.join("\n")).not.toMatch(/old-secret-key|auth\.example\.com|off|900|120/);
  });

  it("says when nothing is set, and warns about an empty TOKEN_SIGNING_KEY", () => {
    expect(
      describeLocalSettings('TOKEN_SIGNING_KEY="k-0123456789abcdefghijklmnopqrstuvwxyz"\n', VAR_DEFAULTS, []),
    ).toEqual(["keymint: optional settings: none set, the defaults are in effect"]);
    const empty = describeLocalSettings('TOKEN_SIGNING_KEY=""\n', VAR_DEFAULTS, []);
    expect(empty[1]).toMatch(/^keymint: warning: TOKEN_SIGNING_KEY in \.dev\.vars is empty/);
  });

  it("reads --var the ways wrangler dev takes it", () => {
    expect(varNames(["--var", "A:1", "B:x:y", "--port", "1", "--var=C:3", "--var", "--ip", "D:4"])).toEqual([
      "A",
      "B",
      "C",
    ]);
  });
});
