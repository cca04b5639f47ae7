// XEP-0092: Software Version — https://xmpp.org/extensions/xep-0092.html
import { defineModule } from '../router/module-api.js';
import { x } from '../xml/element.js';
import { VERSION } from '../version.js';

const NS_VERSION = 'jabber:iq:version';

export default defineModule({
  name: 'version',
  xep: { number: 92, version: '1.1', status: 'complete', note: 'the OS is not disclosed' },
  load(api) {
    api.feature(NS_VERSION);
    // §5 recommends letting admins hide the OS; we never send it.
    api.iq('get', 'host', NS_VERSION, 'query', () =>
      x('query', { xmlns: NS_VERSION }, x('name', null, 'Rohrpost'), x('version', null, VERSION)));
  },
});
