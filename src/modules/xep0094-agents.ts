// XEP-0094: Agent Information — https://xmpp.org/extensions/xep-0094.html
// The oldest service list ('jabber:iq:agents'), before Jabber Browsing and disco.
// Old clients ask it at login; the answer is built from what the loaded modules
// registered with disco, so it never claims more than disco does.
import { defineModule } from '../router/module-api.js';
import { x } from '../xml/element.js';

const NS_AGENTS = 'jabber:iq:agents';
const NS_REGISTER = 'jabber:iq:register';
const NS_SEARCH = 'jabber:iq:search';

export default defineModule({
  name: 'agents',
  xep: { number: 94, version: '0.3', status: 'complete', note: 'obsolete; answers from the disco registry' },
  load(api) {
    api.feature(NS_AGENTS);
    api.iq('get', 'host', NS_AGENTS, 'query', (ev) => {
      const { features, identities, items } = api.disco;
      const host = ev.to.domain;
      const name = identities.find((i) => i.category === 'server')?.name ?? host;
      // §2: <register/> and <search/> "signal that the service supports" them; the
      // server is listed itself so that old clients find in-band registration.
      const server = x('agent', { jid: host },
        x('name', null, name),
        x('service', null, 'jabber'),
        features.has(NS_SEARCH) && x('search'),
        features.has(NS_REGISTER) && x('register'));
      // Other services are known only by address and name; their abilities are theirs to tell.
      const services = items.map((i) => x('agent', { jid: i.jid }, i.name ? x('name', null, i.name) : null));
      return x('query', { xmlns: NS_AGENTS }, server, ...services);
    });
  },
});
