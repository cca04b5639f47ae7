// RFC 6121 §2 (rosters) and §3 (subscriptions) without sockets: roster get/set/remove,
// pushes to interested resources, validation, versioning, limits, the Appendix A
// state machine walked with two users, pre-approval, offline requests.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { world, type FakeSession, type TestWorld } from './harness/fake-session.js';
import { MODULES } from '../src/main.js';
import { parseJid } from '../src/jid/index.js';
import { x, type Element } from '../src/xml/element.js';
import type { RosterService } from '../src/router/services.js';
import { Roster, rosterCodec, type RosterItem } from '../src/modules/rfc6121/roster-model.js';
import { INBOUND, OUTBOUND, STATES, type SubscriptionState } from '../src/modules/rfc6121/subscription-state.js';

const NS_ROSTER = 'jabber:iq:roster';
const HOST = 'example.org';

const condition = (el: Element | undefined) => el?.getChild('error')?.getChildElements()[0]?.name;
const errorText = (el: Element | undefined) => el?.getChild('error')?.getChildText('text');
const pushes = (els: Element[]) => els.filter((e) => e.name === 'iq' && e.attrs.type === 'set' && e.getChild('query', NS_ROSTER));
const pushedItem = (el: Element) => el.getChild('query', NS_ROSTER)!.getChild('item')!;
const byId = (els: Element[], id: string) => els.find((e) => e.name === 'iq' && e.attrs.id === id);
const presences = (els: Element[], type?: string) => els.filter((e) => e.name === 'presence' && e.attrs.type === type);

let ids = 0;
async function rosterIq(s: FakeSession, type: 'get' | 'set', query: string, to?: string): Promise<{ reply: Element | undefined; all: Element[] }> {
  const id = `r${++ids}`;
  await s.inject(`<iq type='${type}' id='${id}'${to ? ` to='${to}'` : ''}>${query}</iq>`);
  const all = s.take();
  return { reply: byId(all, id), all };
}
const getRoster = (s: FakeSession, ver?: string) =>
  rosterIq(s, 'get', `<query xmlns='${NS_ROSTER}'${ver === undefined ? '' : ` ver='${ver}'`}/>`);
const setItem = (s: FakeSession, item: string) => rosterIq(s, 'set', `<query xmlns='${NS_ROSTER}'>${item}</query>`);

function rosters(w: TestWorld) {
  return w.storage.keyval<Roster>('roster', rosterCodec());
}
async function stored(w: TestWorld, user: string): Promise<Roster> {
  return (await rosters(w).get(HOST, user)) ?? new Roster();
}

// ---- Appendix A, transcribed from the RFC's tables (independently of the module's) ----

const APPENDIX_A = {
  outbound: {
    subscribe: `None|yes|None + Pending Out; None + Pending Out|yes|-; None + Pending In|yes|None + Pending Out+In;
      None + Pending Out+In|yes|-; To|yes|-; To + Pending In|yes|-; From|yes|From + Pending Out; From + Pending Out|yes|-; Both|yes|-`,
    unsubscribe: `None|yes|-; None + Pending Out|yes|None; None + Pending In|yes|-; None + Pending Out+In|yes|None + Pending In;
      To|yes|None; To + Pending In|yes|None + Pending In; From|yes|-; From + Pending Out|yes|From; Both|yes|From`,
    subscribed: `None|no|-; None + Pending Out|no|-; None + Pending In|yes|From; None + Pending Out+In|yes|From + Pending Out;
      To|no|-; To + Pending In|yes|Both; From|no|-; From + Pending Out|no|-; Both|no|-`,
    unsubscribed: `None|no|-; None + Pending Out|no|-; None + Pending In|yes|None; None + Pending Out+In|yes|None + Pending Out;
      To|no|-; To + Pending In|yes|To; From|yes|None; From + Pending Out|yes|None + Pending Out; Both|yes|To`,
  },
  inbound: {
    subscribe: `None|yes|None + Pending In; None + Pending Out|yes|None + Pending Out+In; None + Pending In|no|-;
      None + Pending Out+In|no|-; To|yes|To + Pending In; To + Pending In|no|-; From|no|-; From + Pending Out|no|-; Both|no|-`,
    unsubscribe: `None|no|-; None + Pending Out|no|-; None + Pending In|yes|None; None + Pending Out+In|yes|None + Pending Out;
      To|no|-; To + Pending In|yes|To; From|yes|None; From + Pending Out|yes|None + Pending Out; Both|yes|To`,
    subscribed: `None|no|-; None + Pending Out|yes|To; None + Pending In|no|-; None + Pending Out+In|yes|To + Pending In;
      To|no|-; To + Pending In|no|-; From|no|-; From + Pending Out|yes|Both; Both|no|-`,
    unsubscribed: `None|no|-; None + Pending Out|yes|None; None + Pending In|no|-; None + Pending Out+In|yes|None + Pending In;
      To|yes|None; To + Pending In|yes|None + Pending In; From|no|-; From + Pending Out|yes|From; Both|yes|From`,
  },
} as const;

