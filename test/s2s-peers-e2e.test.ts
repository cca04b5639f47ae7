// Federation with real servers nobody here wrote: Debian's Prosody and ejabberd on
// loopback, found by SRV through a loopback DNS server. For each peer and each way of
// authenticating (dialback over TLS with self-signed certificates; certificates from
// a test CA with SASL EXTERNAL), in both directions: messages, the presence
// subscription handshake, pings, conference rooms on either side, and log-off.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type TestServer } from './harness/server.js';
import { Agent, type AgentEvent } from './harness/agent.js';
import { startDns, type DnsRecords, type TestDns } from './harness/dns.js';
import { freePort, makeTestCa, peersAvailable, selfSigned, startEjabberd, startProsody, type Peer, type PeerOptions } from './harness/peers.js';

const OURS = 'rohrpost.test';
const OUR_MUC = `conference.${OURS}`;
const PW = 'secret-pw';
const available = peersAvailable();

type Kind = 'prosody' | 'ejabberd';
type Mode = 'plaintext' | 'dialback' | 'certificates';
const MODE_TITLE: Record<Mode, string> = {
  plaintext: 'dialback without TLS',
  dialback: 'dialback over TLS (self-signed)',
  certificates: 'certificates from a CA (SASL EXTERNAL)',
};

/**
 * SRV records for a domain's s2s port. The target is 'localhost': ejabberd asks the
 * test DNS server only for SRV and resolves the target with the system's resolver.
 */
function records(domains: string[], port: number): DnsRecords {
  return { srv: domains.map((d) => ({ name: `_xmpp-server._tcp.${d}`, target: 'localhost', port })) };
}

function merge(...rs: DnsRecords[]): DnsRecords {
  return { srv: rs.flatMap((r) => r.srv ?? []) };
}

const from = (e: AgentEvent) => String(e.from ?? '');
const isPresence = (type: string, sender: string) => (e: AgentEvent) =>
  e.event === 'presence' && e.type === type && from(e).startsWith(sender);

interface World {
  dns: TestDns;
  peer: Peer;
  rohrpost: TestServer;
  alice: Agent;   // alice@rohrpost.test
  bob: Agent;     // bob@<peer>
  scratch: string;
}

/** Starts everything a suite needs, recording each piece in `w` as it starts, so that
 * tearDown stops what did start even when a later step fails. */
async function setUp(w: Partial<World>, kind: Kind, mode: Mode, extraSets: string[] = []): Promise<World> {
  const scratch = mkdtempSync(join(tmpdir(), 'rohrpost-fed-'));
  w.scratch = scratch;
  const domain = `${kind}.test`;
  const ourPort = await freePort();
  const ourDomains = [OURS, OUR_MUC];
  const dns = w.dns = await startDns(records(ourDomains, ourPort));
  const peerOpts: PeerOptions = { domain, dnsPort: dns.port };
  const sets = [
    'c2s.require_encryption=false', 'c2s.allow_unencrypted_plain=true',
    `s2s.starttls.port=${ourPort}`, `s2s.resolver=${dns.address}`, 's2s.connect_timeout=15',
  ];
  let hosts = [OURS];
  if (mode === 'plaintext') {
    sets.push('s2s.require_encryption=false');
  } else if (mode === 'dialback') {
    peerOpts.certs = selfSigned(join(scratch, 'peer'), [domain, `conference.${domain}`]);
  } else {
    const ca = makeTestCa(join(scratch, 'ca'));
    // COMPAT: ejabberd 23.01 fails on a verified certificate that carries an XmppAddr.
    const names = { xmppAddr: kind !== 'ejabberd' };
    peerOpts.certs = { ...ca.issue([domain, `conference.${domain}`], undefined, names), ca: ca.caCert };
    peerOpts.secure = true;
    const ours = ca.issue(ourDomains, undefined, names);
    hosts = [`{domain: ${OURS}, certificate: "${ours.cert}", key: "${ours.key}"}`];
    sets.push('s2s.secure=true', `s2s.ca_file=${ca.caCert}`);
  }
  // Rohrpost first: its s2s port is only picked (not yet bound) and the peer picks free
  // ports of its own, which could be the same one.
  const rohrpost = w.rohrpost = await startServer({ hosts, sets: [...sets, ...extraSets] });
  const peer = w.peer = kind === 'prosody' ? await startProsody(peerOpts) : await startEjabberd(peerOpts);
  await dns.update(merge(records(ourDomains, ourPort), records([domain, `conference.${domain}`], peer.s2sPort)));
  rohrpost.adduser(`alice@${OURS}`, PW);
  await peer.register('bob', PW);
  const alice = w.alice = Agent.start('alice');
  const bob = w.bob = Agent.start('bob');
  await alice.connect({ jid: `alice@${OURS}/home`, password: PW, port: rohrpost.starttlsPort });
  await bob.connect({ jid: `bob@${domain}/desk`, password: PW, port: peer.c2sPort });
  return w as World;
}

