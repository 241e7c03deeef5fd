/**
 * JSON Web Keys (RFC 7517, RFC 7518 §6, RFC 8037) for key-pair signing and verification: validation, WebCrypto
 * parameters for one algorithm per key, public parts and RFC 7638 thumbprints. Shared by the Worker and the
 * Node tooling (WebCrypto only).
 */

import { base64Decode, base64urlEncode, UTF8 } from "../util/base64url.ts";

/** Asymmetric JWS algorithms keymint knows (RFC 7518 §3.3, §3.4, §3.5; RFC 8037 §3.1). */
export const ASYMMETRIC_ALGS = ["ES256", "EdDSA", "RS256", "PS256"] as const;
export type AsymmetricAlg = (typeof ASYMMETRIC_ALGS)[number];
export type JwsAlg = AsymmetricAlg | "HS256";

/** Algorithms keymint signs access tokens with when `TOKEN_SIGNING_JWK` is set. */
export const TOKEN_SIGNING_ALGS: readonly AsymmetricAlg[] = ["ES256", "EdDSA", "RS256"];

/** Smallest RSA modulus accepted, in bits (RFC 7518 §3.3 and §3.5 require 2048). */
export const RSA_MIN_BITS = 2048;

/** Members that hold private or symmetric key material (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2). */
export const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] as const;

/** A JWK as parsed from JSON: any members. */
export type Jwk = Record<string, unknown>;

/** WebCrypto algorithm parameters, typed structurally so both the Workers and the Node type libraries accept them. */
export interface CryptoParams {
  name: string;
  hash?: string;
  namedCurve?: string;
  saltLength?: number;
}

/** A public JWK as keymint publishes it: only the members that describe the public key, plus kid, alg, use. */
export interface PublicJwk {
  [member: string]: unknown;
  kty: "EC" | "OKP" | "RSA";
  kid?: string;
  alg: AsymmetricAlg;
  use: "sig";
  crv?: string;
  x?: string;
  y?: string;
  n?: string;
  e?: string;
}

/** A JWK that cannot be used as asked; the message says why (it never contains key material). */
export class JwkError extends Error {
  override readonly name = "JwkError";
}

interface AlgSpec {
  kty: "EC" | "OKP" | "RSA";
  crv?: string;
  /** Members of the public key, in RFC 7638 order for the thumbprint. */
  members: readonly string[];
  /** WebCrypto import parameters. */
  importParams: CryptoParams;
  /** WebCrypto sign/verify parameters. */
  signParams: CryptoParams;
}

const SPECS: Readonly<Record<AsymmetricAlg, AlgSpec>> = {
  ES256: {
    kty: "EC",
    crv: "P-256",
    members: ["crv", "kty", "x", "y"],
    importParams: { name: "ECDSA", namedCurve: "P-256" },
    signParams: { name: "ECDSA", hash: "SHA-256" },
  },
  EdDSA: {
    kty: "OKP",
    crv: "Ed25519",
    members: ["crv", "kty", "x"],
    importParams: { name: "Ed25519" },
    signParams: { name: "Ed25519" },
  },
  RS256: {
    kty: "RSA",
    members: ["e", "kty", "n"],
    importParams: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
    signParams: { name: "RSASSA-PKCS1-v1_5" },
  },
  PS256: {
    kty: "RSA",
    members: ["e", "kty", "n"],
    importParams: { name: "RSA-PSS", hash: "SHA-256" },
    signParams: { name: "RSA-PSS", saltLength: 32 },
  },
};

/** WebCrypto parameters to import a key of this algorithm. */
export function importParams(alg: AsymmetricAlg): CryptoParams {
  return SPECS[alg].importParams;
}

/** The JWK members of the public key for this algorithm (RFC 7638 order), without kid/alg/use. */
export function publicMembers(jwk: Jwk, alg: AsymmetricAlg): Record<string, string> {
  const out: Record<string, string> = {};
  for (const member of SPECS[alg].members) out[member] = String(jwk[member]);
  return out;
}

/** WebCrypto parameters to sign or verify with a key of this algorithm. */
export function signParams(alg: AsymmetricAlg): CryptoParams {
  return SPECS[alg].signParams;
}

/**
 * The algorithm name keymint uses internally: RFC 9864's fully-specified `Ed25519` is the same algorithm as
 * `EdDSA` on the only curve keymint supports (libraries such as oauth4webapi already send it).
 */
export function canonicalAlg(alg: unknown): unknown {
  return alg === "Ed25519" ? "EdDSA" : alg;
}