type Row = { pass: boolean; next: SubscriptionState };
function table(text: string): Record<string, Row> {
  const out: Record<string, Row> = {};
  for (const row of text.split(';')) {
    const [state, pass, next] = row.split('|').map((s) => s.trim()) as [SubscriptionState, string, string];
    out[state] = { pass: pass === 'yes', next: next === '-' ? state : next as SubscriptionState };
  }
  return out;
}
type Type = keyof typeof APPENDIX_A.outbound;
const TYPES: Type[] = ['subscribe', 'unsubscribe', 'subscribed', 'unsubscribed'];

/** The same relationship seen from the contact's side. */
const MIRROR: Record<SubscriptionState, SubscriptionState> = {
  'None': 'None', 'None + Pending Out': 'None + Pending In', 'None + Pending In': 'None + Pending Out',
  'None + Pending Out+In': 'None + Pending Out+In', 'To': 'From', 'To + Pending In': 'From + Pending Out',
  'From': 'To', 'From + Pending Out': 'To + Pending In', 'Both': 'Both',
};

function stateName(r: Roster, contact: string): SubscriptionState {
  const item = r.items.get(contact);
  const sub = item?.subscription ?? 'none';
  const out = item?.ask ?? false;
  const inn = r.pending.has(contact);
  const base = { none: 'None', to: 'To', from: 'From', both: 'Both' }[sub];
  const extra = [out && 'Out', inn && 'In'].filter(Boolean);
  if (extra.length === 0) return base as SubscriptionState;
  return `${base} + Pending ${extra.join('+')}` as SubscriptionState;
}

function rosterIn(state: SubscriptionState, user: string, contact: string): Roster {
  const r = new Roster(1);
  const sub = state.startsWith('To') ? 'to' : state.startsWith('From') ? 'from' : state === 'Both' ? 'both' : 'none';
  const item: RosterItem = { jid: contact, subscription: sub, ask: /Pending Out/.test(state), approved: false, groups: [] };
  r.items.set(contact, item);
  if (/Pending (Out\+)?In/.test(state)) {
    r.pending.set(contact, x('presence', { from: contact, to: user, type: 'subscribe' }));
  }
  return r;
}

/** alice and bob online, available and interested. */
async function pair(w: TestWorld) {
  const alice = await w.connect(`alice@${HOST}/a`);
  const bob = await w.connect(`bob@${HOST}/b`);
  for (const s of [alice, bob]) {
    await getRoster(s);
    await s.inject('<presence/>');
    s.take();
  }
  return { alice, bob };
}

