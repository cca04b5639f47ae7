// User data and small server queries without sockets: vCards (XEP-0054), private
// XML (XEP-0049), last activity (XEP-0012), entity time (XEP-0202, XEP-0090), the
// legacy service lists (XEP-0094, XEP-0011) and OpenPGP pass-through (XEP-0027).
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'ltx';
import { world, type FakeSession, type TestWorld } from './harness/fake-session.js';
import { MODULES } from '../src/main.js';
import { defineModule, type ModuleDefinition } from '../src/router/module-api.js';
import type { Subscription } from '../src/router/services.js';
import type { Element } from '../src/xml/element.js';
import type { Codec } from '../src/storage/types.js';
import { MAX_VCARD_BYTES } from '../src/modules/xep0054-vcard.js';
import { MAX_PRIVATE_BYTES } from '../src/modules/xep0049-private.js';

const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

function condition(el: Element): string | undefined {
  return el.getChild('error')?.getChildElements().find((c) => c.attrs.xmlns === NS_STANZAS && c.name !== 'text')?.name;
}
function errorText(el: Element): string | undefined {
  return el.getChild('error')?.getChildText('text', NS_STANZAS) ?? undefined;
}

/** Sends one stanza and returns the single reply. */
async function ask(s: FakeSession, xml: string): Promise<Element> {
  await s.inject(xml);
  const out = s.take();
  assert.equal(out.length, 1, `one reply expected to ${xml.slice(0, 120)}, got ${out.map(String).join(' | ')}`);
  return out[0]!;
}

/** The raw element a key holds under the user's <user/>, read past the module. */
function rawStore(w: TestWorld, name: string, xmlns: string) {
  const codec: Codec<Element> = { encode: (e) => e, decode: (e) => e, match: (e) => e.name === name && e.attrs.xmlns === xmlns };
  return w.storage.keyval<Element>(`probe-${name}-${xmlns}`, codec);
}

/** A roster that answers subscription(user, contact) from a table, recording the questions. */
function fakeRoster(table: Record<string, Subscription>, asked: string[] = []): ModuleDefinition {
  return defineModule({
    name: 'fake-roster',
    load(api) {
      api.provide('roster', {
        async subscription(user, contact) {
          const key = `${user.toString()} -> ${contact.toString()}`;
          asked.push(key);
          return table[key] ?? 'none';
        },
        async setItem() {},
      });
    },
  });
}
const WITHOUT_ROSTER = MODULES.filter((m) => m.name !== 'roster');

/** What the c2s layer does when a connection ends. */
async function disconnect(w: TestWorld, s: FakeSession): Promise<void> {
  w.router.sessions.remove(s);
  await w.router.lifecycle.fire('session/closed', s);
}

const VCARD = "<vCard xmlns='vcard-temp'><FN>Alice Liddell</FN><NICKNAME>alice</NICKNAME><N><FAMILY>Liddell</FAMILY><GIVEN>Alice</GIVEN></N></vCard>";

