// XEP-0077: In-Band Registration — https://xmpp.org/extensions/xep-0077.html
//
// Before authentication a client may create an account (the fixed username and
// password fields; no data forms); after it, change its password or remove its
// account. Works on pre-1.0 streams too, where legacy clients register the same way.
import { randomUUID } from 'node:crypto';
import { defineModule, type ModuleApi } from '../router/module-api.js';
import type { StanzaEvent } from '../router/router.js';
import type { PreAuthRequest } from '../router/client-extensions.js';
import { errorReply, iqResult } from '../router/stanza.js';
import { prepLocal } from '../jid/index.js';
import { x, type Element } from '../xml/element.js';
import { SaslError, StanzaError } from '../errors.js';

const NS_REGISTER = 'jabber:iq:register';
const NS_REGISTER_FEATURE = 'http://jabber.org/features/iq-register';

export default defineModule({
  name: 'register',
  xep: { number: 77, version: '2.5', status: 'partial', note: 'username and password fields, no data forms; registration.policy per host' },
  load(api) {
    const { c2s, registration } = api.config;
    const throttle = new RegistrationThrottle(() => registration.max_per_ip, () => registration.window * 1000);
    const isOpen = (host: string) => (api.config.hosts.find((h) => h.domain === host)?.registration ?? registration.policy) === 'open';
    // XEP-0077 §11: the methods "SHOULD NOT be used unless the channel between the
    // registrant and the entity that accepts registration has been secured"; the
    // same rule as for SASL PLAIN, since both send the password in clear.
    const channelSafe = (secure: boolean) => secure || (!c2s.require_encryption && c2s.allow_unencrypted_plain);

    // XEP-0077 §10 (Determining Support): "SHOULD report ... jabber:iq:register";
    // also on closed hosts, where users still change passwords in-band.
    api.feature(NS_REGISTER);
    // XEP-0077 §8: offered only where registering would be accepted.
    api.streamFeature('pre-auth', (ctx) => (isOpen(ctx.host) && channelSafe(ctx.secure) ? x('register', { xmlns: NS_REGISTER_FEATURE }) : null));

    const admit = (req: PreAuthRequest) => {
      // XEP-0077 §3.1: "If the host does not support In-Band Registration, it MUST
      // return a <service-unavailable/> error."
      if (!isOpen(req.host)) throw new StanzaError('service-unavailable', 'registration is closed on this host');
      if (!channelSafe(req.secure)) throw new StanzaError('not-authorized', 'registration sends the password in clear: use TLS');
    };

    api.preAuthIq('get', NS_REGISTER, 'query', (req) => {
      admit(req);
      return x('query', { xmlns: NS_REGISTER },
        x('instructions', null, `Choose a username and password for your account on ${req.host}.`),
        x('username'), x('password'));
    });

    api.preAuthIq('set', NS_REGISTER, 'query', async (req) => {
      admit(req);
      // XEP-0077 §3.2: removing needs a 'from', which an unauthenticated stream has not.
      if (req.payload.getChild('remove')) throw new StanzaError('unexpected-request', 'log in to remove your account');
      const requested = req.payload.getChildText('username') ?? '';
      const password = req.payload.getChildText('password') ?? '';
      // XEP-0077 §3.1: missing information, an empty password included, "MUST return
      // a <not-acceptable/> error".
      if (requested === '' || password === '') throw new StanzaError('not-acceptable', 'a username and a password are required');
      let user: string;
      try {
        user = prepLocal(requested);
      } catch {
        throw new StanzaError('jid-malformed', 'that username is not allowed in an address');
      }
      // XEP-0077 §3.1.1: a server "MAY return a <not-acceptable/> stanza error if an
      // unregistered entity attempts to register too many times"; 'wait': try later.
      if (!throttle.take(req.ip)) {
        api.log.warn({ ip: req.ip, host: req.host }, 'registration refused: too many from this address');
        throw new StanzaError('not-acceptable', 'too many accounts registered from your address; try again later', 'wait');
      }
      let created: boolean;
      try {
        created = await api.accountAdmin.create(req.host, user, password);
      } catch (err) {
        throttle.giveBack(req.ip);
        if (err instanceof SaslError) throw new StanzaError('not-acceptable', 'the password contains characters that are not allowed');
        api.log.error({ err, jid: `${user}@${req.host}` }, 'cannot create account');
        throw new StanzaError('internal-server-error');
      }
      if (!created) {
        throttle.giveBack(req.ip);
        throw new StanzaError('conflict', 'that username is taken');
      }
      api.log.info({ jid: `${user}@${req.host}`, ip: req.ip }, 'account registered in-band');
      await welcome(api, req.host, user);
      return null;
    });

    for (const target of ['self', 'host'] as const) {
      api.iq('get', target, NS_REGISTER, 'query', (ev) => {
        ownAccount(ev);
        // XEP-0077 §3.1: the result "MUST contain an empty <registered/> element".
        return x('query', { xmlns: NS_REGISTER }, x('registered'),
          x('instructions', null, 'Send a new password to change it, or <remove/> to delete your account.'),
          x('username', null, ev.from.local), x('password'));
      });
      api.on(`iq-set/${target}/${NS_REGISTER}:query`, (ev) => changeOrRemove(ev));
    }

    /** A set after login: a password change or the removal of the account. */
    async function changeOrRemove(ev: StanzaEvent): Promise<true> {
      try {
        ownAccount(ev);
        const payload = ev.stanza.getChild('query', NS_REGISTER)!;
        if (payload.getChild('remove')) await removeAccount(ev, payload);
        else await changePassword(ev, payload);
      } catch (caught) {
        let err = caught;
        if (!(err instanceof StanzaError)) {
          api.log.error({ err, jid: ev.from.toString() }, 'in-band registration change failed');
          err = new StanzaError('internal-server-error');
        }
        // XEP-0077 §3.3: the server "SHOULD NOT return the original XML sent in IQ
        // error stanzas related to password changes"; it holds the password.
        const bare = x('iq', { from: ev.stanza.attrs.from, to: ev.stanza.attrs.to, id: ev.stanza.attrs.id, type: ev.stanza.attrs.type });
        await ev.router.reply(ev.stanza, errorReply(bare, err as StanzaError), ev.origin);
      }
      return true;
    }

    async function changePassword(ev: StanzaEvent, payload: Element): Promise<void> {
      if (!channelSafe(ev.origin!.info().tls !== null)) {
        // XEP-0077 §3.3: <not-authorized/> when the channel is not "safe enough".
        throw new StanzaError('not-authorized', 'a password change sends the password in clear: use TLS');
      }
      const username = payload.getChildText('username');
      const password = payload.getChildText('password') ?? '';
      if (username !== null && !namesUser(username, ev)) throw new StanzaError('forbidden', 'you can only change your own password');
      // XEP-0077 §3.3: an empty password "MUST NOT change the password to a null value".
      if (password === '') throw new StanzaError('bad-request', 'the new password is empty');
      let changed: boolean;
      try {
        changed = await api.accountAdmin.setPassword(ev.from.domain, ev.from.local, password);
      } catch (err) {
        if (err instanceof SaslError) throw new StanzaError('not-acceptable', 'the password contains characters that are not allowed');
        throw err;
      }
      if (!changed) throw new StanzaError('registration-required');
      api.log.info({ jid: ev.from.bareString() }, 'password changed in-band');
      await ev.router.reply(ev.stanza, iqResult(ev.stanza, null), ev.origin);
    }

    async function removeAccount(ev: StanzaEvent, payload: Element): Promise<void> {
      // XEP-0077 §3.2: <bad-request/> when "the <remove/> element was not the only child".
      if (payload.children.some((c) => typeof c !== 'string' && c.name !== 'remove')) {
        throw new StanzaError('bad-request', '<remove/> must be the only child');
      }
      const { domain, local } = ev.from;
      if (!(await api.accountAdmin.remove(domain, local))) throw new StanzaError('registration-required');
      api.log.info({ jid: ev.from.bareString() }, 'account removed in-band');
      await ev.router.reply(ev.stanza, iqResult(ev.stanza, null), ev.origin);
      // XEP-0077 §3.2: the server "SHOULD then return a <not-authorized/> stream error
      // and terminate all active sessions for the entity" — after the result above.
      for (const s of api.sessions.resources(ev.from.bareString())) s.close('not-authorized', 'the account has been removed');
    }
  },
});