describe('roster management (RFC 6121 §2)', () => {
  test('an empty roster, then an added item with name and groups, pushed to interested resources only', async () => {
    const w = await world(MODULES);
    const a1 = await w.connect(`alice@${HOST}/one`);
    const a2 = await w.connect(`alice@${HOST}/two`);
    const a3 = await w.connect(`alice@${HOST}/three`);
    const empty = (await getRoster(a1)).reply!;
    assert.equal(empty.attrs.type, 'result');
    assert.equal(empty.getChild('query', NS_ROSTER)!.getChildren('item').length, 0);
    await getRoster(a2);
    // a3 never asked for the roster: not an interested resource.
    const { reply, all } = await setItem(a1, "<item jid='Nurse@Example.org' name='Nurse'><group>Servants</group><group>Friends</group></item>");
    assert.equal(reply!.attrs.type, 'result');
    assert.equal(reply!.getChildElements().length, 0);
    const [push] = pushes(all);
    assert.ok(push, 'the resource that set the item gets the push too');
    assert.equal(push!.attrs.from, undefined, 'pushes come from the account itself (no from)');
    const item = pushedItem(push!);
    assert.equal(item.attrs.jid, 'nurse@example.org', 'the JID is normalised');
    assert.equal(item.attrs.name, 'Nurse');
    assert.equal(item.attrs.subscription, 'none');
    assert.deepEqual(item.getChildren('group').map((g) => g.getText()), ['Servants', 'Friends']);
    assert.equal(pushes(a2.take()).length, 1);
    assert.equal(pushes(a3.take()).length, 0);
    const full = (await getRoster(a3)).reply!.getChild('query', NS_ROSTER)!;
    assert.deepEqual(full.getChildren('item').map((i) => i.attrs.jid), ['nurse@example.org']);
  });

  test('updating an item replaces name and groups; the subscription stays', async () => {
    const w = await world(MODULES);
    const a = await w.connect(`alice@${HOST}/a`);
    await getRoster(a);
    await setItem(a, "<item jid='bob@example.org' name='Bob'><group>A</group></item>");
    await a.inject("<presence to='bob@example.org' type='subscribe'/>");
    a.take();
    const { all } = await setItem(a, "<item jid='bob@example.org' name='Robert'><group>B</group><group>C</group></item>");
    const item = pushedItem(pushes(all)[0]!);
    assert.equal(item.attrs.name, 'Robert');
    assert.equal(item.attrs.ask, 'subscribe', 'a roster set does not touch the pending request');
    assert.deepEqual(item.getChildren('group').map((g) => g.getText()), ['B', 'C']);
    const { all: cleared } = await setItem(a, "<item jid='bob@example.org'/>");
    const bare = pushedItem(pushes(cleared)[0]!);
    assert.equal(bare.attrs.name, undefined);
    assert.equal(bare.getChildren('group').length, 0);
  });

  test('the roster is stored as XEP-0227 has it: <query xmlns=jabber:iq:roster> with items and groups', async () => {
    const w = await world(MODULES);
    const a = await w.connect(`alice@${HOST}/a`);
    await setItem(a, "<item jid='bob@example.org' name='Bob'><group>Friends</group></item>");
    const el = rosterCodec().encode(await stored(w, 'alice'));
    assert.equal(el.name, 'query');
    assert.equal(el.attrs.xmlns, NS_ROSTER);
    const item = el.getChild('item')!;
    assert.deepEqual({ ...item.attrs }, { jid: 'bob@example.org', name: 'Bob', subscription: 'none' });
    assert.equal(item.getChildText('group'), 'Friends');
  });

  test('removing an item: item-not-found when absent, a remove push when present', async () => {
    const w = await world(MODULES);
    const a = await w.connect(`alice@${HOST}/a`);
    await getRoster(a);
    const missing = await setItem(a, "<item jid='ghost@example.org' subscription='remove'/>");
    assert.equal(condition(missing.reply), 'item-not-found');
    await setItem(a, "<item jid='bob@example.org'/>");
    const { reply, all } = await setItem(a, "<item jid='bob@example.org' subscription='remove'/>");
    assert.equal(reply!.attrs.type, 'result');
    const item = pushedItem(pushes(all)[0]!);
    assert.deepEqual({ ...item.attrs }, { jid: 'bob@example.org', subscription: 'remove' });
    assert.equal((await stored(w, 'alice')).items.size, 0);
  });

  test('bad roster sets get the errors of §2.3.3; a subscription value other than remove is ignored', async () => {
    const w = await world(MODULES);
    const a = await w.connect(`alice@${HOST}/a`);
    const cases: Array<[string, string]> = [
      ["<item jid='b@example.org'/><item jid='c@example.org'/>", 'bad-request'],
      ['', 'bad-request'],
      ["<item jid='b@example.org'><group>G</group><group>G</group></item>", 'bad-request'],
      ["<item jid='b@example.org'><group></group></item>", 'not-acceptable'],
      [`<item jid='b@example.org' name='${'n'.repeat(2000)}'/>`, 'not-acceptable'],
      [`<item jid='b@example.org'><group>${'g'.repeat(2000)}</group></item>`, 'not-acceptable'],
      ["<item jid='alice@example.org'/>", 'not-allowed'],
      ["<item jid='b@example.org/res'/>", 'bad-request'],
      ["<item jid='@@bad'/>", 'jid-malformed'],
      ['<item/>', 'jid-malformed'],
    ];
    for (const [item, expected] of cases) {
      const { reply } = await setItem(a, item);
      assert.equal(condition(reply), expected, item.slice(0, 80));
    }
    assert.equal((await stored(w, 'alice')).items.size, 0, 'nothing was stored');
    const { reply } = await setItem(a, "<item jid='b@example.org' subscription='both' ask='subscribe' approved='true'/>");
    assert.equal(reply!.attrs.type, 'result');
    const item = (await stored(w, 'alice')).items.get('b@example.org')!;
    assert.equal(item.subscription, 'none');
    assert.equal(item.ask, false);
    assert.equal(item.approved, false);
    const odd = await setItem(a, "<item jid='c@example.org' subscription='foobar'/>");
    assert.equal(odd.reply!.attrs.type, 'result');
  });

  test('another user\'s roster cannot be read or set, and a client cannot forge a push or a roster result', async () => {
    const w = await world(MODULES);
    const a = await w.connect(`alice@${HOST}/a`);
    const b = await w.connect(`bob@${HOST}/b`);
    const b2 = await w.connect(`alice@${HOST}/other`);
    await getRoster(b);
    b.take();
    const read = await rosterIq(a, 'get', `<query xmlns='${NS_ROSTER}'/>`, 'bob@example.org');
    assert.equal(condition(read.reply), 'forbidden');
    const write = await rosterIq(a, 'set', `<query xmlns='${NS_ROSTER}'><item jid='evil@example.org'/></query>`, 'bob@example.org');
    assert.equal(condition(write.reply), 'forbidden');
    // A "push" sent straight to a resource, another user's or the sender's own.
    for (const to of ['bob@example.org/b', 'alice@example.org/other']) {
      const push = await rosterIq(a, 'set', `<query xmlns='${NS_ROSTER}'><item jid='evil@example.org' subscription='both'/></query>`, to);
      assert.equal(condition(push.reply), 'forbidden', to);
    }
    await a.inject(`<iq type='result' id='roster_1' to='bob@example.org/b'><query xmlns='${NS_ROSTER}'><item jid='evil@example.org' subscription='both'/></query></iq>`);
    assert.deepEqual(b.take(), [], 'bob saw nothing');
    assert.deepEqual(b2.take(), []);
    assert.equal((await stored(w, 'bob')).items.size, 0);
    // An ordinary iq result between clients still flows.
    await a.inject("<iq type='result' id='v1' to='bob@example.org/b'><query xmlns='jabber:iq:version'/></iq>");
    assert.equal(b.take().length, 1);
  });

  test('a client answering a push is not an error', async () => {
    const w = await world(MODULES);
    const a = await w.connect(`alice@${HOST}/a`);
    await getRoster(a);
    const { all } = await setItem(a, "<item jid='bob@example.org'/>");
    await a.inject(`<iq type='result' id='${pushes(all)[0]!.attrs.id}'/>`);
    assert.deepEqual(a.take(), []);
  });
});