async function tearDown(w: Partial<World>): Promise<void> {
  await Promise.allSettled([w.alice?.stop(), w.bob?.stop()]);
  await w.rohrpost?.stop();
  await w.peer?.stop();
  await w.dns?.stop();
  w.rohrpost?.cleanup();
  w.peer?.cleanup();
  if (w.scratch) rmSync(w.scratch, { recursive: true, force: true });
}

/** What Rohrpost logged about its links, for assertions and failure messages. */
function links(w: World): Array<Record<string, unknown>> {
  return w.rohrpost.logs.filter((l) => typeof l.msg === 'string' && /^s2s link|refused|certificate/.test(l.msg) && l.msg !== 'certificate loaded');
}

function federation(kind: Kind, mode: Mode): void {
  const skip = !available[kind] || !available.dnsmasq ? `${kind} or dnsmasq is not installed` : false;
  describe(`federation with ${kind}, ${MODE_TITLE[mode]}`, { skip }, () => {
    let w: World;
    const started: Partial<World> = {};
    const peerDomain = `${kind}.test`;
    const bobJid = `bob@${peerDomain}`;
    const aliceJid = `alice@${OURS}`;
    const context = () => `\nRohrpost links: ${JSON.stringify(links(w))}\n${kind} log:\n${w.peer.log().slice(-3000)}`;

    before(async () => { w = await setUp(started, kind, mode); });
    after(async () => tearDown(started));

    it('a message from Rohrpost to the peer and the reply', async () => {
      // Available first: a server keeps a message for a bare JID offline until then.
      await w.alice.presence();
      await w.bob.presence();
      await w.alice.message(bobJid, 'hello from rohrpost');
      const got = await w.bob.waitFor((e) => e.event === 'message' && e.body === 'hello from rohrpost', 'alice\'s message', 30000).catch((e: Error) => assert.fail(e.message + context()));
      assert.equal(from(got), `${aliceJid}/home`);
      await w.bob.message(`${aliceJid}/home`, 'hello back');
      const reply = await w.alice.waitFor((e) => e.event === 'message' && e.body === 'hello back', 'bob\'s reply', 30000).catch((e: Error) => assert.fail(e.message + context()));
      assert.equal(from(reply), `${bobJid}/desk`);
    });

    it('authenticated both links the way the mode says', (t) => {
      const out = links(w).find((l) => l.msg === 's2s link established' && l.s2s === 'out' && l.remote === peerDomain);
      const inbound = links(w).find((l) => l.msg === 's2s link established' && l.s2s === 'in' && l.remote === peerDomain);
      assert.ok(out && inbound, `both directions established${context()}`);
      t.diagnostic(`${kind} ${mode}: out ${String(out.auth)} ${String(out.tls)}; in ${String(inbound.auth)} ${String(inbound.tls)}`);
      if (mode === 'plaintext') {
        assert.deepEqual([out.tls, inbound.tls], [null, null], 'no TLS without certificates');
      } else {
        assert.ok(typeof out.tls === 'string' && typeof inbound.tls === 'string', 'both over TLS');
      }
      if (mode !== 'certificates') {
        assert.equal(out.auth, 'dialback');
        assert.equal(inbound.auth, 'dialback');
      } else {
        assert.equal(out.auth, 'SASL EXTERNAL', `outgoing auth${context()}`);
        assert.equal(inbound.auth, 'SASL EXTERNAL', `incoming auth${context()}`);
      }
    });

    it('an iq ping each way', async () => {
      assert.deepEqual(await w.alice.ping(peerDomain), { ok: true });
      assert.deepEqual(await w.bob.ping(OURS), { ok: true });
    });

    it('the subscription handshake until each sees the other online', async () => {
      await w.alice.presence({ to: bobJid, type: 'subscribe' });
      await w.bob.waitFor(isPresence('subscribe', aliceJid), 'subscribe from alice', 30000);
      await w.bob.presence({ to: aliceJid, type: 'subscribed' });
      await w.alice.waitFor(isPresence('subscribed', bobJid), 'subscribed from bob', 30000);
      await w.alice.waitFor(isPresence('available', `${bobJid}/desk`), 'bob online', 30000);
      await w.bob.presence({ to: aliceJid, type: 'subscribe' });
      await w.alice.waitFor(isPresence('subscribe', bobJid), 'subscribe from bob', 30000);
      await w.alice.presence({ to: bobJid, type: 'subscribed' });
      await w.bob.waitFor(isPresence('available', `${aliceJid}/home`), 'alice online', 30000);
      const aliceRoster = await w.alice.roster();
      assert.deepEqual(aliceRoster.map((i) => [i.jid, i.subscription, i.ask]), [[bobJid, 'both', null]]);
      const bobRoster = await w.bob.roster();
      assert.deepEqual(bobRoster.map((i) => [i.jid, i.subscription, i.ask]), [[aliceJid, 'both', null]]);
    });

    it('a peer user joins a Rohrpost room, a Rohrpost user joins the peer\'s room', async () => {
      const ourRoom = `talk@${OUR_MUC}`;
      const theirRoom = `lobby@conference.${peerDomain}`;
      assert.deepEqual((await w.alice.join(ourRoom, 'Alice')).sort(), [110, 201]);
      assert.ok((await w.bob.join(ourRoom, 'Bob')).includes(110));
      await w.bob.groupchat(ourRoom, 'bob in the rohrpost room');
      await w.alice.waitFor((e) => e.event === 'message' && e.type === 'groupchat' && e.body === 'bob in the rohrpost room', 'groupchat from bob', 30000);
      assert.ok((await w.bob.join(theirRoom, 'Bob')).includes(110));
      assert.ok((await w.alice.join(theirRoom, 'Alice')).includes(110));
      await w.alice.waitFor((e) => e.event === 'presence' && from(e) === `${theirRoom}/Bob`, 'bob listed as occupant', 30000);
      await w.alice.groupchat(theirRoom, 'alice in the peer room');
      const echoed = await w.bob.waitFor((e) => e.event === 'message' && e.type === 'groupchat' && e.body === 'alice in the peer room', 'groupchat from alice', 30000);
      assert.equal(from(echoed), `${theirRoom}/Alice`);
    });

    it('an unavailable presence when one logs off, each way', async () => {
      await w.bob.disconnect();
      await w.alice.waitFor(isPresence('unavailable', `${bobJid}/desk`), 'bob offline', 30000);
      await w.alice.disconnect();
      const bob2 = Agent.start('bob2');
      try {
        // Bob, back online, probes and learns alice is gone; then sees her return.
        await bob2.connect({ jid: `${bobJid}/laptop`, password: PW, port: w.peer.c2sPort });
        await bob2.presence();
        const alice2 = Agent.start('alice2');
        try {
          await alice2.connect({ jid: `${aliceJid}/phone`, password: PW, port: w.rohrpost.starttlsPort });
          await alice2.presence();
          await bob2.waitFor(isPresence('available', `${aliceJid}/phone`), 'alice back', 30000);
          await alice2.disconnect();
          await bob2.waitFor(isPresence('unavailable', `${aliceJid}/phone`), 'alice offline', 30000);
        } finally {
          await alice2.stop();
        }
      } finally {
        await bob2.stop();
      }
    });
  });
}

