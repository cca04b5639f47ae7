// One XEP-0045 room: its configuration, affiliations, occupants, history and subject,
// and what joining, leaving, presence changes and messages do. Every operation is
// synchronous and returns the stanzas to send, in order; the service sends them.
// Errors are thrown as StanzaError and become error replies to the sender.
import { StanzaError } from '../../errors.js';
import { tryParseJid, type Jid } from '../../jid/index.js';
import { x, type Element } from '../../xml/element.js';
import { defaultRoomConfig, type RoomConfig } from './forms.js';
import { copyElement, parseHistoryRequest, RoomHistory } from './history.js';
import { NS_MUC, NS_MUC_USER, STATUS } from './ns.js';
import { affiliationRank, defaultRole, type Affiliation, type Role } from './roles.js';

export interface RoomLimits {
  /** Messages kept for history. */
  historyLimit: number;
  /** Messages sent on join when the joiner asks for no particular amount. */
  historyDefault: number;
  /** Largest maxusers an owner may set; also the default. 0: no limit. */
  maxUsers: number;
  /** Messages one occupant may send within RATE_WINDOW_MS; 0: no limit. */
  messageRate?: number;
}

/** The window muc.message_rate counts over. */
export const RATE_WINDOW_MS = 10_000;

export interface Occupant {
  nick: string;
  /** The real full JID. */
  jid: Jid;
  role: Role;
  /** The last available presence the occupant sent, as received. */
  presence: Element;
  /** When the occupant's recent messages arrived (ms), for muc.message_rate. */
  sentAt?: number[];
}

export interface PresenceExtras {
  /** Status codes for everyone, and those added for the occupant itself. */
  codes?: number[];
  selfCodes?: number[];
  /** Children of the <item/> (actor, reason) and of the <x/> (destroy). */
  itemChildren?: Element[];
  xChildren?: Element[];
  newNick?: string;
}

export class Room {
  config: RoomConfig;
  /** §10.1.1: a room created with the MUC protocol stays locked until the owner configures it. */
  locked = false;
  destroyed = false;
  readonly affiliations = new Map<string, Affiliation>();
  readonly occupants = new Map<string, Occupant>();
  private readonly nickByJid = new Map<string, string>();
  readonly history: RoomHistory;
  subject: { text: string; from: string } | null = null;

  constructor(readonly jid: Jid, readonly limits: RoomLimits, private readonly now: () => Date = () => new Date()) {
    this.config = defaultRoomConfig(limits.maxUsers);
    this.history = new RoomHistory(limits.historyLimit);
  }

  get address(): string {
    return this.jid.toString();
  }

  nickJid(nick: string): string {
    return `${this.address}/${nick}`;
  }

  affiliationOf(real: Jid): Affiliation {
    return this.affiliations.get(real.bareString()) ?? 'none';
  }

  setAffiliation(bare: string, a: Affiliation): void {
    if (a === 'none') this.affiliations.delete(bare);
    else this.affiliations.set(bare, a);
  }

  occupantOf(real: Jid): Occupant | undefined {
    const nick = this.nickByJid.get(real.toString());
    return nick === undefined ? undefined : this.occupants.get(nick);
  }

  isEmpty(): boolean {
    return this.occupants.size === 0;
  }

  // ---- presence -------------------------------------------------------------

  /** Any presence a user sends to room/nick. `created` is set when this presence made the room. */
  presence(from: Jid, nick: string, stanza: Element, created: boolean): Element[] {
    const type = stanza.attrs.type;
    const occ = this.occupantOf(from);
    if (type === 'unavailable') return occ ? this.leave(occ, stanza) : [];
    if (type !== undefined) return []; // subscriptions and probes mean nothing to a room
    if (!occ) return this.join(from, nick, stanza, created);
    if (occ.nick !== nick) return this.changeNick(occ, nick, stanza);
    occ.presence = stanza;
    return this.broadcastPresence(occ, {});
  }

