// XEP-0011: Jabber Browsing — https://xmpp.org/extensions/xep-0011.html
// The 'jabber:iq:browse' service list that came between jabber:iq:agents and disco.
// Browsing to the server gives the server (category service, type jabber) with its
// namespaces, and the services disco lists as its children.
import { defineModule } from '../router/module-api.js';
import { x } from '../xml/element.js';

const NS_BROWSE = 'jabber:iq:browse';

export default defineModule({
  name: 'browse',
  xep: { number: 11, version: '1.3.1', status: 'partial', note: 'obsolete; the server only, not users or resources' },
  load(api) {
    api.feature(NS_BROWSE);
    api.iq('get', 'host', NS_BROWSE, 'query', (ev) => {
      const { features, identities, items } = api.disco;
      const host = ev.to.domain;
      const name = identities.find((i) => i.category === 'server')?.name;
      // §4 shows a server as category "service", type "jabber": "A Jabber server which
      // conforms to the specification for the 'jabber:client' namespace".
      return x('query', { xmlns: NS_BROWSE, jid: host, category: 'service', type: 'jabber', name },
        // §3.4: <ns/> elements advertise the namespaces the entity supports.
        ...[...features].sort().map((f) => x('ns', null, f)),
        // §3.3: a parent describes its children by address; browsing a child tells more.
        ...items.map((i) => x('item', { jid: i.jid, name: i.name })));
    });
  },
});
