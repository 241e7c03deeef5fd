/**
 * Client secrets: generation, import policy and hashing. Shared by the Worker and the CLI (WebCrypto only).
 *
 * Secrets are stored as SHA-256(salt ‖ secret). A fast hash is the right tool for the secrets keymint
 * generates (256 random bits): no dictionary applies and 2^256 guesses are out of reach at any hash speed,
 * whereas a slow password hash (PBKDF2, bcrypt, scrypt) would spend 50–100 ms of edge CPU per token request
 * to protect against an attack that cannot succeed. Imported secrets are only as strong as their source;
 * `secretWeakness` refuses the obviously weak ones and the CLI warns. The per-client random salt defeats
 * precomputed tables across a stolen registry.
 */

import { base64Decode, base64urlEncode, utf8Scratch } from "../util/base64url.ts";

/** Bytes of randomness in a generated secret (256 bits). */
export const SECRET_BYTES = 32;
export const SECRET_MIN_LENGTH = 32;
export const SECRET_MAX_LENGTH = 512;
const SECRET_MIN_DISTINCT = 10;
const SALT_BYTES = 16;

function randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

/** A new client secret: 256 random bits as base64url (43 characters, safe in `curl -u id:secret`). */
export function generateSecret(): string {
  return base64urlEncode(randomBytes(SECRET_BYTES));
}

/** A new client id: 128 random bits as lowercase hex (never starts with `-`, so it is safe as a CLI argument). */
export function generateClientId(): string {
  return Array.from(randomBytes(16), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A new per-client salt (128 bits, base64url). */
export function generateSalt(): string {
  return base64urlEncode(randomBytes(SALT_BYTES));
}

/**
 * Why an imported secret is refused, or `null` when it is acceptable: 32 to 512 characters, no control
 * characters, at least 10 distinct characters. These are machine credentials, not passwords.
 */
export function secretWeakness(secret: string): string | null {
  if (secret.length < SECRET_MIN_LENGTH) {
    return `client secret is too short: ${secret.length} characters, at least ${SECRET_MIN_LENGTH} are required (omit --client-secret to generate a 256-bit one)`;
  }
  if (secret.length > SECRET_MAX_LENGTH) {
    return `client secret is too long: at most ${SECRET_MAX_LENGTH} characters`;
  }
  if (/[\u0000-\u001f\u007f]/.test(secret)) return "client secret contains control characters";
  if (new Set(secret).size < SECRET_MIN_DISTINCT) {
    return `client secret is too repetitive: it must contain at least ${SECRET_MIN_DISTINCT} distinct characters`;
  }
  return null;
}

/** SHA-256(salt ‖ UTF-8 secret), the only form in which a secret is ever stored. */
export function hashSecret(secret: string, salt: Uint8Array): Promise<ArrayBuffer> {
  return crypto.subtle.digest("SHA-256", utf8Scratch(secret, salt));
}

/** Hashes a secret for storage with a record's base64url salt. */
export async function hashSecretForRecord(secret: string, salt: string): Promise<string> {
  const saltBytes = base64Decode(salt, "base64url");
  if (saltBytes === null) throw new Error("salt is not base64url");
  return base64urlEncode(new Uint8Array(await hashSecret(secret, saltBytes)));
}
