// SCRAM-*-PLUS over real TLS: the client derives the channel binding from its own
// side of the connection (tls-exporter on TLS 1.3, tls-server-end-point on TLS 1.2)
// and the server must agree; a binding to another channel is refused.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { createHash } from 'node:crypto';
import { startServer, type TestServer } from './harness/server.js';
import { HEADER } from './harness/raw.js';
import { ScramClient, type ScramHashName } from '../bench/client/scram.js';

type Binding = 'tls-exporter' | 'tls-server-end-point';

async function plusLogin(server: TestServer, mech: ScramHashName, type: Binding, tamper = false): Promise<string> {
  const socket = tls.connect({ host: '127.0.0.1', port: server.directTlsPort, servername: 'localhost', rejectUnauthorized: false,
    ...(type === 'tls-server-end-point' ? { maxVersion: 'TLSv1.2' as const } : { minVersion: 'TLSv1.3' as const }) });
  let buf = '';
  const waiters: Array<() => void> = [];
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => { buf += d; for (const w of waiters.splice(0)) w(); });
  const next = (re: RegExp) => new Promise<RegExpExecArray>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${re} in ${buf}`)), 10000);
    const check = () => {
      const m = re.exec(buf);
      if (m) { clearTimeout(t); buf = buf.slice(m.index + m[0].length); resolve(m); } else waiters.push(check);
    };
    check();
  });
  try {
    await new Promise((r) => socket.once('secureConnect', r));
    const data = type === 'tls-exporter'
      ? socket.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0))
      : createHash('sha256').update(socket.getPeerCertificate().raw).digest();
    if (tamper) data[0] = data[0]! ^ 0xff;
    const scram = new ScramClient(mech, 'pia', 'plus-pass', { binding: { type, data } });
    socket.write(HEADER());
    const features = (await next(/<stream:features>[\s\S]*?<\/stream:features>/))[0];
    assert.match(features, new RegExp(`<mechanism>${mech}-PLUS</mechanism>`));
    socket.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='${mech}-PLUS'>${Buffer.from(scram.first()).toString('base64')}</auth>`);
    const challenge = (await next(/<challenge[^>]*>([^<]*)<\/challenge>/))[1]!;
    socket.write(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>${Buffer.from(scram.final(Buffer.from(challenge, 'base64').toString())).toString('base64')}</response>`);
    const outcome = await next(/<(success|failure)[^>]*>([\s\S]*?)<\/\1>|<(success|failure)[^>]*\/>/);
    if (outcome[1] === 'success') {
      assert.ok(scram.verify(Buffer.from(outcome[2]!, 'base64').toString()), 'the server proves it knows the key');
      return 'success';
    }
    return outcome[0];
  } finally {
    socket.destroy();
  }
}

describe('SCRAM with channel binding over real TLS', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
    server.adduser('pia@localhost', 'plus-pass');
  });
  after(async () => {
    await server.stop();
    server.cleanup();
  });

  for (const mech of ['SCRAM-SHA-1', 'SCRAM-SHA-256'] as const) {
    test(`${mech}-PLUS with tls-exporter on TLS 1.3`, async () => {
      assert.equal(await plusLogin(server, mech, 'tls-exporter'), 'success');
    });
    test(`${mech}-PLUS with tls-server-end-point on TLS 1.2`, async () => {
      assert.equal(await plusLogin(server, mech, 'tls-server-end-point'), 'success');
    });
  }

  test('a binding to another channel is refused', async () => {
    assert.match(await plusLogin(server, 'SCRAM-SHA-256', 'tls-exporter', true), /<failure[\s\S]*not-authorized/);
    assert.match(await plusLogin(server, 'SCRAM-SHA-1', 'tls-server-end-point', true), /<failure[\s\S]*not-authorized/);
  });
});
