// XEP-0090: Legacy Entity Time — https://xmpp.org/extensions/xep-0090.html
// The 'jabber:iq:time' form that XEP-0202 replaced, still asked by old clients.
import { defineModule } from '../router/module-api.js';
import { x } from '../xml/element.js';

const NS_LEGACY_TIME = 'jabber:iq:time';

/**
 * <utc/>: §4 says applications "SHOULD use the old format" CCYYMMDDThh:mm:ss, and
 * being UTC by definition it "SHOULD NOT include the ending 'Z'".
 */
function legacyUtc(now: Date): string {
  const iso = now.toISOString(); // CCYY-MM-DDThh:mm:ss.sssZ
  return iso.slice(0, 10).replaceAll('-', '') + iso.slice(10, 19);
}

/** <tz/>: "either a three-letter acronym or the full natural-language name of the timezone". */
function zoneName(now: Date): string {
  const name = (style: 'short' | 'long') => new Intl.DateTimeFormat('en-US', { timeZoneName: style })
    .formatToParts(now).find((p) => p.type === 'timeZoneName')?.value ?? '';
  // Many zones have no acronym in English and come out as 'GMT+2': use the long name then.
  const short = name('short');
  return /^[A-Z]{2,5}$/.test(short) ? short : name('long');
}

/** <display/>: local time for humans, in the ctime form the spec's example uses. */
function display(now: Date): string {
  // Date.prototype.toString is specified: 'Tue Sep 10 2002 12:58:35 GMT-0600 (...)'.
  const [weekday, month, day, year, time] = now.toString().split(' ');
  return `${weekday} ${month} ${day} ${time} ${year}`;
}

export default defineModule({
  name: 'legacy-time',
  xep: { number: 90, version: '1.2', status: 'complete', note: 'obsolete; kept for old clients' },
  load(api) {
    api.feature(NS_LEGACY_TIME);
    api.iq('get', 'host', NS_LEGACY_TIME, 'query', () => {
      const now = new Date();
      return x('query', { xmlns: NS_LEGACY_TIME },
        x('utc', null, legacyUtc(now)), x('tz', null, zoneName(now)), x('display', null, display(now)));
    });
  },
});
