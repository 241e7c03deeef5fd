/** Option parsing shared by the clients-CLI commands: settings, secrets, keys, durations. */

import { readFile } from "node:fs/promises";
import type { ClientKeys, ClientSettings } from "../src/clients/lifecycle.ts";
import type { ClientFields } from "../src/clients/operations.ts";
import { secretWeakness } from "../src/clients/secrets.ts";
import type { Values } from "./command.ts";
import { parseDuration } from "./duration.ts";
import { CliError } from "./registry.ts";

export const TARGET_OPTIONS = {
  local: { type: "boolean" },
  remote: { type: "boolean" },
  json: { type: "boolean" },
  config: { type: "string" },
  env: { type: "string" },
  "persist-to": { type: "string" },
  "dry-run": { type: "boolean" },
  driver: { type: "string" },
  api: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

export const SETTINGS_OPTIONS = {
  name: { type: "string" },
  scope: { type: "string", multiple: true },
  audience: { type: "string", multiple: true },
  ttl: { type: "string" },
  "can-introspect": { type: "boolean" },
  quota: { type: "string" },
  "require-dpop": { type: "boolean" },
} as const;

export const KEY_OPTIONS = {
  jwks: { type: "string" },
  "jwks-uri": { type: "string" },
  "federated-issuer": { type: "string" },
  "federated-subject": { type: "string" },
  "federated-audience": { type: "string" },
} as const;

export const HELP_TARGET = `Target (every command):
  --local                 the local registry that \`npm start\` / \`wrangler dev\` serve (default)
  --remote                the deployed KV namespace (needs \`npx wrangler login\` or CLOUDFLARE_API_TOKEN)
  --config PATH           wrangler configuration file (default: wrangler.toml)
  --env NAME              wrangler environment
  --persist-to DIR        local state directory (default: .wrangler/state, as wrangler dev)
  --dry-run               print the wrangler commands instead of running them (implies --driver wrangler;
                          reads then find nothing)
  --driver wrangler       drive the local registry through \`wrangler kv\` commands, exactly as --remote does
  --api URL               through keymint's admin API at URL, as an admin client: KEYMINT_CLIENT_ID and
                          KEYMINT_CLIENT_SECRET (or KEYMINT_CLIENT_KEY: its private JWK or a file holding it;
                          or KEYMINT_CLIENT_ASSERTION: a ready client assertion, e.g. a CI job's OIDC token)
  --json                  machine-readable output`;

export const HELP_SETTINGS = `Client settings:
  --name NAME             display name
  --scope "a b"           allowed scopes (space-separated, repeatable); a token request without scope gets all
  --audience AUD          allowed audience (repeatable); the first is the default aud, others via resource=
  --ttl SECONDS           token lifetime, ${60} to ${86400} seconds (update: "default" to reset)
  --can-introspect        may call /oauth2/introspect (update: --no-can-introspect to remove)
  --quota N               tokens per minute (at least 10) (update: "none" to remove)
  --require-dpop          every token request must carry a DPoP proof (RFC 9449); tokens are then bound to the
                          client's key (update: --no-require-dpop to remove)`;

export const HELP_KEYS = `Keys instead of a secret (private_key_jwt, RFC 7523; no secret is stored or printed):
  --jwks FILE             the client's public keys, a JWK Set (ES256, EdDSA, RS256 or PS256; RSA keys need "alg")
  --jwks-uri URL          where keymint fetches the client's public keys (https; http only on 127.0.0.1/localhost)
  --federated-issuer URL  federated workload identity: the OpenID Connect issuer whose tokens the workload presents
  --federated-subject SUB   the exact "sub" of those tokens (e.g. repo:acme/app:ref:refs/heads/main)
  --federated-audience AUD  the "aud" they must carry (default: keymint's issuer)`;

export function str(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === "string" ? v : undefined;
}

function list(values: Values, name: string): string[] | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  return (Array.isArray(v) ? v : [v]).flatMap((item) => String(item).split(/\s+/)).filter((s) => s !== "");
}

function integerOption(text: string, flag: string): number {
  if (!/^\d+$/.test(text)) throw new CliError(`${flag} must be a whole number, got "${text}"`);
  return Number(text);
}

export function durationOption(values: Values, flag: string): number | undefined {
  const text = str(values, flag);
  if (text === undefined) return undefined;
  const seconds = parseDuration(text);
  if (seconds === null) throw new CliError(`--${flag} must be a duration like 90s, 30m, 24h or 7d, got "${text}"`);
  return seconds;
}

export function expiryFrom(now: number, seconds: number | undefined): number | null {
  return seconds === undefined || seconds === 0 ? null : now + seconds;
}

