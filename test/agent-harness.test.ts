// The scriptable slixmpp agent (test/harness/agent.ts + slix_agent.py) against a
// real Rohrpost: two users subscribe to each other step by step, chat, ping the
// server, read their rosters, meet in a room, and see each other leave. Also the
// agent's failure paths (bad password, STARTTLS with a self-signed certificate).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type TestServer } from './harness/server.js';
import { Agent, type AgentEvent } from './harness/agent.js';

const ALICE = 'alice@localhost';
const BOB = 'bob@localhost';
const ROOM = 'room@conference.localhost';

const bareOf = (jid: unknown) => String(jid ?? '').split('/')[0];
const presenceFrom = (bare: string, type = 'available') => (e: AgentEvent) =>
  e.event === 'presence' && bareOf(e.from) === bare && e.type === type;

describe('slixmpp agent harness', () => {
  let server: TestServer;
  const agents: Agent[] = [];
  const agent = (name: string) => { const a = Agent.start(name); agents.push(a); return a; };

  before(async () => {
    server = await startServer({ sets: ['c2s.require_encryption=false', 'c2s.allow_unencrypted_plain=true'] });
    server.adduser(ALICE, 'alicepw');
    server.adduser(BOB, 'bobpw');
  });
  after(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await server.stop();
    server.cleanup();
  });

  test('subscribe, chat, ping, roster, groupchat, and leave', async () => {
    const a = agent('alice');
    const b = agent('bob');
    const [aj, bj] = await Promise.all([
      a.connect({ jid: `${ALICE}/laptop`, password: 'alicepw', port: server.starttlsPort }),
      b.connect({ jid: `${BOB}/phone`, password: 'bobpw', port: server.starttlsPort }),
    ]);
    assert.equal(aj, `${ALICE}/laptop`);
    assert.equal(bj, `${BOB}/phone`);
    // Fetching the roster makes a resource "interested": it gets roster pushes from now on.
    assert.deepEqual(await a.roster(), []);
    assert.deepEqual(await b.roster(), []);
    await a.presence();
    await b.presence({ status: 'bob here' });

    // alice -> bob
    await a.presence({ to: BOB, type: 'subscribe' });
    await b.waitFor(presenceFrom(ALICE, 'subscribe'), 'alice asking for a subscription');
    // Nothing approves on its own: alice's request is still pending.
    assert.deepEqual((await a.roster()).map((i) => [i.jid, i.subscription, i.ask]), [[BOB, 'none', 'subscribe']]);
    assert.ok(!a.events.some(presenceFrom(BOB, 'subscribed')));
    await b.presence({ to: ALICE, type: 'subscribed' });
    const bobOnline = await a.waitFor(presenceFrom(BOB), "bob's presence once alice is subscribed");
    assert.equal(bobOnline.status, 'bob here');
    // bob -> alice
    await b.presence({ to: ALICE, type: 'subscribe' });
    await a.waitFor(presenceFrom(BOB, 'subscribe'), 'bob asking for a subscription');
    await a.presence({ to: BOB, type: 'subscribed' });
    await b.waitFor(presenceFrom(ALICE), "alice's presence once bob is subscribed");

    await a.message(BOB, 'hello bob');
    const m1 = await b.waitFor((e) => e.event === 'message' && e.body === 'hello bob', 'the message from alice');
    assert.equal(m1.from, `${ALICE}/laptop`);
    assert.equal(m1.type, 'chat');
    assert.equal(m1.error, null);
    await b.message(`${ALICE}/laptop`, 'hi alice');
    await a.waitFor((e) => e.event === 'message' && e.body === 'hi alice' && e.from === `${BOB}/phone`, 'the answer from bob');

    assert.deepEqual(await a.ping('localhost'), { ok: true });
    const noSuchUser = await a.ping('nobody@localhost');
    assert.equal(noSuchUser.ok, false);
    assert.equal(typeof noSuchUser.error, 'string');

    const [ra, rb] = await Promise.all([a.roster(), b.roster()]);
    assert.deepEqual(ra.map((i) => [i.jid, i.subscription, i.ask]), [[BOB, 'both', null]]);
    assert.deepEqual(rb.map((i) => [i.jid, i.subscription, i.ask]), [[ALICE, 'both', null]]);
    const pushes = a.events.filter((e) => e.event === 'roster_push')
      .flatMap((e) => (e.items as Array<Record<string, unknown>>).map((i) => `${String(i.subscription)}/${String(i.ask)}`));
    assert.ok(pushes.includes('both/null'), `alice's roster pushes: ${JSON.stringify(pushes)}`);

    const codesA = await a.join(ROOM, 'Alice');
    assert.ok(codesA.includes(110), JSON.stringify(codesA));
    assert.ok(codesA.includes(201), `a new room: ${JSON.stringify(codesA)}`);
    const codesB = await b.join(ROOM, 'Bob');
    assert.ok(codesB.includes(110) && !codesB.includes(201), JSON.stringify(codesB));
    await a.waitFor(presenceFrom(ROOM), 'Bob entering the room');
    await b.groupchat(ROOM, 'hello room');
    for (const [who, x] of [['alice', a], ['bob', b]] as const) {
      const g = await x.waitFor((e) => e.event === 'message' && e.type === 'groupchat' && e.body === 'hello room',
        `the groupchat message at ${who}`);
      assert.equal(g.from, `${ROOM}/Bob`);
      assert.equal(g.delay, false);
    }

    await b.disconnect();
    await a.waitFor((e) => presenceFrom(BOB, 'unavailable')(e) && e.from === `${BOB}/phone`, "bob's unavailable presence");
    await a.waitFor((e) => presenceFrom(ROOM, 'unavailable')(e) && e.from === `${ROOM}/Bob`, 'Bob leaving the room');
    // The agent answers every command, even when it cannot carry it out.
    const err = await b.call({ cmd: 'message', to: ALICE, body: 'too late' });
    assert.equal(err.event, 'error');
    await a.stop();
    await b.stop();
  });

  test('failed login, and STARTTLS with a self-signed certificate', async () => {
    const c = agent('carol');
    await assert.rejects(c.connect({ jid: ALICE, password: 'wrong', port: server.starttlsPort, timeout: 10 }), /failed/);
    const jid = await c.connect({ jid: ALICE, password: 'alicepw', port: server.starttlsPort, starttls: true });
    assert.match(jid, /^alice@localhost\/.+/);
    const started = c.events.filter((e) => e.event === 'session_start').pop()!;
    assert.equal(started.tls, true, JSON.stringify(started));
    assert.deepEqual(await c.ping('localhost'), { ok: true });
    await c.stop();
  });
});
