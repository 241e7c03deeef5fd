/** Option parsing shared by the clients-CLI commands: settings, secrets, keys, durations. */

import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { ClientKeys, ClientSettings, MtlsRegistration } from "../src/clients/lifecycle.ts";
import type { ClientFields } from "../src/clients/operations.ts";
import { secretWeakness } from "../src/clients/secrets.ts";
import {
  CLAIM_NAME_MAX,
  CLAIMS_MAX_BYTES,
  CLAIMS_MAX_COUNT,
  type ExtraClaims,
  RESERVED_CLAIM_NAMES,
} from "../src/oauth/claims.ts";
import {
  CertificateError,
  jwksThumbprints,
  normalizeFingerprint,
  pemCertificates,
  thumbprintOf,
} from "../src/x509/thumbprint.ts";
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
  "require-mtls-binding": { type: "boolean" },
} as const;

/** Static claims (`claims` is only for `update --no-claims`). */
export const CLAIM_OPTIONS = {
  claim: { type: "string", multiple: true },
  "claims-file": { type: "string" },
} as const;

export const KEY_OPTIONS = {
  jwks: { type: "string" },
  "jwks-uri": { type: "string" },
  "federated-issuer": { type: "string" },
  "federated-subject": { type: "string" },
  "federated-audience": { type: "string" },
} as const;

