// RFC 6121: XMPP Instant Messaging and Presence — §4 exchanging presence.
// https://www.rfc-editor.org/rfc/rfc6121#section-4
// Availability presence: broadcast, probes, directed presence, the unavailable
// presence of a session that ends. Subscription stanzas are the roster module's.
import { defineModule } from '../router/module-api.js';
import { rosterCodec } from './rfc6121/roster-model.js';
import { RosterStore } from './rfc6121/roster-store.js';
import { PresenceExchange } from './rfc6121/presence-exchange.js';
import { SUBSCRIPTION_TYPES } from './rfc6121/subscription-state.js';

export default defineModule({
  name: 'presence',
  rfc: { number: 6121, section: '4', note: 'broadcast, probes, directed presence' },
  load(api) {
    const exchange = new PresenceExchange({
      rosters: new RosterStore(api.keyval('roster', rosterCodec()), () => api.config.roster.max_items),
      sessions: api.sessions,
      send: (stanza) => api.send(stanza),
      exists: (user) => api.accounts.exists(user.domain, user.local),
    });

    // Presence without 'to'. Never "handled": other modules (offline delivery, the
    // roster module's pending requests) act on initial presence as well.
    api.on('presence/self', (ev) => {
      if (!ev.origin) return false;
      return exchange.own(ev.origin, ev.stanza).then(() => false);
    });

    // To a local bare JID: directed presence from a local client is remembered, then
    // it and presence from elsewhere go to the available resources; probes are answered.
    api.on('presence/bare', async (ev) => {
      const type = ev.stanza.attrs.type;
      if (type !== undefined && SUBSCRIPTION_TYPES.has(type)) return false;
      if (ev.origin) await exchange.outboundDirected(ev.origin, ev.to, ev.stanza);
      if (type === 'probe') await exchange.probe(ev.to, ev.from);
      else exchange.deliverToBare(ev.to, ev.stanza);
      // Presence errors to a bare JID have no session to go to; they end here.
      return true;
    });

    // To a full JID: the router delivers it to that resource (or drops it, §8.5.3.2.1).
    api.on('presence/full', async (ev) => {
      const type = ev.stanza.attrs.type;
      if (type !== undefined && SUBSCRIPTION_TYPES.has(type)) return false;
      if (ev.origin) await exchange.outboundDirected(ev.origin, ev.to, ev.stanza);
      if (type !== 'probe') return false;
      // A probe concerns the account, whichever resource it names.
      await exchange.probe(ev.to, ev.from);
      return true;
    });

    // To another domain: remembered like any directed presence, then routed as usual.
    api.on('presence/remote', async (ev) => {
      if (ev.origin) await exchange.outboundDirected(ev.origin, ev.to, ev.stanza);
      return false;
    });

    // §4.5.2 for a session that ends without saying goodbye (or after a stream
    // close): the router keeps session.available as it was, so its contacts get the
    // unavailable presence the client did not send.
    api.onSession('closed', (session) => exchange.closed(session));
  },
});
