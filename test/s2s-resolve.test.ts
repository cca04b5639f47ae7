// RFC 6120 §3.2 / RFC 2782 / XEP-0368 target resolution, against a real DNS server (dnsmasq).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { ConfigError } from '../src/errors.js';
import { S2sResolver, type ResolverOptions, type S2sTarget } from '../src/s2s/resolve.js';
import { dnsmasqAvailable, startDns, type DnsRecords, type TestDns } from './harness/dns.js';

const RECORDS: DnsRecords = {
  hosts: [
    { name: 'a.prio.test', address: '10.0.1.1' },
    { name: 'b.prio.test', address: '10.0.1.2' },
    { name: 'c.prio.test', address: '10.0.1.3' },
    { name: 'c.prio.test', address: 'fd00::13' },
    { name: 'tls.both.test', address: '10.0.2.1' },
    { name: 'tcp.both.test', address: '10.0.2.2' },
    { name: 'plain.test', address: '10.0.3.1' },
    { name: 'plain.test', address: 'fd00::31' },
    { name: 'nosrv.test', address: '10.0.4.1' },
    { name: 'x.halfdot.test', address: '10.0.5.1' },
    { name: 'dotonly.test', address: '10.0.5.2' },
    { name: 'w0.weights.test', address: '10.0.6.1' },
    { name: 'w10.weights.test', address: '10.0.6.2' },
    { name: 'd1.dup.test', address: '10.0.7.1' },
    { name: 'd2.dup.test', address: '10.0.7.1' },
    { name: 'server.xn--bcher-kva.test', address: '10.0.8.1' },
    { name: 'srv.routed.test', address: '10.0.9.1' },
    { name: 'relay.test', address: '10.0.9.9' },
  ],
  srv: [
    { name: '_xmpp-server._tcp.prio.test', target: 'b.prio.test', port: 5269, priority: 20 },
    { name: '_xmpp-server._tcp.prio.test', target: 'a.prio.test', port: 5270, priority: 10 },
    { name: '_xmpp-server._tcp.prio.test', target: 'c.prio.test', port: 5271, priority: 30 },
    // Direct TLS is preferred even when its priority number is higher.
    { name: '_xmpps-server._tcp.both.test', target: 'tls.both.test', port: 5270, priority: 20 },
    { name: '_xmpp-server._tcp.both.test', target: 'tcp.both.test', port: 5269, priority: 5 },
    { name: '_xmpps-server._tcp.nosrv.test', target: '.', port: 0 },
    { name: '_xmpp-server._tcp.nosrv.test', target: '.', port: 0 },
    { name: '_xmpps-server._tcp.halfdot.test', target: '.', port: 0 },
    { name: '_xmpp-server._tcp.halfdot.test', target: 'x.halfdot.test', port: 5269 },
    { name: '_xmpp-server._tcp.dotonly.test', target: '.', port: 0 },
    { name: '_xmpp-server._tcp.weights.test', target: 'w10.weights.test', port: 5269, priority: 10, weight: 10 },
    { name: '_xmpp-server._tcp.weights.test', target: 'w0.weights.test', port: 5269, priority: 10, weight: 0 },
    { name: '_xmpp-server._tcp.dup.test', target: 'd1.dup.test', port: 5269, priority: 1 },
    { name: '_xmpp-server._tcp.dup.test', target: 'd2.dup.test', port: 5269, priority: 2 },
    { name: '_xmpp-server._tcp.xn--bcher-kva.test', target: 'server.xn--bcher-kva.test', port: 5269 },
    { name: '_xmpp-server._tcp.routed.test', target: 'srv.routed.test', port: 5269 },
    { name: '_xmpp-server._tcp.noaddr.test', target: 'missing.test', port: 5269 },
  ],
};

function target(host: string, address: string, port: number, directTls = false): S2sTarget {
  return { host, address, port, directTls };
}

