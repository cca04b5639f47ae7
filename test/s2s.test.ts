// Federation between Rohrpost servers and with hand-driven peers: dialback over
// TLS, stanzas both ways, ordering while a link is set up, spoofing, bounces, and
// the switches that turn federation off or narrow it.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startServer, CLI, type TestServer } from './harness/server.js';
import { rawExchange, rawLogin, streamErrorCondition, type RawSession } from './harness/raw.js';
import { dialbackIn, fakeAuthoritative, freePort, silentServer } from './harness/fake-s2s.js';
import { dnsmasqAvailable, startDns } from './harness/dns.js';

const PLAIN_C2S = ['c2s.require_encryption=false', 'c2s.allow_unencrypted_plain=true'];

/** a.test reaches b.test with direct TLS (XEP-0368), b.test reaches a.test with STARTTLS. */
async function pair(extraA: string[] = [], extraB: string[] = []): Promise<[TestServer, TestServer]> {
  const [pa, pbDirect] = [await freePort(), await freePort()];
  const routes = (d: string, target: string) => `s2s.routes={${d}: "${target}", conference.${d}: "${target}"}`;
  const a = await startServer({ hosts: ['a.test'], sets: [...PLAIN_C2S, `s2s.starttls.port=${pa}`, routes('b.test', `tls://127.0.0.1:${pbDirect}`), ...extraA] });
  const b = await startServer({ hosts: ['b.test'], sets: [...PLAIN_C2S, `s2s.direct_tls.port=${pbDirect}`, routes('a.test', `127.0.0.1:${pa}`), ...extraB] });
  return [a, b];
}

async function stopAll(...servers: Array<TestServer | undefined>): Promise<void> {
  for (const s of servers) {
    if (!s) continue;
    await s.stop();
    s.cleanup();
  }
}

const bodies = (s: RawSession) => [...s.data().matchAll(/<body>([^<]*)<\/body>/g)].map((m) => m[1]);

