// Hostile input over real sockets: each violation gets the right stream error
// (or a close), and afterwards a normal client still logs in and is answered.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startServer, slixmpp, type TestServer } from './harness/server.js';
import { HEADER, rawExchange, stalledTls, streamErrorCondition } from './harness/raw.js';

describe('hostile input', () => {
  let server: TestServer;
  const stillServes = async () => {
    const r = await slixmpp({ host: '127.0.0.1', port: server.starttlsPort, cafile: join(server.certs, 'localhost.crt'),
      jid: 'alice@localhost/check', password: 'secret', mechanism: 'SCRAM-SHA-1-PLUS', actions: ['ping'] });
    assert.equal(r.error, undefined);
    assert.equal(r.ping, true, 'a normal client still gets its ping answered');
  };
  const expectStreamError = async (chunks: Array<string | Buffer>, condition: string) => {
    const r = await rawExchange(server.starttlsPort, chunks);
    assert.equal(streamErrorCondition(r.data), condition, `answer was: ${r.data.slice(0, 600)}`);
    assert.ok(r.closed, 'the server closes the connection');
  };

  before(async () => {
    server = await startServer({ sets: ['limits.max_connections_per_ip=2000', 'limits.auth_timeout=3'] });
    server.adduser('alice@localhost', 'secret');
  });
  after(async () => {
    await server.stop();
    server.cleanup();
  });

  const cases: Array<[string, string, string]> = [
    ['a comment', '<!-- hi -->', 'restricted-xml'],
    ['a processing instruction', '<?foo bar?>', 'restricted-xml'],
    ['an entity reference that is not predefined', '<message><body>&nbsp;</body></message>', 'restricted-xml'],
    ['a mismatched end tag', '<message><body>x</message>', 'not-well-formed'],
    ['a duplicate attribute', "<message to='a' to='b'/>", 'not-well-formed'],
    ['an undeclared prefix', '<foo:bar/>', 'not-well-formed'],
    ['an XML-illegal character reference', '<message><body>&#0;</body></message>', 'not-well-formed'],
    ['a raw control character', '<message><body>\u0001</body></message>', 'not-well-formed'],
    ['an element in a foreign namespace', "<foo xmlns='urn:example'/>", 'unsupported-stanza-type'],
    ['a stanza before authentication', "<message to='alice@localhost'><body>hi</body></message>", 'not-authorized'],
  ];
  for (const [name, input, condition] of cases) {
    test(`${name} → ${condition}`, () => expectStreamError([HEADER(), input], condition));
  }

  test('a billion-laughs DOCTYPE → restricted-xml', () => expectStreamError([
    "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'><!ENTITY lol2 '&lol;&lol;&lol;&lol;'>]>",
    "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>&lol2;",
  ], 'restricted-xml'));

  test('invalid UTF-8 → not-well-formed', () => expectStreamError([HEADER(), Buffer.from([0x3c, 0x61, 0xff, 0xfe, 0x3e])], 'not-well-formed'));

  test('a wrong stream namespace → invalid-namespace', () => expectStreamError(
    ["<stream:stream xmlns='jabber:client' xmlns:stream='urn:wrong' to='localhost' version='1.0'>"], 'invalid-namespace'));

  test('an unknown host → host-unknown', () => expectStreamError([HEADER('elsewhere.example')], 'host-unknown'));

  test('an unsupported version → unsupported-version', () => expectStreamError(
    ["<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='2.0'>"], 'unsupported-version'));

  test('a 10 MiB stanza → policy-violation before it is all read', async () => {
    const big = '<message><body>' + 'A'.repeat(1024 * 1024);
    const chunks = [HEADER(), ...Array.from({ length: 10 }, () => big)];
    await expectStreamError(chunks, 'policy-violation');
  });

  test('100,000 nested elements → policy-violation', () => expectStreamError([HEADER(), '<a>'.repeat(100000)], 'policy-violation'));

  test('too many attributes → policy-violation', () => expectStreamError(
    [HEADER(), '<message ' + Array.from({ length: 200 }, (_, i) => `a${i}='x'`).join(' ') + '/>'], 'policy-violation'));

  test('random bytes get a stream error or a close, never a crash', async () => {
    for (let i = 0; i < 20; i++) {
      const r = await rawExchange(server.starttlsPort, [HEADER(), randomBytes(512)], 5000);
      assert.ok(r.closed || streamErrorCondition(r.data) !== null);
    }
    await stillServes();
  });

  test('a TLS handshake that never finishes is dropped after the auth timeout', async () => {
    const s = stalledTls(server.directTlsPort);
    const closed = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), 15000);
      s.on('close', () => { clearTimeout(t); resolve(true); });
    });
    assert.ok(closed);
    await stillServes();
  });

  test('1,000 connections that send only a stream header are timed out, and a client still logs in', async () => {
    const sockets: net.Socket[] = [];
    let closed = 0;
    let timedOut = 0;
    await Promise.all(Array.from({ length: 1000 }, () => new Promise<void>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: server.starttlsPort });
      sockets.push(s);
      let data = '';
      s.on('connect', () => { s.write(HEADER()); resolve(); });
      s.on('data', (d) => { data += d.toString(); });
      s.on('error', () => resolve());
      s.on('close', () => { closed++; if (streamErrorCondition(data) === 'connection-timeout') timedOut++; });
    })));
    await stillServes();
    const deadline = Date.now() + 20000;
    while (closed < 1000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    for (const s of sockets) s.destroy();
    assert.equal(closed, 1000, 'every idle unauthenticated connection was closed');
    assert.ok(timedOut >= 990, `connection-timeout stream errors: ${timedOut}`);
  });

  test('after all of that the server still serves', stillServes);
});