/** A UDP port nobody listens on (as far as anyone can know). */
async function unusedPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()));
  const { port } = s.address();
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe('S2sResolver with a real DNS server', { skip: dnsmasqAvailable() ? false : 'dnsmasq is not installed (apt-get install dnsmasq-base)' }, () => {
  let server: TestDns;
  const resolver = (extra: Partial<ResolverOptions> = {}): S2sResolver =>
    new S2sResolver({ resolver: server.address, routes: {}, timeoutMs: 1000, ...extra });

  before(async () => {
    server = await startDns(RECORDS);
  });
  after(() => server?.stop());

  it('orders SRV targets by priority, addresses IPv4 first', async () => {
    assert.deepEqual(await resolver().resolve('prio.test'), [
      target('a.prio.test', '10.0.1.1', 5270),
      target('b.prio.test', '10.0.1.2', 5269),
      target('c.prio.test', '10.0.1.3', 5271),
      target('c.prio.test', 'fd00::13', 5271),
    ]);
  });

  it('tries _xmpps-server (direct TLS) before _xmpp-server', async () => {
    assert.deepEqual(await resolver().resolve('both.test'), [
      target('tls.both.test', '10.0.2.1', 5270, true),
      target('tcp.both.test', '10.0.2.2', 5269, false),
    ]);
  });

  it('falls back to the domain on port 5269 without SRV records', async () => {
    assert.deepEqual(await resolver().resolve('plain.test'), [
      target('plain.test', '10.0.3.1', 5269),
      target('plain.test', 'fd00::31', 5269),
    ]);
    assert.deepEqual(await resolver().resolve('plain.test.'), await resolver().resolve('plain.test'));
  });

  it("takes a '.' target as 'decidedly not available', without fallback", async () => {
    assert.deepEqual(await resolver().resolve('nosrv.test'), []);
    assert.deepEqual(await resolver().resolve('dotonly.test'), []);
    // A '.' for direct TLS only removes that service.
    assert.deepEqual(await resolver().resolve('halfdot.test'), [target('x.halfdot.test', '10.0.5.1', 5269)]);
  });

  it('gives [] for a domain that does not exist and for targets without addresses', async () => {
    assert.deepEqual(await resolver().resolve('nonexistent.test'), []);
    assert.deepEqual(await resolver().resolve('noaddr.test'), []);
    assert.deepEqual(await resolver().resolve('bad..name.test'), []);
  });

  it('orders equal priorities by weight (RFC 2782), zero weights first in the draw', async () => {
    // random 0 picks the running sum 0: the weight-0 record, placed first.
    assert.deepEqual((await resolver({ random: () => 0 }).resolve('weights.test')).map((t) => t.host), ['w0.weights.test', 'w10.weights.test']);
    // The highest draw lands on the weight-10 record.
    assert.deepEqual((await resolver({ random: () => 0.99 }).resolve('weights.test')).map((t) => t.host), ['w10.weights.test', 'w0.weights.test']);
    // With Math.random the weight-10 record comes first in about 10 of 11 draws.
    const r = resolver();
    let heavyFirst = 0;
    for (let i = 0; i < 60; i++) if ((await r.resolve('weights.test'))[0]!.host === 'w10.weights.test') heavyFirst++;
    assert.ok(heavyFirst > 40 && heavyFirst <= 60, `weight 10 first in ${heavyFirst} of 60`);
  });

  it('lists one address and port only once', async () => {
    assert.deepEqual(await resolver().resolve('dup.test'), [target('d1.dup.test', '10.0.7.1', 5269)]);
  });

  it('looks up internationalised domains in A-labels', async () => {
    assert.deepEqual(await resolver().resolve('bücher.test'), [target('server.xn--bcher-kva.test', '10.0.8.1', 5269)]);
  });

  it('lets a static route win over DNS', async () => {
    const r = resolver({
      routes: {
        'routed.test': 'relay.test:5999',
        'direct.test': 'tls://relay.test:5270',
        'v6.test': '[::1]:5269',
        'v4.test': 'tls://192.0.2.5:5270',
        'local.test': 'localhost:5269',
        'gone.test': 'missing.test:5269',
      },
    });
    assert.deepEqual(await r.resolve('routed.test'), [target('relay.test', '10.0.9.9', 5999)]);
    assert.deepEqual(await r.resolve('direct.test'), [target('relay.test', '10.0.9.9', 5270, true)]);
    assert.deepEqual(await r.resolve('v6.test'), [target('::1', '::1', 5269)]);
    assert.deepEqual(await r.resolve('v4.test'), [target('192.0.2.5', '192.0.2.5', 5270, true)]);
    // 'localhost' is answered by the system (hosts file), even with a configured resolver.
    assert.ok((await r.resolve('local.test')).some((t) => t.address === '127.0.0.1' && t.port === 5269), 'localhost route');
    // A route whose host does not resolve is not replaced by DNS for the domain.
    assert.deepEqual(await r.resolve('gone.test'), []);
  });

  it('connects to an IP-literal domain directly', async () => {
    assert.deepEqual(await resolver().resolve('192.0.2.9'), [target('192.0.2.9', '192.0.2.9', 5269)]);
    assert.deepEqual(await resolver().resolve('[2001:db8::9]'), [target('2001:db8::9', '2001:db8::9', 5269)]);
  });

  it('sees records changed with update()', async () => {
    await server.update({ ...RECORDS, hosts: [...RECORDS.hosts!, { name: 'late.test', address: '10.0.10.1' }] });
    assert.deepEqual(await resolver().resolve('late.test'), [target('late.test', '10.0.10.1', 5269)]);
    await server.update(RECORDS);
    assert.deepEqual(await resolver().resolve('late.test'), []);
  });
});

