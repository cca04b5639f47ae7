// The load client's pieces without sockets: the SCRAM client against RFC 5802's
// example, the response scanner fed in every possible split, and the helpers the
// benchmarks use to read arguments and summarise latencies.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { LoadSession, LoginError } from '../bench/client/session.js';
import { ResponseScanner, attr, childText, hasChild, mechanismsOf, textOf, type ScanEvent } from '../bench/client/scanner.js';
import { SaltedPasswordCache, ScramClient, ScramClientError, escapeSaslname } from '../bench/client/scram.js';
import { percentile, summarize } from '../bench/lib/stats.js';
import { UsageError, parseSources, parseTlsModes, parseUsers } from '../bench/lib/args.js';

describe('SCRAM client (RFC 5802)', () => {
  // RFC 5802 §5: the example exchange with SCRAM-SHA-1.
  const CLIENT_NONCE = 'fyko+d2lbbFgONRv9qkxdawL';
  const SERVER_FIRST = 'r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096';
  const CLIENT_FINAL = 'c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=';
  const SERVER_FINAL = 'v=rmF9pqV8S7suAoZWja4dJRkFsKQ=';

  test('reproduces the example exchange of §5', () => {
    const c = new ScramClient('SCRAM-SHA-1', 'user', 'pencil', { nonce: CLIENT_NONCE });
    assert.equal(c.first(), `n,,n=user,r=${CLIENT_NONCE}`);
    assert.equal(c.final(SERVER_FIRST), CLIENT_FINAL);
    assert.equal(c.verify(SERVER_FINAL), true, 'the server signature verifies');
  });

  test('rejects a wrong server signature and an error instead of v=', () => {
    const c = new ScramClient('SCRAM-SHA-1', 'user', 'pencil', { nonce: CLIENT_NONCE });
    c.final(SERVER_FIRST);
    assert.equal(c.verify('v=AAAAAAAAAAAAAAAAAAAAAAAAAAA='), false);
    assert.equal(c.verify('e=invalid-proof'), false);
    assert.equal(c.verify(''), false);
  });

  test('the salted-password cache gives the same answer as deriving it each time', () => {
    const cache = new SaltedPasswordCache(2);
    for (let i = 0; i < 3; i++) {
      const c = new ScramClient('SCRAM-SHA-1', 'user', 'pencil', { nonce: CLIENT_NONCE, cache });
      assert.equal(c.final(SERVER_FIRST), CLIENT_FINAL);
    }
  });

  test('refuses a server nonce that does not extend ours, a mandatory extension, bad counts', () => {
    const fresh = () => new ScramClient('SCRAM-SHA-1', 'user', 'pencil', { nonce: CLIENT_NONCE });
    assert.throws(() => fresh().final('r=someoneelse,s=QSXCR+Q6sek8bf92,i=4096'), ScramClientError);
    assert.throws(() => fresh().final(`r=${CLIENT_NONCE},s=QSXCR+Q6sek8bf92,i=4096`), ScramClientError, 'the server must add to the nonce');
    assert.throws(() => fresh().final(`m=ext,${SERVER_FIRST}`), ScramClientError);
    assert.throws(() => fresh().final('r=fyko+d2lbbFgONRv9qkxdawLX,s=QSXCR+Q6sek8bf92,i=0'), ScramClientError);
    assert.throws(() => fresh().final('r=fyko+d2lbbFgONRv9qkxdawLX,i=4096'), ScramClientError);
    assert.throws(() => fresh().verify('v=x'), ScramClientError, 'verify before final');
  });

  test('escapes , and = in the user name (saslname)', () => {
    assert.equal(escapeSaslname('a,b=c'), 'a=2Cb=3Dc');
    assert.equal(new ScramClient('SCRAM-SHA-256', 'x=y', 'p', { nonce: 'n' }).first(), 'n,,n=x=3Dy,r=n');
  });
});

// A server's side of a login, with the awkward bits a tolerant scanner must get through.
const TRANSCRIPT = [
  "<?xml version='1.0'?>",
  "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='abc' from='localhost' version='1.0' xml:lang='en'>",
  '<stream:features><starttls xmlns="urn:ietf:params:xml:ns:xmpp-tls"/>',
  "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism></mechanisms>",
  '</stream:features>',
  ' \n ',
  "<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>cj1meWtvK2Qy</challenge>",
  '<!-- a comment with <tags> inside -->',
  "<iq type='result' id='lb1' note='a > b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>jürgen@localhost/r1</jid></bind></iq>",
  "<message from='a@localhost/x' to='b@localhost' type='chat'><body>Grüße 😀 &lt;3 <![CDATA[<b>not a tag</b>]]></body></message>",
  "<presence from='a@localhost/x'/>",
  "<iq type='get' id='p&amp;1' from='localhost'><ping xmlns='urn:xmpp:ping'/></iq>",
  '</stream:stream>',
].join('');

