// XEP-0199: XMPP Ping — https://xmpp.org/extensions/xep-0199.html
import { defineModule } from '../router/module-api.js';

const NS_PING = 'urn:xmpp:ping';

export default defineModule({
  name: 'ping',
  xep: { number: 199, version: '2.0.1', status: 'complete' },
  load(api) {
    api.feature(NS_PING);
    // §4.2: a client pings its server; an empty result is the pong.
    api.iq('get', 'host', NS_PING, 'ping', () => null);
    api.iq('get', 'self', NS_PING, 'ping', () => null);
  },
});
