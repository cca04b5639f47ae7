// XEP-0045 Multi-User Chat without sockets: the service and room discovery, joining
// (MUC and groupchat 1.0), presence, messages, history, subject, configuration,
// affiliations and roles, invitations, self-ping and bad input.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { world, type FakeSession, type TestWorld } from './harness/fake-session.js';
import { MODULES } from '../src/main.js';
import muc from '../src/modules/xep0045-muc.js';
import type { Element } from '../src/xml/element.js';
import { parse } from 'ltx';
import { parseJid } from '../src/jid/index.js';
import { StanzaError } from '../src/errors.js';
import type { StanzaEvent } from '../src/router/router.js';
import { MucService, type RoomCreation } from '../src/modules/muc/service.js';
import { ModuleHost } from '../src/router/modules.js';
import type { Config } from '../src/config/types.js';
import { mkdtempSync, readFileSync, rmSync, statSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';

const SVC = 'conference.example.org';
const NS_MUC_USER = 'http://jabber.org/protocol/muc#user';
const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const NS_DISCO_ITEMS = 'http://jabber.org/protocol/disco#items';
const NS_OWNER = 'http://jabber.org/protocol/muc#owner';
const NS_ADMIN = 'http://jabber.org/protocol/muc#admin';

const condition = (el: Element | undefined) => (el?.getChild('error')?.children[0] as Element | undefined)?.name;
const codes = (el: Element) => (el.getChild('x', NS_MUC_USER)?.getChildren('status') ?? []).map((s) => Number(s.attrs.code)).sort();
const item = (el: Element) => el.getChild('x', NS_MUC_USER)?.getChild('item');
const presences = (els: Element[]) => els.filter((e) => e.name === 'presence');
const messages = (els: Element[]) => els.filter((e) => e.name === 'message');

async function setup(): Promise<TestWorld> {
  return world([...MODULES.filter((m) => m.name !== 'muc'), muc]);
}

async function join(s: FakeSession, room: string, nick: string, inner = ''): Promise<Element[]> {
  await s.inject(`<presence to='${room}@${SVC}/${nick}'><x xmlns='http://jabber.org/protocol/muc'>${inner}</x></presence>`);
  return s.take();
}

async function iq(s: FakeSession, to: string, type: string, payload: string): Promise<Element> {
  await s.inject(`<iq type='${type}' id='q' to='${to}'>${payload}</iq>`);
  const replies = s.take().filter((e) => e.name === 'iq');
  assert.equal(replies.length, 1, 'exactly one iq reply');
  return replies[0]!;
}

function configure(s: FakeSession, room: string, fields: Record<string, string> = {}): Promise<Element> {
  const f = Object.entries(fields).map(([k, v]) => `<field var='muc#roomconfig_${k}'><value>${v}</value></field>`).join('');
  return iq(s, `${room}@${SVC}`, 'set', `<query xmlns='${NS_OWNER}'><x xmlns='jabber:x:data' type='submit'>${f}</x></query>`);
}

/** alice creates an instant room (optionally configured); the returned sessions have empty queues. */
async function room(w: TestWorld, name: string, fields: Record<string, string> = {}): Promise<FakeSession> {
  const alice = await w.connect('alice@example.org/a');
  await join(alice, name, 'Alice');
  assert.equal((await configure(alice, name, fields)).attrs.type, 'result');
  alice.take();
  return alice;
}

describe('XEP-0045 multi-user chat', () => {
  test('service disco: conference/text identity, the muc feature, public unlocked rooms as items', async () => {
    const w = await setup();
    const bob = await w.connect('bob@example.org/b');
    const info = await iq(bob, SVC, 'get', `<query xmlns='${NS_DISCO_INFO}'/>`);
    const q = info.getChild('query')!;
    assert.deepEqual(q.getChild('identity')!.attrs, { category: 'conference', type: 'text', name: 'Chatrooms' });
    assert.ok(q.getChildren('feature').some((f) => f.attrs.var === 'http://jabber.org/protocol/muc'));
    const alice = await room(w, 'open');
    await join(alice, 'locked', 'Alice');
    const items = (await iq(bob, SVC, 'get', `<query xmlns='${NS_DISCO_ITEMS}'/>`)).getChild('query')!.getChildren('item');
    assert.deepEqual(items.map((i) => i.attrs.jid), [`open@${SVC}`]);
    const hostItems = (await iq(bob, 'example.org', 'get', `<query xmlns='${NS_DISCO_ITEMS}'/>`)).getChild('query')!.getChildren('item');
    assert.ok(hostItems.some((i) => i.attrs.jid === SVC), 'the host lists the service');
    const roomInfo = (await iq(bob, `open@${SVC}`, 'get', `<query xmlns='${NS_DISCO_INFO}'/>`)).getChild('query')!;
    const feats = roomInfo.getChildren('feature').map((f) => f.attrs.var);
    assert.ok(feats.includes('muc_open') && feats.includes('muc_temporary') && feats.includes('muc_semianonymous'));
    assert.equal(condition(await iq(bob, `nothere@${SVC}`, 'get', `<query xmlns='${NS_DISCO_INFO}'/>`)), 'item-not-found');
  });

  test('a MUC join creates a locked room (201, 110); others get item-not-found until the owner submits the form', async () => {
    const w = await setup();
    const alice = await w.connect('alice@example.org/a');
    const bob = await w.connect('bob@example.org/b');
    const got = await join(alice, 'r', 'Alice');
    const self = presences(got)[0]!;
    assert.equal(self.attrs.from, `r@${SVC}/Alice`);
    assert.deepEqual(codes(self), [110, 201]);
    assert.equal(item(self)!.attrs.affiliation, 'owner');
    assert.equal(item(self)!.attrs.role, 'moderator');
    const [denied] = await join(bob, 'r', 'Bob');
    assert.equal(condition(denied), 'item-not-found');
    const owner = await iq(alice, `r@${SVC}`, 'get', `<query xmlns='${NS_OWNER}'/>`);
    assert.ok(owner.getChild('query')!.getChild('x', 'jabber:x:data')!.getChildren('field').some((f) => f.attrs.var === 'muc#roomconfig_roomsecret'));
    assert.equal((await configure(alice, 'r')).attrs.type, 'result');
    const joined = await join(bob, 'r', 'Bob');
    // Existing occupants first, then bob's own presence, then the (empty) subject.
    assert.deepEqual(joined.map((e) => `${e.name} ${e.attrs.from}`), [
      `presence r@${SVC}/Alice`, `presence r@${SVC}/Bob`, `message r@${SVC}`]);
    assert.deepEqual(codes(joined[1]!), [110]);
    assert.equal(joined[2]!.getChildText('subject'), '');
    assert.equal(item(joined[0]!)!.attrs.jid, undefined, 'semi-anonymous: a participant does not see real JIDs');
    const toAlice = presences(alice.take());
    assert.equal(toAlice.length, 1);
    assert.equal(toAlice[0]!.attrs.from, `r@${SVC}/Bob`);
    assert.equal(item(toAlice[0]!)!.attrs.jid, 'bob@example.org/b', 'a moderator sees real JIDs');
    assert.deepEqual(codes(toAlice[0]!), []);
  });

  test('a groupchat 1.0 join (no <x/>) creates an open room at once; nickname conflicts get 409', async () => {
    const w = await setup();
    const alice = await w.connect('alice@example.org/a');
    const bob = await w.connect('bob@example.org/b');
    await alice.inject(`<presence to='old@${SVC}/Alice'/>`);
    assert.deepEqual(codes(presences(alice.take())[0]!), [110]);
    const joined = await join(bob, 'old', 'Bob');
    assert.equal(presences(joined).length, 2);
    const carol = await w.connect('carol@example.org/c');
    const [err] = await join(carol, 'old', 'Bob');
    assert.equal(err!.attrs.type, 'error');
    assert.equal(condition(err), 'conflict');
    assert.equal(err!.getChild('error')!.attrs.type, 'cancel');
  });

  test('groupchat messages go to every occupant from room/nick; non-occupants get not-acceptable', async () => {
    const w = await setup();
    const alice = await room(w, 'chat');
    const bob = await w.connect('bob@example.org/b');
    await join(bob, 'chat', 'Bob');
    alice.take();
    await bob.inject(`<message id='m1' type='groupchat' to='chat@${SVC}'><body>hello</body></message>`);
    const [a] = alice.take();
    const [b] = bob.take();
    assert.equal(a!.attrs.from, `chat@${SVC}/Bob`);
    assert.equal(a!.attrs.to, 'alice@example.org/a');
    assert.equal(a!.getChildText('body'), 'hello');
    assert.equal(b!.attrs.id, 'm1', 'the sender recognises its echo');
    const eve = await w.connect('eve@example.org/e');
    await eve.inject(`<message type='groupchat' to='chat@${SVC}'><body>spam</body></message>`);
    assert.equal(condition(eve.take()[0]), 'not-acceptable');
    assert.equal(alice.take().length, 0);
  });

  test('history on join carries delays and honours maxstanzas and maxchars; the subject comes after it', async () => {
    const w = await setup();
    const alice = await room(w, 'h');
    for (const t of ['one', 'two', 'three']) await alice.inject(`<message type='groupchat' to='h@${SVC}'><body>${t}</body></message>`);
    await alice.inject(`<message type='groupchat' to='h@${SVC}'><subject>Topic</subject></message>`);
    alice.take();
    const bob = await w.connect('bob@example.org/b');
    const all = messages(await join(bob, 'h', 'Bob'));
    assert.deepEqual(all.map((m) => m.getChildText('body') ?? `subject:${m.getChildText('subject')}`), ['one', 'two', 'three', 'subject:Topic']);
    const d = all[0]!.getChild('delay', 'urn:xmpp:delay')!;
    assert.equal(d.attrs.from, `h@${SVC}`);
    assert.ok(!Number.isNaN(Date.parse(d.attrs.stamp!)));
    assert.equal(all[3]!.attrs.from, `h@${SVC}/Alice`);
    const carol = await w.connect('carol@example.org/c');
    assert.deepEqual(messages(await join(carol, 'h', 'Carol', "<history maxstanzas='1'/>")).map((m) => m.getChildText('body')), ['three', null]);
    const dave = await w.connect('dave@example.org/d');
    assert.equal(messages(await join(dave, 'h', 'Dave', "<history maxchars='0'/>")).length, 1, 'only the subject');
  });

  test('only moderators change the subject; participants get forbidden', async () => {
    const w = await setup();
    const alice = await room(w, 's');
    const bob = await w.connect('bob@example.org/b');
    await join(bob, 's', 'Bob');
    alice.take();
    await bob.inject(`<message type='groupchat' to='s@${SVC}'><subject>mine</subject></message>`);
    assert.equal(condition(bob.take()[0]), 'forbidden');
    await alice.inject(`<message type='groupchat' to='s@${SVC}'><subject>ours</subject></message>`);
    assert.equal(bob.take()[0]!.getChildText('subject'), 'ours');
  });

  test('private messages reach the real JID as from room/nick; unknown nick, groupchat type and allowpm none are refused', async () => {
    const w = await setup();
    const alice = await room(w, 'pm');
    const bob = await w.connect('bob@example.org/b');
    await join(bob, 'pm', 'Bob');
    alice.take();
    await bob.inject(`<message type='chat' to='pm@${SVC}/Alice'><body>psst</body></message>`);
    const [m] = alice.take();
    assert.equal(m!.attrs.from, `pm@${SVC}/Bob`);
    assert.equal(m!.attrs.to, 'alice@example.org/a');
    assert.equal(m!.attrs.type, 'chat');
    assert.ok(m!.getChild('x', NS_MUC_USER));
    await bob.inject(`<message type='chat' to='pm@${SVC}/Nobody'><body>x</body></message>`);
    assert.equal(condition(bob.take()[0]), 'item-not-found');
    await bob.inject(`<message type='groupchat' to='pm@${SVC}/Alice'><body>x</body></message>`);
    assert.equal(condition(bob.take()[0]), 'bad-request');
    await configure(alice, 'pm', { allowpm: 'none' });
    bob.take();
    await bob.inject(`<message type='chat' to='pm@${SVC}/Alice'><body>x</body></message>`);
    assert.equal(condition(bob.take()[0]), 'forbidden');
  });

  test('nickname change (303), presence updates, leaving (110) and an empty temporary room goes away', async () => {
    const w = await setup();
    const alice = await room(w, 'n');
    const bob = await w.connect('bob@example.org/b');
    await join(bob, 'n', 'Bob');
    alice.take();
    await bob.inject(`<presence to='n@${SVC}/Robert'/>`);
    const seen = alice.take();
    assert.equal(seen[0]!.attrs.type, 'unavailable');
    assert.equal(seen[0]!.attrs.from, `n@${SVC}/Bob`);
    assert.deepEqual(codes(seen[0]!), [303]);
    assert.equal(item(seen[0]!)!.attrs.nick, 'Robert');
    assert.equal(seen[1]!.attrs.from, `n@${SVC}/Robert`);
    assert.deepEqual(codes(bob.take()[0]!), [110, 303]);
    await bob.inject(`<presence to='n@${SVC}/Alice'/>`);
    assert.equal(condition(bob.take()[0]), 'conflict');
    await bob.inject(`<presence to='n@${SVC}/Robert'><show>away</show><status>lunch</status></presence>`);
    const upd = alice.take()[0]!;
    assert.equal(upd.getChildText('show'), 'away');
    assert.equal(upd.getChildText('status'), 'lunch');
    bob.take();
    await bob.inject(`<presence type='unavailable' to='n@${SVC}/Robert'/>`);
    assert.deepEqual(codes(bob.take()[0]!), [110]);
    const left = alice.take()[0]!;
    assert.equal(left.attrs.type, 'unavailable');
    assert.equal(item(left)!.attrs.role, 'none');
    await alice.inject(`<presence type='unavailable' to='n@${SVC}/Alice'/>`);
    alice.take();
    assert.equal(condition(await iq(bob, `n@${SVC}`, 'get', `<query xmlns='${NS_DISCO_INFO}'/>`)), 'item-not-found');
  });

  test('a dropped connection leaves every room', async () => {
    const w = await setup();
    const alice = await room(w, 'd');
    const bob = await w.connect('bob@example.org/b');
    await join(bob, 'd', 'Bob');
    alice.take();
    w.router.sessions.remove(bob);
    await w.router.lifecycle.fire('session/closed', bob);
    const gone = presences(alice.take()).filter((p) => p.attrs.from === `d@${SVC}/Bob`);
    assert.equal(gone.length, 1);
    assert.equal(gone[0]!.attrs.type, 'unavailable');
    const bob2 = await w.connect('bob@example.org/b2');
    assert.equal(presences(await join(bob2, 'd', 'Bob')).length, 2, 'the nickname is free again');
  });

  test('bad input: a 2000-character nickname, a join without nickname, a remote user creating a room', async () => {
    const w = await setup();
    const alice = await w.connect('alice@example.org/a');
    const [long] = await join(alice, 'x', 'n'.repeat(2000));
    assert.equal(condition(long), 'jid-malformed');
    await alice.inject(`<presence to='x@${SVC}'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
    assert.equal(condition(alice.take()[0]), 'jid-malformed');
    // Room creation is for local users: a remote user makes no room (its error reply
    // has no way back without federation, so the room's absence is what we check).
    const stranger = await w.connect('zed@elsewhere.example/z');
    assert.equal((await join(stranger, 'x', 'Zed')).length, 0);
    assert.equal(condition(await iq(alice, `x@${SVC}`, 'get', `<query xmlns='${NS_DISCO_INFO}'/>`)), 'item-not-found');
    await alice.inject(`<message type='groupchat' to='nothere@${SVC}'><body>x</body></message>`);
    assert.equal(condition(alice.take()[0]), 'item-not-found');
  });

  test('password-protected rooms: missing or wrong password is 401 not-authorized; the right one enters', async () => {
    const w = await setup();
    await room(w, 'p', { passwordprotectedroom: '1', roomsecret: 'sesame' });
    const bob = await w.connect('bob@example.org/b');
    const [none] = await join(bob, 'p', 'Bob');
    assert.equal(condition(none), 'not-authorized');
    assert.equal(none!.getChild('error')!.attrs.type, 'auth');
    assert.equal(condition((await join(bob, 'p', 'Bob', '<password>wrong</password>'))[0]), 'not-authorized');
    await bob.inject(`<presence to='p@${SVC}/Bob'/>`);
    assert.equal(condition(bob.take()[0]), 'not-authorized', 'groupchat 1.0 cannot pass a password');
    assert.deepEqual(codes(presences(await join(bob, 'p', 'Bob', '<password>sesame</password>')).at(-1)!), [110]);
  });

  test('members-only (registration-required), max occupants (service-unavailable), non-anonymous (100)', async () => {
    const w = await setup();
    const alice = await room(w, 'm', { membersonly: 'true', maxusers: '2', whois: 'anyone' });
    const bob = await w.connect('bob@example.org/b');
    assert.equal(condition((await join(bob, 'm', 'Bob'))[0]), 'registration-required');
    for (const u of ['bob', 'carol']) {
      const r = await iq(alice, `m@${SVC}`, 'set', `<query xmlns='${NS_ADMIN}'><item affiliation='member' jid='${u}@example.org'/></query>`);
      assert.equal(r.attrs.type, 'result');
    }
    const joined = presences(await join(bob, 'm', 'Bob'));
    assert.deepEqual(codes(joined.at(-1)!), [100, 110]);
    assert.equal(item(joined[0]!)!.attrs.jid, 'alice@example.org/a', 'whois anyone: everyone sees real JIDs');
    const carol = await w.connect('carol@example.org/c');
    assert.equal(condition((await join(carol, 'm', 'Carol'))[0]), 'service-unavailable');
    const list = await iq(alice, `m@${SVC}`, 'get', `<query xmlns='${NS_ADMIN}'><item affiliation='member'/></query>`);
    assert.deepEqual(list.getChild('query')!.getChildren('item').map((i) => i.attrs.jid).sort(), ['bob@example.org', 'carol@example.org']);
  });

  test('configuration: bad values are not-acceptable, a non-form is bad-request, non-owners are forbidden; changes are announced (104)', async () => {
    const w = await setup();
    const alice = await room(w, 'c');
    assert.equal(condition(await configure(alice, 'c', { maxusers: 'many' })), 'not-acceptable');
    assert.equal(condition(await configure(alice, 'c', { membersonly: 'perhaps' })), 'not-acceptable');
    assert.equal(condition(await configure(alice, 'c', { whois: 'everybody' })), 'not-acceptable');
    assert.equal(condition(await iq(alice, `c@${SVC}`, 'set', `<query xmlns='${NS_OWNER}'/>`)), 'bad-request');
    const bob = await w.connect('bob@example.org/b');
    await join(bob, 'c', 'Bob');
    alice.take();
    assert.equal(condition(await iq(bob, `c@${SVC}`, 'get', `<query xmlns='${NS_OWNER}'/>`)), 'forbidden');
    assert.equal(condition(await configure(bob, 'c', { roomname: 'Mine' })), 'forbidden');
    await configure(alice, 'c', { roomname: 'Coffee', publicroom: '0' });
    assert.deepEqual(codes(messages(bob.take())[0]!), [104]);
    const items = (await iq(bob, SVC, 'get', `<query xmlns='${NS_DISCO_ITEMS}'/>`)).getChild('query')!.getChildren('item');
    assert.equal(items.length, 0, 'a hidden room is not listed');
    const info = (await iq(bob, `c@${SVC}`, 'get', `<query xmlns='${NS_DISCO_INFO}'/>`)).getChild('query')!;
    assert.equal(info.getChild('identity')!.attrs.name, 'Coffee');
  });

  test('kick (307) and ban (301) by moderators and admins; participants may not; a banned user cannot return', async () => {
    const w = await setup();
    const alice = await room(w, 'k');
    const bob = await w.connect('bob@example.org/b');
    const carol = await w.connect('carol@example.org/c');
    await join(bob, 'k', 'Bob');
    await join(carol, 'k', 'Carol');
    alice.take(); bob.take();
    assert.equal(condition(await iq(bob, `k@${SVC}`, 'set', `<query xmlns='${NS_ADMIN}'><item nick='Carol' role='none'/></query>`)), 'forbidden');
    assert.equal(condition(await iq(alice, `k@${SVC}`, 'set', `<query xmlns='${NS_ADMIN}'><item nick='Nobody' role='none'/></query>`)), 'item-not-found');
    const kick = await iq(alice, `k@${SVC}`, 'set', `<query xmlns='${NS_ADMIN}'><item nick='Carol' role='none'><reason>noise</reason></item></query>`);
    assert.equal(kick.attrs.type, 'result');
    const toCarol = carol.take().find((p) => p.attrs.type === 'unavailable')!;
    assert.deepEqual(codes(toCarol), [110, 307]);
    assert.equal(item(toCarol)!.getChildText('reason'), 'noise');
    assert.deepEqual(codes(bob.take().find((p) => p.attrs.from === `k@${SVC}/Carol`)!), [307]);
    assert.equal((await iq(alice, `k@${SVC}`, 'set', `<query xmlns='${NS_ADMIN}'><item jid='bob@example.org' affiliation='outcast'/></query>`)).attrs.type, 'result');
    assert.deepEqual(codes(bob.take().find((p) => p.attrs.type === 'unavailable')!), [110, 301]);
    assert.equal(condition((await join(bob, 'k', 'Bob'))[0]), 'forbidden');
    assert.equal(condition(await iq(alice, `k@${SVC}`, 'set', `<query xmlns='${NS_ADMIN}'><item nick='Alice' role='none'/></query>`)), 'not-allowed');
    assert.equal(condition(await iq(alice, `k@${SVC}`, 'set', `<query xmlns='${NS_ADMIN}'><item jid='alice@example.org' affiliation='member'/></query>`)), 'conflict');
  });

  test('moderated rooms: visitors have no voice until a moderator grants it', async () => {
    const w = await setup();
    const alice = await room(w, 'v', { moderatedroom: '1' });
    const bob = await w.connect('bob@example.org/b');
    const joined = presences(await join(bob, 'v', 'Bob'));
    assert.equal(item(joined.at(-1)!)!.attrs.role, 'visitor');
    alice.take();
    await bob.inject(`<message type='groupchat' to='v@${SVC}'><body>hi</body></message>`);
    assert.equal(condition(bob.take()[0]), 'forbidden');
    await iq(alice, `v@${SVC}`, 'set', `<query xmlns='${NS_ADMIN}'><item nick='Bob' role='participant'/></query>`);
    assert.equal(item(bob.take()[0]!)!.attrs.role, 'participant');
    alice.take();
    await bob.inject(`<message type='groupchat' to='v@${SVC}'><body>hi</body></message>`);
    assert.equal(alice.take()[0]!.getChildText('body'), 'hi');
  });

  test('destroy: only owners; occupants learn the alternate venue and the room is gone', async () => {
    const w = await setup();
    const alice = await room(w, 'gone');
    const bob = await w.connect('bob@example.org/b');
    await join(bob, 'gone', 'Bob');
    const destroy = `<query xmlns='${NS_OWNER}'><destroy jid='new@${SVC}'><reason>moved</reason></destroy></query>`;
    assert.equal(condition(await iq(bob, `gone@${SVC}`, 'set', destroy)), 'forbidden');
    assert.equal((await iq(alice, `gone@${SVC}`, 'set', destroy)).attrs.type, 'result');
    const p = bob.take().find((e) => e.attrs.type === 'unavailable')!;
    const d = p.getChild('x', NS_MUC_USER)!.getChild('destroy')!;
    assert.equal(d.attrs.jid, `new@${SVC}`);
    assert.equal(d.getChildText('reason'), 'moved');
    assert.equal(condition(await iq(bob, `gone@${SVC}`, 'get', `<query xmlns='${NS_DISCO_INFO}'/>`)), 'item-not-found');
  });

  test('mediated invitations and declines go through the room; XEP-0249 direct invitations pass untouched', async () => {
    const w = await setup();
    const alice = await room(w, 'inv', { passwordprotectedroom: '1', roomsecret: 's' });
    const bob = await w.connect('bob@example.org/b');
    await alice.inject(`<message to='inv@${SVC}'><x xmlns='${NS_MUC_USER}'><invite to='bob@example.org/b'><reason>come</reason></invite></x></message>`);
    const [inv] = bob.take();
    assert.equal(inv!.attrs.from, `inv@${SVC}`);
    const ix = inv!.getChild('x', NS_MUC_USER)!;
    assert.equal(ix.getChild('invite')!.attrs.from, 'alice@example.org/a');
    assert.equal(ix.getChild('invite')!.getChildText('reason'), 'come');
    assert.equal(ix.getChildText('password'), 's');
    await bob.inject(`<message to='inv@${SVC}'><x xmlns='${NS_MUC_USER}'><decline to='alice@example.org/a'><reason>busy</reason></decline></x></message>`);
    const dec = alice.take()[0]!.getChild('x', NS_MUC_USER)!.getChild('decline')!;
    assert.equal(dec.attrs.from, 'bob@example.org/b');
    const eve = await w.connect('eve@example.org/e');
    await eve.inject(`<message to='inv@${SVC}'><x xmlns='${NS_MUC_USER}'><invite to='bob@example.org/b'/></x></message>`);
    assert.equal(condition(eve.take()[0]), 'not-acceptable');
    await alice.inject(`<message to='bob@example.org/b'><x xmlns='jabber:x:conference' jid='inv@${SVC}' password='s'/></message>`);
    assert.equal(bob.take()[0]!.getChild('x', 'jabber:x:conference')!.attrs.jid, `inv@${SVC}`);
  });

  test('XEP-0410 self-ping: answered for the own occupant JID, not-acceptable when not joined', async () => {
    const w = await setup();
    const alice = await room(w, 'ping');
    const ok = await iq(alice, `ping@${SVC}/Alice`, 'get', "<ping xmlns='urn:xmpp:ping'/>");
    assert.equal(ok.attrs.type, 'result');
    assert.equal(ok.attrs.from, `ping@${SVC}/Alice`);
    const bob = await w.connect('bob@example.org/b');
    assert.equal(condition(await iq(bob, `ping@${SVC}/Alice`, 'get', "<ping xmlns='urn:xmpp:ping'/>")), 'not-acceptable');
  });

  test('room creation policy: local users only, or nobody', async () => {
    const w = await setup();
    const join = (svc: MucService, from: string) => svc.handle({
      stanza: parse(`<presence from='${from}' to='new@${SVC}/N'><x xmlns='http://jabber.org/protocol/muc'/></presence>`),
      kind: 'presence', from: parseJid(from), to: parseJid(`new@${SVC}/N`), target: 'component', origin: null, router: w.router,
    } as StanzaEvent);
    const make = (creation: RoomCreation) => new MucService({
      domain: SVC, name: 'Chatrooms', creation, localHosts: new Set(['example.org']),
      maxUsers: 10, historyLimit: 5, historyDefault: 5, send: () => {},
    });
    const local = make('local');
    await assert.rejects(join(local, 'zed@elsewhere.example/z'), (e: unknown) => e instanceof StanzaError && e.condition === 'not-allowed');
    assert.equal(local.rooms.size, 0);
    await join(local, 'alice@example.org/a');
    assert.equal(local.rooms.size, 1);
    const closed = make('nobody');
    await assert.rejects(join(closed, 'alice@example.org/a'), (e: unknown) => e instanceof StanzaError && e.condition === 'not-allowed');
  });

  describe('configuration (muc.*) and persistence', () => {
    /** A world whose muc module loads with changed settings and a spool in a temp directory. */
    async function configured(change: (muc: Config['muc']) => void, spool?: string): Promise<TestWorld & { spoolDir: string }> {
      const w = await world(MODULES.filter((m) => m.name !== 'muc'));
      w.config.spool = spool ?? mkdtempSync(joinPath(tmpdir(), 'muc-spool-'));
      change(w.config.muc);
      await new ModuleHost(w.context).load(muc);
      return Object.assign(w, { spoolDir: w.config.spool });
    }
    const roomFile = (spool: string, svc: string, name: string) => joinPath(spool, svc, 'rooms', `${name}.xml`);

    test('domain_prefix names the service; enabled: false serves none', async () => {
      const w = await configured((m) => { m.domain_prefix = 'chat'; });
      const alice = await w.connect('alice@example.org/a');
      await alice.inject(`<presence to='r@chat.example.org/Alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
      assert.equal(alice.take().find((e) => e.name === 'presence')!.attrs.from, 'r@chat.example.org/Alice');
      const off = await configured((m) => { m.enabled = false; });
      const bob = await off.connect('bob@example.org/b');
      const info = await iq(bob, SVC, 'get', `<query xmlns='${NS_DISCO_INFO}'/>`);
      assert.equal(info.attrs.type, 'error');
      rmSync(w.spoolDir, { recursive: true, force: true });
      rmSync(off.spoolDir, { recursive: true, force: true });
    });

    test('creation, max_users and history_default come from the configuration', async () => {
      const w = await configured((m) => { m.creation = 'nobody'; });
      const alice = await w.connect('alice@example.org/a');
      assert.equal(condition((await join(alice, 'r', 'Alice'))[0]), 'not-allowed');
      const v = await configured((m) => { m.max_users = 2; m.history_default = 1; });
      const a = await room(v, 'small');
      const form = (await iq(a, `small@${SVC}`, 'get', `<query xmlns='${NS_OWNER}'/>`)).getChild('query')!.getChild('x', 'jabber:x:data')!;
      assert.equal(form.getChildren('field').find((f) => f.attrs.var === 'muc#roomconfig_maxusers')!.getChildText('value'), '2');
      for (const t of ['one', 'two']) await a.inject(`<message type='groupchat' to='small@${SVC}'><body>${t}</body></message>`);
      const bob = await v.connect('bob@example.org/b');
      const got = await join(bob, 'small', 'Bob');
      assert.deepEqual(messages(got).filter((m) => m.getChild('body')).map((m) => m.getChildText('body')), ['two']);
      const carol = await v.connect('carol@example.org/c');
      assert.equal(condition((await join(carol, 'small', 'Carol'))[0]), 'service-unavailable');
      rmSync(w.spoolDir, { recursive: true, force: true });
      rmSync(v.spoolDir, { recursive: true, force: true });
    });

    test('max_rooms_per_user: creating one room more is a resource-constraint', async () => {
      const w = await configured((m) => { m.max_rooms_per_user = 2; });
      const alice = await w.connect('alice@example.org/a');
      await join(alice, 'r1', 'Alice');
      await join(alice, 'r2', 'Alice');
      assert.equal(condition((await join(alice, 'r3', 'Alice'))[0]), 'resource-constraint');
      const bob = await w.connect('bob@example.org/b');
      assert.ok(codes(presences(await join(bob, 'r3', 'Bob'))[0]!).includes(201), 'another user may still create');
      rmSync(w.spoolDir, { recursive: true, force: true });
    });

    test('message_rate: messages past the rate within 10 s get policy-violation and are not broadcast', async () => {
      const w = await configured((m) => { m.message_rate = 3; });
      const alice = await room(w, 'fast');
      const bob = await w.connect('bob@example.org/b');
      await join(bob, 'fast', 'Bob');
      alice.take();
      for (let i = 0; i < 4; i++) await alice.inject(`<message type='groupchat' to='fast@${SVC}' id='m${i}'><body>${i}</body></message>`);
      const own = alice.take();
      assert.equal(own.filter((e) => e.attrs.type === 'groupchat').length, 3);
      assert.equal(condition(own.find((e) => e.attrs.type === 'error')), 'policy-violation');
      assert.equal(bob.take().filter((e) => e.attrs.type === 'groupchat').length, 3);
      rmSync(w.spoolDir, { recursive: true, force: true });
    });

    test('a persistent room is stored (0600), loaded again by a new server, and its file goes when destroyed', async () => {
      const w = await configured(() => {});
      const alice = await room(w, 'keep', { persistentroom: '1', roomname: 'Kept & sound', passwordprotectedroom: '1', roomsecret: 's3cret' });
      await alice.inject(`<message type='groupchat' to='keep@${SVC}'><subject>Topic</subject></message>`);
      const adm = await iq(alice, `keep@${SVC}`, 'set', `<query xmlns='${NS_ADMIN}'><item jid='bob@example.org' affiliation='member'/></query>`);
      assert.equal(adm.attrs.type, 'result');
      const file = roomFile(w.spoolDir, SVC, 'keep');
      assert.ok(existsSync(file));
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.match(readFileSync(file, 'utf8'), /Kept &amp; sound/);
      // A temporary room leaves no file.
      await room(w, 'temp');
      assert.deepEqual(readdirSync(joinPath(w.spoolDir, SVC, 'rooms')), ['keep.xml']);

      const w2 = await configured(() => {}, w.spoolDir);
      const bob = await w2.connect('bob@example.org/b');
      const info = (await iq(bob, `keep@${SVC}`, 'get', `<query xmlns='${NS_DISCO_INFO}'/>`)).getChild('query')!;
      assert.equal(info.getChild('identity')!.attrs.name, 'Kept & sound');
      assert.equal(condition((await join(bob, 'keep', 'Bob'))[0]), 'not-authorized');
      const got = await join(bob, 'keep', 'Bob', '<password>s3cret</password>');
      assert.equal(item(presences(got).at(-1)!)!.attrs.affiliation, 'member');
      assert.equal(messages(got).at(-1)!.getChildText('subject'), 'Topic');
      const items = (await iq(bob, SVC, 'get', `<query xmlns='${NS_DISCO_ITEMS}'/>`)).getChild('query')!.getChildren('item');
      assert.deepEqual(items.map((i) => i.attrs.jid), [`keep@${SVC}`]);
      const alice2 = await w2.connect('alice@example.org/a');
      const d = await iq(alice2, `keep@${SVC}`, 'set', `<query xmlns='${NS_OWNER}'><destroy/></query>`);
      assert.equal(d.attrs.type, 'result');
      assert.equal(existsSync(file), false);
      rmSync(w.spoolDir, { recursive: true, force: true });
    });

    test('shutdown: occupants leave with 332 and the persistent room stays stored', async () => {
      const w = await configured(() => {});
      const svc = new MucService({
        domain: SVC, name: 'Chatrooms', creation: 'local', localHosts: new Set(['example.org']),
        maxUsers: 10, historyLimit: 5, historyDefault: 5, send: (s) => { sent.push(s); },
      });
      const sent: Element[] = [];
      const ev = (from: string) => ({
        stanza: parse(`<presence from='${from}' to='down@${SVC}/N'/>`),
        kind: 'presence', from: parseJid(from), to: parseJid(`down@${SVC}/N`), target: 'component', origin: null, router: w.router,
      } as StanzaEvent);
      await svc.handle(ev('alice@example.org/a'));
      sent.length = 0;
      await svc.shutdown();
      assert.equal(sent.length, 1);
      assert.equal(sent[0]!.attrs.type, 'unavailable');
      assert.ok(codes(sent[0]!).includes(332));
      rmSync(w.spoolDir, { recursive: true, force: true });
    });
  });

  test('two joins racing to a new room: one creates it (201), the other joins it', async () => {
    const w = await setup();
    const alice = await w.connect('alice@example.org/a');
    const bob = await w.connect('bob@example.org/b');
    await Promise.all([
      alice.inject(`<presence to='race@${SVC}/Alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`),
      bob.inject(`<presence to='race@${SVC}/Bob'><x xmlns='http://jabber.org/protocol/muc'/></presence>`),
    ]);
    const created = [alice, bob].filter((s) => s.take().some((e) => e.name === 'presence' && codes(e).includes(201)));
    assert.equal(created.length, 1, 'exactly one joiner created the room');
  });

  test('a host entry can switch the service off for that host (hosts[].muc: false)', async () => {
    const w = await world([...MODULES.filter((m) => m.name !== 'muc'), muc], ['example.org', 'quiet.example'],
      (c) => { c.hosts[1]!.muc = false; });
    const a = await w.connect('alice@example.org/a');
    assert.equal(w.router.isComponent('conference.example.org'), true);
    assert.equal(w.router.isComponent('conference.quiet.example'), false);
    const r = await iq(a, 'quiet.example', 'get', "<query xmlns='http://jabber.org/protocol/disco#items'/>");
    assert.equal(r.getChild('query')!.getChildren('item').some((i) => i.attrs.jid === 'conference.quiet.example'), false);
  });
});
