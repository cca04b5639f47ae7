// XEP-0160: Best Practices for Handling Offline Messages
// https://xmpp.org/extensions/xep-0160.html
// with RFC 6121 §8.5.2.1.1 (who gets a message to a bare JID) and XEP-0203 stamps.
//
// Durability: a message is stored before the router returns, and the router
// returns before the sender's session reads its next stanza; the append resolves
// only once the record is fsync'd. So anything the sender saw answered after its
// message (a ping result, say) proves the message is on disk.
//
// Delivery: deliver first, remove after. A crash between the two can deliver a
// message twice, never lose it. "Delivered" means written to the client's stream:
// without stream management (XEP-0198) a connection that dies at that moment can
// still lose what was in flight, as with every message to an online user.
import { clone } from 'ltx';
import { defineModule } from '../router/module-api.js';
import type { StanzaEvent } from '../router/router.js';
import type { Session } from '../router/session.js';
import type { Element } from '../xml/element.js';
import { StanzaError } from '../errors.js';
import { delay, delaysFrom } from './xep0203-delay.js';

const NS_CHATSTATES = 'http://jabber.org/protocol/chatstates';
const NS_HINTS = 'urn:xmpp:hints';
/** XEP-0160 §4: the disco feature. */
const FEATURE_MSGOFFLINE = 'msgoffline';
const LIST_KEY = 'offline';
const DELAY_REASON = 'Offline Storage';
/**
 * Delivery starts before any other presence handler (so the order gate below is up
 * before anything else can run) and is waited for after the broadcast (priority 0),
 * so the two overlap and the broadcast does not wait for the disk.
 */
const DELIVERY_START_PRIORITY = 1000;
const DELIVERY_WAIT_PRIORITY = -10;
/** Early, so a message waits before any other handler delivers it. */
const ORDER_GATE_PRIORITY = 1000;

/** Whether to store a message for an offline user: 'store', 'drop' silently, or 'refuse' (bounce). */
function disposition(stanza: Element): 'store' | 'drop' | 'refuse' {
  const type = stanza.attrs.type ?? 'normal';
  // XEP-0160 §3: normal and chat SHOULD be stored; groupchat, headline and error
  // SHOULD NOT. The router only offers normal and chat, but other callers may not.
  if (type !== 'normal' && type !== 'chat') return 'refuse';
  // XEP-0334: "A message containing this hint should not be stored by a server
  // either permanently or temporarily"; the sender learns it was not delivered.
  if (stanza.getChild('no-store', NS_HINTS)) return 'refuse';
  // XEP-0160 §3: chat messages that contain only XEP-0085 content "SHOULD NOT be
  // stored offline"; a notification is stale by the time anyone reads it, and
  // bouncing it would tell the sender the contact is gone.
  const payload = stanza.children.filter((c): c is Element => typeof c !== 'string');
  if (payload.length > 0 && payload.every((c) => c.getNS() === NS_CHATSTATES)) return 'drop';
  return 'store';
}

/** The stanza as it is stored: addressed to the account, stamped by the server. */
function forStorage(stanza: Element, ev: StanzaEvent): Element {
  const stored = clone(stanza);
  // RFC 6121 §8.5.3.2.1: a message to a resource that is gone is handled as if it
  // were sent to the bare JID; it will reach whichever resource comes online.
  stored.attrs.to = ev.to.bareString();
  // XEP-0203: the delay is "added by the server or component that delivers the
  // stanza"; one claiming to be ours but sent by a client is a forgery.
  for (const forged of delaysFrom(stored, ev.to.domain)) stored.remove(forged);
  stored.append(delay(ev.to.domain, new Date(), DELAY_REASON));
  return stored;
}

export default defineModule({
  name: 'offline',
  xep: { number: 160, version: '1.0', status: 'complete', note: 'with XEP-0203 delay stamps, per-user limit offline.max_messages' },
  load(api) {
    const offline = api.list(LIST_KEY);
    /** Accounts whose stored messages are being delivered: bare JID -> settles when done. */
    const delivering = new Map<string, Promise<void>>();
    api.feature(FEATURE_MSGOFFLINE);

    // RFC 6121 §8.5.2.1.1 and XEP-0160 §2: no available resource with non-negative
    // priority, so store the message (the router fires this only for existing accounts).
    api.on('message/offline', async (ev) => {
      const what = disposition(ev.stanza);
      if (what === 'refuse') return false;
      if (what === 'drop') return true;
      const { domain, local } = ev.to;
      const max = api.config.offline.max_messages;
      // Durable before we return: see the header.
      const stored = await offline.append(domain, local, forStorage(ev.stanza, ev), max);
      if (!stored) {
        // XEP-0160 §2: when a message cannot be stored "(e.g., because the recipient's
        // offline message queue is full), the server returns a <service-unavailable/>
        // error to the sender"; nothing was stored.
        api.log.info({ to: ev.to.bareString(), max }, 'offline storage full; message refused');
        await ev.router.bounce(ev.stanza, new StanzaError('service-unavailable', 'the recipient is offline and cannot take more messages'), ev.origin);
      }
      return true;
    });

    // XEP-0160 §2: "When the recipient next sends non-negative available presence to
    // the server, the server delivers the message to the resource that has sent that
    // presence." Deliveries to one account run one after another.
    api.on('presence/self', (ev) => {
      const session = ev.origin;
      if (!session || ev.stanza.attrs.type !== undefined || !session.available || session.priority < 0) return;
      const bare = session.jid.bareString();
      const before = delivering.get(bare) ?? Promise.resolve();
      const run: Promise<void> = before.then(() => deliverStored(session)).finally(() => {
        if (delivering.get(bare) === run) delivering.delete(bare);
      });
      delivering.set(bare, run);
    }, DELIVERY_START_PRIORITY);
    // The client's next stanza waits for its stored messages; the chain goes on.
    api.on('presence/self', (ev) => {
      const pending = ev.origin && delivering.get(ev.origin.jid.bareString());
      return pending ? pending.then(() => false) : undefined;
    }, DELIVERY_WAIT_PRIORITY);

    // A message to an account whose stored messages are on their way waits for them,
    // so a sender's new message cannot overtake its older stored ones.
    const waitForDelivery = (ev: StanzaEvent) => {
      const pending = delivering.get(ev.to.bareString());
      return pending ? pending.then(() => false) : undefined;
    };
    api.on('message/bare', waitForDelivery, ORDER_GATE_PRIORITY);
    api.on('message/full', waitForDelivery, ORDER_GATE_PRIORITY);

    /** Never rejects: what cannot be delivered now stays stored for the next presence. */
    async function deliverStored(session: Session): Promise<void> {
      const { domain, local, resource } = session.jid;
      try {
        const messages = await offline.readAll(domain, local);
        if (messages.length === 0) return;
        // The session may have closed, or turned unavailable, while we read.
        const current = api.sessions.get(session.jid.bareString(), resource);
        if (current !== session || !session.available || session.priority < 0) return;
        for (const m of messages) session.send(m);
        // Deliver first, remove after: a crash in between duplicates, never loses.
        await offline.removeFirst(domain, local, messages.length);
        api.log.debug({ jid: session.jid.toString(), count: messages.length }, 'delivered offline messages');
      } catch (err) {
        api.log.error({ err, jid: session.jid.toString() }, 'cannot deliver offline messages');
      }
    }
  },
});
