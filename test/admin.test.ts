// The admin commands against a running server, through its admin socket.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, startServer, type TestServer } from './harness/server.js';
import { rawLogin, streamErrorCondition, type RawSession } from './harness/raw.js';

function cli(server: TestServer, args: string[], input = ''): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args, ...server.configArgs], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    p.on('exit', (code) => resolve({ code, out, err }));
    p.stdin.end(input);
  });
}

describe('admin commands on the running server', () => {
  let server: TestServer;
  let ann: RawSession;
  let ben: RawSession;

  before(async () => {
    server = await startServer({ sets: ['c2s.require_encryption=false', 'c2s.allow_unencrypted_plain=true', 'muc.rooms=[{name: help, description: Fragen}]'] });
    server.adduser('ann@localhost', 'pw-ann');
    server.adduser('ben@localhost', 'pw-ben');
    ann = await rawLogin(server.starttlsPort, 'ann', 'pw-ann', 'laptop');
    ben = await rawLogin(server.starttlsPort, 'ben', 'pw-ben', 'phone');
  });
  after(async () => {
    ann.socket.destroy();
    ben.socket.destroy();
    await server.stop();
    server.cleanup();
  });

  test('the admin socket is mode 0600', () => {
    assert.equal(statSync(join(server.spool, 'admin.sock')).mode & 0o777, 0o600);
  });

  test('sessions lists who is online with IP, TLS and mechanism', async () => {
    const r = await cli(server, ['sessions']);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trim().split('\n').sort();
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /^ann@localhost\/laptop\t127\.0\.0\.1\tplaintext\tPLAIN\t/);
    assert.match(lines[1]!, /^ben@localhost\/phone\t127\.0\.0\.1\tplaintext\tPLAIN\t/);
    const json = JSON.parse((await cli(server, ['sessions', '--json'])).out) as Array<{ jid: string }>;
    assert.deepEqual(json.map((s) => s.jid).sort(), ['ann@localhost/laptop', 'ben@localhost/phone']);
  });

  test('send delivers a server message, with the body from --body or stdin', async () => {
    assert.equal((await cli(server, ['send', '--to', 'ann@localhost/laptop', '--body', 'Backup fertig'])).code, 0);
    await ann.waitFor(/<message[^>]*from=["']localhost["'][^>]*>[\s\S]*?Backup fertig/);
    assert.equal((await cli(server, ['send', '--to', 'ben@localhost/phone', '--from', 'ann@localhost'], 'Kurs gefallen\n')).code, 0);
    await ben.waitFor(/<message[^>]*from=["']ann@localhost["'][^>]*>[\s\S]*?Kurs gefallen/);
  });

  test('announce reaches everyone online on the host', async () => {
    const r = await cli(server, ['announce', 'localhost', '--body', 'Wartung um 18 Uhr']);
    assert.equal(r.out.trim(), 'sent to 2 session(s)');
    await ann.waitFor(/type=["']headline["'][\s\S]*?Wartung um 18 Uhr/);
    await ben.waitFor(/type=["']headline["'][\s\S]*?Wartung um 18 Uhr/);
  });

  test('roster add puts a contact into a roster and pushes it to the user\'s client', async () => {
    ann.socket.write("<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>");
    await ann.waitFor(/<iq[^>]*id=["']r1["'][^>]*>|<iq[^>]*type=["']result["'][^>]*id=["']r1["']/);
    const r = await cli(server, ['roster', 'add', 'ann@localhost', 'ben@localhost', '--name', 'Ben vom Helpdesk', '--group', 'Team', '--group', 'IT']);
    assert.equal(r.code, 0, r.err);
    const push = await ann.waitFor(/<iq[^>]*type=["']set["'][\s\S]*?<\/iq>/);
    assert.match(push, /<item[^>]*jid=["']ben@localhost["']/);
    assert.match(push, /name=["']Ben vom Helpdesk["']/);
    assert.match(push, /<group>Team<\/group>/);
    assert.match(push, /<group>IT<\/group>/);
    const r2 = await cli(server, ['roster', 'add', 'ghost@localhost', 'ben@localhost']);
    assert.equal(r2.code, 1);
    assert.match(r2.err, /does not exist/);
  });

  test('room create, list and destroy act on the MUC service; muc.rooms made its room at start', async () => {
    const list0 = await cli(server, ['room', 'list']);
    assert.equal(list0.code, 0, list0.err);
    assert.equal(list0.out, 'help@conference.localhost\t0\tpersistent\tpublic\t\n');
    const r = await cli(server, ['room', 'create', 'Kaffee@conference.localhost', '--name', 'Kaffeeküche', '--hidden', '--max-users', '10']);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out.trim(), 'created kaffee@conference.localhost');
    ann.socket.write("<presence to='kaffee@conference.localhost/Ann'><x xmlns='http://jabber.org/protocol/muc'/></presence>");
    await ann.waitFor(/<presence[^>]*from=["']kaffee@conference\.localhost\/Ann["'][\s\S]*?code=["']110["']/);
    const rooms = JSON.parse((await cli(server, ['room', 'list', 'conference.localhost', '--json'])).out) as unknown[];
    assert.deepEqual(rooms, [
      { jid: 'help@conference.localhost', name: '', occupants: 0, persistent: true, public: true },
      { jid: 'kaffee@conference.localhost', name: 'Kaffeeküche', occupants: 1, persistent: true, public: false },
    ]);
    const again = await cli(server, ['room', 'create', 'kaffee@conference.localhost']);
    assert.equal(again.code, 1);
    assert.match(again.err, /kaffee@conference\.localhost already exists/);
    const d = await cli(server, ['room', 'destroy', 'kaffee@conference.localhost', '--reason', 'Umzug']);
    assert.equal(d.code, 0, d.err);
    await ann.waitFor(/<destroy[^>]*>\s*<reason>Umzug<\/reason>/);
    assert.ok(!existsSync(join(server.spool, 'conference.localhost', 'rooms', 'kaffee.xml')));
    const gone = await cli(server, ['room', 'destroy', 'kaffee@conference.localhost']);
    assert.equal(gone.code, 1);
    assert.match(gone.err, /no room kaffee@conference\.localhost/);
    const elsewhere = await cli(server, ['room', 'create', 'x@conference.elsewhere.example']);
    assert.equal(elsewhere.code, 1);
    assert.match(elsewhere.err, /not a MUC service/);
    const listElsewhere = await cli(server, ['room', 'list', 'conference.elsewhere.example']);
    assert.equal(listElsewhere.code, 1);
    assert.match(listElsewhere.err, /not a MUC service/);
    const noRoom = await cli(server, ['room', 'create', 'conference.localhost']);
    assert.equal(noRoom.code, 1);
    assert.match(noRoom.err, /not a room address/);
  });

  test('bad requests fail with exit code 1 and a message', async () => {
    const r1 = await cli(server, ['kick', 'nobody@localhost']);
    assert.equal(r1.code, 1);
    assert.match(r1.err, /not online/);
    const r2 = await cli(server, ['announce', 'elsewhere.example', '--body', 'x']);
    assert.equal(r2.code, 1);
    assert.match(r2.err, /not a host/);
  });

  test('kick disconnects the session with a stream error', async () => {
    const r = await cli(server, ['kick', 'ben@localhost/phone']);
    assert.equal(r.code, 0, r.err);
    await ben.closed;
    assert.equal(streamErrorCondition(ben.data()), 'policy-violation');
  });

  test('without a running server the commands say so and exit 1', async () => {
    const r = await new Promise<{ code: number | null; err: string }>((resolve) => {
      const p = spawn(process.execPath, [CLI, 'sessions', '--set', 'spool=/nonexistent-rohrpost-spool'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
      p.on('exit', (code) => resolve({ code, err }));
    });
    assert.equal(r.code, 1);
    assert.match(r.err, /server is not running/);
  });
});
