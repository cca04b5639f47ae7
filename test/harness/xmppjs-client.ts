// Drives Rohrpost with npm's @xmpp/client in a child process, so that
// NODE_EXTRA_CA_CERTS can make it trust the server's self-signed certificate
// (real verification, no checks switched off). Prints one JSON line.
import { client, xml } from '@xmpp/client';

interface Options {
  service: string;
  domain: string;
  users: Array<{ username: string; password: string; resource: string }>;
  /** 'ping': each user pings the server; 'chat': user 0 and user 1 exchange messages. */
  actions: string[];
}

type XmppClient = ReturnType<typeof client>;

const opts = JSON.parse(process.argv[2]!) as Options;
const out: Record<string, unknown> = { ok: false };
const clients: XmppClient[] = [];

async function login(u: Options['users'][number]): Promise<XmppClient> {
  const c = client({ service: opts.service, domain: opts.domain, username: u.username, password: u.password, resource: u.resource });
  c.on('error', (err: Error) => { out.lastError = String(err); });
  clients.push(c);
  await c.start();
  return c;
}

function nextMessage(c: XmppClient, timeoutMs = 10000): Promise<{ from: string; body: string }> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no message arrived')), timeoutMs);
    const onStanza = (st: { is(n: string): boolean; attrs: Record<string, string>; getChildText(n: string): string | null }) => {
      if (!st.is('message') || st.getChildText('body') === null) return;
      clearTimeout(t);
      c.removeListener('stanza', onStanza);
      resolve({ from: st.attrs.from!, body: st.getChildText('body')! });
    };
    c.on('stanza', onStanza);
  });
}

try {
  const logged = [];
  for (const u of opts.users) logged.push(await login(u));
  out.jids = logged.map((c) => String(c.jid));
  if (opts.actions.includes('ping')) {
    for (const c of logged) await c.iqCaller.get(xml('ping', 'urn:xmpp:ping'), opts.domain);
    out.ping = true;
  }
  if (opts.actions.includes('chat')) {
    const [a, b] = logged as [XmppClient, XmppClient];
    const atB = nextMessage(b);
    await a.send(xml('message', { to: String(b.jid), type: 'chat' }, xml('body', {}, 'Hallo B, grüß dich')));
    const got = await atB;
    const atA = nextMessage(a);
    await b.send(xml('message', { to: got.from, type: 'chat' }, xml('body', {}, 'Hallo A')));
    const reply = await atA;
    out.chat = { atB: got, atA: reply };
  }
  out.ok = true;
} catch (err) {
  out.error = String(err);
} finally {
  for (const c of clients) await c.stop().catch(() => {});
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(0);
}
