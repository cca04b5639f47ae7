// RFC 6121: XMPP Instant Messaging and Presence — §2 roster management and §3
// presence subscriptions. https://www.rfc-editor.org/rfc/rfc6121
// The roster lives in the spool in its XEP-0227 form (see rfc6121/roster-model.ts).
// This module owns every roster change, so subscription stanzas are handled here too;
// availability presence is the presence module's.
import { clone } from 'ltx';
import { defineModule } from '../router/module-api.js';
import { StanzaError } from '../errors.js';
import { x } from '../xml/element.js';
import { jid, parseJid } from '../jid/index.js';
import { iqPayload } from '../router/stanza.js';
import type { RosterService } from '../router/services.js';
import type { Session } from '../router/session.js';
import { newItem, NS_ROSTER, rosterCodec, rosterElement } from './rfc6121/roster-model.js';
import { RosterStore } from './rfc6121/roster-store.js';
import { RosterPusher } from './rfc6121/roster-push.js';
import { checkGroups, checkName, parseRosterSet, rosterItemJid } from './rfc6121/roster-set.js';
import { Subscriptions } from './rfc6121/subscriptions.js';
import { SUBSCRIPTION_TYPES, type SubscriptionType } from './rfc6121/subscription-state.js';

const NS_ROSTERVER = 'urn:xmpp:features:rosterver';
const NS_PRE_APPROVAL = 'urn:xmpp:features:pre-approval';

