// Offline messages (XEP-0160, RFC 6121 §8.5.2) with XEP-0203 stamps, without sockets.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { world, type FakeSession, type TestWorld } from './harness/fake-session.js';
import { MODULES } from '../src/main.js';
import type { Element } from '../src/xml/element.js';
import { NS_DELAY } from '../src/modules/xep0203-delay.js';

const condition = (el: Element) => (el.getChild('error')?.children[0] as Element | undefined)?.name;
const messages = (s: FakeSession) => s.take().filter((el) => el.name === 'message');
const bodies = (els: Element[]) => els.map((m) => m.getChildText('body'));
const stored = (w: TestWorld, user: string) => w.storage.list('offline').readAll('example.org', user);

/** Alice online; bob has an account but no session. */
async function setup() {
  const w = await world(MODULES);
  const alice = await w.connect('alice@example.org/a');
  const bob = await w.connect('bob@example.org/phone');
  w.router.sessions.remove(bob);
  return { w, alice, bob };
}

/** Bob comes back with a new session. */
async function reconnect(w: TestWorld, resource = 'laptop') {
  return w.connect(`bob@example.org/${resource}`);
}

describe('offline messages', () => {
  test('are stored with a delay stamp and delivered in order on available presence, then removed', async () => {
    const { w, alice } = await setup();
    const before = Date.now();
    for (const n of [1, 2, 3]) await alice.inject(`<message id='m${n}' to='bob@example.org' type='chat'><body>hello ${n}</body></message>`);
    assert.deepEqual(alice.take(), [], 'no error goes back to the sender');
    assert.equal((await stored(w, 'bob')).length, 3);

    const bob = await reconnect(w);
    await bob.inject('<presence/>');
    const got = messages(bob);
    assert.deepEqual(bodies(got), ['hello 1', 'hello 2', 'hello 3']);
    for (const m of got) {
      assert.equal(m.attrs.from, 'alice@example.org/a');
      assert.equal(m.attrs.to, 'bob@example.org');
      const d = m.getChild('delay', NS_DELAY)!;
      assert.equal(d.attrs.from, 'example.org');
      assert.equal(d.getText(), 'Offline Storage');
      assert.match(d.attrs.stamp!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
      const t = Date.parse(d.attrs.stamp!);
      assert.ok(t >= before - 1000 && t <= Date.now());
    }
    assert.deepEqual(await stored(w, 'bob'), []);
    await bob.inject('<presence><show>away</show></presence>');
    assert.deepEqual(messages(bob), [], 'nothing is delivered twice');
  });

  test('a normal message to a resource that is gone is stored for the bare JID', async () => {
    const { w, alice } = await setup();
    await alice.inject("<message to='bob@example.org/phone'><body>to the phone</body></message>");
    const [m] = await stored(w, 'bob');
    assert.equal(m!.attrs.to, 'bob@example.org');
  });

  test('negative priority gets nothing; messages stay stored until a non-negative presence', async () => {
    const { w, alice } = await setup();
    await alice.inject("<message to='bob@example.org' type='chat'><body>one</body></message>");
    const bob = await reconnect(w);
    await bob.inject('<presence><priority>-1</priority></presence>');
    assert.deepEqual(messages(bob), []);
    // RFC 6121 §8.5.2.1.1: a negative-priority resource never gets bare-JID messages, so they are stored.
    await alice.inject("<message to='bob@example.org' type='chat'><body>two</body></message>");
    assert.deepEqual(messages(bob), []);
    assert.equal((await stored(w, 'bob')).length, 2);
    await bob.inject('<presence><priority>0</priority></presence>');
    assert.deepEqual(bodies(messages(bob)), ['one', 'two']);
  });

  test('headline, groupchat and error messages are not stored', async () => {
    const { w, alice } = await setup();
    await alice.inject("<message to='bob@example.org' type='headline'><body>news</body></message>");
    await alice.inject("<message to='bob@example.org' type='error'><error type='cancel'/></message>");
    assert.deepEqual(alice.take(), []);
    await alice.inject("<message id='g' to='bob@example.org' type='groupchat'><body>room</body></message>");
    assert.equal(condition(alice.take()[0]!), 'service-unavailable');
    assert.deepEqual(await stored(w, 'bob'), []);
  });

  test('chat states alone are dropped silently; a no-store hint is refused', async () => {
    const { w, alice } = await setup();
    await alice.inject("<message to='bob@example.org' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>");
    assert.deepEqual(alice.take(), []);
    await alice.inject("<message id='h' to='bob@example.org' type='chat'><body>x</body><no-store xmlns='urn:xmpp:hints'/></message>");
    assert.equal(condition(alice.take()[0]!), 'service-unavailable');
    // A chat state with a body is a message.
    await alice.inject("<message to='bob@example.org' type='chat'><body>hi</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>");
    assert.deepEqual(bodies(await stored(w, 'bob')), ['hi']);
  });

  test('a full store refuses with service-unavailable and a text, storing nothing', async () => {
    const { w, alice } = await setup();
    w.config.offline.max_messages = 2;
    for (const n of [1, 2, 3]) await alice.inject(`<message id='m${n}' to='bob@example.org'><body>${n}</body></message>`);
    const [err, ...rest] = alice.take();
    assert.deepEqual(rest, []);
    assert.equal(err!.attrs.id, 'm3');
    assert.equal(err!.attrs.type, 'error');
    assert.equal(err!.attrs.from, 'bob@example.org');
    assert.equal(condition(err!), 'service-unavailable');
    assert.match(err!.getChild('error')!.getChildText('text')!, /cannot take more/);
    assert.deepEqual(bodies(await stored(w, 'bob')), ['1', '2']);
    w.config.offline.max_messages = 0;
    await alice.inject("<message id='z' to='carol@example.org'><body>x</body></message>");
    // carol does not exist: the router's answer, not ours.
    assert.equal(condition(alice.take()[0]!), 'service-unavailable');
  });

  test('a delay stamp claiming to be the server\'s is replaced; others are kept', async () => {
    const { w, alice } = await setup();
    await alice.inject(`<message to='bob@example.org'><body>x</body>
      <delay xmlns='${NS_DELAY}' from='example.org' stamp='2000-01-01T00:00:00Z'/>
      <delay xmlns='${NS_DELAY}' from='alice@example.org/a' stamp='2001-01-01T00:00:00Z'/></message>`);
    const delays = (await stored(w, 'bob'))[0]!.getChildren('delay', NS_DELAY);
    assert.equal(delays.length, 2);
    assert.deepEqual(delays.map((d) => d.attrs.from), ['alice@example.org/a', 'example.org']);
    assert.notEqual(delays[1]!.attrs.stamp, '2000-01-01T00:00:00Z');
  });

  test('a new message waits for the stored ones being delivered, so it cannot overtake them', async () => {
    const { w, alice } = await setup();
    await alice.inject("<message to='bob@example.org' type='chat'><body>old</body></message>");
    const bob = await reconnect(w);
    // Not awaited in between: the new message arrives while delivery reads the store.
    await Promise.all([
      bob.inject('<presence/>'),
      alice.inject("<message to='bob@example.org' type='chat'><body>new</body></message>"),
    ]);
    assert.deepEqual(bodies(messages(bob)), ['old', 'new']);
    assert.deepEqual(await stored(w, 'bob'), []);
  });

  test('stored messages stay when the session is gone before delivery', async () => {
    const { w, alice } = await setup();
    await alice.inject("<message to='bob@example.org'><body>keep me</body></message>");
    const bob = await reconnect(w);
    const presence = bob.inject('<presence/>');
    w.router.sessions.remove(bob);
    await presence;
    assert.deepEqual(messages(bob), []);
    assert.deepEqual(bodies(await stored(w, 'bob')), ['keep me']);
  });

  test('two resources coming online at once get each message exactly once between them', async () => {
    const { w, alice } = await setup();
    for (const n of [1, 2]) await alice.inject(`<message to='bob@example.org'><body>${n}</body></message>`);
    const one = await reconnect(w, 'one');
    const two = await reconnect(w, 'two');
    await Promise.all([one.inject('<presence/>'), two.inject('<presence/>')]);
    assert.deepEqual(bodies([...messages(one), ...messages(two)]), ['1', '2']);
  });

  test('deleting the account deletes its stored messages', async () => {
    const { w, alice } = await setup();
    await alice.inject("<message to='bob@example.org'><body>x</body></message>");
    assert.equal(await w.context.accounts.remove('example.org', 'bob'), true);
    assert.deepEqual(await stored(w, 'bob'), []);
  });

  test('announces msgoffline', async () => {
    const { w } = await setup();
    assert.ok(w.context.disco.features.has('msgoffline'));
  });
});