export function settingsFrom(values: Values, forUpdate: boolean): ClientSettings {
  const settings: ClientSettings = {};
  const name = str(values, "name");
  if (name !== undefined) settings.name = name;
  const scopes = list(values, "scope");
  if (scopes !== undefined) settings.scopes = scopes;
  const audiences = list(values, "audience");
  if (audiences !== undefined) settings.audiences = audiences;
  const ttl = str(values, "ttl");
  if (ttl !== undefined) settings.ttl = forUpdate && ttl === "default" ? null : integerOption(ttl, "--ttl");
  const canIntrospect = values["can-introspect"];
  if (typeof canIntrospect === "boolean") settings.canIntrospect = canIntrospect;
  const requireDpop = values["require-dpop"];
  if (typeof requireDpop === "boolean") settings.requireDpop = requireDpop;
  const quota = str(values, "quota");
  if (quota !== undefined)
    settings.quotaPerMinute = forUpdate && quota === "none" ? null : integerOption(quota, "--quota");
  return settings;
}

export const IMPORTED_SECRET_WARNING =
  "warning: an imported secret is only as strong as its source and is stored with a fast hash; " +
  "once the client is migrated, replace it with a generated one: npm run -s clients -- rotate-secret ID --grace 24h";

/** `--client-secret SECRET|-` (stdin), checked for weakness; warns that imported secrets are only as strong as their source. */
export async function readSecretOption(values: Values, flag: string): Promise<string | undefined> {
  let secret = str(values, flag);
  if (secret === "-") {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    secret = Buffer.concat(chunks)
      .toString("utf8")
      .replace(/\r?\n$/, "");
  }
  if (secret === undefined) return undefined;
  const weakness = secretWeakness(secret);
  if (weakness !== null) throw new CliError(weakness);
  process.stderr.write(`${IMPORTED_SECRET_WARNING}\n`);
  return secret;
}

async function readJwksFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new CliError(`cannot read --jwks ${path}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CliError(`--jwks ${path} is not valid JSON`);
  }
  const keys = (value as { keys?: unknown })?.keys;
  if (Array.isArray(keys) && keys.some((k) => typeof k === "object" && k !== null && "d" in k)) {
    throw new CliError(
      `--jwks ${path} holds private key material ("d"); register only the public keys (npm run -s keys -- public < FILE)`,
    );
  }
  return value;
}

/**
 * The key options, or `undefined` when none is given: exactly one of `--jwks`, `--jwks-uri` and the
 * `--federated-*` group (issuer and subject together).
 */
export async function keysFrom(values: Values): Promise<ClientKeys | undefined> {
  const jwks = str(values, "jwks");
  const jwksUri = str(values, "jwks-uri");
  const issuer = str(values, "federated-issuer");
  const subject = str(values, "federated-subject");
  const audience = str(values, "federated-audience");
  const federated = issuer !== undefined || subject !== undefined || audience !== undefined;
  const given = [jwks !== undefined, jwksUri !== undefined, federated].filter(Boolean).length;
  if (given === 0) return undefined;
  if (given > 1) throw new CliError("use only one of --jwks, --jwks-uri and --federated-issuer");
  if (jwks !== undefined) return { jwks: await readJwksFile(jwks) };
  if (jwksUri !== undefined) return { jwksUri };
  if (issuer === undefined || subject === undefined) {
    throw new CliError("--federated-issuer and --federated-subject go together");
  }
  return { federation: { issuer, subject, audience: audience ?? null } };
}

/** Client settings as the client object's fields (what every driver takes). */
export function fieldsOf(settings: ClientSettings): ClientFields {
  const fields: ClientFields = {};
  if (settings.name !== undefined) fields.name = settings.name;
  if (settings.scopes !== undefined) fields.scopes = settings.scopes;
  if (settings.audiences !== undefined) fields.audiences = settings.audiences;
  if (settings.ttl !== undefined) fields.ttl = settings.ttl;
  if (settings.canIntrospect !== undefined) fields.can_introspect = settings.canIntrospect;
  if (settings.tokenGrant !== undefined) fields.grant_types = settings.tokenGrant ? ["client_credentials"] : [];
  if (settings.quotaPerMinute !== undefined) fields.quota_per_minute = settings.quotaPerMinute;
  if (settings.requireDpop !== undefined) fields.dpop_bound_access_tokens = settings.requireDpop;
  return fields;
}

/** Key options as the client object's fields; a federation is given whole (every member), replacing the current. */
export function keyFieldsOf(keys: ClientKeys): ClientFields {
  if ("jwks" in keys) return { jwks: keys.jwks };
  if ("jwksUri" in keys) return { jwks_uri: keys.jwksUri };
  const { issuer, subject, audience } = keys.federation;
  return { federation: { issuer, subject, audience } };
}
