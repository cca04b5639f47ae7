// RFC 6121 §4: exchanging presence — broadcast of a user's own presence to the
// contacts allowed to see it, probes and their answers, directed presence.
// https://www.rfc-editor.org/rfc/rfc6121#section-4
import { clone } from 'ltx';
import { x, type Element } from '../../xml/element.js';
import type { Jid } from '../../jid/index.js';
import type { Session } from '../../router/session.js';
import type { SessionRegistry } from '../../router/sessions.js';
import { contactSeesUser, userSeesContact } from './roster-model.js';
import type { RosterStore } from './roster-store.js';
import { availableSessions, currentPresences, deliverToAvailable } from './presence-snapshot.js';

export interface PresenceDeps {
  /** Read only: roster changes are the roster module's. */
  rosters: RosterStore;
  sessions: SessionRegistry;
  send(stanza: Element): void | Promise<void>;
  exists(user: Jid): Promise<boolean>;
}

/** A copy of a client's presence with new addresses; every child passes untouched. */
function addressed(stanza: Element, from: string, to: string): Element {
  const out = clone(stanza);
  out.attrs.from = from;
  out.attrs.to = to;
  return out;
}

export class PresenceExchange {
  /** Sessions whose initial presence was broadcast (and not yet ended by unavailable). */
  private readonly announced = new WeakSet<Session>();
  /** When each session last sent available presence (XEP-0203 stamps on probe answers). */
  private readonly since = new WeakMap<Session, Date>();
  /** §4.6: where each session sent directed presence that the broadcast does not cover. */
  private readonly directed = new WeakMap<Session, Set<string>>();
  private readonly stamp = (s: Session) => this.since.get(s);
  /**
   * Each session's broadcasts run one after another, so an unavailable presence
   * (or the close of the connection) cannot overtake the available presence that is
   * still going out, and leave contacts seeing a resource that is gone.
   */
  private readonly queues = new WeakMap<Session, Promise<void>>();

  constructor(private readonly d: PresenceDeps) {}

  private serialised(s: Session, run: () => Promise<void>): Promise<void> {
    const next = (this.queues.get(s) ?? Promise.resolve()).then(run);
    this.queues.set(s, next.catch(() => undefined));
    return next;
  }

  /** Presence a client sent without 'to' (the router has updated the session already). */
  own(session: Session, stanza: Element): Promise<void> {
    const type = stanza.attrs.type;
    if (type === undefined) return this.serialised(session, () => this.available(session, stanza));
    if (type === 'unavailable') return this.serialised(session, () => this.unavailable(session, stanza, true));
    // Other types without 'to' mean nothing to the server.
    return Promise.resolve();
  }

  /** The session ended; if it was available its contacts see it leave (§4.5.2). */
  closed(session: Session): Promise<void> {
    return this.serialised(session, async () => {
      if (!this.announced.has(session)) return;
      await this.unavailable(session, x('presence', { from: session.jid.toString(), type: 'unavailable' }), false);
    });
  }

  private async available(s: Session, stanza: Element): Promise<void> {
    const initial = !this.announced.has(s);
    this.announced.add(s);
    this.since.set(s, new Date());
    const user = s.jid.bare;
    const from = s.jid.toString();
    const roster = await this.d.rosters.read(user);
    // §4.2.2 / §4.4.2: the server broadcasts the presence to the contacts subscribed to
    // the user — and only to them ("from" or "both").
    for (const item of roster.items.values()) {
      if (contactSeesUser(item)) await this.d.send(addressed(stanza, from, item.jid));
    }
    // §4.2.2: initial presence also goes to all the user's available resources,
    // "including the resource that generated the presence notification in the first place".
    for (const r of availableSessions(this.d.sessions, user.toString())) r.send(addressed(stanza, from, r.jid.toString()));
    if (!initial) return;
    // §4.2.2 / §4.3.1: probes ask the contacts the user is subscribed to ("to" or
    // "both") for their current presence; the answers come to this resource.
    for (const item of roster.items.values()) {
      if (userSeesContact(item)) await this.d.send(x('presence', { from, to: item.jid, type: 'probe' }));
    }
    // The new resource learns which of the user's other resources are online.
    for (const p of currentPresences(this.d.sessions, user.toString(), from, this.stamp)) {
      if (p.attrs.from !== from) s.send(p);
    }
  }

