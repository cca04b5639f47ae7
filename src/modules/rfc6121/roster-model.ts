// RFC 6121 §2.1: roster items, and the roster as the spool keeps it.
// https://www.rfc-editor.org/rfc/rfc6121#section-2.1
//
// The stored form is XEP-0227's: the <query xmlns='jabber:iq:roster'/> a roster get
// returns, with 'ver' (§2.6 versioning) on it and 'approved' (§3.4 pre-approval) on
// items. Requests that await the user's answer (state "Pending In", Appendix A) are
// kept as the <presence type='subscribe'/> stanzas that came in, so they can be
// delivered as they were at the next login. XEP-0227 puts those presences beside the
// query under <user/>; a key-value key holds one element, so ours sit inside the query,
// where importers that read only <item/> elements ignore them.
import { clone } from 'ltx';
import { x, type Element } from '../../xml/element.js';
import { tryParseJid } from '../../jid/index.js';
import { StanzaError } from '../../errors.js';
import type { Codec } from '../../storage/types.js';
import type { Subscription } from '../../router/services.js';

export const NS_ROSTER = 'jabber:iq:roster';
export const NS_CLIENT = 'jabber:client';

const SUBSCRIPTIONS: ReadonlySet<string> = new Set(['none', 'to', 'from', 'both']);

export interface RosterItem {
  /** The contact's bare JID, prepared. */
  readonly jid: string;
  name?: string;
  subscription: Subscription;
  /** ask='subscribe': the user's request awaits the contact's answer ("Pending Out"). */
  ask: boolean;
  /** §3.4: the user approved a subscription the contact has not asked for yet. */
  approved: boolean;
  groups: string[];
}

export function newItem(jid: string): RosterItem {
  return { jid, subscription: 'none', ask: false, approved: false, groups: [] };
}

/** Whether the contact may see the user's presence (the contact is subscribed to it). */
export function contactSeesUser(item: RosterItem | undefined): boolean {
  return item?.subscription === 'from' || item?.subscription === 'both';
}

/** Whether the user sees the contact's presence. */
export function userSeesContact(item: RosterItem | undefined): boolean {
  return item?.subscription === 'to' || item?.subscription === 'both';
}

/**
 * One user's roster. Changes go through the methods so the store knows whether to
 * write, and the version (§2.6) goes up once per stored change of the items.
 */
export class Roster {
  /** The most items and pending requests the store lets this roster hold. */
  limit = Number.POSITIVE_INFINITY;
  private dirty = false;
  private bumped = false;

  constructor(
    public version = 0,
    readonly items = new Map<string, RosterItem>(),
    /** Pending-in requests by the requester's bare JID. */
    readonly pending = new Map<string, Element>(),
  ) {}

  get changed(): boolean {
    return this.dirty;
  }

  /** Adds or replaces an item. A new item beyond the limit is refused. */
  put(item: RosterItem): void {
    if (!this.items.has(item.jid) && this.items.size >= this.limit) {
      // RFC 6120 §8.3.3.12 policy-violation: the server "MAY choose to specify the policy in the <text/> element".
      throw new StanzaError('policy-violation', `the roster is full: at most ${this.limit} contacts`);
    }
    this.items.set(item.jid, item);
    this.touchItems();
  }

  remove(jid: string): RosterItem | undefined {
    const item = this.items.get(jid);
    if (item) {
      this.items.delete(jid);
      this.touchItems();
    }
    return item;
  }

  /** Records an inbound request; false when the roster holds as many as it may. */
  addPending(jid: string, request: Element): boolean {
    if (!this.pending.has(jid) && this.pending.size >= this.limit) return false;
    this.pending.set(jid, request);
    this.dirty = true;
    return true;
  }

  removePending(jid: string): void {
    if (this.pending.delete(jid)) this.dirty = true;
  }

  /** Pending requests are not roster items, so they leave the version alone. */
  private touchItems(): void {
    this.dirty = true;
    if (!this.bumped) {
      this.bumped = true;
      this.version++;
    }
  }
}

/** An item as roster results and pushes carry it (§2.1.2). */
export function itemElement(item: RosterItem): Element {
  return x('item', {
    jid: item.jid,
    name: item.name,
    subscription: item.subscription,
    ask: item.ask ? 'subscribe' : undefined,
    approved: item.approved ? 'true' : undefined,
  }, ...item.groups.map((g) => x('group', null, g)));
}

/** The whole roster as a roster result carries it. */
export function rosterElement(roster: Roster): Element {
  return x('query', { xmlns: NS_ROSTER, ver: String(roster.version) }, ...[...roster.items.values()].map(itemElement));
}

/**
 * Stored roster JIDs, each checked and normalised once. A roster is read for every
 * presence broadcast and probe; running PRECIS over all its items each time was more
 * than half of the server's work under presence load (cpu profile of bench:presence).
 * Bounded: past `max` entries it starts afresh.
 */
class CanonicalJids {
  private readonly known = new Map<string, string | null>();

  constructor(private readonly max = 100_000) {}

  /** The normalised bare JID, or null when the stored value is not one. */
  of(raw: string): string | null {
    let canonical = this.known.get(raw);
    if (canonical !== undefined) return canonical;
    const jid = tryParseJid(raw);
    canonical = jid && jid.isBare() ? jid.toString() : null;
    if (this.known.size >= this.max) this.known.clear();
    this.known.set(raw, canonical);
    return canonical;
  }
}

function decodeItem(el: Element, jids: CanonicalJids): RosterItem | null {
  const jid = jids.of(el.attrs.jid ?? '');
  if (jid === null) return null;
  const subscription = SUBSCRIPTIONS.has(el.attrs.subscription ?? '') ? el.attrs.subscription as Subscription : 'none';
  const groups: string[] = [];
  for (const g of el.getChildren('group')) {
    const name = g.getText();
    if (name !== '' && !groups.includes(name)) groups.push(name);
  }
  return {
    jid,
    name: el.attrs.name || undefined,
    subscription,
    ask: el.attrs.ask === 'subscribe',
    approved: el.attrs.approved === 'true' || el.attrs.approved === '1',
    groups,
  };
}

/** The roster's XEP-0227 form; each store gets its own codec (with its own JID memo). */
export function rosterCodec(): Codec<Roster> {
  const jids = new CanonicalJids();
  return {
    encode(roster) {
      const el = rosterElement(roster);
      for (const request of roster.pending.values()) {
        const stored = clone(request);
        stored.attrs.xmlns = NS_CLIENT;
        el.append(stored);
      }
      return el;
    },
    decode(el) {
      const version = Number.parseInt(el.attrs.ver ?? '0', 10);
      const roster = new Roster(Number.isSafeInteger(version) && version >= 0 ? version : 0);
      for (const child of el.getChildElements()) {
        if (child.name === 'item') {
          const item = decodeItem(child, jids);
          if (item) roster.items.set(item.jid, item);
        } else if (child.name === 'presence' && child.attrs.type === 'subscribe') {
          const from = tryParseJid(child.attrs.from ?? '');
          if (!from) continue;
          delete child.attrs.xmlns;
          roster.pending.set(from.bareString(), child);
        }
      }
      return roster;
    },
    match: (el) => el.name === 'query' && el.attrs.xmlns === NS_ROSTER,
  };
}
