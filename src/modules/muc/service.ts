// The MUC service at one domain (conference.<host>): the rooms it holds, room
// creation, service and room discovery, and dispatch of every stanza addressed to
// the service, a room or an occupant.
import { StanzaError } from '../../errors.js';
import { parseJid, type Jid } from '../../jid/index.js';
import type { StanzaEvent } from '../../router/router.js';
import { ServiceRefusal, type MucRoomInfo, type MucRoomOptions } from '../../router/services.js';
import { iqPayload, iqResult } from '../../router/stanza.js';
import { x, type Element } from '../../xml/element.js';
import { NS_DISCO_INFO, NS_DISCO_ITEMS, NS_MUC, NS_MUC_ADMIN, NS_MUC_OWNER, NS_MUC_ROOMINFO, NS_DATA, NS_PING } from './ns.js';
import { adminQuery, ownerQuery } from './room-admin.js';
import type { RoomConfig } from './forms.js';
import { Room, type RoomLimits } from './room.js';
import type { RoomStore, StoredRoom } from './room-store.js';

/** Who may create rooms: any user, users of this server's hosts, or nobody (existing rooms only). */
export type RoomCreation = 'anyone' | 'local' | 'nobody';

export interface MucServiceOptions extends RoomLimits {
  domain: string;
  name: string;
  creation: RoomCreation;
  localHosts: ReadonlySet<string>;
  send(stanza: Element): void | Promise<void>;
  now?: () => Date;
  /** Rooms one user may own; 0 or absent: no limit. */
  maxRoomsPerUser?: number;
  /** Where persistent rooms are kept; without one they live in memory only. */
  store?: RoomStore;
  /** Where a store error is reported (a failed write must not fail the stanza). */
  onStoreError?: (err: unknown, room: string) => void;
}

export class MucService {
  readonly rooms = new Map<string, Room>();
  /** What each persistent room's file holds, to write only on change. */
  private readonly saved = new Map<string, string>();
  private readonly loading = new Map<string, Promise<Room | undefined>>();
  /** Set once every stored room has been loaded (room listing, creation limits). */
  private allLoaded = false;
  constructor(private readonly opts: MucServiceOptions) {}

  /** A room in memory, or a persistent one loaded from the store on first use. */
  private async room(name: string): Promise<Room | undefined> {
    const inMemory = this.rooms.get(name);
    if (inMemory || !this.opts.store || this.allLoaded) return inMemory;
    let pending = this.loading.get(name);
    if (!pending) {
      pending = this.loadRoom(name);
      this.loading.set(name, pending);
      pending.finally(() => this.loading.delete(name)).catch(() => {});
    }
    return pending;
  }

  private async loadRoom(name: string): Promise<Room | undefined> {
    const stored = await this.opts.store!.load(name);
    // A room made while the file was being read wins.
    const raced = this.rooms.get(name);
    if (raced || !stored) return raced;
    const room = new Room(parseJid(`${name}@${this.opts.domain}`), this.opts, this.opts.now);
    const limit = this.opts.maxUsers;
    room.config = { ...stored.config, maxUsers: limit > 0 && (stored.config.maxUsers === 0 || stored.config.maxUsers > limit) ? limit : stored.config.maxUsers };
    for (const [jid, a] of stored.affiliations) room.setAffiliation(jid, a);
    room.subject = stored.subject;
    this.rooms.set(name, room);
    this.saved.set(name, JSON.stringify(snapshot(room)));
    return room;
  }

  /** Loads every stored room once; afterwards the map in memory is complete. */
  private async loadAll(): Promise<void> {
    if (this.allLoaded || !this.opts.store) return;
    for (const name of await this.opts.store.list()) await this.room(name);
    this.allLoaded = true;
  }

  /**
   * Writes a persistent room whose stored state changed, and removes the file of
   * one that was destroyed or made temporary.
   */
  private async persist(room: Room | undefined): Promise<void> {
    const store = this.opts.store;
    if (!room || !store) return;
    const name = room.jid.local;
    try {
      if (room.config.persistent && !room.destroyed) {
        const snap = snapshot(room);
        const text = JSON.stringify(snap);
        if (this.saved.get(name) === text) return;
        this.saved.set(name, text);
        await store.save(name, snap);
      } else if (this.saved.has(name)) {
        this.saved.delete(name);
        await store.remove(name);
      }
    } catch (err) {
      this.saved.delete(name);
      this.opts.onStoreError?.(err, name);
    }
  }

  /**
   * Server shutdown: every occupant leaves with status 332 (§15.6.2 "the room is
   * shutting down"); persistent rooms stay in their files.
   */
  async shutdown(): Promise<void> {
    for (const room of this.rooms.values()) await this.sendAll(room.shutdown());
  }

  get domain(): string {
    return this.opts.domain;
  }