  private join(from: Jid, nick: string, stanza: Element, created: boolean): Element[] {
    const mucX = stanza.getChild('x', NS_MUC);
    const affiliation = created ? 'owner' : this.affiliationOf(from);
    if (created) this.setAffiliation(from.bareString(), 'owner');
    // §7.2.x entry checks, in the order the spec lists them.
    if (this.locked && affiliation !== 'owner') throw new StanzaError('item-not-found', 'the room is locked until its owner configures it');
    if (affiliation === 'outcast') throw new StanzaError('forbidden', 'you are banned from this room');
    if (this.config.membersOnly && affiliationRank(affiliation) < affiliationRank('member')) {
      throw new StanzaError('registration-required', 'this room is members-only');
    }
    const holder = this.occupants.get(nick);
    if (holder) throw new StanzaError('conflict', 'that nickname is in use');
    if (this.config.maxUsers > 0 && this.occupants.size >= this.config.maxUsers && affiliationRank(affiliation) < affiliationRank('admin')) {
      throw new StanzaError('service-unavailable', 'the room is full');
    }
    if (this.config.passwordProtected && affiliation !== 'owner' && mucX?.getChildText('password') !== this.config.password) {
      throw new StanzaError('not-authorized', 'a password is required');
    }
    const occ: Occupant = { nick, jid: from, role: defaultRole(affiliation, this.config.moderated), presence: stanza };
    const out: Element[] = [];
    // §7.2.3: "the service MUST first send the complete list of the existing occupants".
    for (const other of this.occupants.values()) out.push(this.presenceOf(other, occ, {}));
    this.occupants.set(nick, occ);
    this.nickByJid.set(from.toString(), nick);
    const selfCodes: number[] = [];
    if (this.config.whois === 'anyone') selfCodes.push(STATUS.NON_ANONYMOUS);
    if (created && mucX) selfCodes.push(STATUS.ROOM_CREATED);
    out.push(...this.broadcastPresence(occ, { selfCodes }));
    if (!created) {
      // §7.2.15 history, then (§7.2.16) the subject, even an empty one.
      const req = parseHistoryRequest(mucX?.getChild('history'));
      out.push(...this.history.replay(req, this.address, from.toString(), this.now(), this.limits.historyDefault));
    }
    out.push(x('message', { from: this.subject?.from ?? this.address, to: from.toString(), type: 'groupchat' },
      x('subject', null, this.subject?.text ?? '')));
    return out;
  }

  private changeNick(occ: Occupant, nick: string, stanza: Element): Element[] {
    if (this.occupants.has(nick)) throw new StanzaError('conflict', 'that nickname is in use');
    // §7.6: unavailable from the old nick with 303 and the new nick, then available from the new.
    const out = this.broadcastPresence(occ, { codes: [STATUS.NICK_CHANGED], newNick: nick }, true);
    this.occupants.delete(occ.nick);
    occ.nick = nick;
    occ.presence = stanza;
    this.occupants.set(nick, occ);
    this.nickByJid.set(occ.jid.toString(), nick);
    out.push(...this.broadcastPresence(occ, {}));
    return out;
  }

  private leave(occ: Occupant, stanza: Element | null): Element[] {
    const out = this.broadcastPresence(occ, {}, true, stanza);
    this.remove(occ);
    return out;
  }

  /** The occupant goes without a word (its connection dropped). */
  disconnected(real: Jid): Element[] {
    const occ = this.occupantOf(real);
    return occ ? this.leave(occ, null) : [];
  }

  /** Removes an occupant, telling everyone (itself included) why. */
  removeOccupant(occ: Occupant, extras: PresenceExtras): Element[] {
    occ.role = 'none';
    const out = this.broadcastPresence(occ, extras, true);
    this.remove(occ);
    return out;
  }

  private remove(occ: Occupant): void {
    this.occupants.delete(occ.nick);
    this.nickByJid.delete(occ.jid.toString());
  }

  /** The occupant's presence to every occupant (itself included, with 110). */
  broadcastPresence(occ: Occupant, extras: PresenceExtras, unavailable = false, stanza: Element | null = null): Element[] {
    const out: Element[] = [];
    for (const to of this.occupants.values()) out.push(this.presenceOf(occ, to, extras, unavailable, stanza));
    return out;
  }

