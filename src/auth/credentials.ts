// SCRAM credentials (RFC 5802 §3) for storage, and password checks for PLAIN. The
// password itself is never stored: only salt, iteration count, StoredKey and ServerKey.
import { createHash, createHmac, pbkdf2, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import saslprepLib from '@mongodb-js/saslprep';
import { SaslError } from '../errors.js';
import type { ScramHash, ScramKeys, StoredCredentials } from '../storage/types.js';

/** Node's digest name and output length for each SCRAM hash (RFC 5802, RFC 7677). */
export const SCRAM_DIGESTS: Record<ScramHash, { algorithm: 'sha1' | 'sha256'; length: number }> = {
  'SCRAM-SHA-1': { algorithm: 'sha1', length: 20 },
  'SCRAM-SHA-256': { algorithm: 'sha256', length: 32 },
};
export const SCRAM_HASHES = Object.keys(SCRAM_DIGESTS) as ScramHash[];

const SALT_BYTES = 16;
const CLIENT_KEY = 'Client Key';
const SERVER_KEY = 'Server Key';
// The hash PLAIN checks against; every account has both.
const PLAIN_VERIFY_HASH = 'SCRAM-SHA-256' satisfies ScramHash;
/** What PLAIN needs of an account's credentials. */
export type PlainVerifier = Pick<StoredCredentials, typeof PLAIN_VERIFY_HASH>;

const pbkdf2Async = promisify(pbkdf2);

/**
 * SASLprep (RFC 4013) of a user name or password. RFC 5802 §5.1: the client "SHOULD
 * prepare the username using SASLprep" and "Normalize(str)" applies SASLprep to the
 * password; we do the same on the server so both sides hash the same bytes.
 */
export function saslprep(s: string): string {
  try {
    return saslprepLib(s);
  } catch {
    throw new SaslError('malformed-request', 'string not allowed by SASLprep');
  }
}

/** HMAC(key, data) with the SCRAM hash (RFC 5802 §2.2). */
export function hmac(hash: ScramHash, key: Buffer, data: Buffer | string): Buffer {
  return createHmac(SCRAM_DIGESTS[hash].algorithm, key).update(data).digest();
}

/** H(data) with the SCRAM hash. */
export function digest(hash: ScramHash, data: Buffer): Buffer {
  return createHash(SCRAM_DIGESTS[hash].algorithm).update(data).digest();
}

/**
 * An authzid names whom the client wants to act as. We only let users act as themselves,
 * so it must be the authenticating user's bare JID. Case-insensitive because the lookup
 * case-folds the user name (UsernameCaseMapped) and domains are case-insensitive.
 */
export function authzidAllowed(authzid: string, username: string, host: string): boolean {
  return authzid.toLowerCase() === `${username}@${host}`.toLowerCase();
}

/** Equal length and content, in time independent of the content. */
export function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** ClientKey := HMAC(SaltedPassword, "Client Key"); StoredKey := H(ClientKey). */
export function storedKeyOf(hash: ScramHash, saltedPassword: Buffer): Buffer {
  return digest(hash, hmac(hash, saltedPassword, CLIENT_KEY));
}

function keysFromSaltedPassword(hash: ScramHash, saltedPassword: Buffer, salt: Buffer, iterations: number): ScramKeys {
  return {
    salt,
    iterations,
    storedKey: storedKeyOf(hash, saltedPassword),
    serverKey: hmac(hash, saltedPassword, SERVER_KEY),
  };
}

/**
 * SaltedPassword := Hi(Normalize(password), salt, i) for SHA-1 and SHA-256, each with its
 * own 16-byte random salt unless one is given (tests, imports).
 */
export function deriveCredentials(password: string, iterations: number, salt?: Buffer): StoredCredentials {
  if (!Number.isInteger(iterations) || iterations < 1) throw new RangeError(`invalid iteration count ${iterations}`);
  const normalized = Buffer.from(saslprep(password), 'utf8');
  const entries = SCRAM_HASHES.map((hash) => {
    const s = salt ?? randomBytes(SALT_BYTES);
    const { algorithm, length } = SCRAM_DIGESTS[hash];
    const saltedPassword = pbkdf2Sync(normalized, s, iterations, length, algorithm);
    return [hash, keysFromSaltedPassword(hash, saltedPassword, s, iterations)] as const;
  });
  return Object.fromEntries(entries) as StoredCredentials;
}

/** SASLprep'd password bytes, or null when SASLprep rejects it (it can match nothing). */
function normalizedPassword(password: string): Buffer | null {
  try {
    return Buffer.from(saslprep(password), 'utf8');
  } catch {
    return null;
  }
}

/** PLAIN: does the password reproduce the stored SHA-256 StoredKey? Blocks for one PBKDF2. */
export function verifyPassword(creds: PlainVerifier, password: string): boolean {
  const keys = creds[PLAIN_VERIFY_HASH];
  const pw = normalizedPassword(password);
  const { algorithm, length } = SCRAM_DIGESTS[PLAIN_VERIFY_HASH];
  const saltedPassword = pbkdf2Sync(pw ?? Buffer.alloc(0), keys.salt, keys.iterations, length, algorithm);
  return constantTimeEqual(storedKeyOf(PLAIN_VERIFY_HASH, saltedPassword), keys.storedKey) && pw !== null;
}

/** verifyPassword without blocking the event loop: PBKDF2 runs on the thread pool. */
export async function verifyPasswordAsync(creds: PlainVerifier, password: string): Promise<boolean> {
  const keys = creds[PLAIN_VERIFY_HASH];
  const pw = normalizedPassword(password);
  const { algorithm, length } = SCRAM_DIGESTS[PLAIN_VERIFY_HASH];
  const saltedPassword = await pbkdf2Async(pw ?? Buffer.alloc(0), keys.salt, keys.iterations, length, algorithm);
  return constantTimeEqual(storedKeyOf(PLAIN_VERIFY_HASH, saltedPassword), keys.storedKey) && pw !== null;
}