describe('roster versioning (RFC 6121 §2.6)', () => {
  test('the stream feature, ver on results and pushes, an empty result when the cache is current', async () => {
    const w = await world(MODULES);
    const features = w.router.client.featuresFor('post-auth', { host: HOST, secure: true, version: true });
    assert.ok(features.some((f) => f.name === 'ver' && f.attrs.xmlns === 'urn:xmpp:features:rosterver'));
    const a = await w.connect(`alice@${HOST}/a`);
    const first = (await getRoster(a, '')).reply!.getChild('query', NS_ROSTER)!;
    const v0 = first.attrs.ver!;
    assert.ok(v0 !== undefined);
    const { all } = await setItem(a, "<item jid='bob@example.org'/>");
    const v1 = pushes(all)[0]!.getChild('query', NS_ROSTER)!.attrs.ver!;
    assert.notEqual(v1, v0, 'a change makes a new version');
    const current = (await getRoster(a, v1)).reply!;
    assert.equal(current.attrs.type, 'result');
    assert.equal(current.getChildElements().length, 0, 'up to date: no roster sent');
    const stale = (await getRoster(a, v0)).reply!.getChild('query', NS_ROSTER)!;
    assert.equal(stale.attrs.ver, v1);
    assert.deepEqual(stale.getChildren('item').map((i) => i.attrs.jid), ['bob@example.org']);
    // Versions only go forward, also across removal and re-adding.
    await setItem(a, "<item jid='bob@example.org' subscription='remove'/>");
    const { all: again } = await setItem(a, "<item jid='bob@example.org'/>");
    const v3 = Number(pushes(again)[0]!.getChild('query', NS_ROSTER)!.attrs.ver);
    assert.ok(v3 > Number(v1));
  });
});

