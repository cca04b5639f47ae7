// XEP-0203: Delayed Delivery — https://xmpp.org/extensions/xep-0203.html
//
// The <delay/> stamp other modules put on stanzas they deliver late (offline
// messages, later MUC history and last presence). This file is the one place that
// builds it: modules import `delay()` and `NS_DELAY` from here, a pure builder
// with no state. The module itself only declares the XEP: the spec defines no
// disco feature, and there is nothing to handle.
import { defineModule } from '../router/module-api.js';
import { x, type Element } from '../xml/element.js';

export const NS_DELAY = 'urn:xmpp:delay';

/**
 * XEP-0203 §2: the stamp "MUST adhere to the dateTime format specified in XEP-0082
 * and MUST be expressed in UTC". ISO 8601 in UTC with 'Z' is that profile (with
 * milliseconds, which XEP-0082 allows as fractional seconds).
 */
export function delayStamp(when: Date): string {
  return when.toISOString();
}

/**
 * A <delay/> element. `from` is the entity that delayed the stanza (RECOMMENDED):
 * for offline storage the server's domain. `reason` is the optional
 * natural-language description, e.g. 'Offline Storage'.
 */
export function delay(from: string, stamp: Date | string, reason?: string): Element {
  return x('delay', { xmlns: NS_DELAY, from, stamp: typeof stamp === 'string' ? stamp : delayStamp(stamp) }, reason);
}

/** The <delay/> children of a stanza that `from` added. */
export function delaysFrom(stanza: Element, from: string): Element[] {
  return stanza.getChildren('delay', NS_DELAY).filter((d) => d.attrs.from === from);
}

export default defineModule({
  name: 'delay',
  xep: { number: 203, version: '2.0', status: 'complete', note: 'stamps offline messages' },
  load() {},
});
