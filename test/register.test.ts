// In-band registration (XEP-0077) without sockets: pre-auth iqs called as the c2s
// session calls them, and post-auth password changes and removal through the router.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'ltx';
import { world, type TestWorld } from './harness/fake-session.js';
import { MODULES } from '../src/main.js';
import type { Element } from '../src/xml/element.js';
import { StanzaError } from '../src/errors.js';
import type { PreAuthRequest } from '../src/router/client-extensions.js';
import { addressKey, RegistrationThrottle } from '../src/modules/xep0077-register.js';
import { NS_DELAY } from '../src/modules/xep0203-delay.js';

const NS = 'jabber:iq:register';
const HOST = 'example.org';
const condition = (el: Element) => (el.getChild('error')?.children[0] as Element | undefined)?.name;

async function openWorld(): Promise<TestWorld> {
  const w = await world(MODULES, [HOST, 'closed.example']);
  w.config.registration.policy = 'open';
  w.config.hosts[1]!.registration = 'closed';
  return w;
}

/** Calls the pre-auth handler as the c2s session would; resolves to the payload or the StanzaError. */
async function preAuth(w: TestWorld, type: 'get' | 'set', query: string, ctx: Partial<PreAuthRequest> = {}): Promise<Element | null | StanzaError> {
  const stanza = parse(`<iq type='${type}' id='r1'>${query}</iq>`);
  const handler = w.router.client.preAuthHandler(type, NS, 'query');
  assert.ok(handler, 'a pre-auth handler is registered');
  try {
    return await handler({ host: HOST, secure: true, version: true, ip: '192.0.2.1', stanza, payload: stanza.getChild('query')!, ...ctx });
  } catch (err) {
    if (err instanceof StanzaError) return err;
    throw err;
  }
}

const register = (w: TestWorld, user: string, password = 's3cret', ctx: Partial<PreAuthRequest> = {}) =>
  preAuth(w, 'set', `<query xmlns='${NS}'><username>${user}</username><password>${password}</password></query>`, ctx);

function assertError(r: unknown, cond: string, type?: string): void {
  assert.ok(r instanceof StanzaError, `expected ${cond}, got ${String(r)}`);
  assert.equal(r.condition, cond);
  if (type) assert.equal(r.type, type);
}