describe('roster limits', () => {
  test('roster.max_items refuses the next new contact with policy-violation and a text; updates still work', async () => {
    const w = await world(MODULES);
    w.config.roster.max_items = 50;
    const a = await w.connect(`alice@${HOST}/a`);
    let refused = 0;
    for (let i = 0; i < 60; i++) {
      const { reply } = await setItem(a, `<item jid='c${i}@example.org'/>`);
      if (reply!.attrs.type === 'error') {
        refused++;
        assert.equal(condition(reply), 'policy-violation');
        assert.match(errorText(reply) ?? '', /at most 50/);
      }
    }
    assert.equal(refused, 10);
    assert.equal((await stored(w, 'alice')).items.size, 50);
    const update = await setItem(a, "<item jid='c0@example.org' name='Zero'/>");
    assert.equal(update.reply!.attrs.type, 'result');
    // A subscription request that would add a contact is refused the same way.
    await a.inject("<presence id='s1' to='c99@example.org' type='subscribe'/>");
    const [err] = a.take();
    assert.equal(err!.attrs.type, 'error');
    assert.equal(condition(err), 'policy-violation');
  });

  test('10,000 items: one roster set with all of them is refused; a stored roster that large still loads, and stays closed to new items', async () => {
    const w = await world(MODULES);
    const a = await w.connect(`alice@${HOST}/a`);
    const many = Array.from({ length: 10_000 }, (_, i) => `<item jid='c${i}@example.org'/>`).join('');
    const { reply } = await setItem(a, many);
    assert.equal(condition(reply), 'bad-request');
    // As an import or an older, larger limit could leave it.
    const big = new Roster(7);
    for (let i = 0; i < 10_000; i++) big.items.set(`c${i}@example.org`, { jid: `c${i}@example.org`, subscription: 'none', ask: false, approved: false, groups: ['G'] });
    await rosters(w).set(HOST, 'alice', big);
    const started = Date.now();
    const all = (await getRoster(a)).reply!.getChild('query', NS_ROSTER)!;
    assert.equal(all.getChildren('item').length, 10_000);
    assert.ok(Date.now() - started < 5000, 'loads in reasonable time');
    const more = await setItem(a, "<item jid='new@example.org'/>");
    assert.equal(condition(more.reply), 'policy-violation');
    const edit = await setItem(a, "<item jid='c5@example.org' name='Five'/>");
    assert.equal(edit.reply!.attrs.type, 'result');
    const remove = await setItem(a, "<item jid='c6@example.org' subscription='remove'/>");
    assert.equal(remove.reply!.attrs.type, 'result');
  });
});

