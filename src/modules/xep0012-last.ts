// XEP-0012: Last Activity — https://xmpp.org/extensions/xep-0012.html
// To the server: its uptime. To a user's bare JID: how long ago the user logged out,
// with the status of the last unavailable presence — only for those allowed to see
// the user's presence. To a full JID: the router delivers it to the client, once
// this module has checked the same permission.
import { defineModule, type ModuleApi } from '../router/module-api.js';
import { StanzaError } from '../errors.js';
import { x, type Element } from '../xml/element.js';
import type { Jid } from '../jid/index.js';
import type { Session } from '../router/session.js';
import type { Codec } from '../storage/types.js';

const NS_LAST = 'jabber:iq:last';

interface LastLogout {
  /** When the user's last session ended. */
  at: Date;
  /** The <status/> of the last unavailable presence, '' without one. */
  status: string;
}

/**
 * XEP-0227 defines no form for last activity, so we keep the protocol's own
 * element, with an absolute XEP-0082 'stamp' in place of 'seconds' (which would
 * be stale on disk): <query xmlns='jabber:iq:last' stamp='…Z'>status</query>.
 */
const lastCodec: Codec<LastLogout> = {
  encode: ({ at, status }) => x('query', { xmlns: NS_LAST, stamp: at.toISOString() }, status || null),
  decode(el) {
    const at = new Date(el.attrs.stamp ?? '');
    if (Number.isNaN(at.getTime())) throw new Error('last activity without a valid stamp');
    return { at, status: el.getText() };
  },
  match: (el) => el.name === 'query' && el.attrs.xmlns === NS_LAST,
};

const seconds = (sinceMs: number) => Math.max(0, Math.floor((Date.now() - sinceMs) / 1000));

/** §3: may `requester` see `user`'s presence? Themself, or via a subscription (RFC 6121). */
async function mayView(api: ModuleApi, user: Jid, requester: Jid): Promise<boolean> {
  if (user.equals(requester)) return true;
  // Without a roster nobody holds a subscription, so nobody else is authorised.
  const roster = api.use('roster');
  if (!roster) return false;
  const sub = await roster.subscription(user, requester);
  return sub === 'from' || sub === 'both';
}

function isLastQuery(iq: Element): boolean {
  if (iq.attrs.type !== 'get') return false;
  const payload = iq.getChildElements()[0];
  return payload !== undefined && payload.name === 'query' && payload.attrs.xmlns === NS_LAST;
}

export default defineModule({
  name: 'last',
  xep: { number: 12, version: '2.0', status: 'complete', note: 'privacy lists and blocking do not restrict it yet' },
  load(api) {
    api.feature(NS_LAST);
    const store = api.keyval<LastLogout>('last', lastCodec);
    const startedAt = Date.now();
    /** The status of each session's last unavailable presence, until it closes. */
    const statuses = new WeakMap<Session, string>();
    /** When a session's close was recorded as the user's logout. */
    const logouts = new WeakMap<Session, Date>();

    const record = (user: Jid, logout: LastLogout): Promise<void> =>
      store.set(user.domain, user.local, logout).catch((err: unknown) => {
        // The account may have been deleted as the session ended.
        api.log.warn({ err, user: user.toString() }, 'last activity not stored');
      });

    // §5: to the server, 'seconds' "specifies how long the host has been running
    // since it was last (re-)started". The server loads its modules once, at start.
    api.iq('get', 'host', NS_LAST, 'query', () => x('query', { xmlns: NS_LAST, seconds: seconds(startedAt) }));

    // Remember the status a client gives when it goes offline. Runs early and never
    // handles the stanza, so presence processing is unchanged.
    api.on('presence/self', (ev) => {
      const session = ev.origin;
      if (!session) return;
      const type = ev.stanza.attrs.type;
      if (type === undefined) statuses.delete(session);
      if (type !== 'unavailable') return;
      const status = ev.stanza.getChildText('status') ?? '';
      // A second unavailable without a status (one the server sends for a client that
      // left without saying goodbye, say) does not erase the one the user gave.
      if (status === '' && statuses.has(session)) return;
      statuses.set(session, status);
      // A client's last stanzas can be routed after its stream closed (the goodbye
      // presence just before </stream:stream>): amend the logout recorded without them.
      const at = logouts.get(session);
      if (at && status !== '' && !api.sessions.isOnline(session.jid.bareString())) {
        void record(session.jid.bare, { at, status });
      }
    }, 1000);

    // A logout is the end of the user's last session; while another resource is
    // connected the answer is 0 anyway, so those closes need no write.
    api.onSession('closed', async (session) => {
      const user = session.jid.bare;
      if (api.sessions.isOnline(user.bareString())) return;
      const at = new Date(Date.now());
      logouts.set(session, at);
      await record(user, { at, status: statuses.get(session) ?? '' });
    });

    const userQuery = async (ev: { from: Jid; to: Jid }): Promise<Element> => {
      const user = ev.to.bare;
      const online = api.sessions.isOnline(user.bareString());
      // RFC 6121 §8.5.1: an iq to an account that does not exist gets service-unavailable.
      if (!online && !(await api.accounts.exists(user.domain, user.local))) throw new StanzaError('service-unavailable');
      // §3: "the user's server MUST NOT return last activity information but instead
      // MUST return a <forbidden/> error".
      if (!(await mayView(api, user, ev.from.bare))) throw new StanzaError('forbidden');
      // §3: with "at least one connected or available resource ... the response MUST
      // ... contain an empty <query/> element whose 'seconds' attribute is set to '0'".
      if (online) return x('query', { xmlns: NS_LAST, seconds: 0 });
      const last = await store.get(user.domain, user.local);
      if (!last) throw new StanzaError('item-not-found', 'no logout has been recorded');
      return x('query', { xmlns: NS_LAST, seconds: seconds(last.at.getTime()) }, last.status || null);
    };
    api.iq('get', 'bare', NS_LAST, 'query', userQuery);
    api.iq('get', 'self', NS_LAST, 'query', userQuery);

    // §4: for a query to a full JID, if the requester is not authorised "the user's
    // server MUST NOT deliver the IQ-get to an available resource but instead MUST
    // return a <forbidden/> error". Returning false lets the router deliver it.
    api.on('iq/full', (ev) => {
      if (!isLastQuery(ev.stanza)) return;
      return mayView(api, ev.to.bare, ev.from.bare).then((allowed) => {
        if (!allowed) throw new StanzaError('forbidden');
        return false;
      });
    }, 1000);
  },
});