export default defineModule({
  name: 'roster',
  rfc: { number: 6121, section: '2, 3', note: 'rosters, versioning, subscriptions with pre-approval' },
  load(api) {
    const store = new RosterStore(api.keyval('roster', rosterCodec()), () => api.config.roster.max_items);
    const pusher = new RosterPusher(api.sessions);
    const subscriptions = new Subscriptions({
      store, pusher, sessions: api.sessions,
      send: (stanza) => api.send(stanza),
      exists: (user) => api.accounts.exists(user.domain, user.local),
    });

    // §2.6.1: "If a server supports roster versioning, then it MUST advertise the
    // following stream feature during stream negotiation." §3.4.1 says the same of
    // subscription pre-approval.
    api.streamFeature('post-auth', () => x('ver', { xmlns: NS_ROSTERVER }));
    api.streamFeature('post-auth', () => x('sub', { xmlns: NS_PRE_APPROVAL }));

    // §2.1.3 roster get. Asking makes the resource "interested" (§2.2).
    api.iq('get', 'self', NS_ROSTER, 'query', async (ev, query) => {
      if (ev.origin) pusher.markInterested(ev.origin);
      const roster = await store.read(ev.from.bare);
      // §2.6.3: if the client's cached version is the current one, an empty result
      // tells it so; otherwise it gets the whole roster with the current 'ver'.
      if (query.attrs.ver !== undefined && query.attrs.ver === String(roster.version)) return null;
      return rosterElement(roster);
    });

    // §2.3 add or update, §2.5 remove.
    api.iq('set', 'self', NS_ROSTER, 'query', async (ev, query) => {
      const user = ev.from.bare;
      const request = parseRosterSet(query, user);
      if (request.remove) {
        const { result, roster } = await store.update(user, (r) => {
          const item = r.items.get(request.jid);
          // §2.5.3: "If the value of the 'jid' attribute specifies an item that is not
          // in the roster, then the server MUST return an <item-not-found/> stanza error."
          if (!item) throw new StanzaError('item-not-found', 'no such roster item');
          const pendingIn = r.pending.has(request.jid);
          r.remove(request.jid);
          r.removePending(request.jid);
          return { item, pendingIn };
        });
        pusher.push(user, [{ jid: request.jid, removed: true }], roster.version);
        await subscriptions.itemRemoved(user, parseJid(request.jid), result.item, result.pendingIn);
        return null;
      }
      const { result, roster } = await store.update(user, (r) => {
        const next = { ...(r.items.get(request.jid) ?? newItem(request.jid)), name: request.name, groups: request.groups };
        r.put(next);
        return next;
      });
      // §2.3.2: "The server MUST also send a roster push containing the new roster item
      // to all of the user's interested resources, including the resource that
      // generated the roster set."
      pusher.push(user, [result], roster.version);
      return null;
    });

    // §2.1.5: "the entity that processes a roster set MUST verify that the sender of
    // the roster set is authorized to update the roster, and if not return a
    // <forbidden/> error." Only an account's own resources may read or change its
    // roster, and only the server pushes: a roster set sent to another resource
    // would be a forged push.
    const forbidden = () => { throw new StanzaError('forbidden', 'only the account itself may use its roster'); };
    api.iq('get', 'bare', NS_ROSTER, 'query', forbidden);
    api.iq('set', 'bare', NS_ROSTER, 'query', forbidden);
    api.iq('set', 'full', NS_ROSTER, 'query', forbidden);
    // A roster result from a client can only imitate the server's answer to a roster
    // get; it is dropped (a result is never answered with an error).
    for (const target of ['bare', 'full']) {
      api.on(`iq/${target}`, (ev) => ev.origin !== null && ev.stanza.attrs.type === 'result'
        && iqPayload(ev.stanza)?.attrs.xmlns === NS_ROSTER, 20);
    }

    // §3: subscription stanzas. One from a local client is outbound (the user's
    // server's side, A.2); one the router carries without a client (server-made, or
    // later from a remote server) to a local user is inbound (A.3).
    for (const target of ['bare', 'full', 'remote', 'host']) {
      api.on(`presence/${target}`, (ev) => {
        const type = ev.stanza.attrs.type ?? '';
        if (!SUBSCRIPTION_TYPES.has(type)) return false;
        if (ev.origin) {
          // Presence subscriptions to the server itself are not offered.
          if (target === 'host') return true;
          return subscriptions.outbound(ev.from.bare, ev.to.bare, type as SubscriptionType, ev.stanza).then(() => true);
        }
        if (target === 'remote') return false;
        if (target === 'host') return true;
        // §3.1.3: a request to a full JID is treated "as if the request had been
        // directed to the contact's bare JID".
        return subscriptions.inbound(ev.to.bare, ev.from.bare, type as SubscriptionType, ev.stanza).then(() => true);
      }, 10);
    }

    // Requests that came while the user had no available resource are delivered when
    // one becomes available, after its initial presence went out (lower priority than
    // the presence module's broadcast). Every new login gets the unanswered ones.
    const delivered = new WeakSet<Session>();
    api.on('presence/self', (ev) => {
      const s = ev.origin;
      if (!s) return false;
      if (ev.stanza.attrs.type === 'unavailable') delivered.delete(s);
      if (ev.stanza.attrs.type !== undefined || !s.available || delivered.has(s)) return false;
      delivered.add(s);
      return store.read(ev.from.bare).then((roster) => {
        for (const request of roster.pending.values()) s.send(clone(request));
        return false;
      });
    }, -10);

    // XEP-0077 §3.2: on account removal the server SHOULD cancel the user's
    // subscriptions, as if every item were removed (§2.5.2).
    api.onAccount('deleting', async ({ host, user }) => {
      const owner = jid(user, host);
      const roster = await store.read(owner);
      for (const item of roster.items.values()) {
        await subscriptions.itemRemoved(owner, parseJid(item.jid), item, roster.pending.has(item.jid));
      }
    });

    const service: RosterService = {
      async subscription(user, contact) {
        const roster = await store.read(user.bare);
        return roster.items.get(contact.bareString())?.subscription ?? 'none';
      },
      async setItem(user, contact, name, groups) {
        const jid = rosterItemJid(contact.bareString(), user);
        const item = { name: checkName(name), groups: checkGroups(groups) };
        const { result, roster } = await store.update(user.bare, (r) => {
          const next = { ...(r.items.get(jid) ?? newItem(jid)), ...item };
          r.put(next);
          return next;
        });
        pusher.push(user.bare, [result], roster.version);
      },
    };
    api.provide('roster', service);
  },
});