describe('in-band registration before login', () => {
  test('get returns the form on an open host; a closed host is service-unavailable', async () => {
    const w = await openWorld();
    const form = await preAuth(w, 'get', `<query xmlns='${NS}'/>`) as Element;
    assert.equal(form.attrs.xmlns, NS);
    assert.deepEqual(form.children.map((c) => (c as Element).name), ['instructions', 'username', 'password']);
    assertError(await preAuth(w, 'get', `<query xmlns='${NS}'/>`, { host: 'closed.example' }), 'service-unavailable');
    assertError(await register(w, 'zed', 'pw', { host: 'closed.example' }), 'service-unavailable');
    // The global policy applies to hosts without their own.
    w.config.registration.policy = 'closed';
    assertError(await register(w, 'zed'), 'service-unavailable');
    w.config.hosts[1]!.registration = 'open';
    assert.equal(await register(w, 'zed', 'pw', { host: 'closed.example' }), null);
  });

  test('the stream feature is offered only where registering would be accepted', async () => {
    const w = await openWorld();
    const offered = (host: string, secure: boolean) => w.router.client.featuresFor('pre-auth', { host, secure, version: true })
      .some((f) => f.is('register', 'http://jabber.org/features/iq-register'));
    assert.equal(offered(HOST, true), true);
    assert.equal(offered('closed.example', true), false);
    assert.equal(offered(HOST, false), false);
    w.config.c2s.require_encryption = false;
    w.config.c2s.allow_unencrypted_plain = true;
    assert.equal(offered(HOST, false), true);
  });

  test('set creates the account and stores the welcome message for it', async () => {
    const w = await openWorld();
    assert.equal(await register(w, 'Newbie'), null);
    assert.equal(await w.storage.accounts.exists(HOST, 'newbie'), true, 'the name is stored prepared (lower case)');
    const [welcome] = await w.storage.list('offline').readAll(HOST, 'newbie');
    assert.equal(welcome!.attrs.from, HOST);
    assert.equal(welcome!.attrs.to, 'newbie@example.org');
    assert.equal(welcome!.getChildText('body'), 'Welcome, newbie@example.org! Your new Jabber account on Rohrpost is ready.');
    assert.ok(welcome!.getChild('delay', NS_DELAY));
    // It reaches the new user's first session.
    const s = await w.connect('newbie@example.org/app');
    await s.inject('<presence/>');
    assert.ok(s.take().some((el) => el.name === 'message' && el.getChildText('body')?.startsWith('Welcome')));
  });

  test('no welcome message when it is switched off', async () => {
    const w = await openWorld();
    w.config.registration.welcome_message = null;
    assert.equal(await register(w, 'quiet'), null);
    assert.deepEqual(await w.storage.list('offline').readAll(HOST, 'quiet'), []);
  });

  test('an existing name is a conflict; bad names and missing fields are refused', async () => {
    const w = await openWorld();
    assert.equal(await register(w, 'taken'), null);
    assertError(await register(w, 'taken', 'other'), 'conflict');
    assertError(await register(w, 'TAKEN', 'other'), 'conflict');
    for (const bad of ['two words', 'a@b', 'x/y', '\u{1F600}']) assertError(await register(w, bad), 'jid-malformed');
    assertError(await register(w, '', 'pw'), 'not-acceptable');
    assertError(await register(w, 'nopass', ''), 'not-acceptable');
    assertError(await preAuth(w, 'set', `<query xmlns='${NS}'><username>nopass</username></query>`), 'not-acceptable');
    assertError(await register(w, 'ctrl', 'pass\u0007word'), 'not-acceptable');
    assertError(await preAuth(w, 'set', `<query xmlns='${NS}'><remove/></query>`), 'unexpected-request');
    assert.deepEqual(await w.storage.accounts.listAccounts(HOST), ['taken']);
  });

  test('refused on a plaintext stream unless unencrypted PLAIN is allowed', async () => {
    const w = await openWorld();
    assertError(await register(w, 'clear', 'pw', { secure: false }), 'not-authorized');
    assertError(await preAuth(w, 'get', `<query xmlns='${NS}'/>`, { secure: false }), 'not-authorized');
    w.config.c2s.allow_unencrypted_plain = true;
    assertError(await register(w, 'clear', 'pw', { secure: false }), 'not-authorized', 'auth');
    w.config.c2s.require_encryption = false;
    assert.equal(await register(w, 'clear', 'pw', { secure: false }), null);
  });

  test('works the same on a pre-1.0 stream', async () => {
    const w = await openWorld();
    assert.equal(await register(w, 'oldtimer', 'pw', { version: false }), null);
    assert.equal(await w.storage.accounts.exists(HOST, 'oldtimer'), true);
  });

  test('registrations per address are limited; failures do not count', async () => {
    const w = await openWorld();
    w.config.registration.max_per_ip = 2;
    assert.equal(await register(w, 'one'), null);
    assertError(await register(w, 'one'), 'conflict');
    assert.equal(await register(w, 'two'), null);
    assertError(await register(w, 'three'), 'not-acceptable', 'wait');
    assert.equal(await w.storage.accounts.exists(HOST, 'three'), false);
    assert.equal(await register(w, 'three', 'pw', { ip: '192.0.2.2' }), null);
    // One IPv6 client holds a /64.
    assert.equal(await register(w, 'six1', 'pw', { ip: '2001:db8:1:2::1' }), null);
    assert.equal(await register(w, 'six2', 'pw', { ip: '2001:db8:1:2:ffff::9' }), null);
    assertError(await register(w, 'six3', 'pw', { ip: '2001:db8:1:2:0:0:0:3' }), 'not-acceptable');
    assert.equal(await register(w, 'six3', 'pw', { ip: '2001:db8:1:3::1' }), null);
  });
});

describe('registration throttle', () => {
  test('a sliding window per address, forgotten once quiet', () => {
    let now = 0;
    const t = new RegistrationThrottle(() => 2, () => 1000, () => now);
    assert.equal(t.take('a'), true);
    now = 500;
    assert.equal(t.take('a'), true);
    assert.equal(t.take('a'), false);
    now = 1001;
    assert.equal(t.take('a'), true, 'the first one left the window');
    t.giveBack('a');
    assert.equal(t.take('a'), true);
    assert.equal(t.take('a'), false);
    assert.equal(t.take('b'), true);
    now = 5000;
    t.take('c');
    assert.equal(t.size, 1, 'quiet addresses are swept');
  });

  test('IPv6 addresses count per /64', () => {
    assert.equal(addressKey('192.0.2.1'), '192.0.2.1');
    assert.equal(addressKey('2001:db8:1:2::1'), '2001:db8:1:2::/64');
    assert.equal(addressKey('2001:0DB8:0001:0002:3:4:5:6'), '2001:db8:1:2::/64');
    assert.equal(addressKey('::1'), '0:0:0:0::/64');
    assert.equal(addressKey('fe80::'), 'fe80:0:0:0::/64');
  });
});