export function isAsymmetricAlg(value: unknown): value is AsymmetricAlg {
  return typeof value === "string" && (ASYMMETRIC_ALGS as readonly string[]).includes(value);
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Whether a JWK carries private or symmetric key material. */
export function hasPrivateMembers(jwk: Jwk): boolean {
  return PRIVATE_MEMBERS.some((member) => member in jwk);
}

/**
 * The algorithm a key is for: its `alg` when present, else the only one its type allows (EC P-256 → ES256,
 * OKP Ed25519 → EdDSA, RSA → RS256, the default of OpenID Connect). `null` when the key fits none of `allowed`.
 */
export function algorithmOf(jwk: Jwk, allowed: readonly AsymmetricAlg[] = ASYMMETRIC_ALGS): AsymmetricAlg | null {
  const alg = canonicalAlg(jwk.alg);
  if (alg !== undefined) return isAsymmetricAlg(alg) && allowed.includes(alg) ? alg : null;
  const inferred: AsymmetricAlg | null =
    jwk.kty === "EC" && jwk.crv === "P-256"
      ? "ES256"
      : jwk.kty === "OKP" && jwk.crv === "Ed25519"
        ? "EdDSA"
        : jwk.kty === "RSA"
          ? "RS256"
          : null;
  return inferred !== null && allowed.includes(inferred) ? inferred : null;
}

function bytesOf(jwk: Jwk, member: string): Uint8Array {
  const value = jwk[member];
  const bytes = typeof value === "string" ? base64Decode(value, "base64url") : null;
  if (bytes === null || bytes.length === 0) throw new JwkError(`member "${member}" is missing or not base64url`);
  return bytes;
}

/** Bits of an RSA modulus given as base64url bytes (leading zero bits not counted). */
function modulusBits(n: Uint8Array): number {
  let i = 0;
  while (i < n.length && n[i] === 0) i++;
  if (i === n.length) return 0;
  return (n.length - i) * 8 - (Math.clz32(n[i] as number) - 24);
}

/**
 * Checks that a JWK is a well-formed key of `alg`: the right `kty`/`crv`, coordinates of the right length, an
 * RSA modulus of at least RSA_MIN_BITS, `use` (if any) `sig`, and private members exactly when `needPrivate`.
 */
export function checkJwk(jwk: Jwk, alg: AsymmetricAlg, needPrivate: boolean): void {
  const spec = SPECS[alg];
  if (jwk.kty !== spec.kty) throw new JwkError(`alg ${alg} needs kty "${spec.kty}", the key has ${String(jwk.kty)}`);
  if (spec.crv !== undefined && jwk.crv !== spec.crv) {
    throw new JwkError(`alg ${alg} needs crv "${spec.crv}", the key has ${String(jwk.crv)}`);
  }
  if (jwk.use !== undefined && jwk.use !== "sig") throw new JwkError(`"use" is ${JSON.stringify(jwk.use)}, not "sig"`);
  if (spec.kty === "EC") {
    if (bytesOf(jwk, "x").length !== 32 || bytesOf(jwk, "y").length !== 32) {
      throw new JwkError("a P-256 key needs 32-byte x and y");
    }
  } else if (spec.kty === "OKP") {
    if (bytesOf(jwk, "x").length !== 32) throw new JwkError("an Ed25519 key needs a 32-byte x");
  } else {
    const bits = modulusBits(bytesOf(jwk, "n"));
    if (bits < RSA_MIN_BITS) throw new JwkError(`the RSA key has ${bits} bits; at least ${RSA_MIN_BITS} are required`);
    bytesOf(jwk, "e");
  }
  if (needPrivate && !("d" in jwk)) throw new JwkError("the key is public only (no private member d)");
  if (!needPrivate && hasPrivateMembers(jwk)) throw new JwkError("the key holds private members");
}

/**
 * The public part of a key for a JWKS: an allow-list of public members plus `kid`, `alg` and `use: "sig"`. Every
 * other member — `d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`, and anything unknown — is left out.
 */
export function publicJwk(jwk: Jwk, alg: AsymmetricAlg): PublicJwk {
  const out = { kty: SPECS[alg].kty, ...publicMembers(jwk, alg) } as unknown as PublicJwk;
  if (typeof jwk.kid === "string") out.kid = jwk.kid;
  out.alg = alg;
  out.use = "sig";
  return out;
}

/** RFC 7638 JWK thumbprint with SHA-256, base64url: the `kid` `keys generate` derives and DPoP's `jkt`. */
export async function jwkThumbprint(jwk: Jwk, alg: AsymmetricAlg): Promise<string> {
  const canonical = JSON.stringify(publicMembers(jwk, alg));
  return base64urlEncode(new Uint8Array(await crypto.subtle.digest("SHA-256", UTF8.encode(canonical))));
}

/** Parses JSON text into a JWK object; throws `JwkError` when it is not a JSON object. */
export function parseJwk(text: string): Jwk {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new JwkError("it is not valid JSON");
  }
  if (!isObject(value)) throw new JwkError("it is not a JSON object");
  return value;
}

/** The `keys` of a JWKS document (RFC 7517 §5); throws `JwkError` when the document has no such array. */
export function jwksKeys(value: unknown): Jwk[] {
  if (!isObject(value) || !Array.isArray(value.keys)) throw new JwkError('it is not a JWKS ({"keys":[…]})');
  const keys = value.keys as unknown[];
  if (!keys.every(isObject)) throw new JwkError("a member of keys is not a JSON object");
  return keys as Jwk[];
}