  private async unavailable(s: Session, stanza: Element, echo: boolean): Promise<void> {
    // §4.5.2 has the server broadcast the unavailable presence of an available
    // resource; one that never was available has nobody to tell.
    if (!this.announced.has(s)) return;
    this.announced.delete(s);
    const user = s.jid.bare;
    const from = s.jid.toString();
    const roster = await this.d.rosters.read(user);
    const told = new Set<string>();
    for (const item of roster.items.values()) {
      if (!contactSeesUser(item)) continue;
      told.add(item.jid);
      await this.d.send(addressed(stanza, from, item.jid));
    }
    for (const r of availableSessions(this.d.sessions, user.toString())) r.send(addressed(stanza, from, r.jid.toString()));
    if (echo && this.d.sessions.get(user.toString(), s.jid.resource) === s) s.send(addressed(stanza, from, from));
    // §4.6.2: entities that got directed presence get the unavailable too, unless the
    // broadcast already reached them.
    for (const target of this.directed.get(s) ?? []) {
      const bare = target.split('/')[0]!;
      if (!told.has(bare)) await this.d.send(addressed(stanza, from, target));
    }
    this.directed.delete(s);
  }

  /**
   * Directed presence from a local client (§4.6): remembered while the session is
   * available, so its unavailable presence reaches the entity later. The stanza
   * itself is delivered by the caller.
   */
  async outboundDirected(s: Session, to: Jid, stanza: Element): Promise<void> {
    const type = stanza.attrs.type;
    if (type !== undefined && type !== 'unavailable') return;
    // Only presence "after having sent initial presence and before sending
    // unavailable presence broadcast" is tracked (§4.6.1).
    if (!this.announced.has(s)) return;
    // The user's own resources hear every broadcast anyway.
    if (to.bare.equals(s.jid.bare)) return;
    const key = to.toString();
    if (type === 'unavailable') {
      this.directed.get(s)?.delete(key);
      return;
    }
    // §4.6.1: to a contact with a subscription the server "SHOULD NOT otherwise
    // modify the contact's status regarding presence notifications".
    const roster = await this.d.rosters.read(s.jid.bare);
    if (contactSeesUser(roster.items.get(to.bareString()))) return;
    let set = this.directed.get(s);
    if (!set) this.directed.set(s, (set = new Set()));
    set.add(key);
  }

  /** Presence without type, or unavailable, for a local bare JID (§8.5.2.1.1). */
  deliverToBare(to: Jid, stanza: Element): void {
    const type = stanza.attrs.type;
    if (type === undefined || type === 'unavailable') deliverToAvailable(this.d.sessions, to.bareString(), stanza);
  }

  /**
   * A probe for a local user (§4.3.2): answered with the last presence of each
   * available resource, if the prober is subscribed; otherwise the presence is not
   * revealed and the prober hears 'unsubscribed'. A missing account answers the same
   * way, so probes do not tell which accounts exist.
   */
  async probe(probed: Jid, prober: Jid): Promise<void> {
    const user = probed.bare;
    if (!user.equals(prober.bare)) {
      const item = (await this.d.exists(user)) ? (await this.d.rosters.read(user)).items.get(prober.bareString()) : undefined;
      if (!contactSeesUser(item)) {
        await this.d.send(x('presence', { from: user.toString(), to: prober.bareString(), type: 'unsubscribed' }));
        return;
      }
    }
    // With no resource available the server may stay silent (§4.3.2), which it does.
    for (const p of currentPresences(this.d.sessions, user.toString(), prober.toString(), this.stamp)) await this.d.send(p);
  }
}
