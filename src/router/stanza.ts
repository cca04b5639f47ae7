// Stanza-level helpers shared by the router, the iq dispatcher and modules.
import { Element, x } from '../xml/element.js';
import { StanzaError, type StanzaErrorCondition, type StanzaErrorType } from '../errors.js';

export const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

/** RFC 6120 §8.3.1: an entity MUST NOT respond to an error with an error (nor to an iq result). */
export function mayReplyWithError(stanza: Element): boolean {
  const type = stanza.attrs.type;
  if (type === 'error') return false;
  if (stanza.name === 'iq' && type === 'result') return false;
  return true;
}

/** The <error/> child for a condition (RFC 6120 §8.3.2). */
export function errorElement(condition: StanzaErrorCondition, type: StanzaErrorType, text?: string): Element {
  return x('error', { type },
    x(condition, { xmlns: NS_STANZAS }),
    text ? x('text', { xmlns: NS_STANZAS }, text) : null);
}

/**
 * The error reply to a stanza: addresses swapped, same id, the original payload
 * kept (RFC 6120 §8.3.1 allows it, and clients use it to match the request).
 */
export function errorReply(stanza: Element, err: StanzaError, from?: string): Element {
  const reply = x(stanza.name, {
    from: from ?? stanza.attrs.to,
    to: stanza.attrs.from,
    id: stanza.attrs.id,
    type: 'error',
  });
  for (const child of stanza.children) {
    if (typeof child === 'string' || child.name !== 'error') reply.append(child);
  }
  reply.append(errorElement(err.condition, err.type, err.text));
  return reply;
}

/** An iq result addressed back to the requester. */
export function iqResult(iq: Element, payload?: Element | null, from?: string): Element {
  return x('iq', { from: from ?? iq.attrs.to, to: iq.attrs.from, id: iq.attrs.id, type: 'result' }, payload ?? null);
}

/** The single payload child of an iq get/set, or undefined. */
export function iqPayload(iq: Element): Element | undefined {
  for (const c of iq.children) if (typeof c !== 'string') return c;
  return undefined;
}
