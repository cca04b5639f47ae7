// XEP-0054: vcard-temp — https://xmpp.org/extensions/xep-0054.html
// A user stores one vCard; anyone may read it through the user's bare JID, as in
// Prosody's mod_vcard. Stored as the <vCard xmlns='vcard-temp'/> element itself,
// which is its XEP-0227 form.
import { defineModule } from '../router/module-api.js';
import { StanzaError } from '../errors.js';
import { x, type Element } from '../xml/element.js';
import type { Codec } from '../storage/types.js';

const NS_VCARD = 'vcard-temp';

/**
 * The largest vCard we store, in bytes of serialised XML. A fixed limit, not a
 * config key (yet): 64 KiB leaves room for an avatar PHOTO (XEP-0153 asks for
 * images under 8 KiB) while keeping every spool rewrite small. Larger vCards can
 * still arrive, since the stanza limit (limits.max_stanza_size) defaults to 256 KiB.
 */
export const MAX_VCARD_BYTES = 64 * 1024;

const vcardCodec: Codec<Element> = {
  encode: (vcard) => vcard,
  decode: (el) => el,
  match: (el) => el.name === 'vCard' && el.attrs.xmlns === NS_VCARD,
};

/** A vCard with no fields: publishing it removes the stored one. */
function isEmpty(vcard: Element): boolean {
  return vcard.children.every((c) => typeof c === 'string' && c.trim() === '');
}

export default defineModule({
  name: 'vcard',
  xep: { number: 54, version: '1.3.0', status: 'complete', note: 'vCards up to 64 KiB; the server itself has none' },
  load(api) {
    api.feature(NS_VCARD);
    const vcards = api.keyval<Element>('vcard', vcardCodec);

    // §3.1: "If no vCard exists, the server MUST return a stanza error (which SHOULD
    // be item-not-found) or an IQ-result containing an empty <vCard/> element." We
    // take the empty result: a client opening its profile editor gets a blank form.
    api.iq('get', 'self', NS_VCARD, 'vCard', async (ev) =>
      (await vcards.get(ev.to.domain, ev.to.local)) ?? x('vCard', { xmlns: NS_VCARD }));

    api.iq('set', 'self', NS_VCARD, 'vCard', async (ev, vcard) => {
      const size = Buffer.byteLength(vcard.toString(), 'utf8');
      if (size > MAX_VCARD_BYTES) {
        // RFC 6120 §8.3.3.9 not-acceptable: the request "does not meet criteria defined
        // by the recipient or server". Not policy-violation: RFC 3920 lacks it, so the
        // older clients we serve would not recognise it. The text names the limit.
        throw new StanzaError('not-acceptable', `vCard is ${size} bytes; at most ${MAX_VCARD_BYTES} are stored`);
      }
      // The store keeps its own copy of the element.
      await vcards.set(ev.to.domain, ev.to.local, isEmpty(vcard) ? undefined : vcard);
      return null;
    });

    // §3.3: "If no vCard exists or the user does not exist, the server MUST return a
    // stanza error ... service-unavailable MUST be used in both cases" (against
    // directory harvesting). The server answers and does not forward to a resource.
    api.iq('get', 'bare', NS_VCARD, 'vCard', async (ev) => {
      const vcard = await vcards.get(ev.to.domain, ev.to.local);
      if (!vcard) throw new StanzaError('service-unavailable');
      return vcard;
    });

    // §3.2: setting another's vCard "MUST return a stanza error, which SHOULD be
    // forbidden or not-allowed". The server's vCard is not settable over XMPP either.
    const forbidden = () => { throw new StanzaError('forbidden', 'only the owner may change a vCard'); };
    api.iq('set', 'bare', NS_VCARD, 'vCard', forbidden);
    api.iq('set', 'host', NS_VCARD, 'vCard', forbidden);

    // §3.3 note: a server "could itself have a vCard". Ours has none (there is no
    // configuration for one), so the honest answer is item-not-found, as Prosody gives.
    api.iq('get', 'host', NS_VCARD, 'vCard', () => {
      throw new StanzaError('item-not-found', 'the server has no vCard');
    });
  },
});
