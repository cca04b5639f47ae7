// Password guessing is slowed down per account and per IP, and a stream that
// keeps failing is closed (RFC 6120 §6.4.5).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer } from './harness/server.js';
import { HEADER, plainAttempt, streamErrorCondition } from './harness/raw.js';
import { FailureThrottle } from '../src/auth/throttle.js';

const PLAINTEXT = ['c2s.require_encryption=false', 'c2s.allow_unencrypted_plain=true'];

test('FailureThrottle counts failures in a sliding window', () => {
  let now = 0;
  const t = new FailureThrottle(2, 1000, () => now);
  t.fail('a');
  assert.equal(t.blocked('a'), false);
  t.fail('a');
  assert.equal(t.blocked('a'), true);
  assert.equal(t.blocked('b'), false);
  now = 1001;
  assert.equal(t.blocked('a'), false, 'failures expire after the window');
  t.fail('a'); t.fail('a');
  t.succeed('a');
  assert.equal(t.blocked('a'), false);
});

test('an account with too many failed logins is refused for a while, others are not', async () => {
  const server = await startServer({ sets: [...PLAINTEXT, 'auth.max_failures_per_account=2', 'auth.max_failures_per_ip=100'] });
  try {
    server.adduser('gina@localhost', 'right');
    server.adduser('hank@localhost', 'right');
    assert.match(await plainAttempt(server.starttlsPort, 'gina', 'wrong1'), /not-authorized/);
    assert.match(await plainAttempt(server.starttlsPort, 'gina', 'wrong2'), /not-authorized/);
    assert.match(await plainAttempt(server.starttlsPort, 'gina', 'right'), /temporary-auth-failure/);
    assert.match(await plainAttempt(server.starttlsPort, 'hank', 'right'), /<success/);
  } finally {
    await server.stop();
    server.cleanup();
  }
});

test('an address with too many failed logins is refused for a while', async () => {
  const server = await startServer({ sets: [...PLAINTEXT, 'auth.max_failures_per_ip=3'] });
  try {
    server.adduser('ivan@localhost', 'right');
    for (const u of ['x1', 'x2', 'x3']) assert.match(await plainAttempt(server.starttlsPort, u, 'nope'), /not-authorized/);
    assert.match(await plainAttempt(server.starttlsPort, 'ivan', 'right'), /temporary-auth-failure/);
    assert.ok(server.logs.some((l) => l.msg === 'login refused: too many failed attempts from this address'));
  } finally {
    await server.stop();
    server.cleanup();
  }
});

test('a stream that fails to authenticate five times is closed with policy-violation', async () => {
  const server = await startServer({ sets: [...PLAINTEXT, 'auth.max_failures_per_ip=100', 'auth.max_failures_per_account=100'] });
  try {
    const data = await new Promise<string>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: server.starttlsPort });
      let buf = '';
      s.on('connect', () => s.write(HEADER()));
      s.on('data', (d) => {
        buf += d.toString();
        if (buf.endsWith('</stream:features>')) {
          for (let i = 0; i < 6; i++) {
            s.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0u${i}\0bad`).toString('base64')}</auth>`);
          }
        }
      });
      s.on('close', () => resolve(buf));
      setTimeout(() => { s.destroy(); resolve(buf); }, 10000);
    });
    assert.equal((data.match(/<failure/g) ?? []).length, 5);
    assert.equal(streamErrorCondition(data), 'policy-violation');
  } finally {
    await server.stop();
    server.cleanup();
  }
});
