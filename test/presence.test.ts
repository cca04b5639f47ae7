// RFC 6121 §4 without sockets: initial and subsequent presence broadcast only to the
// contacts allowed to see it, probes and their answers, several resources,
// directed presence, unavailable presence on logout and on a dropped connection.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { world, type FakeSession, type TestWorld } from './harness/fake-session.js';
import { MODULES } from '../src/main.js';
import type { Element } from '../src/xml/element.js';
import type { Subscription } from '../src/router/services.js';
import { Roster, rosterCodec } from '../src/modules/rfc6121/roster-model.js';

const HOST = 'example.org';

const presences = (els: Element[], type?: string) => els.filter((e) => e.name === 'presence' && e.attrs.type === type);
const froms = (els: Element[], type?: string) => presences(els, type).map((p) => p.attrs.from).sort();

/** Writes a roster directly: contact -> subscription. */
async function setRoster(w: TestWorld, user: string, items: Record<string, Subscription>): Promise<void> {
  const r = new Roster(1);
  for (const [jid, subscription] of Object.entries(items)) {
    r.items.set(jid, { jid, subscription, ask: false, approved: false, groups: [] });
  }
  await w.storage.keyval<Roster>('roster', rosterCodec()).set(HOST, user, r);
}

/** Mutual subscription between two local users. */
async function friends(w: TestWorld, a: string, b: string, ab: Subscription = 'both'): Promise<void> {
  const mirror: Record<Subscription, Subscription> = { none: 'none', to: 'from', from: 'to', both: 'both' };
  const ra = (await w.storage.keyval<Roster>('roster', rosterCodec()).get(HOST, a)) ?? new Roster(1);
  const rb = (await w.storage.keyval<Roster>('roster', rosterCodec()).get(HOST, b)) ?? new Roster(1);
  ra.items.set(`${b}@${HOST}`, { jid: `${b}@${HOST}`, subscription: ab, ask: false, approved: false, groups: [] });
  rb.items.set(`${a}@${HOST}`, { jid: `${a}@${HOST}`, subscription: mirror[ab], ask: false, approved: false, groups: [] });
  await w.storage.keyval<Roster>('roster', rosterCodec()).set(HOST, a, ra);
  await w.storage.keyval<Roster>('roster', rosterCodec()).set(HOST, b, rb);
}

async function online(w: TestWorld, full: string, presence = '<presence/>'): Promise<FakeSession> {
  const s = await w.connect(full);
  await s.inject(presence);
  return s;
}

/** The connection drops: the session leaves the registry, then 'closed' fires. */
async function drop(w: TestWorld, s: FakeSession): Promise<void> {
  w.router.sessions.remove(s);
  await w.router.lifecycle.fire('session/closed', s);
}

