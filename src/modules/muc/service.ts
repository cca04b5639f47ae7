// The MUC service at one domain (conference.<host>): the rooms it holds, room
// creation, service and room discovery, and dispatch of every stanza addressed to
// the service, a room or an occupant.
import { StanzaError } from '../../errors.js';
import type { Jid } from '../../jid/index.js';
import type { StanzaEvent } from '../../router/router.js';
import { iqPayload, iqResult } from '../../router/stanza.js';
import { x, type Element } from '../../xml/element.js';
import { NS_DISCO_INFO, NS_DISCO_ITEMS, NS_MUC, NS_MUC_ADMIN, NS_MUC_OWNER, NS_MUC_ROOMINFO, NS_DATA, NS_PING } from './ns.js';
import { adminQuery, ownerQuery } from './room-admin.js';
import { Room, type RoomLimits } from './room.js';

/** Who may create rooms: any user, users of this server's hosts, or nobody (existing rooms only). */
export type RoomCreation = 'anyone' | 'local' | 'nobody';

export interface MucServiceOptions extends RoomLimits {
  domain: string;
  name: string;
  creation: RoomCreation;
  localHosts: ReadonlySet<string>;
  send(stanza: Element): void | Promise<void>;
  now?: () => Date;
}

export class MucService {
  readonly rooms = new Map<string, Room>();
  constructor(private readonly opts: MucServiceOptions) {}

  async handle(ev: StanzaEvent): Promise<boolean> {
    const { to, from } = ev;
    if (to.local === '') {
      if (ev.kind === 'iq') await this.serviceIq(ev);
      else if (ev.kind === 'message' && ev.stanza.attrs.type !== 'error') throw new StanzaError('service-unavailable');
      return true;
    }
    const room = this.rooms.get(to.local);
    if (ev.kind === 'presence') {
      await this.presence(ev, room);
      return true;
    }
    if (!room) {
      if (ev.stanza.attrs.type !== 'error') throw new StanzaError('item-not-found', 'no such room');
      return true;
    }
    if (ev.kind === 'message') await this.sendAll(room.message(from, to.resource, ev.stanza));
    else await this.roomIq(ev, room);
    return true;
  }

  /** A dropped connection leaves every room it was in. */
  async disconnected(real: Jid): Promise<void> {
    for (const room of [...this.rooms.values()]) {
      const out = room.disconnected(real);
      if (out.length > 0) this.dropIfEmpty(room);
      await this.sendAll(out);
    }
  }

  private async presence(ev: StanzaEvent, existing: Room | undefined): Promise<void> {
    const { to, from, stanza } = ev;
    const type = stanza.attrs.type;
    if (to.resource === '') {
      // §7.2.1: a join without a nickname is malformed.
      if (type === undefined) throw new StanzaError('jid-malformed', 'a room nickname is required');
      return;
    }
    let room = existing;
    let created = false;
    if (!room) {
      if (type !== undefined) return;
      if (!this.mayCreate(from)) throw new StanzaError('not-allowed', 'you may not create rooms here');
      room = new Room(to.bare, this.opts, this.opts.now);
      // §10.1.1: a room made with the MUC protocol is locked; a groupchat 1.0 join
      // (no <x/>) cannot configure it, so that room is open at once.
      room.locked = stanza.getChild('x', NS_MUC) !== undefined;
      created = true;
    }
    const out = room.presence(from, to.resource, stanza, created);
    if (created) this.rooms.set(to.local, room);
    this.dropIfEmpty(room);
    await this.sendAll(out);
  }

  private mayCreate(from: Jid): boolean {
    switch (this.opts.creation) {
      case 'anyone': return true;
      case 'local': return this.opts.localHosts.has(from.domain);
      case 'nobody': return false;
    }
  }

  /** §10.1: an empty temporary room goes away with its last occupant. */
  private dropIfEmpty(room: Room): void {
    if (room.destroyed || (room.isEmpty() && !room.config.persistent)) {
      if (this.rooms.get(room.jid.local) === room) this.rooms.delete(room.jid.local);
    }
  }

