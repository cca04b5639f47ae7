// A client whose connection closes while its session is still busy (here: the
// initial presence to a large roster) is offline at once: messages sent to it in
// that window are stored for later, not written into the dead socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './harness/server.js';
import { rawLogin } from './harness/raw.js';
import { writeRosters } from '../bench/lib/rosters.js';

test('messages to a user whose connection just dropped are stored offline, none lost', async () => {
  const server = await startServer({ sets: ['c2s.require_encryption=false', 'c2s.allow_unencrypted_plain=true'] });
  try {
    server.adduser('busy@localhost', 'pw');
    server.adduser('sender@localhost', 'pw');
    const contacts = Array.from({ length: 400 }, (_, i) => `contact${i}`);
    await writeRosters(server.spool, 'localhost', [{ user: 'busy', contacts }]);
    const sender = await rawLogin(server.starttlsPort, 'sender', 'pw', 's');
    const busy = await rawLogin(server.starttlsPort, 'busy', 'pw', 'b');
    // Initial presence (400 probes and broadcasts to work through), then gone.
    busy.socket.end('<presence/></stream:stream>');
    await busy.closed;
    const N = 30;
    for (let i = 1; i <= N; i++) sender.socket.write(`<message to='busy@localhost' type='chat' id='m${i}'><body>Nachricht ${i}</body></message>`);
    sender.socket.write("<iq type='get' id='done' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    await sender.waitFor(/id=["']done["']/);
    assert.doesNotMatch(sender.data(), /type=["']error["']/, 'no message bounced');
    const again = await rawLogin(server.starttlsPort, 'busy', 'pw', 'b2');
    again.socket.write('<presence/>');
    await again.waitFor(new RegExp(`Nachricht ${N}<`), 15000);
    const got = [...again.data().matchAll(/<body>Nachricht (\d+)<\/body>/g)].map((m) => Number(m[1]));
    assert.deepEqual(got, Array.from({ length: N }, (_, i) => i + 1));
    sender.socket.destroy();
    again.socket.destroy();
  } finally {
    await server.stop();
    server.cleanup();
  }
});