  /** §7.2.3 presence of `occ` as `to` sees it: the real JID only where whois allows. */
  presenceOf(occ: Occupant, to: Occupant, extras: PresenceExtras, unavailable = false, stanza: Element | null = null): Element {
    const self = occ === to;
    const p = x('presence', { from: this.nickJid(occ.nick), to: to.jid.toString(), type: unavailable ? 'unavailable' : undefined });
    const source = unavailable ? stanza : occ.presence;
    if (source) {
      for (const c of source.children) {
        if (typeof c === 'string') continue;
        if (unavailable && c.name !== 'status') continue;
        if (c.attrs.xmlns === NS_MUC || c.attrs.xmlns === NS_MUC_USER) continue;
        p.append(copyElement(c));
      }
    }
    const seesJid = self || this.config.whois === 'anyone' || to.role === 'moderator';
    const item = x('item', {
      affiliation: this.affiliationOf(occ.jid),
      role: unavailable ? 'none' : occ.role,
      jid: seesJid ? occ.jid.toString() : undefined,
      nick: extras.newNick,
    }, ...(extras.itemChildren ?? []).map(copyElement));
    const codes = [...(extras.codes ?? []), ...(self ? [STATUS.SELF, ...(extras.selfCodes ?? [])] : [])];
    p.append(x('x', { xmlns: NS_MUC_USER }, item, ...codes.map((code) => x('status', { code })),
      ...(extras.xChildren ?? []).map(copyElement)));
    return p;
  }

  // ---- messages -------------------------------------------------------------

  /** A message to the room (nick '') or to an occupant. */
  message(from: Jid, nick: string, stanza: Element): Element[] {
    const type = stanza.attrs.type ?? 'normal';
    if (type === 'error') return []; // TODO: §18.1 ghost removal on errors from occupants
    const mucUser = stanza.getChild('x', NS_MUC_USER);
    if (nick === '' && mucUser && (mucUser.getChild('invite') || mucUser.getChild('decline'))) {
      return this.invitation(from, mucUser);
    }
    const occ = this.occupantOf(from);
    if (occ) this.throttle(occ);
    if (nick === '') {
      if (type !== 'groupchat') throw new StanzaError('bad-request', 'messages to the room must be of type groupchat');
      if (!occ) throw new StanzaError('not-acceptable', 'only occupants may send messages to the room');
      return this.groupchat(occ, stanza);
    }
    if (type === 'groupchat') throw new StanzaError('bad-request', 'a groupchat message cannot go to one occupant');
    if (!occ) throw new StanzaError('not-acceptable', 'only occupants may send private messages');
    const pm = this.config.allowPm;
    if (pm === 'none' || (pm === 'moderators' && occ.role !== 'moderator')) {
      throw new StanzaError('forbidden', 'private messages are not allowed in this room');
    }
    const target = this.occupants.get(nick);
    if (!target) throw new StanzaError('item-not-found', 'no such occupant');
    // §7.5: delivered to the real JID from the sender's occupant JID, marked as coming from a room.
    const copy = copyElement(stanza);
    copy.attrs.from = this.nickJid(occ.nick);
    copy.attrs.to = target.jid.toString();
    if (!copy.getChild('x', NS_MUC_USER)) copy.append(x('x', { xmlns: NS_MUC_USER }));
    return [copy];
  }

  /**
   * muc.message_rate: an occupant sending faster than the room allows gets a
   * policy-violation error (RFC 6120 §8.3.3.12) and its message is dropped.
   */
  private throttle(occ: Occupant): void {
    const rate = this.limits.messageRate ?? 0;
    if (rate <= 0) return;
    const now = this.now().getTime();
    const recent = (occ.sentAt ?? []).filter((t) => now - t < RATE_WINDOW_MS);
    if (recent.length >= rate) {
      occ.sentAt = recent;
      throw new StanzaError('policy-violation', 'you are sending messages too fast');
    }
    recent.push(now);
    occ.sentAt = recent;
  }

