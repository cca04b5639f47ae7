// XEP-0227 §5 SCRAM credentials: <scram-credentials xmlns='urn:xmpp:pie:0#scram'/>
// https://xmpp.org/extensions/xep-0227.html
//
// Passwords are kept only as SCRAM keys (salt, iteration count, StoredKey,
// ServerKey), one element per hash function.
import type { Element } from '../../xml/element.js';
import { x } from '../../xml/element.js';
import { StorageError } from '../../errors.js';
import type { ScramHash, ScramKeys, StoredCredentials } from '../types.js';

export const NS_PIE_SCRAM = 'urn:xmpp:pie:0#scram';

/** The hashes Rohrpost stores, with the length of their StoredKey and ServerKey. */
const KEY_LENGTH: Record<ScramHash, number> = { 'SCRAM-SHA-1': 20, 'SCRAM-SHA-256': 32 };
const HASHES = Object.keys(KEY_LENGTH) as ScramHash[];
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const MAX_ITERATIONS = 0xffffffff;

export function isScramElement(el: Element): boolean {
  return el.is('scram-credentials', NS_PIE_SCRAM);
}

function isHash(s: string | undefined): s is ScramHash {
  return s !== undefined && Object.hasOwn(KEY_LENGTH, s);
}

function validIterations(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= MAX_ITERATIONS;
}

/** Throws StorageError('EINVAL') unless creds hold usable keys for every hash we store. */
export function checkCredentials(creds: StoredCredentials): void {
  if (typeof creds !== 'object' || creds === null) throw new StorageError('EINVAL', 'credentials missing');
  for (const hash of HASHES) {
    const keys = creds[hash];
    const ok = keys !== undefined
      && validIterations(keys.iterations)
      && Buffer.isBuffer(keys.salt) && keys.salt.length > 0
      && Buffer.isBuffer(keys.storedKey) && keys.storedKey.length === KEY_LENGTH[hash]
      && Buffer.isBuffer(keys.serverKey) && keys.serverKey.length === KEY_LENGTH[hash];
    if (!ok) throw new StorageError('EINVAL', `invalid ${hash} credentials`);
  }
}

function base64Child(el: Element, name: string): Buffer {
  const text = (el.getChildText(name) ?? '').replace(/\s+/g, '');
  if (text === '' || !BASE64.test(text)) {
    throw new StorageError('ECORRUPT', `spool file is corrupt: bad <${name}/> in ${el.attrs.mechanism}`);
  }
  return Buffer.from(text, 'base64');
}

function readKeys(el: Element, hash: ScramHash): ScramKeys {
  const count = (el.getChildText('iter-count') ?? '').trim();
  const iterations = /^[0-9]{1,10}$/.test(count) ? Number(count) : NaN;
  const keys = {
    iterations,
    salt: base64Child(el, 'salt'),
    storedKey: base64Child(el, 'stored-key'),
    serverKey: base64Child(el, 'server-key'),
  };
  if (!validIterations(iterations)
    || keys.storedKey.length !== KEY_LENGTH[hash] || keys.serverKey.length !== KEY_LENGTH[hash]) {
    throw new StorageError('ECORRUPT', `spool file is corrupt: bad ${hash} credentials`);
  }
  return keys;
}

/**
 * The user's credentials, or null if the user has no complete set (for example an
 * account imported with a plain-text password only). Malformed keys are corruption.
 */
export function readCredentials(userEl: Element): StoredCredentials | null {
  const found: Partial<StoredCredentials> = {};
  for (const el of userEl.getChildElements()) {
    const mechanism = el.attrs.mechanism;
    if (isScramElement(el) && isHash(mechanism)) found[mechanism] = readKeys(el, mechanism);
  }
  return HASHES.every((h) => found[h] !== undefined) ? found as StoredCredentials : null;
}

/**
 * Replaces all credentials of the user. Every old SCRAM element goes, whatever its
 * hash, and so does a plain-text XEP-0227 `password` attribute from an import:
 * neither may keep the old password working.
 */
export function replaceCredentials(userEl: Element, creds: StoredCredentials): void {
  userEl.children = userEl.children.filter((c) => typeof c === 'string' || !isScramElement(c));
  delete userEl.attrs.password;
  const elements = HASHES.map((hash) => {
    const k = creds[hash];
    return x('scram-credentials', { xmlns: NS_PIE_SCRAM, mechanism: hash },
      x('iter-count', null, String(k.iterations)),
      x('salt', null, k.salt.toString('base64')),
      x('server-key', null, k.serverKey.toString('base64')),
      x('stored-key', null, k.storedKey.toString('base64')));
  });
  // Credentials first, as in the examples of the spec, for admins reading the file.
  for (const el of elements) el.parent = userEl;
  userEl.children.unshift(...elements);
}