export const MTLS_OPTIONS = {
  "tls-subject-dn": { type: "string" },
  "tls-san-dns": { type: "string" },
  "tls-san-uri": { type: "string" },
  "tls-san-ip": { type: "string" },
  "tls-san-email": { type: "string" },
  "tls-certificate": { type: "string", multiple: true },
  "tls-fingerprint": { type: "string", multiple: true },
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
                          client's key (update: --no-require-dpop to remove)
  --require-mtls-binding  every token request must come over mutual TLS; tokens are then bound to the client's
                          TLS certificate (RFC 8705 section 3; update: --no-require-mtls-binding to remove)`;

export const HELP_CLAIMS = `Static claims, carried by every access token of the client (docs/claims.md):
  --claim NAME=VALUE      set a claim (repeatable); VALUE is JSON when it parses as JSON (42, true, ["a","b"],
                          {"k":"v"}, "quoted"), otherwise a string. update: --claim NAME= removes NAME
  --claims-file FILE      a JSON object of claims (update: replaces them all; --claim edits apply on top)
  --no-claims             update: remove every claim
  Reserved: ${[...RESERVED_CLAIM_NAMES].join(" ")} and names starting with "keymint".
  Limits: ${CLAIMS_MAX_COUNT} claims, names up to ${CLAIM_NAME_MAX} characters, ${CLAIMS_MAX_BYTES} bytes of JSON in all.`;

export const HELP_KEYS = `Keys instead of a secret (private_key_jwt, RFC 7523; no secret is stored or printed):
  --jwks FILE             the client's public keys, a JWK Set (ES256, EdDSA, RS256 or PS256; RSA keys need "alg")
  --jwks-uri URL          where keymint fetches the client's public keys (https; http only on 127.0.0.1/localhost)
  --federated-issuer URL  federated workload identity: the OpenID Connect issuer whose tokens the workload presents
  --federated-subject SUB   the exact "sub" of those tokens (e.g. repo:acme/app:ref:refs/heads/main)
  --federated-audience AUD  the "aud" they must carry (default: keymint's issuer)`;

export const HELP_MTLS = `A TLS client certificate instead of a secret (RFC 8705, through Cloudflare mTLS; see docs/mtls.md):
  --tls-subject-dn DN     tls_client_auth: the certificate's subject DN (RFC 4514, e.g. "CN=billing,O=Acme,C=US")
  --tls-san-dns NAME      tls_client_auth: a dNSName in the certificate's subject alternative names instead
  --tls-san-uri URI       … a URI SAN (e.g. a SPIFFE ID spiffe://acme.example/ns/prod/sa/billing)
  --tls-san-ip IP         … an iPAddress SAN
  --tls-san-email ADDR    … an rfc822Name (e-mail) SAN
  --tls-certificate FILE  self_signed_tls_client_auth: the client's certificate, PEM (or a JWK Set with x5c);
                          repeatable, and a PEM file may hold several (rotation)
  --tls-fingerprint SHA256  self_signed_tls_client_auth: a certificate's SHA-256 fingerprint (hex, colons optional,
                          as \`openssl x509 -noout -fingerprint -sha256\` prints it); repeatable`;

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

function strings(values: Values, name: string): string[] {
  const v = values[name];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map(String);
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
  const requireMtlsBinding = values["require-mtls-binding"];
  if (typeof requireMtlsBinding === "boolean") settings.requireMtlsBinding = requireMtlsBinding;
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
  if (settings.requireMtlsBinding !== undefined) {
    fields.tls_client_certificate_bound_access_tokens = settings.requireMtlsBinding;
  }
  if (settings.claims !== undefined) fields.claims = settings.claims as Record<string, unknown>;
  return fields;
}

/**
 * mTLS options as the client object's fields, replacing the whole registration: the given subject or
 * certificates, every other RFC 8705 field reset (`null`).
 */
export function mtlsFieldsOf(mtls: MtlsRegistration): ClientFields {
  const fields: ClientFields = {
    token_endpoint_auth_method: mtls.token_endpoint_auth_method,
    tls_client_auth_subject_dn: null,
    tls_client_auth_san_dns: null,
    tls_client_auth_san_uri: null,
    tls_client_auth_san_ip: null,
    tls_client_auth_san_email: null,
    tls_client_certificate_thumbprints: null,
  };
  for (const [name, value] of Object.entries(mtls)) {
    if (name !== "token_endpoint_auth_method" && value !== undefined) {
      (fields as Record<string, unknown>)[name] = Array.isArray(value) ? [...value] : value;
    }
  }
  return fields;
}

/** Key options as the client object's fields; a federation is given whole (every member), replacing the current. */
export function keyFieldsOf(keys: ClientKeys): ClientFields {
  // The method says what `jwks` is (keys, not a self-signed client's certificates).
  const method = { token_endpoint_auth_method: "private_key_jwt" };
  if ("jwks" in keys) return { ...method, jwks: keys.jwks };
  if ("jwksUri" in keys) return { ...method, jwks_uri: keys.jwksUri };
  const { issuer, subject, audience } = keys.federation;
  return { ...method, federation: { issuer, subject, audience } };
}

const SUBJECT_FLAGS = {
  "tls-subject-dn": "tls_client_auth_subject_dn",
  "tls-san-dns": "tls_client_auth_san_dns",
  "tls-san-uri": "tls_client_auth_san_uri",
  "tls-san-ip": "tls_client_auth_san_ip",
  "tls-san-email": "tls_client_auth_san_email",
} as const;

/** The x5t#S256 of each certificate in a PEM file, or in a JWK Set file (x5c); checks that each is a certificate. */
async function certificateFileThumbprints(path: string, now: number): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new CliError(`cannot read --tls-certificate ${path}: ${(err as Error).message}`);
  }
  try {
    if (text.trimStart().startsWith("{")) {
      let jwks: unknown;
      try {
        jwks = JSON.parse(text);
      } catch {
        throw new CliError(`--tls-certificate ${path} is neither PEM nor valid JSON`);
      }
      return await jwksThumbprints(jwks);
    }
    const thumbprints: string[] = [];
    for (const der of pemCertificates(text)) {
      let certificate: X509Certificate;
      try {
        certificate = new X509Certificate(der);
      } catch (err) {
        throw new CliError(`--tls-certificate ${path}: not an X.509 certificate (${(err as Error).message})`);
      }
      if (Date.parse(certificate.validTo) / 1000 < now) {
        process.stderr.write(
          `warning: the certificate ${certificate.subject.replace(/\n/g, ", ")} in ${path} has expired\n`,
        );
      }
      thumbprints.push(await thumbprintOf(der));
    }
    return thumbprints;
  } catch (err) {
    if (err instanceof CertificateError) throw new CliError(`--tls-certificate ${path}: ${err.message}`);
    throw err;
  }
}

/**
 * The mTLS options, or `undefined` when none is given: one subject (`--tls-subject-dn` or one `--tls-san-*`) for
 * tls_client_auth, or certificates (`--tls-certificate`, `--tls-fingerprint`) for self_signed_tls_client_auth.
 * The lifecycle rules then check the values themselves.
 */