function scanAll(chunks: Array<string | Buffer>): ScanEvent[] {
  const events: ScanEvent[] = [];
  const scanner = new ResponseScanner((ev) => events.push(ev));
  for (const c of chunks) scanner.push(c);
  return events;
}

describe('response scanner', () => {
  const whole = scanAll([TRANSCRIPT]);

  test('finds the header, each top-level element and the end of the stream', () => {
    assert.deepEqual(whole.map((e) => (e.kind === 'element' ? e.name : e.kind)),
      ['open', 'stream:features', 'challenge', 'iq', 'message', 'presence', 'iq', 'close']);
    const [features, challenge, bind, message, presence, ping] = whole.filter((e) => e.kind === 'element');
    assert.deepEqual(mechanismsOf(features!.xml), ['SCRAM-SHA-1', 'PLAIN']);
    assert.equal(hasChild(features!.xml, 'starttls'), true);
    assert.equal(hasChild(features!.xml, 'bind'), false);
    assert.equal(textOf(challenge!.xml), 'cj1meWtvK2Qy');
    assert.equal(attr(bind!.tag, 'note'), 'a > b', "a '>' inside quotes does not end the tag");
    assert.equal(childText(bind!.xml, 'jid'), 'jürgen@localhost/r1');
    assert.match(message!.xml, /Grüße 😀/);
    assert.equal(presence!.xml, "<presence from='a@localhost/x'/>");
    assert.equal(attr(ping!.tag, 'id'), 'p&1', 'entities in attributes are decoded');
    assert.equal(attr(ping!.tag, 'type'), 'get');
    assert.equal(attr(ping!.tag, 'to'), undefined);
  });

  test('gives the same events for the stream cut in two at every byte', () => {
    const bytes = Buffer.from(TRANSCRIPT, 'utf8');
    for (let cut = 1; cut < bytes.length; cut++) {
      assert.deepEqual(scanAll([bytes.subarray(0, cut), bytes.subarray(cut)]), whole, `cut at byte ${cut}`);
    }
  });

  test('gives the same events fed one byte at a time, and in chunks of 7', () => {
    const bytes = Buffer.from(TRANSCRIPT, 'utf8');
    assert.deepEqual(scanAll([...bytes].map((b) => Buffer.from([b]))), whole);
    const sevens: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 7) sevens.push(bytes.subarray(i, i + 7));
    assert.deepEqual(scanAll(sevens), whole);
  });

  test('reset() from a callback drops the rest of the old stream', () => {
    const seen: string[] = [];
    const scanner: ResponseScanner = new ResponseScanner((ev) => {
      seen.push(ev.kind === 'element' ? ev.name : ev.kind);
      if (ev.kind === 'element' && ev.name === 'success') scanner.reset();
    });
    scanner.push("<stream:stream xmlns:stream='http://etherx.jabber.org/streams'><success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/><junk/>");
    assert.deepEqual(seen, ['open', 'success']);
    scanner.push("<stream:stream xmlns:stream='http://etherx.jabber.org/streams'><stream:features><bind/></stream:features>");
    assert.deepEqual(seen, ['open', 'success', 'open', 'stream:features']);
  });

  test('keeps only the element in progress buffered', () => {
    const scanner = new ResponseScanner(() => {});
    scanner.push("<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>");
    for (let i = 0; i < 1000; i++) scanner.push(`<message id='${i}'><body>hello</body></message> `);
    assert.ok(scanner.buffered < 10, `buffered ${scanner.buffered}`);
    scanner.push("<message id='x'><body>par");
    assert.ok(scanner.buffered <= "<message id='x'><body>par".length);
  });
});

