// A small chat room bot built on @xmpp/client: it joins one room (XEP-0045),
// greets everyone who comes in, and answers two commands in the room:
//   !help  the commands it knows
//   !time  the current time (UTC)
//
// Configure it with environment variables:
//   XMPP_SERVICE   where to connect, e.g. xmpp://localhost:5222
//   XMPP_DOMAIN    the account's domain, e.g. localhost
//   XMPP_USERNAME  the account's user name
//   XMPP_PASSWORD  its password
//   MUC_ROOM       the room, e.g. lobby@conference.localhost
//   MUC_NICK       the bot's nickname in the room (default: Bot)
// Build with `npx tsc -p .` and run `node dist/examples/muc-bot.js`. For a server with
// a self-signed certificate, point NODE_EXTRA_CA_CERTS at that certificate.
import { client, xml } from '@xmpp/client';

const NS_MUC = 'http://jabber.org/protocol/muc';
const NS_MUC_USER = 'http://jabber.org/protocol/muc#user';
const NS_MUC_OWNER = 'http://jabber.org/protocol/muc#owner';
const NS_DATA = 'jabber:x:data';
const NS_DELAY = 'urn:xmpp:delay';

/** XEP-0045 status codes the bot looks at. */
const STATUS_SELF = '110';
const STATUS_ROOM_CREATED = '201';

interface Stanza {
  name: string;
  attrs: Record<string, string | undefined>;
  is(name: string): boolean;
  getChild(name: string, xmlns?: string): Stanza | undefined;
  getChildren(name: string): Stanza[];
  getChildText(name: string): string | null;
}

function required(name: string): string {
  const v = process.env[name];
  if (!v) {
    console.error(`muc-bot: set ${name}`);
    process.exit(2);
  }
  return v;
}

const room = required('MUC_ROOM');
const nick = process.env.MUC_NICK || 'Bot';
const xmpp = client({
  service: required('XMPP_SERVICE'),
  domain: required('XMPP_DOMAIN'),
  username: required('XMPP_USERNAME'),
  password: required('XMPP_PASSWORD'),
  resource: 'muc-bot',
});

/** Until our own presence comes back, the presences are the occupants already there: no greetings. */
let joined = false;
/** Nicknames in the room, so a status change is not greeted as a newcomer. */
const occupants = new Set<string>();

const COMMANDS: Record<string, () => string> = {
  '!help': () => 'Commands: !help (this list), !time (the current time, UTC).',
  '!time': () => `Time here: ${new Date().toISOString().replace('T', ' ').slice(0, 19)} UTC`,
};

function say(body: string): Promise<void> {
  return xmpp.send(xml('message', { to: room, type: 'groupchat' }, xml('body', {}, body)));
}

function nickOf(jid: string | undefined): string {
  const slash = jid?.indexOf('/') ?? -1;
  return slash >= 0 ? jid!.slice(slash + 1) : '';
}

async function onPresence(p: Stanza): Promise<void> {
  if (!p.attrs.from?.startsWith(`${room}/`)) return;
  if (p.attrs.type === 'error') {
    console.error(`muc-bot: could not join ${room}: ${p.getChild('error')?.getChildren('*')[0]?.name ?? 'error'}`);
    await xmpp.stop();
    return;
  }
  const codes = (p.getChild('x', NS_MUC_USER)?.getChildren('status') ?? []).map((s) => s.attrs.code);
  if (codes.includes(STATUS_SELF)) {
    if (p.attrs.type === 'unavailable') {
      console.log(`left ${room}`);
      return;
    }
    if (codes.includes(STATUS_ROOM_CREATED)) {
      // We made the room: accept the default configuration (an "instant room").
      await xmpp.iqCaller.set(xml('query', { xmlns: NS_MUC_OWNER }, xml('x', { xmlns: NS_DATA, type: 'submit' })), room);
    }
    if (!joined) console.log(`joined ${room} as ${nick}`);
    joined = true;
    return;
  }
  const who = nickOf(p.attrs.from);
  if (p.attrs.type === 'unavailable') {
    occupants.delete(who);
    return;
  }
  if (p.attrs.type !== undefined || occupants.has(who)) return; // a status change, not a newcomer
  occupants.add(who);
  if (joined) await say(`Welcome, ${who}! Say !help to see what I can do.`);
}

async function onMessage(m: Stanza): Promise<void> {
  if (m.attrs.type !== 'groupchat' || !m.attrs.from?.startsWith(`${room}/`)) return;
  // Replayed history and our own echoes get no answer.
  if (m.getChild('delay', NS_DELAY) || nickOf(m.attrs.from) === nick) return;
  const command = COMMANDS[(m.getChildText('body') ?? '').trim()];
  if (command) await say(command());
}

xmpp.on('error', (err: Error) => console.error(`muc-bot: ${err.message}`));
xmpp.on('stanza', (st: Stanza) => {
  const handled = st.is('presence') ? onPresence(st) : st.is('message') ? onMessage(st) : undefined;
  handled?.catch((err: Error) => console.error(`muc-bot: ${err.message}`));
});
xmpp.on('online', async () => {
  await xmpp.send(xml('presence'));
  await xmpp.send(xml('presence', { to: `${room}/${nick}` }, xml('x', { xmlns: NS_MUC }, xml('history', { maxstanzas: '0' }))));
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    xmpp.stop().catch(() => {}).finally(() => process.exit(0));
  });
}

await xmpp.start();