for (const kind of ['prosody', 'ejabberd'] as const) {
  for (const mode of ['plaintext', 'dialback', 'certificates'] as const) federation(kind, mode);

  describe(`${kind} and a Rohrpost with s2s.enabled: false`, { skip: !available[kind] || !available.dnsmasq ? `${kind} or dnsmasq is not installed` : false }, () => {
    let w: World;
    const started: Partial<World> = {};
    before(async () => { w = await setUp(started, kind, 'dialback', ['s2s.enabled=false']); });
    after(async () => tearDown(started));

    it('the remote user gets an error and nothing is delivered, and ours cannot reach out', async () => {
      await w.alice.presence();
      await w.bob.message(`alice@${OURS}`, 'anyone there?');
      const bounce = await w.bob.waitFor((e) => e.event === 'message' && e.type === 'error', 'an error for bob', 60000);
      assert.match(String(bounce.error), /remote-server-not-found|remote-server-timeout|service-unavailable/);
      await w.alice.message(`bob@${kind}.test`, 'out?');
      const ours = await w.alice.waitFor((e) => e.event === 'message' && e.type === 'error', 'an error for alice', 30000);
      assert.equal(ours.error, 'remote-server-not-found');
      assert.ok(!w.alice.events.some((e) => e.event === 'message' && e.body === 'anyone there?'), 'nothing delivered');
      assert.ok(!w.bob.events.some((e) => e.event === 'message' && e.body === 'out?'), 'nothing delivered');
    });
  });
}
