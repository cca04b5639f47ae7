// The product promise as one end-to-end test with a real client (slixmpp):
// register, welcome, add a contact, approve both ways, see each other online,
// chat, DND, offline messages with delay stamps, roster and presence back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pythonDriver, startServer } from './harness/server.js';

test('the "try it now" walkthrough with slixmpp', async () => {
  const server = await startServer({ sets: ['registration.policy=open'] });
  try {
    server.adduser('helpdesk@localhost', 'hilfe-2026');
    const opts = { host: '127.0.0.1', port: server.starttlsPort, domain: 'localhost', cafile: join(server.certs, 'localhost.crt'),
      colleague: 'helpdesk@localhost', colleague_password: 'hilfe-2026' };
    const report = await pythonDriver('slix_walkthrough.py', opts, 120000);
    assert.equal(report.error, undefined, `steps done: ${JSON.stringify(report.steps)}`);
    assert.equal(report.ok, true);
    const welcome = report.welcome as { from: string; body: string };
    assert.equal(welcome.from, 'localhost');
    assert.match(welcome.body, /anna@localhost/);
    assert.deepEqual(report.anna_roster, { name: 'Helpdesk', groups: ['Testpersonen'], subscription: 'both' });
    const chat = report.chat as { at_colleague: { from: string }; at_anna: { from: string } };
    assert.equal(chat.at_colleague.from, 'anna@localhost/laptop');
    assert.equal(chat.at_anna.from, 'helpdesk@localhost/desk');
    assert.deepEqual(report.dnd_seen, { type: 'dnd', show: 'dnd', status: 'In einer Besprechung' });
    const offline = report.offline as Array<{ body: string; delay: string | null; from: string }>;
    assert.deepEqual(offline.map((m) => m.body), ['Nachricht 1', 'Nachricht 2', 'Nachricht 3']);
    for (const m of offline) {
      assert.ok(m.delay, 'each offline message has a delay stamp');
      assert.equal(m.from, 'anna@localhost/laptop');
    }
    const back = report.after_reconnect as { roster: { name: string; subscription: string }; presence: { show: string; status: string } };
    assert.equal(back.roster.subscription, 'both');
    assert.equal(back.presence.show, 'dnd');
    assert.equal(back.presence.status, 'In einer Besprechung');
  } finally {
    await server.stop();
    server.cleanup();
  }
});