// A scripted server on loopback that answers in one-byte writes: the session must
// still log in, answer an idle ping, count a message and close politely.
function scriptedServer(onClientBytes: (all: string, reply: (xml: string) => void, socket: net.Socket) => void): Promise<net.Server> {
  const server = net.createServer((socket) => {
    let all = '';
    const reply = (xml: string) => { for (const b of Buffer.from(xml)) socket.write(Buffer.from([b])); };
    socket.setNoDelay(true);
    socket.on('data', (d) => { all += d.toString(); onClientBytes(all, reply, socket); });
    socket.on('error', () => {});
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const HEADER_OUT = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='s1' from='localhost' version='1.0'>";

describe('load session against a scripted server', () => {
  test('PLAIN login, bind, idle ping answered, message counted, polite close', async () => {
    const seen = new Set<string>();
    const once = (step: string, cond: boolean, act: () => void) => { if (cond && !seen.has(step)) { seen.add(step); act(); } };
    let clientAnsweredPing = false;
    const server = await scriptedServer((all, reply, socket) => {
      once('features', all.includes('<stream:stream'), () => reply(HEADER_OUT +
        "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>"));
      once('auth', all.includes(Buffer.from('\0alice\0secret').toString('base64')), () =>
        reply("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"));
      once('restart', all.split('<stream:stream').length === 3, () => reply(HEADER_OUT +
        "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"));
      once('bind', all.includes("id='lb1'"), () => reply(
        "<iq type='result' id='lb1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@localhost/r1</jid></bind></iq>"));
      once('presence', all.includes('<presence/>'), () => reply(
        "<iq type='get' id='ping-1' from='localhost'><ping xmlns='urn:xmpp:ping'/></iq><message from='bob@localhost/x'><body>hi</body></message>"));
      once('pong', all.includes("<iq type='result' id='ping-1' to='localhost'/>"), () => { clientAnsweredPing = true; });
      once('close', all.endsWith('</stream:stream>'), () => { reply('</stream:stream>'); socket.end(); });
    });
    try {
      const { port } = server.address() as AddressInfo;
      const session = await LoadSession.login({ host: '127.0.0.1', port, domain: 'localhost', username: 'alice', password: 'secret',
        mechanism: 'PLAIN', tls: 'none', resource: 'r1', presence: true, timeoutMs: 5000 });
      assert.equal(session.jid, 'alice@localhost/r1');
      assert.ok(session.timings.connected! <= session.timings.authenticated! && session.timings.authenticated! <= session.timings.bound!);
      const messaged = new Promise<void>((resolve) => { session.onStanza = (name) => { if (name === 'message') resolve(); }; });
      await messaged;
      assert.equal(session.messages, 1);
      assert.equal(await session.close(), 'closed by client');
      assert.equal(clientAnsweredPing, true, 'the idle ping was answered');
    } finally {
      server.close();
    }
  });

  test('a SASL failure and a stream error are reported with the state they happened in', async () => {
    const server = await scriptedServer((all, reply) => {
      if (all.endsWith('>') && all.includes('<stream:stream') && !all.includes('<auth')) {
        reply(HEADER_OUT + "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>");
      } else if (all.includes('<auth')) {
        reply("<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>");
      }
    });
    try {
      const { port } = server.address() as AddressInfo;
      const base = { host: '127.0.0.1', port, domain: 'localhost', username: 'a', password: 'b', tls: 'none' as const, resource: 'r', timeoutMs: 5000 };
      await assert.rejects(LoadSession.login({ ...base, mechanism: 'PLAIN' }),
        (err: unknown) => err instanceof LoginError && err.state === 'auth' && err.reason === 'SASL failure not-authorized');
      await assert.rejects(LoadSession.login({ ...base, mechanism: 'SCRAM-SHA-1' }),
        (err: unknown) => err instanceof LoginError && err.state === 'features' && /SCRAM-SHA-1 not offered/.test(err.reason));
    } finally {
      server.close();
    }
  });
});

describe('benchmark helpers', () => {
  test('nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(values, 50), 50);
    assert.equal(percentile(values, 99), 99);
    assert.equal(percentile(values, 100), 100);
    assert.equal(percentile([7], 99), 7);
    assert.ok(Number.isNaN(percentile([], 50)));
    const s = summarize([3, 1, 2]);
    assert.deepEqual([s.count, s.min, s.p50, s.max, s.mean], [3, 1, 2, 3, 2]);
  });

  test('argument parsing', () => {
    assert.deepEqual(parseSources('127.0.0.1-127.0.0.3,127.0.0.9'), ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.9']);
    assert.deepEqual(parseSources('127.0.0.4-5'), ['127.0.0.4', '127.0.0.5']);
    assert.throws(() => parseSources('10.0.0.1'), UsageError, 'only loopback addresses');
    assert.deepEqual(parseUsers('load/50', 1), { prefix: 'load', count: 50 });
    assert.deepEqual(parseUsers(undefined, 7), { prefix: 'bench', count: 7 });
    assert.throws(() => parseUsers('load', 1), UsageError);
    assert.deepEqual(parseTlsModes('none,direct', []), ['none', 'direct']);
    assert.throws(() => parseTlsModes('ssl', []), UsageError);
  });
});
