// End to end: in-band registration (XEP-0077) with slixmpp's xep_0077 plugin and
// raw streams (direct TLS, plaintext, pre-1.0) against a real Rohrpost process.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServer, type TestServer } from './harness/server.js';
import { openStream, iq, type RawStreamOptions } from './harness/raw-stream.js';
import { slixRegister } from './harness/slix-register.js';

const NS = 'jabber:iq:register';
const FEATURE = /<register xmlns=['"]http:\/\/jabber\.org\/features\/iq-register['"]/;
const WELCOME = /^Welcome, newcomer@localhost! /;

const setIq = (id: string, user: string, password: string) =>
  `<iq type='set' id='${id}'><query xmlns='${NS}'><username>${user}</username><password>${password}</password></query></iq>`;
const errorCondition = (answer: string) => /<error[^>]*>\s*<([a-z-]+) xmlns=['"]urn:ietf:params:xml:ns:xmpp-stanzas['"]/.exec(answer)?.[1];

describe('in-band registration on an open host', () => {
  let server: TestServer;
  const client = (extra: Record<string, unknown>) => slixRegister({
    host: '127.0.0.1', port: server.starttlsPort, cafile: join(server.certs, 'localhost.crt'), ...extra,
  });
  const tlsStream = (extra: Partial<RawStreamOptions> = {}) => openStream({ port: server.directTlsPort, tls: true, ...extra });

  before(async () => {
    // Logins meant to fail below (slixmpp tries every mechanism) must not trip the login throttle.
    server = await startServer({ sets: ['registration.policy=open', 'registration.max_per_ip=100', 'auth.max_failures_per_ip=1000', 'auth.max_failures_per_account=1000'] });
    server.adduser('alice@localhost', 'wonderland');
  });
  after(async () => {
    assert.equal(await server.stop(), 0);
    server.cleanup();
  });

  test('slixmpp registers over STARTTLS, logs in and receives the welcome message, stamped', async () => {
    const r = await client({ jid: 'newcomer@localhost/app', password: 'fresh-start', register: true, expect_messages: 1 });
    assert.equal(r.error, undefined);
    assert.equal(r.registered, true);
    assert.deepEqual(r.form, { instructions: true, fields: ['password', 'username'] });
    assert.equal(r.jid, 'newcomer@localhost/app');
    const [welcome] = r.messages;
    assert.equal(welcome?.from, 'localhost');
    assert.match(welcome!.body, WELCOME);
    assert.equal(welcome!.delay_from, 'localhost');
    assert.ok(welcome!.delay_stamp);
    const line = await server.waitForLog((l) => l.msg === 'account registered in-band' && l.jid === 'newcomer@localhost');
    assert.equal(line.ip, '127.0.0.1');
    assert.ok(!JSON.stringify(server.logs).includes('fresh-start'), 'the password is never logged');
  });

  test('an existing name is a conflict', async () => {
    const r = await client({ jid: 'alice@localhost/app', password: 'not-hers', register: true });
    assert.equal(r.registered, false);
    assert.deepEqual(r.register_error && typeof r.register_error === 'object' && r.register_error.condition, 'conflict');
  });

  test('slixmpp changes its password, logs in with the new one, then removes the account', async () => {
    const first = await client({ jid: 'mover@localhost/app', password: 'old-one', register: true, expect_messages: 1, actions: ['change_password:new-one'] });
    assert.equal(first.error, undefined);
    assert.equal(first.password_changed, true);
    const old = await client({ jid: 'mover@localhost/app', password: 'old-one' });
    assert.equal(old.error, 'failed_auth');
    const second = await client({ jid: 'mover@localhost/app', password: 'new-one', actions: ['unregister'] });
    assert.equal(second.error, undefined);
    assert.equal(second.unregistered, true);
    assert.equal(second.stream_error, 'not-authorized', 'the server ends the session after the removal');
    const gone = await client({ jid: 'mover@localhost/app', password: 'new-one' });
    assert.equal(gone.error, 'failed_auth');
  });

  test('the feature is offered after TLS but not on plaintext, where registering is refused', async () => {
    const secure = await tlsStream();
    assert.match(secure.data(), FEATURE);
    secure.close();
    const plain = await openStream({ port: server.starttlsPort });
    assert.doesNotMatch(plain.data(), FEATURE);
    const answer = await iq(plain, 'p1', setIq('p1', 'sniffed', 'in-clear'));
    assert.equal(errorCondition(answer), 'not-authorized');
    plain.close();
  });

  test('bad names and missing fields are refused over direct TLS', async () => {
    const s = await tlsStream();
    assert.equal(errorCondition(await iq(s, 'b1', setIq('b1', 'two words', 'pw'))), 'jid-malformed');
    assert.equal(errorCondition(await iq(s, 'b2', setIq('b2', 'nopass', ''))), 'not-acceptable');
    assert.equal(errorCondition(await iq(s, 'b3', setIq('b3', 'ALICE', 'pw'))), 'conflict');
    const form = await iq(s, 'b4', `<iq type='get' id='b4'><query xmlns='${NS}'/></iq>`);
    assert.match(form, /type=['"]result['"]/);
    assert.match(form, /<username\/>/);
    s.close();
  });

  test('a legacy client registers on a pre-1.0 stream, then logs in', async () => {
    const s = await tlsStream({ version: false });
    assert.doesNotMatch(s.data(), /stream:features/);
    const form = await iq(s, 'l1', `<iq type='get' id='l1'><query xmlns='${NS}'/></iq>`);
    assert.match(form, /<instructions>/);
    const done = await iq(s, 'l2', setIq('l2', 'oldtimer', 'since-1999'));
    assert.match(done, /type=['"]result['"]/);
    s.close();
    const r = await client({ jid: 'oldtimer@localhost/desk', password: 'since-1999', expect_messages: 1 });
    assert.equal(r.error, undefined);
    assert.match(r.messages[0]!.body, /^Welcome, oldtimer@localhost!/);
  });
});

describe('in-band registration limits', () => {
  test('a closed host offers no registration and refuses it', async () => {
    const server = await startServer();
    try {
      const s = await openStream({ port: server.directTlsPort, tls: true });
      assert.doesNotMatch(s.data(), FEATURE);
      assert.equal(errorCondition(await iq(s, 'c1', `<iq type='get' id='c1'><query xmlns='${NS}'/></iq>`)), 'service-unavailable');
      assert.equal(errorCondition(await iq(s, 'c2', setIq('c2', 'intruder', 'pw'))), 'service-unavailable');
      s.close();
      const r = await slixRegister({
        host: '127.0.0.1', port: server.starttlsPort, cafile: join(server.certs, 'localhost.crt'),
        jid: 'intruder@localhost/app', password: 'pw', register: true,
      });
      assert.equal(r.registered, undefined, 'slixmpp saw no registration feature');
      assert.equal(r.error, 'failed_auth');
    } finally {
      await server.stop();
      server.cleanup();
    }
  });

  test('registrations from one address are throttled', async () => {
    const server = await startServer({ sets: ['registration.policy=open', 'registration.max_per_ip=2', 'registration.window=3600'] });
    try {
      const s = await openStream({ port: server.directTlsPort, tls: true });
      assert.match(await iq(s, 't1', setIq('t1', 'first', 'pw')), /type=['"]result['"]/);
      assert.equal(errorCondition(await iq(s, 't2', setIq('t2', 'first', 'pw'))), 'conflict');
      assert.match(await iq(s, 't3', setIq('t3', 'second', 'pw')), /type=['"]result['"]/);
      const refused = await iq(s, 't4', setIq('t4', 'third', 'pw'));
      assert.equal(errorCondition(refused), 'not-acceptable');
      assert.match(refused, /<error[^>]*type=['"]wait['"]/);
      s.close();
      await server.waitForLog((l) => l.msg === 'registration refused: too many from this address');
    } finally {
      await server.stop();
      server.cleanup();
    }
  });
});
