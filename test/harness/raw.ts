// A raw TCP peer for hostile-input tests: sends bytes, collects everything the
// server answers until it closes the connection.
import net from 'node:net';
import tls from 'node:tls';

export const HEADER = (to = 'localhost') =>
  `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='${to}' version='1.0'>`;

export interface RawResult { data: string; closed: boolean }

/** Sends each chunk in turn, then waits until the server closes (or timeoutMs passes). */
export function rawExchange(port: number, chunks: Array<string | Buffer>, timeoutMs = 10000): Promise<RawResult> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let data = '';
    let settled = false;
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ data, closed });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('data', (d) => { data += d.toString('utf8'); });
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
    socket.on('connect', async () => {
      for (const c of chunks) {
        if (socket.destroyed) break;
        const ok = socket.write(c);
        if (!ok) await new Promise((r) => socket.once('drain', r).once('close', r));
      }
    });
  });
}

/** Opens a TCP connection that starts a TLS handshake and never finishes it. */
export function stalledTls(port: number): net.Socket {
  const socket = net.connect({ host: '127.0.0.1', port });
  // A ClientHello record header with a length that never arrives.
  socket.on('connect', () => socket.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])));
  socket.on('error', () => {});
  return socket;
}

/** The stream error condition in a server's answer, if any. */
export function streamErrorCondition(data: string): string | null {
  const m = /<stream:error><([a-z-]+) xmlns=['"]urn:ietf:params:xml:ns:xmpp-streams['"]/.exec(data);
  return m ? m[1]! : null;
}

export { tls };

/** A logged-in raw plaintext session (needs require_encryption off and PLAIN allowed). */
export interface RawSession { socket: net.Socket; data(): string; waitFor(re: RegExp, timeoutMs?: number): Promise<string>; closed: Promise<void> }

/** A socket's input as one growing string, with a wait for a pattern in it. */
export interface Watched {
  data(): string;
  /** Forgets what arrived so far (later waits look only at new input). */
  clear(): void;
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  closed: Promise<void>;
}

export function watch(socket: net.Socket): Watched {
  let buf = '';
  const listeners: Array<() => void> = [];
  socket.on('data', (d) => { buf += d.toString('utf8'); for (const l of [...listeners]) l(); });
  socket.on('error', () => {});
  const closed = new Promise<void>((r) => socket.on('close', () => { for (const l of [...listeners]) l(); r(); }));
  const waitFor = (re: RegExp, timeoutMs = 10000) => new Promise<string>((resolve, reject) => {
    const check = () => {
      const m = re.exec(buf);
      if (m) { listeners.splice(listeners.indexOf(check), 1); clearTimeout(t); resolve(m[0]); }
      else if (socket.destroyed) { listeners.splice(listeners.indexOf(check), 1); clearTimeout(t); reject(new Error(`closed before ${re}: ${buf}`)); }
    };
    const t = setTimeout(() => { listeners.splice(listeners.indexOf(check), 1); reject(new Error(`timed out waiting for ${re}: ${buf}`)); }, timeoutMs);
    listeners.push(check);
    check();
  });
  return { data: () => buf, clear: () => { buf = ''; }, waitFor, closed };
}

export async function rawLogin(port: number, user: string, password: string, resource: string, domain = 'localhost'): Promise<RawSession> {
  const socket = net.connect({ host: '127.0.0.1', port });
  const { data, clear, waitFor, closed } = watch(socket);
  await new Promise((r) => socket.once('connect', r));
  socket.write(HEADER(domain));
  await waitFor(/<\/stream:features>/);
  socket.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${user}\0${password}`).toString('base64')}</auth>`);
  await waitFor(/<success[^>]*(\/>|<\/success>)/);
  clear();
  socket.write(HEADER(domain));
  await waitFor(/<\/stream:features>/);
  socket.write(`<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`);
  await waitFor(/<\/jid>/);
  return { socket, data, waitFor, closed };
}

/** One PLAIN attempt on a fresh plaintext stream; returns the SASL answer (<success…> or <failure…>). */
export async function plainAttempt(port: number, user: string, password: string, domain = 'localhost'): Promise<string> {
  const r = await rawExchangeUntil(port, [HEADER(domain)], /<\/stream:features>/, (send) =>
    send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${user}\0${password}`).toString('base64')}</auth>`));
  const m = /<(success|failure)[\s\S]*?(<\/\1>|\/>)/.exec(r);
  return m ? m[0] : r;
}

/** Sends `first`, waits for `ready`, then lets `then` send more, and returns what arrived within a short time after. */
function rawExchangeUntil(port: number, first: string[], ready: RegExp, then: (send: (s: string) => void) => void): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let data = '';
    let sent = false;
    let timer: NodeJS.Timeout | null = null;
    const done = () => { socket.destroy(); resolve(data); };
    socket.on('connect', () => { for (const f of first) socket.write(f); });
    socket.on('data', (d) => {
      data += d.toString();
      if (!sent && ready.test(data)) {
        sent = true;
        then((s) => socket.write(s));
      }
      if (sent && /<(success|failure)/.test(data) && /(<\/success>|<\/failure>|<success[^>]*\/>|<failure[^>]*\/>)/.test(data) && !timer) timer = setTimeout(done, 50);
    });
    socket.on('close', done);
    socket.on('error', done);
    setTimeout(done, 10000);
  });
}