  private groupchat(occ: Occupant, stanza: Element): Element[] {
    // §7.4: "If the sender has voice ... the service MUST reflect the message"; a visitor has none.
    if (occ.role === 'visitor' || occ.role === 'none') throw new StanzaError('forbidden', 'you have no voice in this room');
    const subject = stanza.getChild('subject');
    const hasBody = stanza.getChild('body') !== undefined;
    if (subject && !hasBody) {
      // §8.1: only moderators change the subject (no changesubject option yet).
      if (occ.role !== 'moderator') throw new StanzaError('forbidden', 'only moderators may change the subject');
      this.subject = { text: subject.getText(), from: this.nickJid(occ.nick) };
    }
    const copy = copyElement(stanza);
    copy.attrs.from = this.nickJid(occ.nick);
    delete copy.attrs.to;
    delete copy.attrs.id;
    if (hasBody) this.history.add(copyElement(copy), this.now());
    return this.toAll(copy, stanza.attrs.id, occ);
  }

  /** One copy per occupant; the sender's own copy keeps its id so it can recognise the echo. */
  toAll(stanza: Element, id?: string, sender?: Occupant): Element[] {
    const out: Element[] = [];
    for (const o of this.occupants.values()) {
      const c = copyElement(stanza);
      c.attrs.to = o.jid.toString();
      if (id !== undefined && o === sender) c.attrs.id = id;
      out.push(c);
    }
    return out;
  }

  /** §7.8.2 mediated invitations and §7.8.2 declines. */
  private invitation(from: Jid, mucUser: Element): Element[] {
    const out: Element[] = [];
    const invite = mucUser.getChild('invite');
    if (invite) {
      const occ = this.occupantOf(from);
      if (!occ) throw new StanzaError('not-acceptable', 'only occupants may invite');
      const to = tryParseJid(invite.attrs.to ?? '');
      if (!to) throw new StanzaError('jid-malformed', 'the invitee address is not a valid JID');
      const affiliation = this.affiliationOf(from);
      if (this.config.membersOnly) {
        if (affiliationRank(affiliation) < affiliationRank('admin')) throw new StanzaError('forbidden', 'only admins may invite to a members-only room');
        // §7.8.2: the service MAY add the invitee to the member list.
        if (this.affiliationOf(to) === 'none') this.setAffiliation(to.bareString(), 'member');
      }
      const reason = invite.getChildText('reason');
      out.push(x('message', { from: this.address, to: to.toString() },
        x('x', { xmlns: NS_MUC_USER },
          x('invite', { from: from.toString() }, reason !== null ? x('reason', null, reason) : null),
          this.config.passwordProtected ? x('password', null, this.config.password) : null)));
      return out;
    }
    const decline = mucUser.getChild('decline')!;
    const to = tryParseJid(decline.attrs.to ?? '');
    if (!to) throw new StanzaError('jid-malformed', 'the inviter address is not a valid JID');
    const reason = decline.getChildText('reason');
    out.push(x('message', { from: this.address, to: to.toString() },
      x('x', { xmlns: NS_MUC_USER }, x('decline', { from: from.toString() }, reason !== null ? x('reason', null, reason) : null))));
    return out;
  }

  /** The service is going down: everyone leaves with 332 (§15.6.2). */
  shutdown(): Element[] {
    const out: Element[] = [];
    // Everyone leaves at once: each occupant gets only its own unavailable (110, 332),
    // not everyone else's — n, not n², stanzas for a room of n.
    for (const occ of [...this.occupants.values()]) {
      occ.role = 'none';
      out.push(this.presenceOf(occ, occ, { codes: [STATUS.SYSTEM_SHUTDOWN] }, true));
      this.remove(occ);
    }
    return out;
  }

  /** §10.9: every occupant is told the room is gone (with an alternate venue if given). */
  destroy(destroyEl: Element | undefined): Element[] {
    const venue = destroyEl?.attrs.jid ? tryParseJid(destroyEl.attrs.jid) : null;
    const reason = destroyEl?.getChildText('reason') ?? null;
    const d = x('destroy', { jid: venue?.toString() }, reason !== null ? x('reason', null, reason) : null);
    const out: Element[] = [];
    for (const occ of [...this.occupants.values()]) {
      out.push(x('presence', { from: this.nickJid(occ.nick), to: occ.jid.toString(), type: 'unavailable' },
        x('x', { xmlns: NS_MUC_USER }, x('item', { affiliation: 'none', role: 'none' }), x('status', { code: STATUS.SELF }), d)));
      this.remove(occ);
    }
    this.destroyed = true;
    return out;
  }
}

