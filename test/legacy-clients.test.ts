// 2002-era clients: Net::Jabber logs in with jabber:iq:auth (XEP-0078) over direct
// TLS ("Use SSL"), reads its roster, chats; sendxmpp delivers a message.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, startServer, type TestServer } from './harness/server.js';
import { rawLogin, type RawSession } from './harness/raw.js';

function run(cmd: string, args: string[], input = ''): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const t = setTimeout(() => p.kill('SIGKILL'), 60000);
    p.on('exit', (code) => { clearTimeout(t); resolve({ code, out, err }); });
    p.stdin.end(input);
  });
}

describe('2002-era clients', () => {
  let server: TestServer;
  let peer: RawSession;
  const cafile = () => join(server.certs, 'localhost.crt');

  before(async () => {
    // The peer logs in over plaintext for brevity; the old clients use TLS.
    server = await startServer({ sets: ['c2s.require_encryption=false', 'c2s.allow_unencrypted_plain=true'] });
    server.adduser('oldtimer@localhost', 'winjab2002');
    server.adduser('peer@localhost', 'peerpw');
    peer = await rawLogin(server.starttlsPort, 'peer', 'peerpw', 'desk');
    peer.socket.write('<presence/>');
  });
  after(async () => {
    peer.socket.destroy();
    await server.stop();
    server.cleanup();
  });

  test('Net::Jabber: jabber:iq:auth over direct TLS, roster, a message each way', async () => {
    const script = join(ROOT, 'test', 'harness', 'netjabber.pl');
    const running = run('/usr/bin/perl', [script, 'localhost', String(server.directTlsPort), 'localhost',
      'oldtimer', 'winjab2002', 'WinJab', cafile(), 'peer@localhost/desk', 'Hallo aus 2002']);
    await peer.waitFor(/<message[^>]*from=["']oldtimer@localhost\/WinJab["'][^>]*>[\s\S]*?Hallo aus 2002/, 30000);
    peer.socket.write("<message to='oldtimer@localhost/WinJab' type='chat'><body>Antwort von heute</body></message>");
    const r = await running;
    assert.match(r.out, /AUTH: ok/, r.out + r.err);
    assert.match(r.out, /ROSTER: /);
    assert.match(r.out, /GOT: peer@localhost\/desk Antwort von heute/);
    const auth = await server.waitForLog((l) => l.msg === 'authenticated' && l.mechanism === 'jabber:iq:auth');
    assert.equal(auth.jid, 'oldtimer@localhost');
    assert.match(String(auth.tls), /^TLSv1\.[23]$/);
  });

  test('Net::Jabber with a wrong password is refused (401) and nothing is logged in', async () => {
    const script = join(ROOT, 'test', 'harness', 'netjabber.pl');
    const r = await run('/usr/bin/perl', [script, 'localhost', String(server.directTlsPort), 'localhost',
      'oldtimer', 'wrong', 'WinJab2', cafile(), 'peer@localhost/desk', 'x', '1']);
    assert.match(r.out, /AUTH: 401/, r.out + r.err);
    assert.ok(server.logs.some((l) => l.msg === 'authentication failed' && l.mechanism === 'jabber:iq:auth'));
    assert.equal(server.logs.some((l) => l.msg === 'resource bound' && l.jid === 'oldtimer@localhost/WinJab2'), false);
  });

  test('sendxmpp delivers a message over STARTTLS', async () => {
    const r = await run('/usr/bin/sendxmpp', ['-t', '-a', cafile(), '-u', 'oldtimer', '-p', 'winjab2002',
      '-j', `localhost:${server.starttlsPort}`, '-o', 'localhost', 'peer@localhost'], 'Monitoring: Platte voll\n');
    assert.equal(r.code, 0, r.out + r.err);
    await peer.waitFor(/<message[^>]*>[\s\S]*?Monitoring: Platte voll/, 20000);
  });
});