/** Only an account's own client session may manage it, and only on its own host. */
function ownAccount(ev: StanzaEvent): void {
  if (!ev.origin || !ev.from.local || ev.from.domain !== ev.to.domain) {
    throw new StanzaError('not-allowed', 'register with this host before you authenticate');
  }
}

/** Whether the <username/> of a password change names the sender (as localpart or bare JID). */
function namesUser(username: string, ev: StanzaEvent): boolean {
  if (username === ev.from.bareString()) return true;
  try {
    return prepLocal(username) === ev.from.local;
  } catch {
    return false;
  }
}

/**
 * registration.welcome_message, from the server to the new account. The account
 * has no session yet, so the router hands it to offline storage; this resolves once
 * it is stored, so the client finds it when it logs in right after.
 */
async function welcome(api: ModuleApi, host: string, user: string): Promise<void> {
  const text = api.config.registration.welcome_message;
  if (text === null || text === '') return;
  const to = `${user}@${host}`;
  await api.send(x('message', { from: host, to, id: randomUUID() }, x('body', null, text.replaceAll('{jid}', to))));
}

/**
 * Registrations per address in a sliding window (registration.max_per_ip per
 * registration.window). An IPv6 client usually holds a whole /64, so that is one address.
 */
export class RegistrationThrottle {
  private readonly recent = new Map<string, number[]>();
  private lastSweep = 0;

  /** Limits are read on each use, so a changed configuration applies at once. */
  constructor(private readonly max: () => number, private readonly windowMs: () => number, private readonly now: () => number = Date.now) {}

  /** Reserves a registration for the address; false if it has had its share. */
  take(ip: string): boolean {
    const t = this.now();
    this.sweep(t);
    const key = addressKey(ip);
    const times = (this.recent.get(key) ?? []).filter((s) => t - s < this.windowMs());
    if (times.length >= this.max()) {
      this.recent.set(key, times);
      return false;
    }
    times.push(t);
    this.recent.set(key, times);
    return true;
  }

  /** Returns a reservation whose registration did not happen. */
  giveBack(ip: string): void {
    const key = addressKey(ip);
    const times = this.recent.get(key);
    times?.pop();
    if (times?.length === 0) this.recent.delete(key);
  }

  /** Forgets addresses quiet for a whole window, at most once a window. */
  private sweep(t: number): void {
    const windowMs = this.windowMs();
    if (t - this.lastSweep < windowMs) return;
    this.lastSweep = t;
    for (const [key, times] of this.recent) if (times.every((s) => t - s >= windowMs)) this.recent.delete(key);
  }

  get size(): number {
    return this.recent.size;
  }
}

/** IPv4 as it is; IPv6 reduced to its /64. */
export function addressKey(ip: string): string {
  if (!ip.includes(':')) return ip;
  const [head = '', tail] = ip.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':') + '::/64';
}
