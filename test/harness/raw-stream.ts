// A raw client stream for end-to-end tests that need what no client library sends:
// pre-auth iqs on plaintext, direct TLS or pre-1.0 streams. Sends text, waits for
// patterns in what the server answered.
import net from 'node:net';
import tls from 'node:tls';

export interface RawStream {
  /** Everything received since the last clear(). */
  data(): string;
  clear(): void;
  send(text: string): void;
  /** Resolves with the first match of `re` in the received data. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  close(): void;
  closed: Promise<void>;
}

export interface RawStreamOptions {
  port: number;
  /** Direct TLS (XEP-0368 port); the certificate is not checked. */
  tls?: boolean;
  domain?: string;
  /** false: a pre-1.0 stream header without version (legacy clients). */
  version?: boolean;
}

export async function openStream(opts: RawStreamOptions): Promise<RawStream> {
  const domain = opts.domain ?? 'localhost';
  const socket: net.Socket = opts.tls
    ? tls.connect({ host: '127.0.0.1', port: opts.port, servername: domain, rejectUnauthorized: false })
    : net.connect({ host: '127.0.0.1', port: opts.port });
  let buf = '';
  const listeners = new Set<() => void>();
  socket.on('data', (d) => { buf += d.toString('utf8'); for (const l of [...listeners]) l(); });
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.on('close', () => { for (const l of [...listeners]) l(); resolve(); }));
  await new Promise<void>((resolve, reject) => {
    socket.once(opts.tls ? 'secureConnect' : 'connect', () => resolve());
    socket.once('error', reject);
  });
  const waitFor = (re: RegExp, timeoutMs = 10000) => new Promise<string>((resolve, reject) => {
    const check = () => {
      const m = re.exec(buf);
      if (m) { done(); resolve(m[0]); } else if (socket.destroyed) { done(); reject(new Error(`closed before ${re}: ${buf}`)); }
    };
    const timer = setTimeout(() => { done(); reject(new Error(`timed out waiting for ${re}: ${buf}`)); }, timeoutMs);
    const done = () => { listeners.delete(check); clearTimeout(timer); };
    listeners.add(check);
    check();
  });
  const version = opts.version === false ? '' : " version='1.0'";
  socket.write(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='${domain}'${version}>`);
  await waitFor(opts.version === false ? /<stream:stream[^>]*>/ : /<\/stream:features>/);
  return {
    data: () => buf,
    clear: () => { buf = ''; },
    send: (text) => { socket.write(text); },
    waitFor,
    close: () => { socket.destroy(); },
    closed,
  };
}

/** Sends an iq and resolves with the whole answer to it (matched by id). */
export async function iq(stream: RawStream, id: string, xml: string): Promise<string> {
  stream.send(xml);
  return stream.waitFor(new RegExp(`<iq\\b[^>]*\\bid=['"]${id}['"][^>]*?(/>|>[\\s\\S]*?</iq>)`));
}