  private async serviceIq(ev: StanzaEvent): Promise<void> {
    const { stanza } = ev;
    const type = stanza.attrs.type;
    if (type !== 'get' && type !== 'set') return;
    const q = iqPayload(stanza);
    const ns = q?.attrs.xmlns;
    if (type === 'get' && ns === NS_DISCO_INFO && !q!.attrs.node) {
      return this.reply(stanza, x('query', { xmlns: NS_DISCO_INFO },
        x('identity', { category: 'conference', type: 'text', name: this.opts.name }),
        ...[NS_DISCO_INFO, NS_DISCO_ITEMS, NS_MUC, NS_PING].map((v) => x('feature', { var: v }))));
    }
    if (type === 'get' && ns === NS_DISCO_ITEMS && !q!.attrs.node) {
      // §6.3: public rooms only; a locked room is not there yet.
      const items = [...this.rooms.values()].filter((r) => r.config.public && !r.locked)
        .map((r) => x('item', { jid: r.address, name: r.config.name || r.jid.local }));
      return this.reply(stanza, x('query', { xmlns: NS_DISCO_ITEMS }, ...items));
    }
    if (type === 'get' && ns === NS_PING) return this.reply(stanza, null);
    throw new StanzaError('service-unavailable');
  }

  private async roomIq(ev: StanzaEvent, room: Room): Promise<void> {
    const { stanza, from, to } = ev;
    const type = stanza.attrs.type;
    if (type !== 'get' && type !== 'set') return;
    const q = iqPayload(stanza);
    const ns = q?.attrs.xmlns;
    if (to.resource !== '') {
      // XEP-0410 §3: the service answers a ping to the pinger's own occupant JID.
      const occ = room.occupantOf(from);
      if (!occ) throw new StanzaError('not-acceptable', 'you are not an occupant of this room');
      if (type === 'get' && ns === NS_PING && q!.name === 'ping' && occ.nick === to.resource) return this.reply(stanza, null);
      // TODO: §7.7 iqs between occupants (vCard requests) need id rewriting.
      throw new StanzaError('feature-not-implemented');
    }
    if (type === 'get' && ns === NS_DISCO_INFO && !q!.attrs.node) return this.reply(stanza, roomInfo(room));
    if (type === 'get' && ns === NS_DISCO_ITEMS && !q!.attrs.node) {
      // §6.5: occupants may be hidden; we do not list them.
      return this.reply(stanza, x('query', { xmlns: NS_DISCO_ITEMS }));
    }
    if (ns === NS_MUC_OWNER && q!.name === 'query') {
      const r = ownerQuery(room, from, type, q!);
      this.dropIfEmpty(room);
      await this.reply(stanza, r.payload);
      return this.sendAll(r.out);
    }
    if (ns === NS_MUC_ADMIN && q!.name === 'query') {
      const r = adminQuery(room, from, type, q!);
      await this.reply(stanza, r.payload);
      return this.sendAll(r.out);
    }
    throw new StanzaError('service-unavailable');
  }

  private reply(iq: Element, payload: Element | null): void | Promise<void> {
    return this.opts.send(iqResult(iq, payload));
  }

  private async sendAll(out: Element[]): Promise<void> {
    for (const s of out) await this.opts.send(s);
  }
}

/** §6.4: the room's identity and its features, with the muc#roominfo form. */
function roomInfo(room: Room): Element {
  const c = room.config;
  const features = [
    NS_MUC,
    c.public ? 'muc_public' : 'muc_hidden',
    c.persistent ? 'muc_persistent' : 'muc_temporary',
    c.membersOnly ? 'muc_membersonly' : 'muc_open',
    c.passwordProtected ? 'muc_passwordprotected' : 'muc_unsecured',
    c.moderated ? 'muc_moderated' : 'muc_unmoderated',
    c.whois === 'anyone' ? 'muc_nonanonymous' : 'muc_semianonymous',
  ];
  return x('query', { xmlns: NS_DISCO_INFO },
    x('identity', { category: 'conference', type: 'text', name: c.name || room.jid.local }),
    ...features.map((v) => x('feature', { var: v })),
    x('x', { xmlns: NS_DATA, type: 'result' },
      x('field', { var: 'FORM_TYPE', type: 'hidden' }, x('value', null, NS_MUC_ROOMINFO)),
      x('field', { var: 'muc#roominfo_description', label: 'Description' }, x('value', null, c.description)),
      x('field', { var: 'muc#roominfo_occupants', label: 'Number of occupants' }, x('value', null, String(room.occupants.size)))));
}