describe('XEP-0054 vcard-temp', () => {
  test('a user sets and gets their vCard, with or without their bare JID as to', async () => {
    const w = await world(MODULES);
    const a = await w.connect('alice@example.org/home');
    const set = await ask(a, `<iq type='set' id='v1'>${VCARD}</iq>`);
    assert.equal(set.attrs.type, 'result');
    assert.equal(set.attrs.id, 'v1');
    assert.equal(set.getChildElements().length, 0, 'an empty result');
    for (const to of ['', " to='alice@example.org'"]) {
      const got = await ask(a, `<iq type='get' id='v2'${to}><vCard xmlns='vcard-temp'/></iq>`);
      assert.equal(got.attrs.type, 'result');
      const card = got.getChild('vCard', 'vcard-temp')!;
      assert.equal(card.getChildText('FN'), 'Alice Liddell');
      assert.equal(card.getChild('N')!.getChildText('GIVEN'), 'Alice');
    }
    // Stored as the XEP-0227 element itself.
    const raw = await rawStore(w, 'vCard', 'vcard-temp').get('example.org', 'alice');
    assert.equal(raw?.getChildText('NICKNAME'), 'alice');
  });

  test('without a vCard the owner gets an empty one; a set replaces, an empty set removes', async () => {
    const w = await world(MODULES);
    const a = await w.connect('alice@example.org/home');
    const b = await w.connect('bob@example.org/desk');
    const empty = await ask(a, "<iq type='get' id='e'><vCard xmlns='vcard-temp'/></iq>");
    assert.equal(empty.attrs.type, 'result');
    assert.equal(empty.getChild('vCard', 'vcard-temp')!.getChildElements().length, 0);
    await ask(a, `<iq type='set' id='s1'>${VCARD}</iq>`);
    await ask(a, "<iq type='set' id='s2'><vCard xmlns='vcard-temp'><FN>Alice</FN></vCard></iq>");
    const after = (await ask(b, "<iq type='get' id='g' to='alice@example.org'><vCard xmlns='vcard-temp'/></iq>")).getChild('vCard')!;
    assert.equal(after.getChildText('FN'), 'Alice');
    assert.equal(after.getChild('NICKNAME'), undefined, 'the whole vCard is replaced, not merged');
    await ask(a, "<iq type='set' id='s3'><vCard xmlns='vcard-temp'>\n  </vCard></iq>");
    assert.equal(await rawStore(w, 'vCard', 'vcard-temp').get('example.org', 'alice'), undefined);
    assert.equal(condition(await ask(b, "<iq type='get' id='g2' to='alice@example.org'><vCard xmlns='vcard-temp'/></iq>")), 'service-unavailable');
  });

  test("anyone reads another user's vCard from the server; the user's resources see nothing", async () => {
    const w = await world(MODULES);
    const a = await w.connect('alice@example.org/home');
    const b = await w.connect('bob@example.org/desk');
    await ask(a, `<iq type='set' id='v1'>${VCARD}</iq>`);
    const r = await ask(b, "<iq type='get' id='peek' to='alice@example.org'><vCard xmlns='vcard-temp'/></iq>");
    assert.equal(r.attrs.type, 'result');
    assert.equal(r.attrs.from, 'alice@example.org');
    assert.equal(r.attrs.to, 'bob@example.org/desk');
    assert.equal(r.getChild('vCard', 'vcard-temp')!.getChildText('FN'), 'Alice Liddell');
    assert.equal(a.take().length, 0, '§3.3: the server answers and does not forward the iq');
  });

  test('no vCard and no such user get the same error: service-unavailable (§3.3, against harvesting)', async () => {
    const w = await world(MODULES);
    const b = await w.connect('bob@example.org/desk');
    await w.connect('carol@example.org/x');
    const none = await ask(b, "<iq type='get' id='1' to='carol@example.org'><vCard xmlns='vcard-temp'/></iq>");
    const ghost = await ask(b, "<iq type='get' id='2' to='nobody@example.org'><vCard xmlns='vcard-temp'/></iq>");
    assert.equal(condition(none), 'service-unavailable');
    assert.equal(condition(ghost), 'service-unavailable');
    assert.equal(none.getChild('error')!.toString(), ghost.getChild('error')!.toString());
  });

  test("setting another user's or the server's vCard is forbidden and changes nothing", async () => {
    const w = await world(MODULES);
    const a = await w.connect('alice@example.org/home');
    const b = await w.connect('bob@example.org/desk');
    await ask(a, `<iq type='set' id='v1'>${VCARD}</iq>`);
    const r = await ask(b, "<iq type='set' id='evil' to='alice@example.org'><vCard xmlns='vcard-temp'><FN>Mallory</FN></vCard></iq>");
    assert.equal(r.attrs.type, 'error');
    assert.equal(condition(r), 'forbidden');
    assert.equal(r.getChild('error')!.attrs.type, 'auth');
    assert.equal(condition(await ask(b, "<iq type='set' id='h' to='example.org'><vCard xmlns='vcard-temp'><FN>X</FN></vCard></iq>")), 'forbidden');
    const still = await rawStore(w, 'vCard', 'vcard-temp').get('example.org', 'alice');
    assert.equal(still?.getChildText('FN'), 'Alice Liddell');
  });

  test('the server has no vCard: item-not-found', async () => {
    const w = await world(MODULES);
    const a = await w.connect('alice@example.org/home');
    const r = await ask(a, "<iq type='get' id='sv' to='example.org'><vCard xmlns='vcard-temp'/></iq>");
    assert.equal(r.attrs.from, 'example.org');
    assert.equal(condition(r), 'item-not-found');
  });

  test(`a vCard up to ${MAX_VCARD_BYTES} bytes is stored; a larger one is refused with a reason`, async () => {
    const w = await world(MODULES);
    const a = await w.connect('alice@example.org/home');
    await ask(a, `<iq type='set' id='v1'>${VCARD}</iq>`);
    const shell = "<vCard xmlns='vcard-temp'><DESC></DESC></vCard>";
    const fits = `<vCard xmlns='vcard-temp'><DESC>${'a'.repeat(MAX_VCARD_BYTES - shell.length)}</DESC></vCard>`;
    assert.equal(Buffer.byteLength(fits), MAX_VCARD_BYTES);
    assert.equal((await ask(a, `<iq type='set' id='fit'>${fits}</iq>`)).attrs.type, 'result');
    // One byte more (a two-byte character in place of one) is too much: bytes count, not characters.
    const over = `<vCard xmlns='vcard-temp'><DESC>é${'a'.repeat(MAX_VCARD_BYTES - shell.length - 1)}</DESC></vCard>`;
    const r = await ask(a, `<iq type='set' id='over'>${over}</iq>`);
    assert.equal(condition(r), 'not-acceptable');
    assert.match(errorText(r) ?? '', new RegExp(`${MAX_VCARD_BYTES + 1} bytes.*${MAX_VCARD_BYTES}`));
    const stored = await rawStore(w, 'vCard', 'vcard-temp').get('example.org', 'alice');
    assert.equal(stored?.getChildText('DESC')?.length, MAX_VCARD_BYTES - shell.length, 'the fitting vCard stays');
  });

  test('a 1 MiB vCard fails cleanly and the session carries on', async () => {
    const w = await world(MODULES);
    const a = await w.connect('alice@example.org/home');
    await ask(a, `<iq type='set' id='v1'>${VCARD}</iq>`);
    const photo = 'QUJD'.repeat(256 * 1024);
    const r = await ask(a, `<iq type='set' id='huge'><vCard xmlns='vcard-temp'><PHOTO><TYPE>image/png</TYPE><BINVAL>${photo}</BINVAL></PHOTO></vCard></iq>`);
    assert.equal(r.attrs.id, 'huge');
    assert.equal(condition(r), 'not-acceptable');
    assert.equal(a.closedWith, null);
    assert.equal((await ask(a, "<iq type='get' id='p' to='example.org'><ping xmlns='urn:xmpp:ping'/></iq>")).attrs.type, 'result');
    const got = await ask(a, "<iq type='get' id='v2'><vCard xmlns='vcard-temp'/></iq>");
    assert.equal(got.getChild('vCard')!.getChildText('FN'), 'Alice Liddell');
  });

  test('vcard-temp is announced in disco#info', async () => {
    const w = await world(MODULES);
    const a = await w.connect('alice@example.org/home');
    const r = await ask(a, "<iq type='get' id='d' to='example.org'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
    const features = r.getChild('query')!.getChildren('feature').map((f) => f.attrs.var);
    for (const ns of ['vcard-temp', 'jabber:iq:private', 'jabber:iq:last', 'urn:xmpp:time', 'jabber:iq:time', 'jabber:iq:agents', 'jabber:iq:browse']) {
      assert.ok(features.includes(ns), `${ns} in disco#info`);
    }
  });
});

describe('XEP-0049 private XML storage', () => {
  const prefs = "<exodus xmlns='exodus:prefs'><defaultnick>Hamlet</defaultnick></exodus>";

  test('set, then get by namespace; a namespace never stored comes back empty', async () => {
    const w = await world(MODULES);
    const h = await w.connect('hamlet@example.org/denmark');
    const set = await ask(h, `<iq type='set' id='1001'><query xmlns='jabber:iq:private'>${prefs}</query></iq>`);
    assert.equal(set.attrs.type, 'result');
    const got = await ask(h, "<iq type='get' id='1002'><query xmlns='jabber:iq:private'><exodus xmlns='exodus:prefs'/></query></iq>");
    const frag = got.getChild('query', 'jabber:iq:private')!.getChild('exodus', 'exodus:prefs')!;
    assert.equal(frag.getChildText('defaultnick'), 'Hamlet');
    const other = await ask(h, "<iq type='get' id='1003' to='hamlet@example.org'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>");
    const children = other.getChild('query')!.getChildElements();
    assert.equal(children.length, 1);
    assert.equal(children[0]!.toString(), "<storage xmlns=\"storage:bookmarks\"/>");
    const raw = await rawStore(w, 'query', 'jabber:iq:private').get('example.org', 'hamlet');
    assert.equal(raw?.getChild('exodus', 'exodus:prefs')?.getChildText('defaultnick'), 'Hamlet', 'stored in its XEP-0227 form');
  });

  test('several elements of one namespace are kept together and replaced together; others stay', async () => {
    const w = await world(MODULES);
    const h = await w.connect('hamlet@example.org/denmark');
    await ask(h, `<iq type='set' id='a'><query xmlns='jabber:iq:private'>${prefs}<note xmlns='urn:example:notes'>one</note><note xmlns='urn:example:notes'>two</note></query></iq>`);
    const notes = async () => (await ask(h, "<iq type='get' id='n'><query xmlns='jabber:iq:private'><note xmlns='urn:example:notes'/></query></iq>"))
      .getChild('query')!.getChildren('note', 'urn:example:notes').map((n) => n.getText());
    assert.deepEqual(await notes(), ['one', 'two']);
    await ask(h, "<iq type='set' id='b'><query xmlns='jabber:iq:private'><note xmlns='urn:example:notes'>three</note></query></iq>");
    assert.deepEqual(await notes(), ['three']);
    const p = await ask(h, "<iq type='get' id='p'><query xmlns='jabber:iq:private'><exodus xmlns='exodus:prefs'/></query></iq>");
    assert.equal(p.getChild('query')!.getChild('exodus')!.getChildText('defaultnick'), 'Hamlet');
  });

  test('reserved namespaces and fragments without their own namespace are not-acceptable, and nothing is stored', async () => {
    const w = await world(MODULES);
    const h = await w.connect('hamlet@example.org/denmark');
    const cases = [
      "<query xmlns='jabber:iq:roster'/>",
      "<query xmlns='jabber:iq:private'/>",
      '<orphan/>', // inherits jabber:iq:private from <query/>
      "<vCard xmlns='vcard-temp'><FN>Hamlet</FN></vCard>",
      "<x xmlns='http://jabber.org/protocol/muc'/>",
    ];
    for (const c of cases) {
      for (const type of ['set', 'get']) {
        const r = await ask(h, `<iq type='${type}' id='r'><query xmlns='jabber:iq:private'>${c}</query></iq>`);
        assert.equal(condition(r), 'not-acceptable', `${type} ${c}`);
        assert.equal(r.getChild('error')!.attrs.type, 'modify');
      }
    }
    // One bad fragment spoils the whole set.
    const mixed = await ask(h, `<iq type='set' id='m'><query xmlns='jabber:iq:private'>${prefs}<query xmlns='jabber:iq:roster'/></query></iq>`);
    assert.equal(condition(mixed), 'not-acceptable');
    assert.equal(await rawStore(w, 'query', 'jabber:iq:private').get('example.org', 'hamlet'), undefined);
  });

  test('an empty query is not-acceptable; a get for two namespaces is a bad request', async () => {
    const w = await world(MODULES);
    const h = await w.connect('hamlet@example.org/denmark');
    for (const type of ['get', 'set']) {
      assert.equal(condition(await ask(h, `<iq type='${type}' id='e'><query xmlns='jabber:iq:private'/></iq>`)), 'not-acceptable');
    }
    const two = await ask(h, "<iq type='get' id='t'><query xmlns='jabber:iq:private'><a xmlns='urn:a'/><b xmlns='urn:b'/></query></iq>");
    assert.equal(condition(two), 'bad-request');
  });

  test("another user's private data is forbidden to get and to set; so is the server's", async () => {
    const w = await world(MODULES);
    const h = await w.connect('hamlet@example.org/denmark');
    const m = await w.connect('macbeth@example.org/castle');
    await ask(h, `<iq type='set' id='1'><query xmlns='jabber:iq:private'>${prefs}</query></iq>`);
    const get = await ask(m, "<iq type='get' id='1003' to='hamlet@example.org'><query xmlns='jabber:iq:private'><exodus xmlns='exodus:prefs'/></query></iq>");
    assert.equal(condition(get), 'forbidden');
    assert.equal(get.getChild('query')?.getChild('exodus')?.getChildText('defaultnick') ?? null, null, 'no data leaks in the error');
    const set = await ask(m, "<iq type='set' id='1004' to='hamlet@example.org'><query xmlns='jabber:iq:private'><exodus xmlns='exodus:prefs'><defaultnick>Macbeth</defaultnick></exodus></query></iq>");
    assert.equal(condition(set), 'forbidden');
    for (const type of ['get', 'set']) {
      assert.equal(condition(await ask(m, `<iq type='${type}' id='s' to='example.org'><query xmlns='jabber:iq:private'>${prefs}</query></iq>`)), 'forbidden');
    }
    const mine = await ask(h, "<iq type='get' id='x'><query xmlns='jabber:iq:private'><exodus xmlns='exodus:prefs'/></query></iq>");
    assert.equal(mine.getChild('query')!.getChild('exodus')!.getChildText('defaultnick'), 'Hamlet');
    assert.equal(h.take().length, 0);
  });

  test('a fragment whose prefix is declared on <query/> keeps its namespace when stored', async () => {
    const w = await world(MODULES);
    const h = await w.connect('hamlet@example.org/denmark');
    await ask(h, "<iq type='set' id='1'><query xmlns='jabber:iq:private' xmlns:p='urn:example:p'><p:prefs><p:colour>blue</p:colour></p:prefs></query></iq>");
    const r = await ask(h, "<iq type='get' id='2'><query xmlns='jabber:iq:private'><prefs xmlns='urn:example:p'/></query></iq>");
    // Re-parse the reply as a client would: the declaration must travel with the fragment.
    const frag = parse(r.toString()).getChild('query')!.getChildElements()[0]!;
    assert.equal(frag.getNS(), 'urn:example:p');
    assert.equal(frag.getChildElements()[0]!.getNS(), 'urn:example:p');
    assert.equal(frag.getChildElements()[0]!.getText(), 'blue');
  });

  test('two resources saving different namespaces at the same time both keep their data', async () => {
    const w = await world(MODULES);
    const h1 = await w.connect('hamlet@example.org/one');
    const h2 = await w.connect('hamlet@example.org/two');
    await Promise.all([
      h1.inject("<iq type='set' id='a'><query xmlns='jabber:iq:private'><a xmlns='urn:a'>1</a></query></iq>"),
      h2.inject("<iq type='set' id='b'><query xmlns='jabber:iq:private'><b xmlns='urn:b'>2</b></query></iq>"),
    ]);
    assert.equal(h1.take()[0]!.attrs.type, 'result');
    assert.equal(h2.take()[0]!.attrs.type, 'result');
    const raw = await rawStore(w, 'query', 'jabber:iq:private').get('example.org', 'hamlet');
    assert.deepEqual(raw?.getChildElements().map((c) => c.attrs.xmlns).sort(), ['urn:a', 'urn:b']);
  });

  test(`private data is capped at ${MAX_PRIVATE_BYTES} bytes per user`, async () => {
    const w = await world(MODULES);
    const h = await w.connect('hamlet@example.org/denmark');
    const chunk = 'x'.repeat(200 * 1024);
    for (const n of [1, 2]) {
      assert.equal((await ask(h, `<iq type='set' id='${n}'><query xmlns='jabber:iq:private'><d xmlns='urn:d${n}'>${chunk}</d></query></iq>`)).attrs.type, 'result');
    }
    const r = await ask(h, `<iq type='set' id='3'><query xmlns='jabber:iq:private'><d xmlns='urn:d3'>${chunk}</d></query></iq>`);
    assert.equal(condition(r), 'not-acceptable');
    assert.ok(errorText(r)?.includes(String(MAX_PRIVATE_BYTES)));
    // Replacing a namespace counts the new size, not old plus new.
    assert.equal((await ask(h, `<iq type='set' id='4'><query xmlns='jabber:iq:private'><d xmlns='urn:d2'>${chunk}y</d></query></iq>`)).attrs.type, 'result');
    const raw = await rawStore(w, 'query', 'jabber:iq:private').get('example.org', 'hamlet');
    assert.deepEqual(raw?.getChildElements().map((c) => c.attrs.xmlns), ['urn:d1', 'urn:d2']);
  });
});

describe('XEP-0012 last activity', () => {
  const T0 = Date.UTC(2024, 4, 1, 12, 0, 0);
  const mockClock = (t: TestContext) => t.mock.timers.enable({ apis: ['Date'], now: T0 });

  test('the server answers its uptime in seconds', async (t) => {
    mockClock(t);
    const w = await world(MODULES);
    const a = await w.connect('alice@example.org/home');
    t.mock.timers.tick(123_456_700);
    const r = await ask(a, "<iq type='get' id='up' to='example.org'><query xmlns='jabber:iq:last'/></iq>");
    const q = r.getChild('query', 'jabber:iq:last')!;
    assert.equal(q.attrs.seconds, '123456');
    assert.equal(q.getText(), '', '§5: SHOULD NOT contain character data');
  });

  test('a subscribed contact learns how long ago the user logged out, with the last status', async (t) => {
    mockClock(t);
    const asked: string[] = [];
    const w = await world([...WITHOUT_ROSTER, fakeRoster({ 'juliet@example.org -> romeo@example.org': 'from' }, asked)]);
    const juliet = await w.connect('juliet@example.org/balcony');
    const romeo = await w.connect('romeo@example.org/orchard');
    await juliet.inject('<presence><status>Up here</status></presence>');
    await juliet.inject("<presence type='unavailable'><status>Heading Home</status></presence>");
    await disconnect(w, juliet);
    t.mock.timers.tick(903_000);
    asked.length = 0;
    const r = await ask(romeo, "<iq type='get' id='last1' to='juliet@example.org'><query xmlns='jabber:iq:last'/></iq>");
    assert.equal(r.attrs.type, 'result');
    assert.equal(r.attrs.from, 'juliet@example.org');
    const q = r.getChild('query', 'jabber:iq:last')!;
    assert.equal(q.attrs.seconds, '903');
    assert.equal(q.getText(), 'Heading Home');
    assert.deepEqual(asked, ['juliet@example.org -> romeo@example.org'], 'the subscription of the user to the requester');
    const raw = await rawStore(w, 'query', 'jabber:iq:last').get('example.org', 'juliet');
    assert.equal(raw?.attrs.stamp, new Date(T0).toISOString());
  });

  test("without a 'from' or 'both' subscription the answer is forbidden", async () => {
    const table: Record<string, Subscription> = {
      'juliet@example.org -> tybalt@example.org': 'to', // Juliet sees Tybalt, not the other way round
      'juliet@example.org -> nurse@example.org': 'both',
    };
    const w = await world([...WITHOUT_ROSTER, fakeRoster(table)]);
    const juliet = await w.connect('juliet@example.org/balcony');
    const tybalt = await w.connect('tybalt@example.org/street');
    const nurse = await w.connect('nurse@example.org/kitchen');
    const paris = await w.connect('paris@example.org/church');
    await disconnect(w, juliet);
    for (const s of [tybalt, paris]) {
      const r = await ask(s, "<iq type='get' id='l' to='juliet@example.org'><query xmlns='jabber:iq:last'/></iq>");
      assert.equal(condition(r), 'forbidden', s.jid.toString());
      assert.equal(r.getChild('error')!.attrs.type, 'auth');
    }
    const ok = await ask(nurse, "<iq type='get' id='l' to='juliet@example.org'><query xmlns='jabber:iq:last'/></iq>");
    assert.equal(ok.attrs.type, 'result');
    assert.equal(ok.getChild('query')!.getText(), '', 'no status given, no text');
  });

  test('an online user gives 0 seconds and no text; to the user themself as well', async () => {
    const w = await world([...WITHOUT_ROSTER, fakeRoster({ 'juliet@example.org -> romeo@example.org': 'both' })]);
    const juliet = await w.connect('juliet@example.org/balcony');
    const romeo = await w.connect('romeo@example.org/orchard');
    await juliet.inject("<presence type='unavailable'><status>bye</status></presence>");
    await disconnect(w, juliet);
    const back = await w.connect('juliet@example.org/garden');
    for (const [s, to] of [[romeo, " to='juliet@example.org'"], [back, ''], [back, " to='juliet@example.org'"]] as const) {
      const q = (await ask(s, `<iq type='get' id='o'${to}><query xmlns='jabber:iq:last'/></iq>`)).getChild('query', 'jabber:iq:last')!;
      assert.equal(q.attrs.seconds, '0');
      assert.equal(q.getText(), '');
    }
  });

  test('a logout is the end of the last session; the status given survives a later status-less unavailable', async (t) => {
    mockClock(t);
    const w = await world([...WITHOUT_ROSTER, fakeRoster({ 'juliet@example.org -> romeo@example.org': 'from' })]);
    const j1 = await w.connect('juliet@example.org/one');
    const j2 = await w.connect('juliet@example.org/two');
    const romeo = await w.connect('romeo@example.org/orchard');
    await j1.inject("<presence type='unavailable'><status>first</status></presence>");
    await disconnect(w, j1);
    assert.equal(await rawStore(w, 'query', 'jabber:iq:last').get('example.org', 'juliet'), undefined, 'still online: no write');
    t.mock.timers.tick(60_000);
    await j2.inject("<presence type='unavailable'><status>Good night</status></presence>");
    await j2.inject("<presence type='unavailable'/>");
    await disconnect(w, j2);
    t.mock.timers.tick(5_000);
    const q = (await ask(romeo, "<iq type='get' id='l' to='juliet@example.org'><query xmlns='jabber:iq:last'/></iq>")).getChild('query')!;
    assert.equal(q.attrs.seconds, '5');
    assert.equal(q.getText(), 'Good night');
  });

  test('a goodbye presence routed after the stream closed still sets the status', async (t) => {
    mockClock(t);
    const w = await world([...WITHOUT_ROSTER, fakeRoster({ 'juliet@example.org -> romeo@example.org': 'from' })]);
    const juliet = await w.connect('juliet@example.org/balcony');
    const romeo = await w.connect('romeo@example.org/orchard');
    await disconnect(w, juliet);
    t.mock.timers.tick(2_000);
    await juliet.inject("<presence type='unavailable'><status>Parting is such sweet sorrow</status></presence>");
    t.mock.timers.tick(8_000);
    const q = (await ask(romeo, "<iq type='get' id='l' to='juliet@example.org'><query xmlns='jabber:iq:last'/></iq>")).getChild('query')!;
    assert.equal(q.getText(), 'Parting is such sweet sorrow');
    assert.equal(q.attrs.seconds, '10', 'counted from the close');
  });

  test('with the real roster module: an approved subscriber may ask, the other direction may not', async () => {
    const w = await world(MODULES);
    const juliet = await w.connect('juliet@example.org/balcony');
    const romeo = await w.connect('romeo@example.org/orchard');
    await juliet.inject('<presence/>');
    await romeo.inject('<presence/>');
    // Romeo subscribes to Juliet's presence and she approves: her subscription to him is 'from'.
    await romeo.inject("<presence type='subscribe' to='juliet@example.org'/>");
    await juliet.inject("<presence type='subscribed' to='romeo@example.org'/>");
    await juliet.inject("<presence type='unavailable'><status>Good night</status></presence>");
    await disconnect(w, juliet);
    romeo.take();
    const q = (await ask(romeo, "<iq type='get' id='l' to='juliet@example.org'><query xmlns='jabber:iq:last'/></iq>")).getChild('query', 'jabber:iq:last');
    assert.equal(q?.getText(), 'Good night');
    await romeo.inject("<presence type='unavailable'/>");
    await disconnect(w, romeo);
    const back = await w.connect('juliet@example.org/garden');
    assert.equal(condition(await ask(back, "<iq type='get' id='l' to='romeo@example.org'><query xmlns='jabber:iq:last'/></iq>")), 'forbidden');
  });

  test('no such user: service-unavailable; a user who never logged out: item-not-found', async () => {
    const w = await world([...WITHOUT_ROSTER, fakeRoster({ 'juliet@example.org -> romeo@example.org': 'both' })]);
    const romeo = await w.connect('romeo@example.org/orchard');
    assert.equal(condition(await ask(romeo, "<iq type='get' id='g' to='ghost@example.org'><query xmlns='jabber:iq:last'/></iq>")), 'service-unavailable');
    const juliet = await w.connect('juliet@example.org/balcony');
    w.router.sessions.remove(juliet); // gone without the server noticing a logout
    assert.equal(condition(await ask(romeo, "<iq type='get' id='n' to='juliet@example.org'><query xmlns='jabber:iq:last'/></iq>")), 'item-not-found');
  });

  test('without a roster module only the user themself is authorised', async () => {
    const w = await world(WITHOUT_ROSTER);
    const juliet = await w.connect('juliet@example.org/balcony');
    const romeo = await w.connect('romeo@example.org/orchard');
    assert.equal(condition(await ask(romeo, "<iq type='get' id='l' to='juliet@example.org'><query xmlns='jabber:iq:last'/></iq>")), 'forbidden');
    assert.equal((await ask(juliet, "<iq type='get' id='l'><query xmlns='jabber:iq:last'/></iq>")).attrs.type, 'result');
  });

  test('a query to a full JID reaches the client only if the requester may see its presence', async () => {
    const w = await world([...WITHOUT_ROSTER, fakeRoster({ 'juliet@example.org -> romeo@example.org': 'from' })]);
    const juliet = await w.connect('juliet@example.org/balcony');
    const romeo = await w.connect('romeo@example.org/orchard');
    const paris = await w.connect('paris@example.org/church');
    const denied = await ask(paris, "<iq type='get' id='l2' to='juliet@example.org/balcony'><query xmlns='jabber:iq:last'/></iq>");
    assert.equal(condition(denied), 'forbidden');
    assert.equal(denied.attrs.from, 'juliet@example.org/balcony');
    assert.equal(juliet.take().length, 0, '§4: MUST NOT deliver the IQ-get');
    await romeo.inject("<iq type='get' id='l3' to='juliet@example.org/balcony'><query xmlns='jabber:iq:last'/></iq>");
    const [delivered] = juliet.take();
    assert.equal(delivered?.attrs.id, 'l3');
    assert.equal(delivered?.attrs.from, 'romeo@example.org/orchard');
    assert.equal(romeo.take().length, 0);
    // Other iqs to full JIDs pass untouched, and the client's answer goes back.
    await paris.inject("<iq type='get' id='v' to='juliet@example.org/balcony'><query xmlns='jabber:iq:version'/></iq>");
    assert.equal(juliet.take()[0]?.attrs.id, 'v');
    await juliet.inject("<iq type='result' id='l3' to='romeo@example.org/orchard'><query xmlns='jabber:iq:last' seconds='123'/></iq>");
    assert.equal(romeo.take()[0]?.getChild('query')?.attrs.seconds, '123');
  });
});

describe('XEP-0202 entity time and XEP-0090 legacy time', () => {
  const zones = [
    // zone, tzo, legacy tz, local display at 2006-12-19T17:58:35Z
    ['America/Denver', '-07:00', 'MST', 'Tue Dec 19 10:58:35 2006'],
    ['Asia/Kolkata', '+05:30', 'India Standard Time', 'Tue Dec 19 23:28:35 2006'],
    ['UTC', '+00:00', 'UTC', 'Tue Dec 19 17:58:35 2006'],
  ] as const;

  for (const [zone, tzo, tz, display] of zones) {
    test(`the server tells its time in ${zone}`, async (t) => {
      const saved = process.env.TZ;
      t.after(() => { if (saved === undefined) delete process.env.TZ; else process.env.TZ = saved; });
      process.env.TZ = zone;
      t.mock.timers.enable({ apis: ['Date'], now: Date.UTC(2006, 11, 19, 17, 58, 35, 250) });
      const w = await world(MODULES);
      const a = await w.connect('romeo@example.org/orchard');
      const time = (await ask(a, "<iq type='get' id='t' to='example.org'><time xmlns='urn:xmpp:time'/></iq>")).getChild('time', 'urn:xmpp:time')!;
      assert.equal(time.getChildText('tzo'), tzo);
      assert.equal(time.getChildText('utc'), '2006-12-19T17:58:35Z');
      const legacy = (await ask(a, "<iq type='get' id='lt' to='example.org'><query xmlns='jabber:iq:time'/></iq>")).getChild('query', 'jabber:iq:time')!;
      assert.equal(legacy.getChildText('utc'), '20061219T17:58:35');
      assert.equal(legacy.getChildText('tz'), tz);
      assert.equal(legacy.getChildText('display'), display);
    });
  }

  test('time is answered for the server only; a query to a full JID goes to the client', async () => {
    const w = await world(MODULES);
    const a = await w.connect('romeo@example.org/orchard');
    const b = await w.connect('juliet@example.org/balcony');
    await a.inject("<iq type='get' id='tj' to='juliet@example.org/balcony'><time xmlns='urn:xmpp:time'/></iq>");
    assert.equal(b.take()[0]?.attrs.id, 'tj');
    assert.equal(a.take().length, 0);
    assert.equal(condition(await ask(a, "<iq type='set' id='ts' to='example.org'><time xmlns='urn:xmpp:time'/></iq>")), 'service-unavailable');
  });
});

describe('XEP-0094 agents and XEP-0011 browse', () => {
  const services = defineModule({
    name: 'test-services',
    load(api) {
      api.feature('jabber:iq:register');
      api.feature('jabber:iq:search');
      api.item('conference.example.org', 'Chatrooms');
      api.item('pubsub.example.org');
    },
  });
  // Without the real registration and MUC modules, so the fake services above are all there is.
  const NO_REGISTER = MODULES.filter((m) => m.name !== 'register' && m.name !== 'muc');

  test('agents lists the server with the register and search flags its features earn, then the disco items', async () => {
    const w = await world([...NO_REGISTER, services]);
    const a = await w.connect('romeo@example.org/orchard');
    const r = await ask(a, "<iq type='get' id='agents1' to='example.org'><query xmlns='jabber:iq:agents'/></iq>");
    assert.equal(r.attrs.type, 'result');
    const agents = r.getChild('query', 'jabber:iq:agents')!.getChildren('agent');
    assert.deepEqual(agents.map((g) => g.attrs.jid), ['example.org', 'conference.example.org', 'pubsub.example.org']);
    const server = agents[0]!;
    assert.equal(server.getChildText('name'), 'Rohrpost');
    assert.ok(server.getChild('register'), 'register flag');
    assert.ok(server.getChild('search'), 'search flag');
    assert.equal(agents[1]!.getChildText('name'), 'Chatrooms');
    assert.equal(agents[2]!.getChild('name'), undefined);
    assert.equal(agents[1]!.getChild('register'), undefined, 'nothing is claimed for other services');
  });

  test('with the registration module loaded the server carries the register flag', async () => {
    const w = await world(MODULES);
    const a = await w.connect('romeo@example.org/orchard');
    const server = (await ask(a, "<iq type='get' id='g' to='example.org'><query xmlns='jabber:iq:agents'/></iq>")).getChild('query')!.getChildren('agent')[0]!;
    assert.ok(server.getChild('register'));
  });

  test('without registration the server carries no register flag', async () => {
    const w = await world(NO_REGISTER);
    const a = await w.connect('romeo@example.org/orchard');
    const features = (await ask(a, "<iq type='get' id='d' to='example.org'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>"))
      .getChild('query')!.getChildren('feature').map((f) => f.attrs.var);
    assert.ok(!features.includes('jabber:iq:register'));
    const server = (await ask(a, "<iq type='get' id='g' to='example.org'><query xmlns='jabber:iq:agents'/></iq>")).getChild('query')!.getChildren('agent')[0]!;
    assert.equal(server.attrs.jid, 'example.org');
    assert.equal(server.getChild('register'), undefined);
    assert.equal(server.getChild('search'), undefined);
  });

  test('browse describes the server as service/jabber with the disco features as <ns/> and the items as children', async () => {
    const w = await world([...NO_REGISTER, services], ['example.org', 'other.example']);
    const a = await w.connect('romeo@other.example/orchard');
    const info = (await ask(a, "<iq type='get' id='d' to='other.example'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>"))
      .getChild('query')!.getChildren('feature').map((f) => f.attrs.var);
    const r = await ask(a, "<iq type='get' id='browse3' to='other.example'><query xmlns='jabber:iq:browse'/></iq>");
    assert.equal(r.attrs.from, 'other.example');
    const q = r.getChild('query', 'jabber:iq:browse')!;
    assert.deepEqual({ jid: q.attrs.jid, category: q.attrs.category, type: q.attrs.type, name: q.attrs.name },
      { jid: 'other.example', category: 'service', type: 'jabber', name: 'Rohrpost' });
    assert.deepEqual(q.getChildren('ns').map((n) => n.getText()), info, 'the same namespaces as disco#info');
    assert.ok(info.includes('jabber:iq:register') && info.includes('jabber:iq:browse'));
    assert.deepEqual(q.getChildren('item').map((i) => [i.attrs.jid, i.attrs.name]),
      [['conference.example.org', 'Chatrooms'], ['pubsub.example.org', undefined]]);
  });

  test('agents and browse are for the server; to a user they are unavailable', async () => {
    const w = await world(MODULES);
    const a = await w.connect('romeo@example.org/orchard');
    await w.connect('juliet@example.org/balcony');
    for (const ns of ['jabber:iq:agents', 'jabber:iq:browse']) {
      assert.equal(condition(await ask(a, `<iq type='get' id='u' to='juliet@example.org'><query xmlns='${ns}'/></iq>`)), 'service-unavailable');
    }
  });
});

describe('XEP-0027 OpenPGP payloads pass through untouched', () => {
  const ENCRYPTED = "<x xmlns='jabber:x:encrypted'>hQEMA0rXXBE5UV1uAQf/eHwd+N2U0wT0dOpZ8/WYVvxrYCWE+yn0IlQ3rWV9aQ=</x>";
  const SIGNED = "<x xmlns='jabber:x:signed'>iQEzBAEBCAAdFiEE0l2ZrTzf7cTq8FSkeBKrc7Aq2CkFAmVtQ8gACgkQeBKrc7Aq2Cn=</x>";

  test('an encrypted message arrives byte for byte, to a full JID and to an available bare JID', async () => {
    const w = await world(MODULES);
    const a = await w.connect('romeo@example.org/orchard');
    const b = await w.connect('juliet@example.org/balcony');
    const body = '<body>This message is encrypted.</body>';
    await a.inject(`<message to='juliet@example.org/balcony' type='chat' id='pgp1'>${body}${ENCRYPTED}</message>`);
    const [full] = b.take();
    assert.equal(full?.toString(), parse(`<message to='juliet@example.org/balcony' type='chat' id='pgp1' from='romeo@example.org/orchard'>${body}${ENCRYPTED}</message>`).toString());
    await b.inject('<presence/>');
    b.take();
    await a.inject(`<message to='juliet@example.org' id='pgp2'>${ENCRYPTED}</message>`);
    const [bare] = b.take();
    assert.equal(bare?.getChild('x', 'jabber:x:encrypted')?.toString(), parse(ENCRYPTED).toString());
    assert.equal(a.take().length, 0, 'no error to the sender');
  });

  test('a signed presence broadcast reaches a subscribed contact untouched', async () => {
    const w = await world(MODULES);
    const juliet = await w.connect('juliet@example.org/balcony');
    const romeo = await w.connect('romeo@example.org/orchard');
    await romeo.inject('<presence/>');
    await romeo.inject("<presence type='subscribe' to='juliet@example.org'/>");
    await juliet.inject("<presence type='subscribed' to='romeo@example.org'/>");
    romeo.take();
    await juliet.inject(`<presence><status>Online</status>${SIGNED}</presence>`);
    const seen = romeo.take().filter((p) => p.attrs.from === 'juliet@example.org/balcony' && p.attrs.type === undefined);
    assert.equal(seen.length, 1, 'the broadcast reached the subscriber');
    assert.equal(seen[0]!.getChild('x', 'jabber:x:signed')?.toString(), parse(SIGNED).toString());
    assert.equal(seen[0]!.getChildText('status'), 'Online');
  });

  test('a signed directed presence arrives untouched', async () => {
    const w = await world(MODULES);
    const a = await w.connect('romeo@example.org/orchard');
    const b = await w.connect('juliet@example.org/balcony');
    await a.inject(`<presence to='juliet@example.org/balcony'><status>Online</status>${SIGNED}</presence>`);
    const [p] = b.take();
    assert.equal(p?.toString(), parse(`<presence to='juliet@example.org/balcony' from='romeo@example.org/orchard'><status>Online</status>${SIGNED}</presence>`).toString());
  });
});
