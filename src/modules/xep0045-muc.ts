// XEP-0045: Multi-User Chat — https://xmpp.org/extensions/xep-0045.html
// XEP-0410: MUC Self-Ping — https://xmpp.org/extensions/xep-0410.html
//
// One MUC service per host at conference.<host>, served in-process through
// api.component. The rooms, their occupants and the protocol live in muc/.
import { defineModule } from '../router/module-api.js';
import { MucService, type RoomCreation } from './muc/service.js';

// TODO: these become config keys (muc.creation, muc.max_users, muc.history_*).
/** Who may create rooms: 'anyone', 'local' (users of this server's hosts) or 'nobody'. */
const MUC_ROOM_CREATION: RoomCreation = 'local';
/** Default and largest maxusers per room; 0 for no limit. */
const MUC_MAX_USERS = 200;
/** Messages a room keeps for history. */
const MUC_HISTORY_LIMIT = 50;
/** Messages sent on join when the joiner does not say how many. */
const MUC_HISTORY_DEFAULT = 20;
const MUC_SERVICE_NAME = 'Chatrooms';

export default defineModule({
  name: 'muc',
  xep: {
    number: 45,
    version: '1.34.x',
    status: 'partial',
    note: 'rooms in memory only; no registration, voice requests or iqs between occupants',
  },
  load(api) {
    const services: MucService[] = [];
    const localHosts = new Set(api.hosts);
    for (const host of api.hosts) {
      const domain = `conference.${host}`;
      const service = new MucService({
        domain,
        name: MUC_SERVICE_NAME,
        creation: MUC_ROOM_CREATION,
        localHosts,
        maxUsers: MUC_MAX_USERS,
        historyLimit: MUC_HISTORY_LIMIT,
        historyDefault: MUC_HISTORY_DEFAULT,
        send: (stanza) => api.send(stanza),
      });
      services.push(service);
      api.component(domain, (ev) => service.handle(ev));
      api.item(domain, MUC_SERVICE_NAME);
    }
    api.onSession('closed', async (session) => {
      for (const s of services) await s.disconnected(session.jid);
    });
  },
});