describe('in-band registration after login', () => {
  async function loggedIn() {
    const w = await openWorld();
    const s = await w.connect('bill@example.org/globe');
    return { w, s };
  }

  test('get says the account is registered', async () => {
    const { s } = await loggedIn();
    await s.inject(`<iq type='get' id='g1'><query xmlns='${NS}'/></iq>`);
    const [r] = s.take();
    assert.equal(r!.attrs.type, 'result');
    const q = r!.getChild('query', NS)!;
    assert.ok(q.getChild('registered'));
    assert.equal(q.getChildText('username'), 'bill');
    await s.inject(`<iq type='get' id='g2' to='example.org'><query xmlns='${NS}'/></iq>`);
    assert.equal(s.take()[0]!.attrs.type, 'result');
  });

  test('a password change needs a safe channel, and the error does not echo the password', async () => {
    const { w, s } = await loggedIn();
    const before = await w.storage.accounts.getCredentials(HOST, 'bill');
    await s.inject(`<iq type='set' id='c1'><query xmlns='${NS}'><username>bill</username><password>n3w</password></query></iq>`);
    const [r] = s.take();
    assert.equal(condition(r!), 'not-authorized');
    assert.doesNotMatch(r!.toString(), /n3w/);
    assert.deepEqual(await w.storage.accounts.getCredentials(HOST, 'bill'), before);
  });

  test('a password change on an allowed channel replaces the credentials', async () => {
    const { w, s } = await loggedIn();
    w.config.c2s.require_encryption = false;
    w.config.c2s.allow_unencrypted_plain = true;
    const before = await w.storage.accounts.getCredentials(HOST, 'bill');
    await s.inject(`<iq type='set' id='c1' to='example.org'><query xmlns='${NS}'><username>bill</username><password>n3w</password></query></iq>`);
    const [r] = s.take();
    assert.equal(r!.attrs.type, 'result');
    assert.equal(r!.attrs.id, 'c1');
    assert.notDeepEqual(await w.storage.accounts.getCredentials(HOST, 'bill'), before);
    // Without <username/>, and with the bare JID as username, also fine.
    await s.inject(`<iq type='set' id='c2'><query xmlns='${NS}'><password>again</password></query></iq>`);
    assert.equal(s.take()[0]!.attrs.type, 'result');
    await s.inject(`<iq type='set' id='c3'><query xmlns='${NS}'><username>bill@example.org</username><password>more</password></query></iq>`);
    assert.equal(s.take()[0]!.attrs.type, 'result');
    await s.inject(`<iq type='set' id='c4'><query xmlns='${NS}'><username>other</username><password>x</password></query></iq>`);
    assert.equal(condition(s.take()[0]!), 'forbidden');
    await s.inject(`<iq type='set' id='c5'><query xmlns='${NS}'><username>bill</username><password/></query></iq>`);
    assert.equal(condition(s.take()[0]!), 'bad-request');
  });

  test('remove deletes the account, answers, then ends every session of it with not-authorized', async () => {
    const { w, s } = await loggedIn();
    const other = await w.connect('bill@example.org/home');
    const bystander = await w.connect('alice@example.org/a');
    await s.inject(`<iq type='set' id='x1'><query xmlns='${NS}'><remove/><username>bill</username></query></iq>`);
    assert.equal(condition(s.take()[0]!), 'bad-request');
    assert.equal(s.closedWith, null);
    await s.inject(`<iq type='set' id='x2'><query xmlns='${NS}'><remove/></query></iq>`);
    const [r] = s.take();
    assert.equal(r!.attrs.type, 'result');
    assert.equal(r!.attrs.id, 'x2');
    assert.equal(s.closedWith, 'not-authorized');
    assert.equal(other.closedWith, 'not-authorized');
    assert.equal(bystander.closedWith, null);
    assert.equal(await w.storage.accounts.exists(HOST, 'bill'), false);
  });

  test('registration is announced in disco', async () => {
    const { w } = await loggedIn();
    assert.ok(w.context.disco.features.has(NS));
  });
});
