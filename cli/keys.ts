/**
 * keymint signing keys: `npm run -s keys -- <command>`.
 *
 *   generate [--alg ES256|EdDSA|RS256] [--bits N]   a new private JWK, one line, for `wrangler secret put TOKEN_SIGNING_JWK`
 *   public                                          the public JWKS of a JWK or JWKS read from stdin
 */

import { parseArgs } from "node:util";
import {
  type AsymmetricAlg,
  algorithmOf,
  checkJwk,
  hasPrivateMembers,
  type Jwk,
  JwkError,
  jwksKeys,
  jwkThumbprint,
  type PublicJwk,
  parseJwk,
  publicJwk,
  RSA_MIN_BITS,
  TOKEN_SIGNING_ALGS,
} from "../src/jwt/jwk.ts";

const USAGE = `Usage: npm run -s keys -- <command>

Commands:
  generate [--alg ES256|EdDSA|RS256] [--bits N]
      print a new private JWK (one JSON line, with "kid" = its RFC 7638 thumbprint and "alg"), ready for
      \`npx wrangler secret put TOKEN_SIGNING_JWK\` (or TOKEN_SIGNING_JWK='…' in .dev.vars). Default alg ES256;
      --bits sets the RSA modulus (default 2048, at least ${RSA_MIN_BITS}).
  public
      read a JWK or a JWKS on stdin and print the JWKS of its public parts (kid, alg, use and the public key
      members only), e.g. for TOKEN_VERIFICATION_JWKS when retiring a key.`;

class UsageError extends Error {}

type GenerateParams = Parameters<typeof crypto.subtle.generateKey>[0];

const GENERATE: Record<AsymmetricAlg, (bits: number) => GenerateParams> = {
  ES256: () => ({ name: "ECDSA", namedCurve: "P-256" }),
  EdDSA: () => ({ name: "Ed25519" }),
  RS256: (bits) => ({
    name: "RSASSA-PKCS1-v1_5",
    modulusLength: bits,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: "SHA-256",
  }),
  PS256: (bits) => ({
    name: "RSA-PSS",
    modulusLength: bits,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: "SHA-256",
  }),
};

/** A new private JWK for `alg`, with `kid` (RFC 7638 thumbprint), `alg` and `use`. */
async function generateJwk(alg: AsymmetricAlg, bits = 2048): Promise<Jwk> {
  const pair = (await crypto.subtle.generateKey(GENERATE[alg](bits), true, ["sign", "verify"])) as {
    privateKey: Parameters<typeof crypto.subtle.exportKey>[1];
  };
  const exported = (await crypto.subtle.exportKey("jwk", pair.privateKey)) as Jwk;
  const { key_ops: _ops, ext: _ext, alg: _alg, ...material } = exported;
  const jwk: Jwk = { ...material, alg, use: "sig" };
  checkJwk(jwk, alg, true);
  return { kid: await jwkThumbprint(jwk, alg), ...jwk };
}

/** The public JWKS for a JWK or JWKS document (text). Every key needs an `alg` keymint can sign with. */
function publicKeySet(text: string): { keys: PublicJwk[] } {
  const parsed = parseJwk(text);
  const keys = Array.isArray(parsed.keys) ? jwksKeys(parsed) : [parsed];
  return {
    keys: keys.map((jwk, i) => {
      const alg = algorithmOf(jwk, TOKEN_SIGNING_ALGS);
      if (jwk.alg === undefined || alg === null) {
        throw new JwkError(`key ${i} needs "alg" ${TOKEN_SIGNING_ALGS.join(" | ")}`);
      }
      if (typeof jwk.kid !== "string" || jwk.kid === "") throw new JwkError(`key ${i} has no "kid"`);
      checkJwk(jwk, alg, hasPrivateMembers(jwk));
      return publicJwk(jwk, alg);
    }),
  };
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === "--help" || command === "-h" || command === "help") {
      (command === undefined ? process.stderr : process.stdout).write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    }
    if (command === "generate") {
      const { values } = parseArgs({
        args: rest,
        options: { alg: { type: "string" }, bits: { type: "string" }, help: { type: "boolean", short: "h" } },
        strict: true,
      });
      if (values.help === true) {
        process.stdout.write(`${USAGE}\n`);
        return 0;
      }
      const alg = values.alg ?? "ES256";
      if (!(TOKEN_SIGNING_ALGS as readonly string[]).includes(alg)) {
        throw new UsageError(`--alg must be one of ${TOKEN_SIGNING_ALGS.join(", ")}, got "${alg}"`);
      }
      const bits = values.bits === undefined ? 2048 : Number(values.bits);
      if (!Number.isInteger(bits) || bits < RSA_MIN_BITS || bits > 8192 || bits % 8 !== 0) {
        throw new UsageError(`--bits must be a multiple of 8 between ${RSA_MIN_BITS} and 8192`);
      }
      process.stdout.write(`${JSON.stringify(await generateJwk(alg as AsymmetricAlg, bits))}\n`);
      return 0;
    }
    if (command === "public") {
      if (rest.length > 0) throw new UsageError("public takes no arguments; it reads the JWK or JWKS on stdin");
      process.stdout.write(`${JSON.stringify(publicKeySet(await readStdin()))}\n`);
      return 0;
    }
    throw new UsageError(`unknown command "${command}" (commands: generate, public)`);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`error: ${err.message}\n`);
      return 2;
    }
    if (err instanceof JwkError) {
      process.stderr.write(`error: the key cannot be used: ${err.message}\n`);
      return 1;
    }
    if (String((err as { code?: unknown }).code).startsWith("ERR_PARSE_ARGS")) {
      process.stderr.write(`error: ${(err as Error).message.split("\n")[0]}\n`);
      return 2;
    }
    throw err;
  }
}

process.exitCode = await main(process.argv.slice(2));
