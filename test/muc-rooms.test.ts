// Rooms an administrator makes: muc.rooms at start (created once, never overwritten),
// its validation, and the 'muc' service the admin socket uses.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { world, type FakeSession, type TestWorld } from './harness/fake-session.js';
import { MODULES } from '../src/main.js';
import muc from '../src/modules/xep0045-muc.js';
import { ModuleHost } from '../src/router/modules.js';
import { ServiceRefusal, type MucAdmin } from '../src/router/services.js';
import type { Config } from '../src/config/types.js';
import { loadConfig } from '../src/config/loader.js';
import { ConfigError } from '../src/errors.js';
import type { Element } from '../src/xml/element.js';

const SVC = 'conference.example.org';
const NS_MUC_USER = 'http://jabber.org/protocol/muc#user';
const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const NS_DISCO_ITEMS = 'http://jabber.org/protocol/disco#items';

const codes = (el: Element) => (el.getChild('x', NS_MUC_USER)?.getChildren('status') ?? []).map((s) => Number(s.attrs.code)).sort();

async function started(rooms: Config['muc']['rooms'], spool: string, hosts = ['example.org']): Promise<TestWorld & { admin: MucAdmin }> {
  const w = await world(MODULES.filter((m) => m.name !== 'muc'), hosts);
  w.config.spool = spool;
  w.config.muc.rooms = rooms;
  await new ModuleHost(w.context).load(muc);
  return Object.assign(w, { admin: w.router.services.use('muc')! });
}

async function iq(s: FakeSession, to: string, type: string, payload: string): Promise<Element> {
  await s.inject(`<iq type='${type}' id='q' to='${to}'>${payload}</iq>`);
  return s.take().find((e) => e.name === 'iq')!;
}

async function join(s: FakeSession, room: string, nick: string, inner = ''): Promise<Element[]> {
  await s.inject(`<presence to='${room}/${nick}'><x xmlns='http://jabber.org/protocol/muc'>${inner}</x></presence>`);
  return s.take();
}

const description = (info: Element) => info.getChild('query')!.getChild('x', 'jabber:x:data')!.getChildren('field')
  .find((f) => f.attrs.var === 'muc#roominfo_description')!.getChildText('value');

