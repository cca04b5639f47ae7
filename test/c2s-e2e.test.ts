// End to end: real clients (Debian's slixmpp, npm's @xmpp/client) log in to a
// real Rohrpost process over STARTTLS and direct TLS with each SASL mechanism.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServer, slixmpp, xmppjs, type TestServer } from './harness/server.js';

describe('c2s with real clients', () => {
  let server: TestServer;
  const cafile = () => join(server.certs, 'localhost.crt');
  const login = (extra: Record<string, unknown>) => slixmpp({
    host: '127.0.0.1', port: server.starttlsPort, cafile: cafile(), actions: ['ping', 'disco'], ...extra,
  });

  before(async () => {
    server = await startServer();
    server.adduser('alice@localhost', 'wonderland');
    server.adduser('bob@localhost', 'builder');
    server.adduser('jürgen@localhost', 'Grüße aus Köln');
  });
  after(async () => {
    assert.equal(await server.stop(), 0, 'SIGTERM ends the server with exit code 0');
    server.cleanup();
  });

  // Over TLS slixmpp binds SCRAM to the channel (-PLUS); plain SCRAM is tested on a plaintext stream below.
  for (const mechanism of ['SCRAM-SHA-1-PLUS', 'SCRAM-SHA-256-PLUS', 'PLAIN']) {
    test(`slixmpp over STARTTLS with ${mechanism}: bind, ping, disco#info`, async () => {
      const r = await login({ jid: 'alice@localhost/laptop', password: 'wonderland', mechanism });
      assert.equal(r.error, undefined);
      assert.equal(r.ok, true);
      assert.equal(r.jid, 'alice@localhost/laptop');
      assert.equal(r.ping, true);
      assert.ok((r.features as string[]).includes('urn:xmpp:ping'));
      assert.ok((r.features as string[]).includes('http://jabber.org/protocol/disco#info'));
      assert.deepEqual((r.identities as string[][])[0]!.slice(0, 2), ['server', 'im']);
      const auth = await server.waitForLog((l) => l.msg === 'authenticated' && l.mechanism === mechanism);
      assert.equal(auth.jid, 'alice@localhost');
      assert.match(String(auth.tls), /^TLSv1\.[23]$/);
    });
  }

  test('slixmpp over direct TLS (XEP-0368) with its default choice', async () => {
    const r = await login({ port: server.directTlsPort, direct_tls: true, jid: 'bob@localhost/phone', password: 'builder' });
    assert.equal(r.error, undefined);
    assert.equal(r.jid, 'bob@localhost/phone');
    assert.equal(r.ping, true);
    await server.waitForLog((l) => l.msg === 'authenticated' && l.jid === 'bob@localhost' && l.mechanism === 'SCRAM-SHA-256-PLUS');
  });

  test('RFC 5802 downgrade protection: a client that could bind (gs2 "y") while -PLUS is offered is refused', async () => {
    const r = await login({ jid: 'alice@localhost/y', password: 'wonderland', mechanism: 'SCRAM-SHA-1' });
    assert.equal(r.error, 'failed_auth');
  });

  test('a wrong password fails cleanly and the next login works', async () => {
    const bad = await login({ jid: 'alice@localhost/x', password: 'wrong', mechanism: 'SCRAM-SHA-1-PLUS' });
    assert.equal(bad.ok, false);
    assert.equal(bad.error, 'failed_auth');
    const unknown = await login({ jid: 'nobody@localhost/x', password: 'whatever', mechanism: 'SCRAM-SHA-256-PLUS' });
    assert.equal(unknown.error, 'failed_auth');
    const good = await login({ jid: 'alice@localhost/x', password: 'wonderland', mechanism: 'SCRAM-SHA-1-PLUS' });
    assert.equal(good.ok, true);
  });

  test('a user with a non-ASCII name logs in under its normalised JID', async () => {
    const r = await login({ jid: 'JÜRGEN@LocalHost/Büro', password: 'Grüße aus Köln', mechanism: 'SCRAM-SHA-256-PLUS' });
    assert.equal(r.error, undefined);
    assert.equal(r.jid, 'jürgen@localhost/Büro');
  });

  test('@xmpp/client logs in over STARTTLS, pings, and two clients chat', async () => {
    const r = await xmppjs(server, {
      service: `xmpp://127.0.0.1:${server.starttlsPort}`, domain: 'localhost',
      users: [{ username: 'alice', password: 'wonderland', resource: 'a1' }, { username: 'bob', password: 'builder', resource: 'b1' }],
      actions: ['ping', 'chat'],
    });
    assert.equal(r.error, undefined);
    assert.deepEqual(r.jids, ['alice@localhost/a1', 'bob@localhost/b1']);
    assert.equal(r.ping, true);
    const chat = r.chat as { atB: { from: string; body: string }; atA: { from: string; body: string } };
    assert.deepEqual(chat.atB, { from: 'alice@localhost/a1', body: 'Hallo B, grüß dich' });
    assert.deepEqual(chat.atA, { from: 'bob@localhost/b1', body: 'Hallo A' });
  });

  test('@xmpp/client logs in over direct TLS', async () => {
    const r = await xmppjs(server, {
      service: `xmpps://localhost:${server.directTlsPort}`, domain: 'localhost',
      users: [{ username: 'bob', password: 'builder', resource: 'tls' }], actions: ['ping'],
    });
    assert.equal(r.error, undefined);
    assert.equal(r.ping, true);
  });

  test('the log has a line per connection opened, authenticated and closed', () => {
    assert.ok(server.logs.some((l) => l.msg === 'connection opened' && l.ip === '127.0.0.1'));
    assert.ok(server.logs.some((l) => l.msg === 'connection closed' && l.jid === 'alice@localhost/laptop'));
    assert.ok(server.logs.some((l) => l.msg === 'authentication failed' && l.ip === '127.0.0.1'));
  });
});

describe('c2s on a plaintext stream (require_encryption off)', () => {
  let server: TestServer;
  const login = (extra: Record<string, unknown>) => slixmpp({
    host: '127.0.0.1', port: server.starttlsPort, disable_starttls: true, actions: ['ping'], ...extra,
  });

  before(async () => {
    server = await startServer({ sets: ['c2s.require_encryption=false'] });
    server.adduser('carol@localhost', 'pa55word');
  });
  after(async () => {
    await server.stop();
    server.cleanup();
  });

  for (const mechanism of ['SCRAM-SHA-1', 'SCRAM-SHA-256']) {
    test(`slixmpp without TLS authenticates with ${mechanism}`, async () => {
      const r = await login({ jid: 'carol@localhost/desk', password: 'pa55word', mechanism });
      assert.equal(r.error, undefined);
      assert.equal(r.ping, true);
      const auth = await server.waitForLog((l) => l.msg === 'authenticated' && l.mechanism === mechanism);
      assert.equal(auth.tls, null);
    });
  }

  test('PLAIN is not offered without TLS unless the admin allows it', async () => {
    const r = await login({ jid: 'carol@localhost/desk', password: 'pa55word', mechanism: 'PLAIN', unencrypted_plain: true });
    assert.equal(r.ok, false);
    assert.equal(server.logs.some((l) => l.msg === 'authenticated' && l.mechanism === 'PLAIN'), false);
  });
});
