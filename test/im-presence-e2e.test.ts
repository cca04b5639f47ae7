// End to end: two slixmpp clients over a real socket work through RFC 6121 —
// roster, a subscription handshake slixmpp completes on its own, a status change,
// and the unavailable presence the server sends when a connection drops.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pythonDriver, startServer, type TestServer } from './harness/server.js';

function slixPresence(options: Record<string, unknown>): Promise<Record<string, unknown>> {
  return pythonDriver('slix_presence.py', options);
}

describe('RFC 6121 with slixmpp', () => {
  let server: TestServer;

  before(async () => {
    server = await startServer({ sets: ['c2s.require_encryption=false'] });
    server.adduser('alice@localhost', 'alicepw');
    server.adduser('bob@localhost', 'bobpw');
  });
  after(async () => {
    await server.stop();
    server.cleanup();
  });

  test('roster, mutual subscription, status, and unavailable on a dropped connection', async () => {
    const r = await slixPresence({
      host: '127.0.0.1', port: server.starttlsPort, timeout: 10,
      alice: { jid: 'alice@localhost/laptop', password: 'alicepw' },
      bob: { jid: 'bob@localhost/phone', password: 'bobpw' },
    });
    assert.equal(r.error, undefined, JSON.stringify(r));
    assert.equal(r.alice_sub, 'both');
    assert.equal(r.bob_sub, 'both');
    assert.equal(r.bob_sees_alice, true);
    assert.equal(r.alice_sees_bob, true);
    assert.equal(r.bob_saw_status, true);
    assert.equal(r.bob_saw_alice_leave, true);
    assert.equal(r.ok, true);
  });

  test('the subscription survives in the spool in its XEP-0227 form', async () => {
    const { readFileSync, readdirSync } = await import('node:fs');
    const dir = join(server.spool, 'localhost');
    const file = readdirSync(dir).find((f) => f.startsWith('alice') && f.endsWith('.xml'))!;
    const xml = readFileSync(join(dir, file), 'utf8');
    assert.match(xml, /<query xmlns=["']jabber:iq:roster["'] ver=["']\d+["']><item jid=["']bob@localhost["'] subscription=["']both["']\/><\/query>/);
  });
});