describe('rooms made by administrators', () => {
  test('muc.rooms: created at start as persistent, open rooms; a stored room is never overwritten', async () => {
    const spool = mkdtempSync(joinPath(tmpdir(), 'muc-rooms-'));
    const w = await started([
      { name: 'help', title: 'Help', description: 'Questions about this server' },
      { name: 'staff', password: 'pw', public: false, max_users: 5 },
    ], spool);
    const bob = await w.connect('bob@example.org/b');
    const got = await join(bob, `help@${SVC}`, 'Bob');
    const self = got.find((e) => e.name === 'presence' && codes(e).includes(110))!;
    assert.ok(self, 'bob enters at once');
    assert.ok(!codes(self).includes(201), 'the room is not new for bob');
    assert.equal(self.getChild('x', NS_MUC_USER)!.getChild('item')!.attrs.affiliation, 'none');
    const info = await iq(bob, `help@${SVC}`, 'get', `<query xmlns='${NS_DISCO_INFO}'/>`);
    const feats = info.getChild('query')!.getChildren('feature').map((f) => f.attrs.var);
    assert.ok(feats.includes('muc_persistent') && feats.includes('muc_public'));
    assert.equal(info.getChild('query')!.getChild('identity')!.attrs.name, 'Help');
    assert.equal(description(info), 'Questions about this server');
    const staffInfo = await iq(bob, `staff@${SVC}`, 'get', `<query xmlns='${NS_DISCO_INFO}'/>`);
    const staffFeats = staffInfo.getChild('query')!.getChildren('feature').map((f) => f.attrs.var);
    assert.ok(staffFeats.includes('muc_passwordprotected') && staffFeats.includes('muc_hidden'));
    const items = (await iq(bob, SVC, 'get', `<query xmlns='${NS_DISCO_ITEMS}'/>`)).getChild('query')!.getChildren('item');
    assert.deepEqual(items.map((i) => i.attrs.jid), [`help@${SVC}`]);
    assert.ok(existsSync(joinPath(spool, SVC, 'rooms', 'help.xml')));
    assert.match(readFileSync(joinPath(spool, SVC, 'rooms', 'staff.xml'), 'utf8'), /roomconfig_maxusers[^]*?<value>5<\/value>/);

    // The stored room wins over a changed entry; a missing one is made again.
    await w.admin.destroyRoom(SVC, 'staff');
    const w2 = await started([{ name: 'help', description: 'Changed in the file' }, { name: 'staff' }], spool);
    const carol = await w2.connect('carol@example.org/c');
    assert.equal(description(await iq(carol, `help@${SVC}`, 'get', `<query xmlns='${NS_DISCO_INFO}'/>`)), 'Questions about this server');
    const rooms = await w2.admin.listRooms();
    assert.deepEqual(rooms.map((r) => [r.jid, r.persistent, r.public]), [[`help@${SVC}`, true, true], [`staff@${SVC}`, true, true]]);
    rmSync(spool, { recursive: true, force: true });
  });

  test('muc.rooms: a plain name goes to every host\'s service, ROOM@SERVICE to that one; an unknown service stops the start', async () => {
    const spool = mkdtempSync(joinPath(tmpdir(), 'muc-rooms-'));
    const w = await started([{ name: 'lobby' }, { name: 'ops@conference.example.net' }], spool, ['example.org', 'example.net']);
    assert.deepEqual((await w.admin.listRooms()).map((r) => r.jid).sort(),
      ['lobby@conference.example.net', 'lobby@conference.example.org', 'ops@conference.example.net']);
    assert.deepEqual((await w.admin.listRooms('conference.example.org')).map((r) => r.jid), ['lobby@conference.example.org']);
    await assert.rejects(started([{ name: 'x@conference.elsewhere.example' }], spool), /muc\.rooms\[0\]\.name: conference\.elsewhere\.example is not a MUC service/);
    rmSync(spool, { recursive: true, force: true });
  });

  test('muc.rooms validation names the entry and key', () => {
    const dir = mkdtempSync(joinPath(tmpdir(), 'muc-rooms-cfg-'));
    const file = joinPath(dir, 'rohrpost.yaml');
    const load = (yaml: string) => { writeFileSync(file, yaml); return () => loadConfig({ file }); };
    assert.deepEqual(load('muc:\n  rooms:\n    - name: Help\n      moderated: true\n')().muc.rooms, [{ name: 'help', moderated: true }]);
    assert.throws(load('muc:\n  rooms: help\n'), (e: Error) => e instanceof ConfigError && /muc\.rooms: "help" is not valid; expected a list of mappings/.test(e.message));
    assert.throws(load('muc:\n  rooms:\n    - title: x\n'), /muc\.rooms\[0\]\.name: undefined is not valid; expected a room name/);
    assert.throws(load('muc:\n  rooms:\n    - name: ok\n    - name: x\n      titel: y\n'), /muc\.rooms\[1\]\.titel: .*did you mean title\?/);
    assert.throws(load('muc:\n  rooms:\n    - name: a b/c\n'), /muc\.rooms\[0\]\.name/);
    assert.throws(load('muc:\n  rooms:\n    - name: ok\n      max_users: -1\n'), /muc\.rooms\[0\]\.max_users: -1 is not valid/);
    assert.throws(load('muc:\n  rooms:\n    - name: ok\n    - name: OK\n'), /muc\.rooms\[1\]\.name: "OK" is not valid; expected a room not already listed/);
    rmSync(dir, { recursive: true, force: true });
  });

  test('the muc service: create refuses an existing room and bad limits; destroy tells the occupants; unknown rooms and services are refused', async () => {
    const spool = mkdtempSync(joinPath(tmpdir(), 'muc-rooms-'));
    const w = await started([], spool);
    assert.equal(await w.admin.createRoom(SVC, 'Kaffee', { name: 'Kaffeeküche', membersOnly: false }), `kaffee@${SVC}`);
    await assert.rejects(w.admin.createRoom(SVC, 'kaffee', {}), (e: Error) => e instanceof ServiceRefusal && /already exists/.test(e.message));
    await assert.rejects(w.admin.createRoom(SVC, 'big', { maxUsers: 201 }), ServiceRefusal);
    await assert.rejects(w.admin.createRoom('conference.elsewhere.example', 'x', {}), /not a MUC service/);
    await assert.rejects(w.admin.destroyRoom(SVC, 'nothing'), /there is no room nothing@/);
    const bob = await w.connect('bob@example.org/b');
    await join(bob, `kaffee@${SVC}`, 'Bob');
    assert.deepEqual(await w.admin.listRooms(SVC), [{ jid: `kaffee@${SVC}`, name: 'Kaffeeküche', occupants: 1, persistent: true, public: true }]);
    await w.admin.destroyRoom(SVC, 'kaffee', 'Umzug');
    const gone = bob.take().find((e) => e.name === 'presence')!;
    assert.equal(gone.attrs.type, 'unavailable');
    assert.equal(gone.getChild('x', NS_MUC_USER)!.getChild('destroy')!.getChildText('reason'), 'Umzug');
    assert.equal(existsSync(joinPath(spool, SVC, 'rooms', 'kaffee.xml')), false);
    assert.deepEqual(await w.admin.listRooms(), []);
    rmSync(spool, { recursive: true, force: true });
  });
});
