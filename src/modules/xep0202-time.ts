// XEP-0202: Entity Time — https://xmpp.org/extensions/xep-0202.html
// The server tells its clock: UTC time and the numeric offset of its local zone.
import { defineModule } from '../router/module-api.js';
import { x } from '../xml/element.js';

const NS_TIME = 'urn:xmpp:time';

const pad = (n: number) => String(n).padStart(2, '0');

/** §2 <tzo/>: "MUST conform to the Time Zone Definition (TZD) specified in XEP-0082" (±hh:mm). */
function timeZoneOffset(now: Date): string {
  const east = -now.getTimezoneOffset();
  const abs = Math.abs(east);
  return `${east < 0 ? '-' : '+'}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** §2 <utc/>: the XEP-0082 dateTime profile, "MUST be expressed in UTC"; whole seconds. */
function utcDateTime(now: Date): string {
  return now.toISOString().replace(/\.\d+Z$/, 'Z');
}

export default defineModule({
  name: 'time',
  xep: { number: 202, version: '2.0', status: 'complete' },
  load(api) {
    // §4: an entity that supports the protocol "MUST report that by including a
    // service discovery feature of 'urn:xmpp:time'".
    api.feature(NS_TIME);
    api.iq('get', 'host', NS_TIME, 'time', () => {
      const now = new Date();
      return x('time', { xmlns: NS_TIME }, x('tzo', null, timeZoneOffset(now)), x('utc', null, utcDateTime(now)));
    });
  },
});