describe('S2sResolver when DNS fails', () => {
  let silent: Socket;
  before(async () => {
    // Takes queries and never answers: a resolver that has gone away without a trace.
    silent = createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', () => resolve()));
  });
  after(() => silent.close());

  it('gives [] quickly when nothing listens on the resolver port', async () => {
    const r = new S2sResolver({ resolver: `127.0.0.1:${await unusedPort()}`, routes: {}, timeoutMs: 200 });
    const start = Date.now();
    assert.deepEqual(await r.resolve('plain.test'), []);
    assert.ok(Date.now() - start < 3000, `took ${Date.now() - start} ms`);
  });

  it('gives [] within a bounded time when the resolver never answers', async () => {
    const r = new S2sResolver({ resolver: `127.0.0.1:${silent.address().port}`, routes: {}, timeoutMs: 200 });
    const start = Date.now();
    assert.deepEqual(await r.resolve('plain.test'), []);
    // SRV queries, then address queries, each round bounded by timeoutMs.
    assert.ok(Date.now() - start < 1000, `took ${Date.now() - start} ms`);
  });

  it('still uses static routes', async () => {
    const r = new S2sResolver({ resolver: `127.0.0.1:${silent.address().port}`, routes: { 'a.test': '[::1]:5269' }, timeoutMs: 200 });
    assert.deepEqual(await r.resolve('a.test'), [target('::1', '::1', 5269)]);
  });
});

describe('S2sResolver configuration', () => {
  it('rejects malformed routes and resolvers with a ConfigError', () => {
    const make = (routes: Record<string, string>, resolver: string | null = null) => () => new S2sResolver({ resolver, routes, timeoutMs: 100 });
    for (const bad of ['relay.test', 'relay.test:0', 'relay.test:70000', '::1:5269', '[relay.test]:5269', 'tls://', 'http://relay.test:80', ' relay.test:5269']) {
      assert.throws(make({ 'a.test': bad }), ConfigError, bad);
    }
    assert.throws(make({}, 'not an address'), ConfigError);
    assert.doesNotThrow(make({ 'a.test': 'tls://[2001:db8::1]:5270', 'b.test': 'relay.test.:5269' }, '[::1]:5353'));
  });

  it('uses the system for localhost names when no resolver is configured', async () => {
    const r = new S2sResolver({ resolver: null, routes: { 'a.test': 'localhost:5269' }, timeoutMs: 500 });
    assert.ok((await r.resolve('a.test')).some((t) => t.address === '127.0.0.1'));
  });
});