describe('presence (RFC 6121 §4)', () => {
  test('initial presence goes to contacts with from/both only; probes go to to/both and are answered', async () => {
    const w = await world(MODULES);
    for (const u of ['alice', 'bob', 'carol', 'dave', 'eve', 'frank']) await w.connect(`${u}@${HOST}/x`).then((s) => w.router.sessions.remove(s));
    await friends(w, 'alice', 'bob', 'both');
    await friends(w, 'alice', 'carol', 'to');
    await friends(w, 'alice', 'dave', 'from');
    await friends(w, 'alice', 'eve', 'none');
    const others: Record<string, FakeSession> = {};
    for (const u of ['bob', 'carol', 'dave', 'eve', 'frank']) {
      others[u] = await online(w, `${u}@${HOST}/r`, `<presence><status>${u} here</status></presence>`);
    }
    for (const s of Object.values(others)) s.take();
    const alice = await w.connect(`alice@${HOST}/a`);
    await alice.inject('<presence><show>chat</show><status>hello</status></presence>');
    const saw = (u: string) => presences(others[u]!.take()).filter((p) => p.attrs.from === 'alice@example.org/a');
    assert.equal(saw('bob').length, 1);
    assert.equal(saw('dave').length, 1);
    assert.equal(saw('carol').length, 0, 'carol has no subscription to alice');
    assert.equal(saw('eve').length, 0);
    assert.equal(saw('frank').length, 0, 'a stranger sees nothing');
    const got = alice.take();
    // The answers to alice's probes: bob and carol (alice is subscribed to them), plus her own echo.
    assert.deepEqual(froms(got), ['alice@example.org/a', 'bob@example.org/r', 'carol@example.org/r']);
    const bobs = presences(got).find((p) => p.attrs.from === 'bob@example.org/r')!;
    assert.equal(bobs.attrs.to, 'alice@example.org/a');
    assert.equal(bobs.getChildText('status'), 'bob here');
    const delay = bobs.getChild('delay', 'urn:xmpp:delay');
    assert.ok(delay, 'a probe answer says when the presence was sent (XEP-0203)');
    assert.match(delay!.attrs.stamp!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    assert.equal(delay!.attrs.from, 'example.org');
  });

  test('show, status, priority and unknown extensions pass through untouched; subsequent presence sends no probes', async () => {
    const w = await world(MODULES);
    await w.connect(`alice@${HOST}/tmp`).then((s) => w.router.sessions.remove(s));
    await w.connect(`bob@${HOST}/tmp`).then((s) => w.router.sessions.remove(s));
    await friends(w, 'alice', 'bob');
    const bob = await online(w, `bob@${HOST}/b`);
    const alice = await online(w, `alice@${HOST}/a`);
    bob.take();
    alice.take();
    const signed = "<x xmlns='jabber:x:signed'>iQEcBAEBAgAGBQJTc2lnbmVk</x>";
    const caps = "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='v'/>";
    await alice.inject(`<presence id='p2'><show>away</show><status>out</status><priority>3</priority>${signed}${caps}</presence>`);
    const [p] = presences(bob.take());
    assert.equal(p!.attrs.from, 'alice@example.org/a');
    assert.equal(p!.attrs.to, 'bob@example.org');
    assert.equal(p!.getChildText('show'), 'away');
    assert.equal(p!.getChildText('status'), 'out');
    assert.equal(p!.getChildText('priority'), '3');
    assert.equal(p!.getChild('x', 'jabber:x:signed')!.getText(), 'iQEcBAEBAgAGBQJTc2lnbmVk');
    assert.ok(p!.getChild('c', 'http://jabber.org/protocol/caps'));
    const mine = alice.take();
    assert.equal(presences(mine, 'probe').length, 0);
    assert.deepEqual(froms(mine), ['alice@example.org/a'], 'only the echo: no probe answers the second time');
  });

  test('two resources with priorities 5 and 1: contacts see both, and the unavailable of the one that leaves', async () => {
    const w = await world(MODULES);
    await w.connect(`alice@${HOST}/tmp`).then((s) => w.router.sessions.remove(s));
    await w.connect(`bob@${HOST}/tmp`).then((s) => w.router.sessions.remove(s));
    await friends(w, 'alice', 'bob');
    const bob = await online(w, `bob@${HOST}/b`);
    bob.take();
    const a5 = await online(w, `alice@${HOST}/five`, '<presence><priority>5</priority></presence>');
    const a1 = await online(w, `alice@${HOST}/one`, '<presence><priority>1</priority></presence>');
    assert.deepEqual(froms(bob.take()), ['alice@example.org/five', 'alice@example.org/one']);
    // The second resource learned of the first, and the first of the second.
    assert.deepEqual(froms(a1.take()), ['alice@example.org/five', 'alice@example.org/one', 'bob@example.org/b']);
    assert.ok(froms(a5.take()).includes('alice@example.org/one'));
    // Messages to the bare JID now prefer priority 5 (the router reads what presence set).
    assert.equal(a5.priority, 5);
    await a5.inject("<presence type='unavailable'><status>bye</status></presence>");
    const left = presences(bob.take(), 'unavailable');
    assert.deepEqual(left.map((p) => p.attrs.from), ['alice@example.org/five']);
    assert.equal(left[0]!.getChildText('status'), 'bye');
    assert.deepEqual(froms(a1.take(), 'unavailable'), ['alice@example.org/five'], 'the other resource hears it too');
    assert.deepEqual(froms(a5.take(), 'unavailable'), ['alice@example.org/five'], 'and the sender gets its echo');
    // The remaining resource drops without a goodbye.
    await drop(w, a1);
    assert.deepEqual(froms(bob.take(), 'unavailable'), ['alice@example.org/one']);
  });

  test('a dropped connection of an available resource sends unavailable; of a never-available one, nothing', async () => {
    const w = await world(MODULES);
    await w.connect(`alice@${HOST}/tmp`).then((s) => w.router.sessions.remove(s));
    await w.connect(`bob@${HOST}/tmp`).then((s) => w.router.sessions.remove(s));
    await friends(w, 'alice', 'bob');
    const bob = await online(w, `bob@${HOST}/b`);
    bob.take();
    const quiet = await w.connect(`alice@${HOST}/quiet`);
    await drop(w, quiet);
    assert.deepEqual(bob.take(), []);
    const alice = await online(w, `alice@${HOST}/a`);
    bob.take();
    await drop(w, alice);
    const [gone] = presences(bob.take(), 'unavailable');
    assert.equal(gone!.attrs.from, 'alice@example.org/a');
    assert.equal(gone!.attrs.to, 'bob@example.org');
    // After an explicit unavailable the drop adds nothing.
    const again = await online(w, `alice@${HOST}/b`);
    await again.inject("<presence type='unavailable'/>");
    bob.take();
    await drop(w, again);
    assert.deepEqual(bob.take(), []);
  });

  test('a connection that drops while its initial presence is still going out ends unavailable at the contacts', async () => {
    const w = await world(MODULES);
    await w.connect(`alice@${HOST}/tmp`).then((s) => w.router.sessions.remove(s));
    await w.connect(`bob@${HOST}/tmp`).then((s) => w.router.sessions.remove(s));
    await friends(w, 'alice', 'bob');
    const bob = await online(w, `bob@${HOST}/b`);
    bob.take();
    const alice = await w.connect(`alice@${HOST}/a`);
    const sending = alice.inject('<presence/>');
    await drop(w, alice);
    await sending;
    const fromAlice = bob.take().filter((p) => p.name === 'presence' && p.attrs.from === 'alice@example.org/a');
    assert.deepEqual(fromAlice.map((p) => p.attrs.type ?? 'available'), ['available', 'unavailable']);
  });

  test('directed presence reaches non-contacts and is followed by unavailable (§4.6)', async () => {
    const w = await world(MODULES);
    await w.connect(`alice@${HOST}/tmp`).then((s) => w.router.sessions.remove(s));
    await w.connect(`bob@${HOST}/tmp`).then((s) => w.router.sessions.remove(s));
    await friends(w, 'alice', 'bob');
    const bob = await online(w, `bob@${HOST}/b`);
    const stranger = await online(w, `stranger@${HOST}/s`);
    const room = await online(w, `room@${HOST}/r`);
    const alice = await online(w, `alice@${HOST}/a`);
    for (const s of [bob, stranger, room]) s.take();
    await alice.inject("<presence to='stranger@example.org/s'><status>psst</status></presence>");
    await alice.inject("<presence to='room@example.org'/>");
    await alice.inject("<presence to='bob@example.org/b'><status>just for you</status></presence>");
    assert.equal(presences(stranger.take())[0]!.getChildText('status'), 'psst');
    assert.deepEqual(froms(room.take()), ['alice@example.org/a'], 'to a bare JID: every available resource');
    assert.equal(presences(bob.take()).length, 1);
    await drop(w, alice);
    assert.deepEqual(froms(stranger.take(), 'unavailable'), ['alice@example.org/a']);
    assert.deepEqual(froms(room.take(), 'unavailable'), ['alice@example.org/a']);
    assert.equal(presences(bob.take(), 'unavailable').length, 1, 'a contact gets one unavailable, not two');
  });

  test('a directed unavailable ends the tracking; directed presence before initial presence is not tracked', async () => {
    const w = await world(MODULES);
    const other = await online(w, `other@${HOST}/o`);
    other.take();
    const alice = await w.connect(`alice@${HOST}/a`);
    await alice.inject("<presence to='other@example.org/o'/>");
    assert.equal(presences(other.take()).length, 1, 'delivered even before initial presence');
    await alice.inject('<presence/>');
    await alice.inject("<presence type='unavailable'/>");
    assert.deepEqual(other.take(), [], 'not remembered while alice was not available');
    await alice.inject('<presence/>');
    await alice.inject("<presence to='other@example.org/o'/>");
    await alice.inject("<presence to='other@example.org/o' type='unavailable'/>");
    other.take();
    await drop(w, alice);
    assert.deepEqual(other.take(), []);
  });

  test('directed presence to one\'s own other resource is not counted twice', async () => {
    const w = await world(MODULES);
    const a = await online(w, `alice@${HOST}/a`);
    const b = await online(w, `alice@${HOST}/b`);
    await a.inject("<presence to='alice@example.org/b'><status>hi me</status></presence>");
    b.take();
    await drop(w, a);
    assert.deepEqual(froms(b.take(), 'unavailable'), ['alice@example.org/a']);
  });

  test('presence to a missing user or resource disappears without an error', async () => {
    const w = await world(MODULES);
    const alice = await online(w, `alice@${HOST}/a`);
    alice.take();
    await alice.inject("<presence to='nobody@example.org'/>");
    await alice.inject("<presence to='nobody@example.org/x'/>");
    await alice.inject("<presence to='alice@example.org/gone'/>");
    assert.deepEqual(alice.take(), []);
  });

  test('probes: a subscriber gets the current presence; anyone else learns nothing, whether the account exists or not', async () => {
    const w = await world(MODULES);
    await w.connect(`alice@${HOST}/tmp`).then((s) => w.router.sessions.remove(s));
    await w.connect(`bob@${HOST}/tmp`).then((s) => w.router.sessions.remove(s));
    await friends(w, 'alice', 'bob', 'to');
    const bob = await online(w, `bob@${HOST}/b`, '<presence><show>xa</show></presence>');
    const alice = await w.connect(`alice@${HOST}/a`);
    const mallory = await w.connect(`mallory@${HOST}/m`);
    await alice.inject("<presence to='bob@example.org' type='probe'/>");
    const [answer] = presences(alice.take());
    assert.equal(answer!.attrs.from, 'bob@example.org/b');
    assert.equal(answer!.getChildText('show'), 'xa');
    await mallory.inject("<presence to='bob@example.org' type='probe'/>");
    await mallory.inject("<presence to='nobody@example.org' type='probe'/>");
    // The 'unsubscribed' answer goes to mallory's server, which (A.3.4, state None)
    // does not deliver it: the client sees the same nothing for both.
    assert.deepEqual(mallory.take(), []);
    bob.take();
    // A probe addressed to a resource concerns the account all the same.
    await mallory.inject("<presence to='bob@example.org/b' type='probe'/>");
    assert.deepEqual(mallory.take(), []);
    assert.deepEqual(bob.take(), [], 'probes are the server\'s business, never delivered');
  });

  test('the probe of an unsubscribed contact repairs a stale "to" on the prober\'s roster', async () => {
    const w = await world(MODULES);
    await w.connect(`bob@${HOST}/tmp`).then((s) => w.router.sessions.remove(s));
    await w.connect(`alice@${HOST}/tmp`).then((s) => w.router.sessions.remove(s));
    await setRoster(w, 'alice', { 'bob@example.org': 'to' });
    const bob = await online(w, `bob@${HOST}/b`);
    bob.take();
    const alice = await online(w, `alice@${HOST}/a`);
    assert.equal(presences(alice.take()).filter((p) => p.attrs.from === 'bob@example.org/b').length, 0);
    const stored = await w.storage.keyval<Roster>('roster', rosterCodec()).get(HOST, 'alice');
    assert.equal(stored!.items.get('bob@example.org')!.subscription, 'none');
    assert.equal(presences(bob.take()).length, 0);
  });
});
