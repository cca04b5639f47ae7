// RFC 6121 §3: managing presence subscriptions — the user's server handling its
// users' subscription stanzas (outbound) and the contact's server handling those
// that arrive for its users (inbound). Both sides run the Appendix A tables.
// https://www.rfc-editor.org/rfc/rfc6121#section-3
//
// Inbound handling is its own entry point: today every sender is local, and the
// stanza reaches it by being routed again; a federation layer hands it remote ones.
import { clone } from 'ltx';
import { x, type Element } from '../../xml/element.js';
import type { Jid } from '../../jid/index.js';
import type { SessionRegistry } from '../../router/sessions.js';
import { newItem, type Roster, type RosterItem } from './roster-model.js';
import type { RosterStore } from './roster-store.js';
import type { RosterPusher } from './roster-push.js';
import { currentPresences, deliverToAvailable, unavailablePresences } from './presence-snapshot.js';
import {
  hasFrom, INBOUND, OUTBOUND, partsOf, PRE_APPROVABLE, stateOf,
  type SubscriptionState, type SubscriptionType,
} from './subscription-state.js';

export interface SubscriptionDeps {
  store: RosterStore;
  pusher: RosterPusher;
  sessions: SessionRegistry;
  /** Routes a server-made stanza (the module API's send). */
  send(stanza: Element): void | Promise<void>;
  /** Whether a local account exists. */
  exists(user: Jid): Promise<boolean>;
}

/** What one state change decided, computed while the roster is locked. */
interface Outcome {
  before: SubscriptionState;
  pass: boolean;
  changed?: RosterItem;
  /** Answer 'subscribed' on the user's behalf (§3.1.3 already subscribed, §3.4 pre-approved). */
  autoApprove?: boolean;
}

function currentState(roster: Roster, jid: string): SubscriptionState {
  const item = roster.items.get(jid);
  return stateOf(item?.subscription ?? 'none', item?.ask ?? false, roster.pending.has(jid));
}

/**
 * Moves the roster to `state` for one contact. Returns the item if it changed (it
 * needs a roster push). An item is created only when the state needs one; a pending
 * request alone is not a roster item.
 */
function applyState(roster: Roster, jid: string, state: SubscriptionState, request?: Element): RosterItem | undefined {
  const parts = partsOf(state);
  if (!parts.pendingIn) roster.removePending(jid);
  else if (request && !roster.pending.has(jid)) roster.addPending(jid, request);
  const item = roster.items.get(jid);
  if (!item && parts.subscription === 'none' && !parts.pendingOut) return undefined;
  if (item && item.subscription === parts.subscription && item.ask === parts.pendingOut) return undefined;
  const next: RosterItem = { ...(item ?? newItem(jid)), subscription: parts.subscription, ask: parts.pendingOut };
  // A pre-approval is spent once the contact is subscribed.
  if (hasFrom(state)) next.approved = false;
  roster.put(next);
  return next;
}

/** A subscription stanza as it travels between servers: bare JIDs at both ends. */
function stamped(stanza: Element, from: Jid, to: Jid): Element {
  const out = clone(stanza);
  out.attrs.from = from.toString();
  out.attrs.to = to.toString();
  return out;
}

export class Subscriptions {
  constructor(private readonly d: SubscriptionDeps) {}

  /**
   * A local client's subscribe, subscribed, unsubscribe or unsubscribed (A.2).
   * `user` and `contact` are bare. §3.1.2: "the user's server MUST stamp the
   * outbound subscription request with the bare JID <user@domainpart> of the user".
   */
  async outbound(user: Jid, contact: Jid, type: SubscriptionType, stanza: Element): Promise<void> {
    // Subscribing to oneself means nothing: every resource sees the others anyway.
    if (user.equals(contact)) return;
    const jid = contact.toString();
    const { result, roster } = await this.d.store.update(user, (r): Outcome => {
      const before = currentState(r, jid);
      const item = r.items.get(jid);
      if (type === 'subscribed' && PRE_APPROVABLE.has(before)) {
        // §3.4: no request is pending, so this approves one in advance; it is not routed.
        if (item?.approved) return { before, pass: false };
        const changed = { ...(item ?? newItem(jid)), approved: true };
        r.put(changed);
        return { before, pass: false, changed };
      }
      const row = OUTBOUND[type][before];
      let changed = applyState(r, jid, row.next === 'same' ? before : row.next);
      if (type === 'unsubscribed') {
        // §3.4: the user withdraws a pre-approval with 'unsubscribed'.
        const current = r.items.get(jid);
        if (current?.approved) {
          changed = { ...current, approved: false };
          r.put(changed);
        }
      }
      return { before, pass: row.pass, changed };
    });
    if (result.changed) this.d.pusher.push(user, [result.changed], roster.version);
    if (!result.pass) return;
    await this.d.send(stamped(stanza, user, contact));
    if (type === 'subscribed') {
      // §3.1.5: once approved, the contact gets the user's current presence.
      for (const p of currentPresences(this.d.sessions, user.toString(), jid)) await this.d.send(p);
    } else if (type === 'unsubscribed' && hasFrom(result.before)) {
      // §3.2.2: a contact whose subscription is cancelled sees the user go offline.
      for (const p of unavailablePresences(this.d.sessions, user.toString(), jid)) await this.d.send(p);
    }
  }