  /** The normalised room name of `name`@domain; refuses anything that is not a bare room address. */
  roomName(name: string): string {
    const j = parseJid(`${name}@${this.opts.domain}`);
    if (j.local === '' || j.domain !== this.opts.domain || j.resource !== '') throw new ServiceRefusal(`'${name}' is not a room name`);
    return j.local;
  }

  /** Whether a room of that name is in memory or stored. */
  async has(name: string): Promise<boolean> {
    return (await this.room(this.roomName(name))) !== undefined;
  }

  /**
   * An administrator's room (CLI, muc.rooms): persistent and unlocked at once, with
   * no owner; the server's admins act on it through the CLI. Refuses an existing room.
   */
  async createRoom(name: string, options: MucRoomOptions): Promise<Room> {
    const local = this.roomName(name);
    if (await this.room(local)) throw new ServiceRefusal(`${local}@${this.opts.domain} already exists`);
    const limit = this.opts.maxUsers;
    const maxUsers = options.maxUsers ?? 0;
    if (maxUsers < 0 || !Number.isInteger(maxUsers) || (limit > 0 && maxUsers > limit)) {
      throw new ServiceRefusal(`the occupant limit must be ${limit > 0 ? `from 1 to ${limit}` : 'a whole number'} (0: the service default)`);
    }
    const room = new Room(parseJid(`${local}@${this.opts.domain}`), this.opts, this.opts.now);
    const password = options.password ?? '';
    const config: RoomConfig = {
      ...room.config,
      persistent: true,
      name: options.name ?? '',
      description: options.description ?? '',
      public: options.public ?? true,
      passwordProtected: password !== '',
      password,
      membersOnly: options.membersOnly ?? false,
      moderated: options.moderated ?? false,
    };
    if (maxUsers > 0) config.maxUsers = maxUsers;
    room.config = config;
    this.rooms.set(local, room);
    await this.persist(room);
    return room;
  }

  /** §10.9 by an administrator: occupants are told (with the reason) and the room's file goes. */
  async destroyRoom(name: string, reason?: string): Promise<void> {
    const local = this.roomName(name);
    const room = await this.room(local);
    if (!room) throw new ServiceRefusal(`there is no room ${local}@${this.opts.domain}`);
    const out = room.destroy(x('destroy', null, reason ? x('reason', null, reason) : null));
    this.dropIfEmpty(room);
    await this.persist(room);
    await this.sendAll(out);
  }

  /** Every room, stored ones included, by name. */
  async listRooms(): Promise<MucRoomInfo[]> {
    await this.loadAll();
    return [...this.rooms.values()].sort((a, b) => a.jid.local.localeCompare(b.jid.local)).map((r) => ({
      jid: r.address, name: r.config.name, occupants: r.occupants.size, persistent: r.config.persistent, public: r.config.public,
    }));
  }

  async handle(ev: StanzaEvent): Promise<boolean> {
    const { to, from } = ev;
    if (to.local === '') {
      if (ev.kind === 'iq') await this.serviceIq(ev);
      else if (ev.kind === 'message' && ev.stanza.attrs.type !== 'error') throw new StanzaError('service-unavailable');
      return true;
    }
    const room = await this.room(to.local);
    if (ev.kind === 'presence') {
      await this.presence(ev, room);
      return true;
    }
    if (!room) {
      if (ev.stanza.attrs.type !== 'error') throw new StanzaError('item-not-found', 'no such room');
      return true;
    }
    try {
      if (ev.kind === 'message') await this.sendAll(room.message(from, to.resource, ev.stanza));
      else await this.roomIq(ev, room);
    } finally {
      await this.persist(room);
    }
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
      await this.checkRoomQuota(from);
      // Another join may have created the room while this one waited: join that one.
      room = this.rooms.get(to.local);
      if (!room) {
        room = new Room(to.bare, this.opts, this.opts.now);
        // §10.1.1: a room made with the MUC protocol is locked; a groupchat 1.0 join
        // (no <x/>) cannot configure it, so that room is open at once.
        room.locked = stanza.getChild('x', NS_MUC) !== undefined;
        created = true;
      }
    }
    const out = room.presence(from, to.resource, stanza, created);
    if (created) this.rooms.set(to.local, room);
    this.dropIfEmpty(room);
    await this.sendAll(out);
  }

  /** muc.max_rooms_per_user: a user who owns that many rooms may not create another. */
  private async checkRoomQuota(from: Jid): Promise<void> {
    const max = this.opts.maxRoomsPerUser ?? 0;
    if (max <= 0) return;
    await this.loadAll();
    const bare = from.bareString();
    let owned = 0;
    for (const r of this.rooms.values()) if (r.affiliations.get(bare) === 'owner') owned++;
    if (owned >= max) throw new StanzaError('resource-constraint', `you may own at most ${max} rooms`);
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
      await this.loadAll();
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

/** What a persistent room's file holds. */
function snapshot(room: Room): StoredRoom {
  return { config: { ...room.config }, affiliations: [...room.affiliations.entries()], subject: room.subject };
}