describe('subscriptions (RFC 6121 §3 and Appendix A)', () => {
  test('the module\'s tables are the RFC\'s', () => {
    for (const [dir, tables] of [['outbound', OUTBOUND], ['inbound', INBOUND]] as const) {
      for (const type of TYPES) {
        const expected = table(APPENDIX_A[dir][type]);
        assert.deepEqual(Object.keys(expected).sort(), [...STATES].sort(), `${dir} ${type} lists every state`);
        for (const state of STATES) {
          const row = tables[type][state];
          const got = { pass: row.pass, next: row.next === 'same' ? state : row.next };
          assert.deepEqual(got, expected[state], `${dir} ${type} in ${state}`);
        }
      }
    }
  });

  for (const type of TYPES) {
    test(`state machine walk, alice sends ${type} in each state`, async () => {
      const out = table(APPENDIX_A.outbound[type]);
      const inn = table(APPENDIX_A.inbound[type]);
      for (const state of STATES) {
        const w = await world(MODULES);
        const { alice, bob } = await pair(w);
        await rosters(w).set(HOST, 'alice', rosterIn(state, 'alice@example.org', 'bob@example.org'));
        await rosters(w).set(HOST, 'bob', rosterIn(MIRROR[state], 'bob@example.org', 'alice@example.org'));
        await alice.inject(`<presence to='bob@example.org' type='${type}'/>`);
        const aliceGot = alice.take();
        const bobGot = bob.take();
        const a = await stored(w, 'alice');
        const b = await stored(w, 'bob');
        const label = `${type} from ${state}`;
        const expectAlice = out[state]!.next;
        assert.equal(stateName(a, 'bob@example.org'), expectAlice, `alice after ${label}`);
        assert.equal(stateName(b, 'alice@example.org'), MIRROR[expectAlice], `bob mirrors alice after ${label}`);
        const delivered = out[state]!.pass && inn[MIRROR[state]]!.pass;
        const bobSaw = presences(bobGot, type).filter((p) => p.attrs.from === 'alice@example.org');
        assert.equal(bobSaw.length, delivered ? 1 : 0, `bob receives the ${type}: ${label}`);
        // Roster pushes exactly when an item changed.
        const preApproval = type === 'subscribed' && ['None', 'None + Pending Out', 'To'].includes(state);
        const aliceChanged = preApproval || itemPart(state) !== itemPart(expectAlice);
        assert.equal(pushes(aliceGot).length, aliceChanged ? 1 : 0, `alice's pushes: ${label}`);
        assert.equal(pushes(bobGot).length, itemPart(MIRROR[state]) !== itemPart(MIRROR[expectAlice]) ? 1 : 0, `bob's pushes: ${label}`);
        if (preApproval) assert.equal(a.items.get('bob@example.org')!.approved, true, label);
      }
    });
  }

  test('the usual handshake: request, approval, presence flows, mutual subscription', async () => {
    const w = await world(MODULES);
    const { alice, bob } = await pair(w);
    await alice.inject("<presence to='bob@example.org' type='subscribe'><status>Hi, Alice here</status></presence>");
    const pushA = pushedItem(pushes(alice.take())[0]!);
    assert.equal(pushA.attrs.ask, 'subscribe');
    assert.equal(pushA.attrs.subscription, 'none');
    const [request] = presences(bob.take(), 'subscribe');
    assert.equal(request!.attrs.from, 'alice@example.org', 'stamped with the bare JID');
    assert.equal(request!.attrs.to, 'bob@example.org');
    assert.equal(request!.getChildText('status'), 'Hi, Alice here');
    // Bob approves: his roster gets alice with 'from', alice's 'to'; alice gets bob's presence.
    await bob.inject("<presence to='alice@example.org' type='subscribed'/>");
    assert.equal(pushedItem(pushes(bob.take())[0]!).attrs.subscription, 'from');
    const got = alice.take();
    assert.equal(pushedItem(pushes(got)[0]!).attrs.subscription, 'to');
    assert.equal(presences(got, 'subscribed').length, 1);
    assert.deepEqual(presences(got).map((p) => p.attrs.from), ['bob@example.org/b']);
    // And back.
    await bob.inject("<presence to='alice@example.org' type='subscribe'/>");
    assert.equal(presences(alice.take(), 'subscribe').length, 1);
    await alice.inject("<presence to='bob@example.org' type='subscribed'/>");
    assert.equal((await stored(w, 'alice')).items.get('bob@example.org')!.subscription, 'both');
    assert.equal((await stored(w, 'bob')).items.get('alice@example.org')!.subscription, 'both');
    assert.deepEqual(presences(bob.take()).map((p) => p.attrs.from), ['alice@example.org/a']);
  });

  test('a request to a full JID is treated as one to the bare JID', async () => {
    const w = await world(MODULES);
    const { alice, bob } = await pair(w);
    await alice.inject("<presence to='bob@example.org/b' type='subscribe'/>");
    const [request] = presences(bob.take(), 'subscribe');
    assert.equal(request!.attrs.to, 'bob@example.org');
    assert.equal((await stored(w, 'bob')).pending.has('alice@example.org'), true);
  });

  test('a request that arrives while the user is offline is stored and delivered after the next initial presence', async () => {
    const w = await world(MODULES);
    const alice = await w.connect(`alice@${HOST}/a`);
    const bob0 = await w.connect(`bob@${HOST}/old`);
    w.router.sessions.remove(bob0);
    await w.router.lifecycle.fire('session/closed', bob0);
    await alice.inject("<presence to='bob@example.org' type='subscribe'><status>remember me</status></presence>");
    assert.equal((await stored(w, 'bob')).pending.has('alice@example.org'), true);
    const bob = await w.connect(`bob@${HOST}/new`);
    const roster = (await getRoster(bob)).reply!.getChild('query', NS_ROSTER)!;
    assert.equal(roster.getChildren('item').length, 0, 'a pending request is not a roster item');
    assert.equal(presences(bob.take(), 'subscribe').length, 0, 'not before initial presence');
    await bob.inject('<presence/>');
    const got = bob.take();
    const [request] = presences(got, 'subscribe');
    assert.equal(request!.attrs.from, 'alice@example.org');
    assert.equal(request!.getChildText('status'), 'remember me');
    // A subsequent presence does not repeat it; a new login does, until answered.
    await bob.inject('<presence><show>away</show></presence>');
    assert.equal(presences(bob.take(), 'subscribe').length, 0);
    const bob2 = await w.connect(`bob@${HOST}/second`);
    await bob2.inject('<presence/>');
    assert.equal(presences(bob2.take(), 'subscribe').length, 1);
    await bob.inject("<presence to='alice@example.org' type='subscribed'/>");
    assert.equal((await stored(w, 'bob')).pending.size, 0);
    const bob3 = await w.connect(`bob@${HOST}/third`);
    await bob3.inject('<presence/>');
    assert.equal(presences(bob3.take(), 'subscribe').length, 0);
  });

  test('pre-approval (§3.4): the feature is advertised; a later request is approved without asking', async () => {
    const w = await world(MODULES);
    const features = w.router.client.featuresFor('post-auth', { host: HOST, secure: true, version: true });
    assert.ok(features.some((f) => f.name === 'sub' && f.attrs.xmlns === 'urn:xmpp:features:pre-approval'));
    const { alice, bob } = await pair(w);
    await alice.inject("<presence to='bob@example.org' type='subscribed'/>");
    const item = pushedItem(pushes(alice.take())[0]!);
    assert.equal(item.attrs.approved, 'true');
    assert.equal(item.attrs.subscription, 'none');
    assert.deepEqual(bob.take(), [], 'a pre-approval is not routed');
    await bob.inject("<presence to='alice@example.org' type='subscribe'/>");
    const aliceGot = alice.take();
    assert.equal(presences(aliceGot, 'subscribe').length, 0, 'alice is not asked');
    const after = pushedItem(pushes(aliceGot)[0]!);
    assert.equal(after.attrs.subscription, 'from');
    assert.equal(after.attrs.approved, undefined, 'the pre-approval is used up');
    const bobGot = bob.take();
    assert.equal(presences(bobGot, 'subscribed').length, 1);
    assert.deepEqual(presences(bobGot).map((p) => p.attrs.from), ['alice@example.org/a']);
    assert.equal((await stored(w, 'bob')).items.get('alice@example.org')!.subscription, 'to');
  });

  test('a pre-approval can be withdrawn with unsubscribed', async () => {
    const w = await world(MODULES);
    const { alice, bob } = await pair(w);
    await alice.inject("<presence to='bob@example.org' type='subscribed'/>");
    await alice.inject("<presence to='bob@example.org' type='unsubscribed'/>");
    const items = pushes(alice.take()).map(pushedItem);
    assert.equal(items[1]!.attrs.approved, undefined);
    await bob.inject("<presence to='alice@example.org' type='subscribe'/>");
    assert.equal(presences(alice.take(), 'subscribe').length, 1, 'asked again');
    assert.equal(presences(bob.take(), 'subscribed').length, 0);
  });

  test('cancelling and unsubscribing end the presence flow', async () => {
    const w = await world(MODULES);
    const { alice, bob } = await pair(w);
    await rosters(w).set(HOST, 'alice', rosterIn('Both', 'alice@example.org', 'bob@example.org'));
    await rosters(w).set(HOST, 'bob', rosterIn('Both', 'bob@example.org', 'alice@example.org'));
    // Alice cancels bob's subscription to her: bob sees her go offline.
    await alice.inject("<presence to='bob@example.org' type='unsubscribed'/>");
    let got = bob.take();
    assert.equal(presences(got, 'unsubscribed').length, 1);
    assert.deepEqual(presences(got, 'unavailable').map((p) => p.attrs.from), ['alice@example.org/a']);
    assert.equal(pushedItem(pushes(got)[0]!).attrs.subscription, 'from');
    alice.take();
    // Alice unsubscribes from bob: bob's server sends her bob's unavailable.
    await alice.inject("<presence to='bob@example.org' type='unsubscribe'/>");
    got = alice.take();
    assert.equal(pushedItem(pushes(got)[0]!).attrs.subscription, 'none');
    assert.deepEqual(presences(got, 'unavailable').map((p) => p.attrs.from), ['bob@example.org/b']);
    assert.equal(stateName(await stored(w, 'bob'), 'alice@example.org'), 'None');
    // Presence no longer flows either way.
    await alice.inject('<presence><show>dnd</show></presence>');
    assert.equal(presences(bob.take()).length, 0);
  });

  test('removing an item sends unsubscribe and unsubscribed (§2.5.2) and the contact ends in None', async () => {
    const w = await world(MODULES);
    const { alice, bob } = await pair(w);
    await rosters(w).set(HOST, 'alice', rosterIn('Both', 'alice@example.org', 'bob@example.org'));
    await rosters(w).set(HOST, 'bob', rosterIn('Both', 'bob@example.org', 'alice@example.org'));
    const { all } = await setItem(alice, "<item jid='bob@example.org' subscription='remove'/>");
    assert.equal(pushedItem(pushes(all)[0]!).attrs.subscription, 'remove');
    const got = bob.take();
    assert.equal(presences(got, 'unsubscribe').length, 1);
    assert.equal(presences(got, 'unsubscribed').length, 1);
    assert.deepEqual(presences(got, 'unavailable').map((p) => p.attrs.from), ['alice@example.org/a']);
    assert.equal(stateName(await stored(w, 'bob'), 'alice@example.org'), 'None');
    assert.equal((await stored(w, 'alice')).items.has('bob@example.org'), false);
  });

  test('removing an item with a pending request declines it', async () => {
    const w = await world(MODULES);
    const { alice, bob } = await pair(w);
    await bob.inject("<presence to='alice@example.org' type='subscribe'/>");
    await setItem(alice, "<item jid='bob@example.org'/>");
    await setItem(alice, "<item jid='bob@example.org' subscription='remove'/>");
    assert.equal(presences(bob.take(), 'unsubscribed').length, 1);
    assert.equal((await stored(w, 'alice')).pending.size, 0);
    assert.equal(stateName(await stored(w, 'bob'), 'alice@example.org'), 'None');
  });

  test('a subscription to a user who does not exist leaks nothing: the same silence as an ignored request', async () => {
    const w = await world(MODULES);
    const { alice } = await pair(w);
    const observe = async (to: string) => {
      await alice.inject(`<presence to='${to}' type='subscribe'/>`);
      return alice.take().map((e) => {
        const c = e.getChild('query', NS_ROSTER)?.getChild('item');
        return `${e.name}:${e.attrs.type ?? ''}:${c?.attrs.subscription ?? ''}:${c?.attrs.ask ?? ''}`;
      });
    };
    await w.connect(`quiet@${HOST}/q`);
    const toExisting = await observe('quiet@example.org');
    const toMissing = await observe('nobody@example.org');
    assert.deepEqual(toMissing, toExisting);
    assert.deepEqual(toMissing, ['iq:set:none:subscribe']);
    assert.equal(await w.storage.accounts.exists(HOST, 'nobody'), false);
    assert.equal(await rosters(w).get(HOST, 'nobody'), undefined, 'nothing stored for a missing account');
  });

  test('subscribing to oneself is ignored', async () => {
    const w = await world(MODULES);
    const { alice } = await pair(w);
    await alice.inject("<presence to='alice@example.org' type='subscribe'/>");
    assert.deepEqual(alice.take(), []);
    assert.equal((await stored(w, 'alice')).items.size, 0);
  });

  test('unanswered requests are bounded by roster.max_items', async () => {
    const w = await world(MODULES);
    w.config.roster.max_items = 3;
    await w.connect(`target@${HOST}/t`);
    for (let i = 0; i < 5; i++) {
      const s = await w.connect(`fan${i}@${HOST}/f`);
      await s.inject("<presence to='target@example.org' type='subscribe'/>");
    }
    assert.equal((await stored(w, 'target')).pending.size, 3);
  });
});