  /**
   * A subscription stanza from `contact` to the local `user` (A.3), both bare.
   * A request for an account that does not exist is dropped without an answer: an
   * existing user who ignores a request looks the same, so nothing tells a stranger
   * which accounts exist (Prosody stores nothing for a missing user either).
   */
  async inbound(user: Jid, contact: Jid, type: SubscriptionType, stanza: Element): Promise<void> {
    if (user.equals(contact) || !(await this.d.exists(user))) return;
    const jid = contact.toString();
    const incoming = stamped(stanza, contact, user);
    const { result, roster } = await this.d.store.update(user, (r): Outcome => {
      const before = currentState(r, jid);
      if (type === 'subscribe') {
        // §3.1.3: a contact already subscribed gets 'subscribed' again on the user's behalf.
        if (hasFrom(before)) return { before, pass: false, autoApprove: true };
        if (r.items.get(jid)?.approved) {
          // §3.4: pre-approved — as if the request came in and the user approved it.
          const asked = INBOUND.subscribe[before].next;
          const approved = OUTBOUND.subscribed[asked === 'same' ? before : asked].next;
          const changed = approved === 'same' ? undefined : applyState(r, jid, approved);
          return { before, pass: false, changed, autoApprove: true };
        }
        // The requests a user has not answered are bounded like the roster; past that
        // they are dropped, as a request the user ignores.
        if (!r.pending.has(jid) && r.pending.size >= r.limit) return { before, pass: false };
      }
      const row = INBOUND[type][before];
      const request = type === 'subscribe' ? incoming : undefined;
      return { before, pass: row.pass, changed: applyState(r, jid, row.next === 'same' ? before : row.next, request) };
    });
    if (result.changed) this.d.pusher.push(user, [result.changed], roster.version);
    if (result.autoApprove) {
      await this.d.send(x('presence', { from: user.toString(), to: jid, type: 'subscribed' }));
      for (const p of currentPresences(this.d.sessions, user.toString(), jid)) await this.d.send(p);
    }
    // §3.1.3: the request goes to the user's available resources now; one that arrives
    // while none is available waits in the roster for the next login.
    if (result.pass) deliverToAvailable(this.d.sessions, user.toString(), incoming);
    if (type === 'unsubscribe' && result.pass && hasFrom(result.before)) {
      // §3.3.3: the contact no longer wants the user's presence; it sees the user go offline.
      for (const p of unavailablePresences(this.d.sessions, user.toString(), jid)) await this.d.send(p);
    }
  }

  /**
   * §2.5.2: removing an item ends every subscription with the contact. The item is
   * gone already; the contact's server is told with 'unsubscribe' (the user had or
   * asked for the contact's presence) and 'unsubscribed' (the contact had or asked
   * for the user's).
   */
  async itemRemoved(user: Jid, contact: Jid, item: RosterItem, hadPendingIn: boolean): Promise<void> {
    const jid = contact.toString();
    const from = user.toString();
    const to = item.subscription === 'to' || item.subscription === 'both';
    const fromContact = item.subscription === 'from' || item.subscription === 'both';
    if (to || item.ask) await this.d.send(x('presence', { from, to: jid, type: 'unsubscribe' }));
    if (fromContact || hadPendingIn) await this.d.send(x('presence', { from, to: jid, type: 'unsubscribed' }));
    if (fromContact) for (const p of unavailablePresences(this.d.sessions, from, jid)) await this.d.send(p);
  }
}
