// Rooms an administrator makes without a client: those listed in muc.rooms, created
// at start when they do not exist yet, and the 'muc' service the admin socket uses
// (`rohrpost room create|destroy|list`).
//
// muc.rooms only creates: a room that is already in the spool is left as it is, so
// what its users changed since (configuration, members, subject) is kept.
import type { ConfiguredRoom } from '../../config/types.js';
import { parseJid } from '../../jid/index.js';
import { ServiceRefusal, type MucAdmin, type MucRoomOptions } from '../../router/services.js';
import type { MucService } from './service.js';

export function roomOptions(r: ConfiguredRoom): MucRoomOptions {
  return {
    name: r.title, description: r.description, password: r.password, public: r.public,
    membersOnly: r.members_only, moderated: r.moderated, maxUsers: r.max_users,
  };
}

/**
 * Creates each configured room missing from its service: a plain name on every
 * service, ROOM@SERVICE on that one only. Errors name the muc.rooms entry.
 */
export async function createConfiguredRooms(rooms: readonly ConfiguredRoom[], services: readonly MucService[], created: (room: string) => void): Promise<void> {
  for (const [i, r] of rooms.entries()) {
    const at = `muc.rooms[${i}]`;
    let name = r.name;
    let targets = services;
    if (r.name.includes('@')) {
      const j = parseJid(r.name);
      targets = services.filter((s) => s.domain === j.domain);
      if (targets.length === 0) {
        throw new Error(`${at}.name: ${j.domain} is not a MUC service of this server (${services.map((s) => s.domain).join(', ')})`);
      }
      name = j.local;
    }
    for (const service of targets) {
      try {
        if (await service.has(name)) continue;
        const room = await service.createRoom(name, roomOptions(r));
        created(room.address);
      } catch (err) {
        throw new Error(`${at}: ${(err as Error).message}`);
      }
    }
  }
}

/** The 'muc' service over the MUC services of every host. */
export function mucAdmin(services: readonly MucService[]): MucAdmin {
  const find = (domain: string): MucService => {
    const d = domain.toLowerCase();
    const s = services.find((x) => x.domain === d);
    if (!s) throw new ServiceRefusal(`${domain} is not a MUC service of this server (${services.map((x) => x.domain).join(', ')})`);
    return s;
  };
  return {
    services: () => services.map((s) => s.domain),
    createRoom: async (service, name, options) => (await find(service).createRoom(name, options)).address,
    destroyRoom: (service, name, reason) => find(service).destroyRoom(name, reason),
    listRooms: async (service) => {
      const chosen = service === undefined ? services : [find(service)];
      const out = [];
      for (const s of chosen) out.push(...(await s.listRooms()));
      return out;
    },
  };
}