describe('s2s between two Rohrpost servers', () => {
  let a: TestServer, b: TestServer;
  after(async () => stopAll(a, b));

  it('carries a message, its reply and an iq ping over dialback on TLS (direct TLS one way, STARTTLS the other); stanzas sent while the link is set up arrive in order', async () => {
    [a, b] = await pair();
    a.adduser('alice@a.test', 'pw');
    b.adduser('bob@b.test', 'pw');
    const alice = await rawLogin(a.starttlsPort, 'alice', 'pw', 'r', 'a.test');
    const bob = await rawLogin(b.starttlsPort, 'bob', 'pw', 'r', 'b.test');
    bob.socket.write('<presence/>');
    await bob.waitFor(/<presence[^>]*from=["']bob@b.test\/r["']/);
    // 100 messages at once: the first starts the link, the rest queue behind it.
    let burst = '';
    for (let i = 0; i < 100; i++) burst += `<message to='bob@b.test' type='chat' id='m${i}'><body>n${i}</body></message>`;
    alice.socket.write(burst);
    await bob.waitFor(/<body>n99<\/body>/, 20000);
    assert.deepEqual(bodies(bob), Array.from({ length: 100 }, (_, i) => `n${i}`));
    assert.match(bob.data(), /from=["']alice@a\.test\/r["']/);

    bob.socket.write(`<message to='alice@a.test/r' type='chat' id='re'><body>got them</body></message>`);
    await alice.waitFor(/<message[^>]*from=["']bob@b\.test\/r["'][^>]*>.*?<body>got them<\/body>/);

    alice.socket.write(`<iq to='b.test' type='get' id='ping1'><ping xmlns='urn:xmpp:ping'/></iq>`);
    const pong = await alice.waitFor(/<iq[^>]*id=["']ping1["'][^>]*>/);
    assert.match(pong, /type=["']result["']/);
    assert.match(pong, /from=["']b\.test["']/);

    // Both directions are up and logged, each with how it authenticated.
    const established = a.logs.filter((l) => l.msg === 's2s link established');
    // One outgoing link for the pair carried all of it.
    assert.equal(established.filter((l) => l.s2s === 'out' && l.remote === 'b.test').length, 1, JSON.stringify(established));
    assert.ok(established.some((l) => l.s2s === 'out' && l.remote === 'b.test' && l.auth === 'dialback' && l.tls === 'TLSv1.3'), JSON.stringify(established));
    assert.ok(established.some((l) => l.s2s === 'in' && l.remote === 'b.test'), JSON.stringify(established));

    // `rohrpost s2s` shows the links of the running server.
    const r = spawnSync(process.execPath, [CLI, 's2s', '--json', ...a.configArgs], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const links = JSON.parse(r.stdout) as Array<{ direction: string; remote: string[]; local: string[]; auth: string; tls: string; state: string }>;
    assert.ok(links.some((l) => l.direction === 'out' && l.remote[0] === 'b.test' && l.local[0] === 'a.test' && l.auth === 'dialback' && l.tls === 'TLSv1.3' && l.state === 'established'), r.stdout);
    assert.ok(links.some((l) => l.direction === 'in' && l.remote.includes('b.test') && l.local.includes('a.test')), r.stdout);
    const text = spawnSync(process.execPath, [CLI, 's2s', ...a.configArgs], { encoding: 'utf8' });
    assert.match(text.stdout, /^out\ta\.test -> b\.test\testablished\tdialback\tTLSv1\.3\t/m);
    alice.socket.destroy();
    bob.socket.destroy();
  });
});

describe('idle s2s links', () => {
  let a: TestServer | undefined, b: TestServer | undefined;
  after(async () => stopAll(a, b));

  it('close after s2s.idle_timeout, and a new stanza opens a new link', async () => {
    [a, b] = await pair(['s2s.idle_timeout=1']);
    a.adduser('ivy@a.test', 'pw');
    b.adduser('jo@b.test', 'pw');
    const ivy = await rawLogin(a.starttlsPort, 'ivy', 'pw', 'r', 'a.test');
    const jo = await rawLogin(b.starttlsPort, 'jo', 'pw', 'r', 'b.test');
    ivy.socket.write(`<message to='jo@b.test/r' type='chat'><body>first</body></message>`);
    await jo.waitFor(/<body>first<\/body>/);
    const ended = await a.waitForLog((l) => l.msg === 's2s link ended' && l.s2s === 'out', 20000);
    assert.equal(ended.reason, 'idle');
    ivy.socket.write(`<message to='jo@b.test/r' type='chat'><body>second</body></message>`);
    await jo.waitFor(/<body>second<\/body>/);
    assert.equal(a.logs.filter((l) => l.msg === 's2s link established' && l.s2s === 'out').length, 2);
    ivy.socket.destroy();
    jo.socket.destroy();
  });
});

describe('s2s with a hand-driven peer', () => {
  let server: TestServer;
  let authority: Awaited<ReturnType<typeof fakeAuthoritative>>;
  after(async () => {
    authority?.close();
    await stopAll(server);
  });

  it('accepts stanzas only from the domains the stream authenticated (piggybacked ones too): from another domain the stream ends with invalid-from', async () => {
    authority = await fakeAuthoritative('a.test', 'right-key');
    server = await startServer({
      hosts: ['rohrpost.test'],
      sets: [...PLAIN_C2S, 's2s.require_encryption=false', `s2s.routes={a.test: "127.0.0.1:${authority.port}", sub.a.test: "127.0.0.1:${authority.port}"}`],
    });
    server.adduser('carol@rohrpost.test', 'pw');
    const carol = await rawLogin(server.starttlsPort, 'carol', 'pw', 'r', 'rohrpost.test');
    carol.socket.write('<presence/>');
    await carol.waitFor(/<presence[^>]*from=["']carol@rohrpost.test\/r["']/);

    // A wrong key: the authoritative server says invalid, so we do.
    const wrong = await dialbackIn(server.s2sPort, 'a.test', 'rohrpost.test', 'forged-key');
    assert.equal(wrong.type, 'invalid');
    wrong.l.socket.destroy();

    const { l, type } = await dialbackIn(server.s2sPort, 'a.test', 'rohrpost.test', 'right-key');
    assert.equal(type, 'valid');
    assert.ok(authority.verified.length >= 2, 'both keys were checked with the authoritative server');
    l.send(`<message from='dave@a.test/x' to='carol@rohrpost.test' type='chat'><body>genuine</body></message>`);
    await carol.waitFor(/<body>genuine<\/body>/);
    // Piggybacking (XEP-0220 §2.5): more domain pairs on the same stream, each verified.
    l.send(`<db:result from='sub.a.test' to='rohrpost.test'>right-key</db:result>`);
    await l.waitFor(/<db:result from=["']rohrpost\.test["'] to=["']sub\.a\.test["'] type=["']valid["']/);
    l.send(`<message from='eve@sub.a.test/x' to='carol@rohrpost.test' type='chat'><body>from the subdomain</body></message>`);
    await carol.waitFor(/<body>from the subdomain<\/body>/);
    l.send(`<db:result from='a.test' to='conference.rohrpost.test'>right-key</db:result>`);
    await l.waitFor(/<db:result from=["']conference\.rohrpost\.test["'] to=["']a\.test["'] type=["']valid["']/);
    l.send(`<message from='mallory@b.test/x' to='carol@rohrpost.test' type='chat'><body>spoofed</body></message>`);
    await l.closed;
    assert.equal(streamErrorCondition(l.data()), 'invalid-from');
    // A moment for anything that might still be routed: nothing spoofed reaches the user.
    await new Promise((r) => setTimeout(r, 300));
    assert.doesNotMatch(carol.data(), /spoofed/);
    carol.socket.destroy();
  });

  it('refuses dialback for a domain on the deny list, and a stanza to a domain it does not serve', async () => {
    await stopAll(server);
    authority.close();
    authority = await fakeAuthoritative('a.test', 'k');
    server = await startServer({
      hosts: ['rohrpost.test'],
      sets: [...PLAIN_C2S, 's2s.require_encryption=false', 's2s.deny=[a.test]', `s2s.routes={a.test: "127.0.0.1:${authority.port}"}`],
    });
    const denied = await dialbackIn(server.s2sPort, 'elsewhere.a.test', 'rohrpost.test', 'k').catch((e: Error) => e);
    // The header names the denied domain: the stream ends before dialback.
    assert.ok(denied instanceof Error);
    assert.match(denied.message, /policy-violation/);
    server.adduser('carol@rohrpost.test', 'pw');
    const carol = await rawLogin(server.starttlsPort, 'carol', 'pw', 'r', 'rohrpost.test');
    carol.socket.write(`<message to='x@a.test' type='chat' id='d1'><body>no</body></message>`);
    const err = await carol.waitFor(/<message[^>]*type=["']error["'][^]*?<\/message>/);
    assert.match(err, /remote-server-not-found/);
    assert.equal(authority.verified.length, 0);
    carol.socket.destroy();
  });
});

describe('s2s policy: secure with exceptions, allow list', () => {
  let server: TestServer | undefined;
  let authority: Awaited<ReturnType<typeof fakeAuthoritative>> | undefined;
  after(async () => {
    authority?.close();
    await stopAll(server);
  });

  const start = async (sets: string[]) => {
    await stopAll(server);
    const routes = ['a.test', 'chat.a.test', 'b.test', 'c.test'].map((d) => `${d}: "127.0.0.1:${authority!.port}"`).join(', ');
    server = await startServer({ hosts: ['rohrpost.test'], sets: [...PLAIN_C2S, 's2s.require_encryption=false', `s2s.routes={${routes}}`, ...sets] });
    return server;
  };

  it('a domain without a valid certificate gets dialback only where policy allows it', async () => {
    authority = await fakeAuthoritative('any', 'k');
    // secure: false, but b.test must show a certificate.
    let s = await start(['s2s.secure=false', 's2s.secure_domains=[b.test]']);
    assert.equal((await dialbackIn(s.s2sPort, 'a.test', 'rohrpost.test', 'k')).type, 'valid');
    const refused = await dialbackIn(s.s2sPort, 'b.test', 'rohrpost.test', 'k');
    assert.equal(refused.type, 'error');
    assert.match(refused.l.data(), /<not-authorized /);
    // secure: true, but a.test may use dialback.
    s = await start(['s2s.secure=true', 's2s.insecure_domains=[a.test]']);
    assert.equal((await dialbackIn(s.s2sPort, 'a.test', 'rohrpost.test', 'k')).type, 'valid');
    assert.equal((await dialbackIn(s.s2sPort, 'c.test', 'rohrpost.test', 'k')).type, 'error');
    // And outgoing: a peer without a valid certificate is not trusted with our stanzas.
    s.adduser('gina@rohrpost.test', 'pw');
    const gina = await rawLogin(s.starttlsPort, 'gina', 'pw', 'r', 'rohrpost.test');
    gina.socket.write(`<message to='x@c.test' type='chat' id='s1'><body>secret</body></message>`);
    assert.match(await gina.waitFor(/<message[^>]*id=["']s1["'][^]*?<\/message>/), /<remote-server-not-found /);
    gina.socket.destroy();
  });

  it('with an allow list, only the domains on it (and their subdomains) are spoken to', async () => {
    const s = await start(['s2s.allow=[a.test]']);
    assert.equal((await dialbackIn(s.s2sPort, 'a.test', 'rohrpost.test', 'k')).type, 'valid');
    assert.equal((await dialbackIn(s.s2sPort, 'chat.a.test', 'rohrpost.test', 'k')).type, 'valid', 'a subdomain of an allowed domain');
    const other = await dialbackIn(s.s2sPort, 'b.test', 'rohrpost.test', 'k').catch((e: Error) => e);
    assert.ok(other instanceof Error && /policy-violation/.test(other.message), String(other));
    s.adduser('hank@rohrpost.test', 'pw');
    const hank = await rawLogin(s.starttlsPort, 'hank', 'pw', 'r', 'rohrpost.test');
    hank.socket.write(`<message to='x@b.test' type='chat' id='a1'><body>no</body></message>`);
    assert.match(await hank.waitFor(/<message[^>]*id=["']a1["'][^]*?<\/message>/), /<remote-server-not-found /);
    hank.socket.destroy();
  });
});

describe('s2s failures bounce within a bounded time', () => {
  let server: TestServer;
  let dns: Awaited<ReturnType<typeof startDns>> | undefined;
  let silent: Awaited<ReturnType<typeof silentServer>>;
  after(async () => {
    silent?.close();
    await dns?.stop();
    await stopAll(server);
  });

  it('a domain that does not resolve: remote-server-not-found; a server that never answers: remote-server-timeout', { skip: !dnsmasqAvailable() && 'dnsmasq is not installed' }, async () => {
    dns = await startDns({ hosts: [{ name: 'exists.test', address: '127.0.0.1' }] });
    silent = await silentServer();
    server = await startServer({
      hosts: ['rohrpost.test'],
      sets: [...PLAIN_C2S, `s2s.resolver=${dns.address}`, 's2s.connect_timeout=2', `s2s.routes={hung.test: "127.0.0.1:${silent.port}"}`],
    });
    server.adduser('erin@rohrpost.test', 'pw');
    const erin = await rawLogin(server.starttlsPort, 'erin', 'pw', 'r', 'rohrpost.test');
    erin.socket.write(`<message to='someone@nowhere.test' type='chat' id='n1'><body>hello?</body></message>`);
    const notFound = await erin.waitFor(/<message[^>]*id=["']n1["'][^]*?<\/message>/, 15000);
    assert.match(notFound, /type=["']error["']/);
    assert.match(notFound, /<remote-server-not-found /);
    assert.match(notFound, /from=["']someone@nowhere\.test["']/);
    erin.socket.write(`<iq to='hung.test' type='get' id='h1'><ping xmlns='urn:xmpp:ping'/></iq>`);
    const timedOut = await erin.waitFor(/<iq[^>]*id=["']h1["'][^]*?<\/iq>/, 15000);
    assert.match(timedOut, /<remote-server-timeout /);
    erin.socket.destroy();
  });
});

describe('hostile input on a server stream', () => {
  let server: TestServer | undefined;
  after(async () => stopAll(server));
  const header = `<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='a.test' to='rohrpost.test' version='1.0'>`;

  it('malformed XML, an oversized stanza, an unknown host and stanzas before authentication each end the stream with the right error', async () => {
    server = await startServer({ hosts: ['rohrpost.test'], sets: ['s2s.require_encryption=false', 'limits.max_stanza_size=10000'] });
    const cases: Array<[string[], string]> = [
      [[header, '<message to=\'x@rohrpost.test\'><body>unclosed</message>'], 'not-well-formed'],
      [[header, `<message from='x@a.test' to='y@rohrpost.test'><body>${'x'.repeat(20000)}</body></message>`], 'policy-violation'],
      [[header.replace("to='rohrpost.test'", "to='elsewhere.test'")], 'host-unknown'],
      [[header, `<message from='x@a.test' to='y@rohrpost.test'><body>hi</body></message>`], 'not-authorized'],
      [[header, `<db:result from='a.test'>no-to</db:result>`], 'improper-addressing'],
    ];
    for (const [chunks, condition] of cases) {
      const r = await rawExchange(server.s2sPort, chunks);
      assert.equal(streamErrorCondition(r.data), condition, r.data);
      assert.ok(r.closed);
    }
    // The server is still there for the next peer.
    assert.equal(server.proc.exitCode, null);
  });
});

describe('s2s.enabled: false', () => {
  let server: TestServer;
  after(async () => stopAll(server));

  it('opens no server port and bounces stanzas for other domains', async () => {
    server = await startServer({ hosts: ['rohrpost.test'], sets: [...PLAIN_C2S, 's2s.enabled=false'] });
    assert.ok(Number.isNaN(server.s2sPort));
    assert.equal(server.logs.filter((l) => l.msg === 's2s listening').length, 0);
    server.adduser('frank@rohrpost.test', 'pw');
    const frank = await rawLogin(server.starttlsPort, 'frank', 'pw', 'r', 'rohrpost.test');
    frank.socket.write(`<message to='x@elsewhere.test' type='chat' id='e1'><body>out?</body></message>`);
    const err = await frank.waitFor(/<message[^>]*id=["']e1["'][^]*?<\/message>/);
    assert.match(err, /<remote-server-not-found /);
    frank.socket.destroy();
  });
});