export async function mtlsFrom(values: Values, now: number): Promise<MtlsRegistration | undefined> {
  const subjects = Object.entries(SUBJECT_FLAGS).filter(([flag]) => str(values, flag) !== undefined);
  const files = strings(values, "tls-certificate");
  const fingerprints = strings(values, "tls-fingerprint");
  if (subjects.length === 0 && files.length === 0 && fingerprints.length === 0) return undefined;
  if (subjects.length > 0 && files.length + fingerprints.length > 0) {
    throw new CliError(
      "--tls-subject-dn / --tls-san-* (tls_client_auth) and --tls-certificate / --tls-fingerprint (self_signed_tls_client_auth) exclude each other",
    );
  }
  if (subjects.length > 0) {
    if (subjects.length > 1) {
      throw new CliError(
        `give exactly one of --tls-subject-dn and --tls-san-* (RFC 8705 section 2.1.2), not ${subjects.map(([f]) => `--${f}`).join(" and ")}`,
      );
    }
    const [flag, field] = subjects[0] as [
      keyof typeof SUBJECT_FLAGS,
      (typeof SUBJECT_FLAGS)[keyof typeof SUBJECT_FLAGS],
    ];
    return { token_endpoint_auth_method: "tls_client_auth", [field]: str(values, flag) };
  }
  const thumbprints: string[] = [];
  for (const file of files) thumbprints.push(...(await certificateFileThumbprints(file, now)));
  for (const fingerprint of fingerprints) {
    try {
      thumbprints.push(normalizeFingerprint(fingerprint));
    } catch (err) {
      if (err instanceof CertificateError) throw new CliError(`--tls-fingerprint: ${err.message}`);
      throw err;
    }
  }
  return { token_endpoint_auth_method: "self_signed_tls_client_auth", tls_client_certificate_thumbprints: thumbprints };
}

/** Changes to a client's static claims asked for on the command line. */
export interface ClaimEdits {
  /** The claims to start from: `null` keeps the client's current ones (update without --claims-file/--no-claims). */
  base: Record<string, unknown> | null;
  /** `--claim NAME=VALUE`, in order. */
  set: [string, unknown][];
  /** `--claim NAME=`. */
  remove: string[];
}

/** `--claim NAME=VALUE`: VALUE is JSON when it parses as JSON, otherwise the string itself; empty VALUE removes NAME. */
function parseClaimOption(text: string): { name: string; value: unknown } | { name: string; remove: true } {
  const eq = text.indexOf("=");
  if (eq <= 0) throw new CliError(`--claim must be NAME=VALUE, got ${JSON.stringify(text)}`);
  const name = text.slice(0, eq);
  const raw = text.slice(eq + 1);
  if (raw === "") return { name, remove: true };
  try {
    return { name, value: JSON.parse(raw) };
  } catch {
    return { name, value: raw };
  }
}

async function readClaimsFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new CliError(`cannot read --claims-file ${path}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CliError(`--claims-file ${path} is not valid JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new CliError(`--claims-file ${path} must hold a JSON object of claim names to values`);
  }
  return value as Record<string, unknown>;
}

/** The claim options, or `undefined` when none is given. The rules themselves (reserved names, limits) are lifecycle's. */
export async function claimEditsFrom(values: Values, forUpdate: boolean): Promise<ClaimEdits | undefined> {
  const options = (values.claim as string[] | undefined) ?? [];
  const file = str(values, "claims-file");
  const none = values.claims === false;
  if (values.claims === true) throw new CliError("use --claim NAME=VALUE or --claims-file FILE (update: --no-claims)");
  if (options.length === 0 && file === undefined && !none) return undefined;
  if (none && file !== undefined) throw new CliError("--no-claims and --claims-file exclude each other");
  const edits: ClaimEdits = {
    base: file !== undefined ? await readClaimsFile(file) : none ? {} : null,
    set: [],
    remove: [],
  };
  const seen = new Set<string>();
  for (const option of options) {
    const parsed = parseClaimOption(option);
    if (seen.has(parsed.name)) throw new CliError(`--claim ${parsed.name} is given more than once`);
    seen.add(parsed.name);
    if ("remove" in parsed) {
      if (!forUpdate)
        throw new CliError(
          `--claim ${parsed.name}= removes a claim (only with update); for an empty string use --claim '${parsed.name}=""'`,
        );
      edits.remove.push(parsed.name);
    } else edits.set.push([parsed.name, parsed.value]);
  }
  return edits;
}

/** The client's claims after the edits (validated by lifecycle when saved). */
export function applyClaimEdits(current: Readonly<ExtraClaims>, edits: ClaimEdits): Record<string, unknown> {
  const next: Record<string, unknown> = { ...(edits.base ?? current) };
  for (const name of edits.remove) delete next[name];
  for (const [name, value] of edits.set)
    Object.defineProperty(next, name, { value, enumerable: true, writable: true, configurable: true });
  return next;
}