describe('the roster service', () => {
  test('subscription() reads the state; setItem() adds like an admin and pushes', async () => {
    const w = await world(MODULES);
    const { alice } = await pair(w);
    const service = w.router.services.use('roster') as RosterService;
    assert.ok(service);
    const alicej = parseJid('alice@example.org');
    assert.equal(await service.subscription(alicej, parseJid('bob@example.org')), 'none');
    await rosters(w).set(HOST, 'alice', rosterIn('To', 'alice@example.org', 'bob@example.org'));
    assert.equal(await service.subscription(alicej, parseJid('bob@example.org/res')), 'to');
    await service.setItem(alicej, parseJid('carol@example.org'), 'Carol', ['Work']);
    const item = pushedItem(pushes(alice.take())[0]!);
    assert.deepEqual({ ...item.attrs }, { jid: 'carol@example.org', name: 'Carol', subscription: 'none' });
    // Name and groups change; the subscription stays.
    await service.setItem(alicej, parseJid('bob@example.org'), undefined, []);
    assert.equal((await stored(w, 'alice')).items.get('bob@example.org')!.subscription, 'to');
    await assert.rejects(service.setItem(alicej, parseJid('carol@example.org'), 'C', ['x', 'x']));
  });
});

/** The part of a state a roster item shows (subscription and ask); pending-in is not an item. */
function itemPart(state: SubscriptionState): string {
  return state.replace(/ \+ Pending In$/, '').replace('Pending Out+In', 'Pending Out');
}

describe('account removal (XEP-0077 §3.2)', () => {
  test('removing an account cancels its subscriptions: contacts get unsubscribe and unsubscribed', async () => {
    const w = await world(MODULES);
    const { alice, bob } = await pair(w);
    await rosters(w).set(HOST, 'alice', rosterIn('Both', `alice@${HOST}`, `bob@${HOST}`));
    await rosters(w).set(HOST, 'bob', rosterIn('Both', `bob@${HOST}`, `alice@${HOST}`));
    await alice.inject("<iq type='set' id='rm'><query xmlns='jabber:iq:register'><remove/></query></iq>");
    const atBob = bob.take();
    assert.equal(presences(atBob, 'unsubscribe').length, 1);
    assert.equal(presences(atBob, 'unsubscribed').length, 1);
    assert.equal(presences(atBob, 'unsubscribed')[0]!.attrs.from, `alice@${HOST}`);
    assert.equal((await stored(w, 'bob')).items.get(`alice@${HOST}`)?.subscription, 'none');
    assert.equal(await w.storage.accounts.exists(HOST, 'alice'), false);
  });
});
