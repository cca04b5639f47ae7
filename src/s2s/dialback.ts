// XEP-0220: Server Dialback — https://xmpp.org/extensions/xep-0220.html
// XEP-0185: Dialback Key Generation and Validation — https://xmpp.org/extensions/xep-0185.html
// The keys and elements of dialback. Each server proves it is authoritative for its
// domain by answering, over a connection *to* that domain, whether a key is its own.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { x, type Element } from '../xml/element.js';

export const NS_DIALBACK = 'jabber:server:dialback';
/** XEP-0220 §2.4.2: the stream feature announcing dialback with error support. */
export const NS_DIALBACK_FEATURE = 'urn:xmpp:features:dialback';
const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

/** Makes and checks keys; the secret lives only in memory (a restart invalidates pending ones, which is harmless). */
export class DialbackKeys {
  private readonly hashedSecret: Buffer;

  constructor(secret: Buffer = randomBytes(32)) {
    // XEP-0185 §3: the key is HMAC-SHA256 keyed with SHA-256(secret) over
    // "Receiving Server ' ' Originating Server ' ' Stream ID", as hex.
    this.hashedSecret = createHash('sha256').update(secret).digest();
  }

  key(receiving: string, originating: string, streamId: string): string {
    return createHmac('sha256', this.hashedSecret).update(`${receiving} ${originating} ${streamId}`).digest('hex');
  }

  valid(receiving: string, originating: string, streamId: string, key: string): boolean {
    const expected = Buffer.from(this.key(receiving, originating, streamId));
    const given = Buffer.from(key.trim());
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}

/** The local name of a dialback element ('result', 'verify'), whatever its prefix. */
export function localName(el: Element): string {
  const i = el.name.indexOf(':');
  return i < 0 ? el.name : el.name.slice(i + 1);
}

export function dbResult(from: string, to: string, key: string): Element {
  return x('db:result', { from, to }, key);
}

export function dbVerify(from: string, to: string, id: string, key: string): Element {
  return x('db:verify', { from, to, id }, key);
}

/** An answer: type valid or invalid, or an error (XEP-0220 §2.4) with a stanza error condition. */
export function dbAnswer(kind: 'result' | 'verify', from: string, to: string, outcome: 'valid' | 'invalid' | DialbackError, id?: string): Element {
  const attrs: Record<string, string> = { from, to, type: typeof outcome === 'string' ? outcome : 'error' };
  if (id !== undefined) attrs.id = id;
  const el = x(`db:${kind}`, attrs);
  if (typeof outcome !== 'string') {
    el.append(x('error', { type: outcome.type }, x(outcome.condition, { xmlns: NS_STANZAS })));
  }
  return el;
}

export interface DialbackError { type: 'cancel' | 'modify' | 'auth' | 'wait'; condition: string }

/** The stream feature a receiving server offers. */
export function dialbackFeature(): Element {
  return x('dialback', { xmlns: NS_DIALBACK_FEATURE }, x('errors'));
}
