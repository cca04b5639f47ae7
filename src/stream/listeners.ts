// The pair of TCP listeners every kind of stream has: one where TLS starts with
// STARTTLS, one with TLS from the first byte (XEP-0368). c2s and s2s differ only in
// the TLS options and in what they do with an accepted socket.
import net, { type AddressInfo } from 'node:net';
import tls, { type TlsOptions } from 'node:tls';
import type { Logger } from 'pino';
import type { ListenerConfig } from '../config/types.js';

export interface ListenerPairOptions {
  /** 'c2s' or 's2s', for the log lines. */
  what: string;
  starttls: ListenerConfig;
  directTls: ListenerConfig;
  /** Options of the direct TLS listener; read when it is made. */
  tlsOptions(): TlsOptions;
  /** A peer that never finishes its TLS handshake must not hold the slot for long. */
  handshakeTimeoutMs: number;
  log: Logger;
  /** Every raw connection, before any TLS handshake (connection limits). */
  admit?(socket: net.Socket): void;
  /** A connection ready for XMPP: plain on the STARTTLS port, after the handshake on the other. */
  accept(socket: net.Socket, directTls: boolean): void;
}

export interface ListenerAddresses { starttls: AddressInfo | null; directTls: AddressInfo | null }

export class ListenerPair {
  private readonly servers: net.Server[] = [];

  constructor(private readonly o: ListenerPairOptions) {}

  async listen(): Promise<ListenerAddresses> {
    const o = this.o;
    const out: ListenerAddresses = { starttls: null, directTls: null };
    if (o.starttls.port !== null) {
      out.starttls = await this.bind(net.createServer((socket) => o.accept(socket, false)), o.starttls, 'starttls');
    }
    if (o.directTls.port !== null) {
      const server = tls.createServer({ ...o.tlsOptions(), handshakeTimeout: o.handshakeTimeoutMs }, (socket) => o.accept(socket, true));
      server.on('tlsClientError', (err, socket) => {
        o.log.info({ ip: socket.remoteAddress, err: err.message }, `${o.what} TLS handshake failed`);
        // With a listener installed, Node leaves the socket open (even on handshake timeout).
        socket.destroy();
      });
      out.directTls = await this.bind(server, o.directTls, 'direct-tls');
    }
    return out;
  }

  private bind(server: net.Server, at: ListenerConfig, kind: string): Promise<AddressInfo> {
    this.servers.push(server);
    const admit = this.o.admit;
    if (admit) server.on('connection', (socket: net.Socket) => admit(socket));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: at.address, port: at.port!, backlog: 1024 }, () => {
        server.off('error', reject);
        server.on('error', (err) => this.o.log.error({ err, kind }, `${this.o.what} listener error`));
        const addr = server.address() as AddressInfo;
        this.o.log.info({ kind, address: addr.address, port: addr.port }, `${this.o.what} listening`);
        resolve(addr);
      });
    });
  }

  /** After a certificate reload: the direct TLS listener's default context follows. */
  refreshTls(): void {
    for (const s of this.servers) if (s instanceof tls.Server) s.setSecureContext(this.o.tlsOptions());
  }

  /** Stops accepting; resolves when the servers are closed (open connections are the caller's). */
  close(): Promise<void> {
    return Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r())))).then(() => undefined);
  }
}
