// SCRAM client (RFC 5802) for the load tool: SHA-1 and SHA-256, without channel
// binding (GS2 header 'n,,') or, for the -PLUS tests, with one. User names and passwords are used as given: the
// benchmark accounts are ASCII, so SASLprep would change nothing.
//
// The salted password (PBKDF2, the costly part) is cached by password, salt and
// iteration count, as real clients cache it: a benchmark then measures the server,
// not the load generator's own hashing.
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

export type ScramHashName = 'SCRAM-SHA-1' | 'SCRAM-SHA-256';

const DIGESTS: Record<ScramHashName, { algorithm: 'sha1' | 'sha256'; length: number }> = {
  'SCRAM-SHA-1': { algorithm: 'sha1', length: 20 },
  'SCRAM-SHA-256': { algorithm: 'sha256', length: 32 },
};

/** RFC 5802 §7: gs2-header for a client without channel binding support. */
export const GS2_NO_BINDING = 'n,,';
/** base64 of GS2_NO_BINDING: the c= attribute of the client-final-message. */
const CHANNEL_BINDING_NONE = Buffer.from(GS2_NO_BINDING).toString('base64');
/** Larger counts are refused: a hostile or broken server must not stall the load tool. */
const MAX_ITERATIONS = 1_000_000;

export class ScramClientError extends Error {}

/** RFC 5802 §5.1: ',' and '=' in a saslname are written as '=2C' and '=3D'. */
export function escapeSaslname(name: string): string {
  return name.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

/** A random nonce of printable characters without ','. */
export function randomNonce(bytes = 18): string {
  return randomBytes(bytes).toString('base64');
}

/** SaltedPassword by (hash, password, salt, iterations), bounded in size. */
export class SaltedPasswordCache {
  private readonly entries = new Map<string, Buffer>();

  constructor(private readonly maxEntries = 256) {}

  get(hash: ScramHashName, password: string, salt: Buffer, iterations: number): Buffer {
    const key = `${hash}\0${iterations}\0${salt.toString('base64')}\0${password}`;
    let salted = this.entries.get(key);
    if (!salted) {
      salted = saltedPassword(hash, password, salt, iterations);
      if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
      this.entries.set(key, salted);
    }
    return salted;
  }
}

/** SaltedPassword := Hi(password, salt, i), which is PBKDF2 with HMAC. */
export function saltedPassword(hash: ScramHashName, password: string, salt: Buffer, iterations: number): Buffer {
  const { algorithm, length } = DIGESTS[hash];
  return pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, length, algorithm);
}

function hmac(hash: ScramHashName, key: Buffer, data: string): Buffer {
  return createHmac(DIGESTS[hash].algorithm, key).update(data).digest();
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

interface ServerFirst { nonce: string; salt: Buffer; iterations: number }

function parseServerFirst(message: string, clientNonce: string): ServerFirst {
  const attrs = new Map<string, string>();
  for (const part of message.split(',')) {
    if (part.length < 2 || part[1] !== '=') throw new ScramClientError(`malformed server-first-message '${message}'`);
    attrs.set(part[0]!, part.slice(2));
  }
  // RFC 5802 §5.1 m: a mandatory extension we do not know MUST fail the exchange.
  if (attrs.has('m')) throw new ScramClientError('server demands an unsupported extension');
  const nonce = attrs.get('r');
  const salt = attrs.get('s');
  const iterations = Number(attrs.get('i'));
  if (!nonce || !nonce.startsWith(clientNonce) || nonce.length === clientNonce.length) {
    throw new ScramClientError('server nonce does not extend the client nonce');
  }
  if (!salt) throw new ScramClientError('server-first-message without salt');
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > MAX_ITERATIONS) {
    throw new ScramClientError(`bad iteration count '${attrs.get('i')}'`);
  }
  return { nonce, salt: Buffer.from(salt, 'base64'), iterations };
}

export interface ScramClientOptions {
  /** The client nonce; random by default (tests pass the RFC's). */
  nonce?: string;
  cache?: SaltedPasswordCache;
  /** For the -PLUS mechanisms: the channel binding type and this connection's data for it. */
  binding?: { type: string; data: Buffer };
}

/** One SCRAM exchange: first() -> final(serverFirst) -> verify(serverFinal). */
export class ScramClient {
  private readonly nonce: string;
  private readonly firstBare: string;
  private readonly gs2Header: string;
  /** The c= attribute: base64 of the gs2 header and, with -PLUS, the binding data. */
  private readonly channelBinding: string;
  private serverSignature: Buffer | null = null;

  constructor(private readonly hash: ScramHashName, username: string, private readonly password: string,
    private readonly opts: ScramClientOptions = {}) {
    this.nonce = opts.nonce ?? randomNonce();
    this.firstBare = `n=${escapeSaslname(username)},r=${this.nonce}`;
    this.gs2Header = opts.binding ? `p=${opts.binding.type},,` : GS2_NO_BINDING;
    this.channelBinding = opts.binding
      ? Buffer.concat([Buffer.from(this.gs2Header), opts.binding.data]).toString('base64')
      : CHANNEL_BINDING_NONE;
  }

  /** client-first-message: gs2-header client-first-message-bare. */
  first(): string {
    return this.gs2Header + this.firstBare;
  }

  /** client-final-message for the server-first-message; remembers the expected ServerSignature. */
  final(serverFirst: string): string {
    const sf = parseServerFirst(serverFirst, this.nonce);
    const salted = this.opts.cache
      ? this.opts.cache.get(this.hash, this.password, sf.salt, sf.iterations)
      : saltedPassword(this.hash, this.password, sf.salt, sf.iterations);
    const withoutProof = `c=${this.channelBinding},r=${sf.nonce}`;
    const authMessage = `${this.firstBare},${serverFirst},${withoutProof}`;
    const clientKey = hmac(this.hash, salted, 'Client Key');
    const storedKey = createHash(DIGESTS[this.hash].algorithm).update(clientKey).digest();
    const clientSignature = hmac(this.hash, storedKey, authMessage);
    this.serverSignature = hmac(this.hash, hmac(this.hash, salted, 'Server Key'), authMessage);
    return `${withoutProof},p=${xor(clientKey, clientSignature).toString('base64')}`;
  }

  /** Checks the server-final-message ('v=...'); a server that cannot prove the key fails. */
  verify(serverFinal: string): boolean {
    if (!this.serverSignature) throw new ScramClientError('verify() before final()');
    const m = /^v=([A-Za-z0-9+/=]+)(?:,|$)/.exec(serverFinal);
    if (!m) return false;
    const got = Buffer.from(m[1]!, 'base64');
    return got.length === this.serverSignature.length && timingSafeEqual(got, this.serverSignature);
  }
}
