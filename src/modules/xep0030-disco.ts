// XEP-0030: Service Discovery — https://xmpp.org/extensions/xep-0030.html
// Features, identities and items come from what the loaded modules registered.
import { defineModule } from '../router/module-api.js';
import { StanzaError } from '../errors.js';
import { x } from '../xml/element.js';

const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const NS_DISCO_ITEMS = 'http://jabber.org/protocol/disco#items';

export default defineModule({
  name: 'disco',
  xep: { number: 30, version: '2.5rc3', status: 'complete' },
  load(api) {
    api.feature(NS_DISCO_INFO);
    api.feature(NS_DISCO_ITEMS);
    api.identity({ category: 'server', type: 'im', name: 'Rohrpost' });

    api.iq('get', 'host', NS_DISCO_INFO, 'query', (_ev, query) => {
      // XEP-0030 §3.1: a node we do not know is item-not-found.
      if (query.attrs.node) throw new StanzaError('item-not-found');
      return x('query', { xmlns: NS_DISCO_INFO },
        ...api.disco.identities.map((i) => x('identity', { category: i.category, type: i.type, name: i.name })),
        ...[...api.disco.features].sort().map((f) => x('feature', { var: f })));
    });

    api.iq('get', 'host', NS_DISCO_ITEMS, 'query', (_ev, query) => {
      if (query.attrs.node) throw new StanzaError('item-not-found');
      return x('query', { xmlns: NS_DISCO_ITEMS },
        ...api.disco.items.map((i) => x('item', { jid: i.jid, name: i.name })));
    });

    // XEP-0030 §3.1 / RFC 6121: the server answers for a user's account.
    api.iq('get', 'self', NS_DISCO_INFO, 'query', (_ev, query) => {
      if (query.attrs.node) throw new StanzaError('item-not-found');
      return x('query', { xmlns: NS_DISCO_INFO },
        x('identity', { category: 'account', type: 'registered' }),
        x('feature', { var: NS_DISCO_INFO }));
    });
    api.iq('get', 'self', NS_DISCO_ITEMS, 'query', () => x('query', { xmlns: NS_DISCO_ITEMS }));
  },
});
