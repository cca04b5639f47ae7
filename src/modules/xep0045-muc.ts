// XEP-0045: Multi-User Chat — https://xmpp.org/extensions/xep-0045.html
// XEP-0410: MUC Self-Ping — https://xmpp.org/extensions/xep-0410.html
//
// One MUC service per host at <muc.domain_prefix>.<host>, served in-process through
// api.component. The rooms, their occupants and the protocol live in muc/;
// persistent rooms are kept in the spool (muc/room-store.ts). The rooms listed in
// muc.rooms are made at start when they do not exist yet (muc/config-rooms.ts), and
// the admin socket creates, destroys and lists rooms through the 'muc' service.
import { defineModule } from '../router/module-api.js';
import { MucService } from './muc/service.js';
import { FileRoomStore } from './muc/room-store.js';
import { createConfiguredRooms, mucAdmin } from './muc/config-rooms.js';

const MUC_SERVICE_NAME = 'Chatrooms';
/** One DNS label: the prefix becomes part of a domain name. */
const DOMAIN_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export default defineModule({
  name: 'muc',
  xep: {
    number: 45,
    version: '1.34.x',
    status: 'partial',
    note: 'no registration, voice requests or iqs between occupants',
  },
  async load(api) {
    const cfg = api.config.muc;
    // A host entry's own muc key overrides muc.enabled for that host.
    const served = api.config.hosts.filter((h) => h.muc ?? cfg.enabled).map((h) => h.domain);
    if (served.length === 0) return;
    if (!DOMAIN_LABEL.test(cfg.domain_prefix)) {
      throw new Error(`muc.domain_prefix '${cfg.domain_prefix}' is not a single lower-case DNS label`);
    }
    const services: MucService[] = [];
    const localHosts = new Set(api.hosts);
    for (const host of served) {
      const domain = `${cfg.domain_prefix}.${host}`;
      const service = new MucService({
        domain,
        name: MUC_SERVICE_NAME,
        creation: cfg.creation,
        localHosts,
        maxUsers: cfg.max_users,
        historyLimit: cfg.history_limit,
        historyDefault: cfg.history_default,
        maxRoomsPerUser: cfg.max_rooms_per_user,
        messageRate: cfg.message_rate,
        store: new FileRoomStore(api.config.spool, domain),
        onStoreError: (err, room) => api.log.error({ err, room: `${room}@${domain}` }, 'could not store a persistent room'),
        send: (stanza) => api.send(stanza),
      });
      services.push(service);
      api.component(domain, (ev) => service.handle(ev));
      api.item(domain, MUC_SERVICE_NAME);
    }
    api.provide('muc', mucAdmin(services));
    await createConfiguredRooms(cfg.rooms, services, (room) => api.log.info({ room }, 'room created from muc.rooms'));
    api.onSession('closed', async (session) => {
      for (const s of services) await s.disconnected(session.jid);
    });
    // XEP-0045 §9.9: occupants are told (status 332) that the service is going down.
    api.onShutdown(async () => {
      for (const s of services) await s.shutdown();
    });
  },
});
