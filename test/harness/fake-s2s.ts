// A hand-driven server-to-server peer over raw sockets, for what no real server
// will do on purpose: claim one domain, then send stanzas from another.
import net from 'node:net';
import { watch } from './raw.js';

const NS_HEADER = "xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback'";

export interface FakeLine { socket: net.Socket; data(): string; waitFor(re: RegExp, timeoutMs?: number): Promise<string>; send(s: string): void; closed: Promise<void> }

/** Wraps a socket with a buffer and a regexp wait. */
export function line(socket: net.Socket): FakeLine {
  const w = watch(socket);
  return { socket, data: w.data, waitFor: (re, ms = 15000) => w.waitFor(re, ms), send: (s) => socket.write(s), closed: w.closed };
}

/**
 * The authoritative server for `domain`: answers Rohrpost's db:verify with valid
 * exactly when the key is `key`. Listens on 127.0.0.1; returns its port.
 */
export async function fakeAuthoritative(domain: string, key: string): Promise<{ port: number; verified: string[]; close(): void }> {
  const verified: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    const l = line(socket);
    void (async () => {
      await l.waitFor(/<stream:stream[^>]*>/);
      l.send(`<?xml version='1.0'?><stream:stream ${NS_HEADER} id='fake-out-1' from='${domain}' version='1.0'><stream:features/>`);
      let seen = 0;
      const poll = setInterval(() => {
        const all = [...l.data().matchAll(/<db:verify from=["']([^"']+)["'] to=["']([^"']+)["'] id=["']([^"']+)["']>([^<]*)<\/db:verify>/g)];
        for (const m of all.slice(seen)) {
          const [, from, to, id, k] = m;
          verified.push(id!);
          l.send(`<db:verify from='${to}' to='${from}' id='${id}' type='${k === key ? 'valid' : 'invalid'}'/>`);
        }
        seen = all.length;
      }, 20);
      socket.on('close', () => clearInterval(poll));
    })().catch(() => socket.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    verified,
    close() { for (const s of sockets) s.destroy(); server.close(); },
  };
}

/** Opens a plaintext server stream to Rohrpost claiming `from`, and asks dialback with `key`; resolves with the line and the answer's type. */
export async function dialbackIn(port: number, from: string, to: string, key: string): Promise<{ l: FakeLine; type: string }> {
  const socket = net.connect({ host: '127.0.0.1', port });
  const l = line(socket);
  await new Promise((r) => socket.once('connect', r));
  l.send(`<?xml version='1.0'?><stream:stream ${NS_HEADER} from='${from}' to='${to}' version='1.0'>`);
  await l.waitFor(/<\/stream:features>|<stream:features\/>/);
  l.send(`<db:result from='${from}' to='${to}'>${key}</db:result>`);
  const answer = await l.waitFor(/<db:result [^>]*type=["'](valid|invalid|error)["'][^>]*\/?>/);
  return { l, type: /type=["']([a-z]+)["']/.exec(answer)![1]! };
}

/** A TCP port that accepts connections and never says a word (a hung server). */
export async function silentServer(): Promise<{ port: number; close(): void }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => { sockets.add(s); s.on('error', () => {}); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as net.AddressInfo).port, close() { for (const s of sockets) s.destroy(); server.close(); } };
}

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}
