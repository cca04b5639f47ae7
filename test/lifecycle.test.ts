// Process lifecycle over real sockets: resource conflicts, SIGTERM, SIGHUP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { spawnSync } from 'node:child_process';
import { startServer, CLI } from './harness/server.js';
import { rawLogin, streamErrorCondition } from './harness/raw.js';

const PLAINTEXT = ['c2s.require_encryption=false', 'c2s.allow_unencrypted_plain=true'];

function peerFingerprint(port: number, servername?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false }, () => {
      const fp = s.getPeerCertificate().fingerprint256;
      s.destroy();
      resolve(fp);
    });
    s.on('error', reject);
  });
}

test('binding a resource that is in use replaces the old session with a conflict stream error', async () => {
  const server = await startServer({ sets: PLAINTEXT });
  try {
    server.adduser('dora@localhost', 'explorer');
    const first = await rawLogin(server.starttlsPort, 'dora', 'explorer', 'phone');
    const second = await rawLogin(server.starttlsPort, 'dora', 'explorer', 'phone');
    await first.closed;
    assert.equal(streamErrorCondition(first.data()), 'conflict');
    second.socket.write("<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    await second.waitFor(/<iq[^>]*id=["']p1["'][^>]*type=["']result["']|<iq[^>]*type=["']result["'][^>]*id=["']p1["']/);
    second.socket.destroy();
  } finally {
    await server.stop();
    server.cleanup();
  }
});

test('a forged from address ends the stream with invalid-from', async () => {
  const server = await startServer({ sets: PLAINTEXT });
  try {
    server.adduser('eve@localhost', 'mallory');
    const s = await rawLogin(server.starttlsPort, 'eve', 'mallory', 'x');
    s.socket.write("<message from='boss@localhost/desk' to='eve@localhost'><body>raise</body></message>");
    await s.closed;
    assert.equal(streamErrorCondition(s.data()), 'invalid-from');
  } finally {
    await server.stop();
    server.cleanup();
  }
});

test('SIGTERM closes every stream with system-shutdown and exits 0', async () => {
  const server = await startServer({ sets: PLAINTEXT });
  server.adduser('fred@localhost', 'flintstone');
  const s = await rawLogin(server.starttlsPort, 'fred', 'flintstone', 'home');
  const code = await server.stop();
  await s.closed;
  assert.equal(streamErrorCondition(s.data()), 'system-shutdown');
  assert.match(s.data(), /<\/stream:stream>/);
  assert.equal(code, 0);
  server.cleanup();
});

test('SIGHUP reloads certificates for SNI and non-SNI clients', async () => {
  const server = await startServer();
  try {
    const before = await peerFingerprint(server.directTlsPort, 'localhost');
    assert.equal(await peerFingerprint(server.directTlsPort), before);
    const r = spawnSync(process.execPath, [CLI, 'cert', 'generate', 'localhost', '--force', ...server.configArgs], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    server.proc.kill('SIGHUP');
    await server.waitForLog((l) => l.msg === 'certificates reloaded');
    const after = await peerFingerprint(server.directTlsPort, 'localhost');
    assert.notEqual(after, before);
    assert.equal(await peerFingerprint(server.directTlsPort), after);
  } finally {
    await server.stop();
    server.cleanup();
  }
});

test('TLS 1.1 is refused', async () => {
  const server = await startServer();
  try {
    await assert.rejects(new Promise((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: server.directTlsPort, rejectUnauthorized: false, maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }, () => resolve(s));
      s.on('error', reject);
    }));
  } finally {
    await server.stop();
    server.cleanup();
  }
});

test('a stream without version=1.0 gets a header without version and no features', async () => {
  const server = await startServer();
  try {
    const { rawExchange } = await import('./harness/raw.js');
    const r = await rawExchange(server.starttlsPort,
      ["<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost'>", '</stream:stream>'], 5000);
    assert.match(r.data, /<stream:stream [^>]*from='localhost'/);
    assert.doesNotMatch(r.data, /<stream:stream[^>]*version=/);
    assert.doesNotMatch(r.data, /stream:features/);
    assert.match(r.data, /<\/stream:stream>$/);
  } finally {
    await server.stop();
    server.cleanup();
  }
});

test('whitespace keepalives between stanzas are accepted; the closing handshake is answered', async () => {
  const server = await startServer({ sets: PLAINTEXT });
  try {
    server.adduser('kim@localhost', 'pw');
    const s = await rawLogin(server.starttlsPort, 'kim', 'pw', 'r');
    s.socket.write(' ');
    s.socket.write('\n\n');
    s.socket.write("<iq type='get' id='k1'><ping xmlns='urn:xmpp:ping'/></iq> ");
    await s.waitFor(/id=["']k1["']/);
    s.socket.write('</stream:stream>');
    await s.closed;
    assert.match(s.data(), /<\/stream:stream>$/);
    assert.equal(streamErrorCondition(s.data()), null);
  } finally {
    await server.stop();
    server.cleanup();
  }
});

test('an idle session is pinged, and closed with connection-timeout when it does not answer', async () => {
  const server = await startServer({ sets: [...PLAINTEXT, 'limits.idle_timeout=2'] });
  try {
    server.adduser('ida@localhost', 'pw');
    server.adduser('ole@localhost', 'pw');
    // One that answers the ping stays; one that does not is closed.
    const answering = await rawLogin(server.starttlsPort, 'ole', 'pw', 'r');
    answering.socket.on('data', (d: Buffer) => {
      const m = /<iq[^>]*type=["']get["'][^>]*id=["']([^"']+)["'][^>]*>\s*<ping/.exec(d.toString());
      if (m) answering.socket.write(`<iq type='result' id='${m[1]}' to='localhost'/>`);
    });
    const silent = await rawLogin(server.starttlsPort, 'ida', 'pw', 'r');
    await silent.waitFor(/<ping xmlns=["']urn:xmpp:ping["']/, 15000);
    await silent.closed;
    assert.equal(streamErrorCondition(silent.data()), 'connection-timeout');
    await answering.waitFor(/<ping xmlns=["']urn:xmpp:ping["']/, 15000);
    assert.equal(answering.socket.destroyed, false, 'a session that answers its pings stays');
    answering.socket.destroy();
  } finally {
    await server.stop();
    server.cleanup();
  }
});

test('on SIGTERM, conference occupants are told the service goes down (status 332) before the stream closes', async () => {
  const server = await startServer({ sets: PLAINTEXT });
  server.adduser('mia@localhost', 'pw');
  const s = await rawLogin(server.starttlsPort, 'mia', 'pw', 'r');
  s.socket.write("<presence to='lobby@conference.localhost/Mia'/>");
  await s.waitFor(/from=["']lobby@conference\.localhost\/Mia["']/);
  await server.stop();
  await s.closed;
  const data = s.data();
  const notice = data.search(/<status code=["']332["']/);
  assert.ok(notice > 0, 'an unavailable presence with status 332');
  assert.ok(notice < data.indexOf('system-shutdown'), 'before the stream error');
  server.cleanup();
});
