// End to end: XEP-0045 multi-user chat over real sockets. slixmpp clients create and
// configure a persistent password-protected room, chat, whisper, read history, kick
// and ban; the room and its settings survive a restart; a Net::Jabber client joins
// with groupchat 1.0 and talks; the example bot answers in a room of three.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, runDriver, startServer, type TestServer } from './harness/server.js';

const ROOM = 'secret@conference.localhost';
const PASSWORD = 'letmein';
const SETS = ['c2s.require_encryption=false'];
const USERS = {
  alice: { jid: 'alice@localhost/a', password: 'alicepw' },
  bob: { jid: 'bob@localhost/b', password: 'bobpw' },
  carol: { jid: 'carol@localhost/c', password: 'carolpw' },
};

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Record<string, unknown>> {
  return runDriver(cmd, args, { env, timeoutMs: 90000 });
}

const slixMuc = (server: TestServer, options: Record<string, unknown>) => run('/usr/bin/python3', [
  join(ROOT, 'test', 'harness', 'slix_muc.py'),
  JSON.stringify({ host: '127.0.0.1', port: server.starttlsPort, room: ROOM, password: PASSWORD, users: USERS, timeout: 60, ...options }),
]);

const hasNetJabber = spawnSync('/usr/bin/perl', ['-MNet::Jabber', '-e', '1']).status === 0;

describe('XEP-0045 multi-user chat end to end', () => {
  let server: TestServer;
  let first: TestServer;

  before(async () => {
    first = server = await startServer({ sets: SETS });
    for (const [name, u] of Object.entries(USERS)) server.adduser(`${name}@localhost`, u.password);
  });
  after(async () => {
    await server.stop();
    first.cleanup();
  });

  test('slixmpp: create a persistent password room, chat, whisper, history, kick and ban', async () => {
    const r = await slixMuc(server, { scenario: 'create' });
    assert.equal(r.error, undefined, JSON.stringify(r));
    assert.equal(r.created, true);
    assert.equal(r.configured, 'result');
    assert.equal(r.join_without_password, 'not-authorized');
    assert.equal(r.join_with_password, null);
    assert.equal(r.bob_got_alice, true);
    assert.equal(r.alice_got_bob, true);
    assert.deepEqual(r.private, { from: `${ROOM}/Alice`, type: 'chat' });
    assert.equal(r.carol_got_private, false);
    const history = r.history as Array<Record<string, unknown>>;
    assert.deepEqual(history.map((h) => h.body), ['hello from alice', 'hi alice']);
    assert.deepEqual(history.map((h) => h.from), [`${ROOM}/Alice`, `${ROOM}/Bob`]);
    assert.ok(history.every((h) => h.delay_from === ROOM && h.stamped === true), JSON.stringify(history));
    assert.ok((r.kick_codes as number[]).includes(307), JSON.stringify(r.kick_codes));
    assert.ok((r.kick_codes as number[]).includes(110));
    assert.ok((r.bob_saw_kick as number[]).includes(307));
    assert.equal(r.rejoin_after_kick, null);
    assert.ok((r.ban_codes as number[]).includes(301), JSON.stringify(r.ban_codes));
    assert.equal(r.join_after_ban, 'forbidden');
    assert.equal(r.ok, true);
    const file = join(server.spool, 'conference.localhost', 'rooms', 'secret.xml');
    assert.ok(existsSync(file), 'the room file is in the spool');
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });

  test('the room, its settings and its ban list survive a restart', async () => {
    assert.equal(await server.stop(), 0);
    server = await startServer({ dir: first.dir, sets: SETS });
    const r = await slixMuc(server, { scenario: 'restart' });
    assert.equal(r.error, undefined, JSON.stringify(r));
    assert.equal(r.name, 'Secret room');
    assert.ok((r.features as string[]).includes('muc_persistent'));
    assert.ok((r.features as string[]).includes('muc_passwordprotected'));
    assert.deepEqual(r.listed, [ROOM]);
    assert.equal(r.join_without_password, 'not-authorized');
    assert.equal(r.join_with_password, null);
    assert.equal(r.banned_join, 'forbidden');
    assert.equal(r.alice_affiliation, 'owner');
  });

  test('Net::Jabber: a groupchat 1.0 join and a message the others see', { skip: !hasNetJabber && 'Net::Jabber is not installed' }, async () => {
    const room = 'oldschool@conference.localhost';
    const r = await run('/usr/bin/perl', [join(ROOT, 'test', 'harness', 'netjabber_muc.pl'), JSON.stringify({
      host: 'localhost', port: server.directTlsPort, cafile: join(server.certs, 'localhost.crt'), user: 'bob', password: 'bobpw', domain: 'localhost', room, nick: 'Bobby',
      body: 'greetings from 1999',
    })]);
    assert.equal(r.error, undefined, JSON.stringify(r));
    assert.equal(r.joined, true, JSON.stringify(r));
    assert.equal(r.echo, true, JSON.stringify(r));
    assert.equal(r.echo_from, `${room}/Bobby`);
  });

  test('the example bot greets newcomers and answers !time to three slixmpp clients and !help', async () => {
    server.adduser('robot@localhost', 'robotpw');
    const room = 'lounge@conference.localhost';
    const bot = spawn(process.execPath, [join(ROOT, 'dist', 'examples', 'muc-bot.js')], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        // The certificate names the domain, so the bot connects to 'localhost' (IPv4 first: we bind 127.0.0.1).
        NODE_EXTRA_CA_CERTS: join(server.certs, 'localhost.crt'), NODE_OPTIONS: '--dns-result-order=ipv4first',
        XMPP_SERVICE: `xmpp://localhost:${server.starttlsPort}`, XMPP_DOMAIN: 'localhost',
        XMPP_USERNAME: 'robot', XMPP_PASSWORD: 'robotpw', MUC_ROOM: room, MUC_NICK: 'Bot',
      },
    });
    let botOut = '';
    let botErr = '';
    bot.stderr.on('data', (d: Buffer) => { botErr += d.toString(); });
    const exited = new Promise<void>((r) => bot.once('exit', () => r()));
    try {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`the bot did not join: ${botOut}${botErr}`)), 20000);
        bot.stdout.on('data', (d: Buffer) => {
          botOut += d.toString();
          if (botOut.includes(`joined ${room}`)) { clearTimeout(t); resolve(); }
        });
        void exited.then(() => { clearTimeout(t); reject(new Error(`the bot exited: ${botOut}${botErr}`)); });
      });
      const r = await slixMuc(server, { scenario: 'bot', room, bot_nick: 'Bot' });
      assert.equal(r.error, undefined, JSON.stringify(r) + botErr);
      assert.equal(r.carol_greeted, true, JSON.stringify(r));
      const answers = r.time_answers as Record<string, string | null>;
      assert.deepEqual(Object.keys(answers).sort(), ['alice', 'bob', 'carol']);
      for (const a of Object.values(answers)) assert.match(a ?? '', /^Time here: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
      assert.equal(r.help, true);
    } finally {
      bot.kill('SIGTERM');
      await exited;
    }
  });
});
