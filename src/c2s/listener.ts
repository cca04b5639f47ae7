// The c2s listeners: STARTTLS on 5222 and direct TLS on 5223 (XEP-0368). Both make
// the same C2sSession; they differ only in when TLS starts. Connection limits and
// the timeout sweep live here, one timer for all sessions.
import type net from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import type { Storage } from '../storage/types.js';
import type { Router } from '../router/router.js';
import type { TlsContexts } from '../tls/contexts.js';
import { FailureThrottle } from '../auth/throttle.js';
import { XmppStream } from '../stream/xmpp-stream.js';
import { ListenerPair, type ListenerAddresses } from '../stream/listeners.js';
import { NameCache } from '../xml/parser.js';
import { NS_CLIENT } from '../stream/namespaces.js';
import { x } from '../xml/element.js';
import { C2sSession } from './session.js';
import type { C2sContext } from './context.js';

const NS_PING = 'urn:xmpp:ping';
/** How often idle and unauthenticated connections are checked. */
const SWEEP_MS = 5000;
/** After an idle ping, how long the client has to show signs of life (at most idle_timeout). */
const PING_GRACE_MS = 60_000;

export type C2sAddresses = ListenerAddresses;

export class C2sListeners {
  readonly sessions = new Set<C2sSession>();
  /** Sessions whose connection closed but whose end the modules are still handling. */
  private readonly ending = new Set<Promise<void>>();
  private readonly perIp = new Map<string, number>();
  private open = 0;
  private readonly listeners: ListenerPair;
  private sweeper: NodeJS.Timeout | null = null;
  /** One name cache for all client streams: it costs ~9 KB, the names are the same everywhere. */
  private readonly names = new NameCache();
  private readonly ctx: C2sContext;

  constructor(private readonly config: Config, private readonly log: Logger, storage: Storage,
    tlsContexts: TlsContexts, private readonly router: Router) {
    const a = config.auth;
    this.ctx = {
      config, log, storage, tls: tlsContexts,
      ipThrottle: new FailureThrottle(a.max_failures_per_ip, a.throttle_window * 1000),
      accountThrottle: new FailureThrottle(a.max_failures_per_account, a.throttle_window * 1000),
      connectionClosed: (s, ended) => {
        this.sessions.delete(s);
        if (!ended) return;
        this.ending.add(ended);
        void ended.finally(() => this.ending.delete(ended));
      },
    };
    this.listeners = new ListenerPair({
      what: 'c2s', starttls: config.c2s.starttls, directTls: config.c2s.direct_tls,
      tlsOptions: () => tlsContexts.serverOptions(),
      handshakeTimeoutMs: config.limits.auth_timeout * 1000,
      log,
      admit: (socket) => this.admit(socket),
      accept: (socket, directTls) => this.accept(socket, directTls),
    });
  }

  async listen(): Promise<C2sAddresses> {
    const addresses = await this.listeners.listen();
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweeper.unref();
    return addresses;
  }

  /** Applies the connection limits to a new TCP connection, dropping it when over. */
  private admit(socket: net.Socket): void {
    const ip = socket.remoteAddress ?? 'unknown';
    const { max_connections_per_ip, max_connections } = this.config.limits;
    const n = (this.perIp.get(ip) ?? 0) + 1;
    if ((max_connections_per_ip > 0 && n > max_connections_per_ip) || this.open + 1 > max_connections) {
      this.log.warn({ ip }, 'connection refused: connection limit reached');
      socket.destroy();
      return;
    }
    this.perIp.set(ip, n);
    this.open++;
    socket.once('close', () => {
      this.open--;
      const left = (this.perIp.get(ip) ?? 1) - 1;
      if (left <= 0) this.perIp.delete(ip);
      else this.perIp.set(ip, left);
    });
  }

  private accept(socket: net.Socket, directTls: boolean): void {
    if (socket.destroyed) return;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    const stream = new XmppStream(socket, {
      ns: NS_CLIENT,
      limits: {
        maxStanzaSize: this.config.limits.max_stanza_size,
        maxDepth: this.config.limits.max_depth,
        maxAttributes: this.config.limits.max_attributes,
      },
      maxSendBuffer: this.config.limits.max_send_buffer,
      onInternalError: (err) => this.log.error({ err }, 'internal error in stream'),
      names: this.names,
    });
    const session = new C2sSession(stream, this.ctx, this.router);
    this.sessions.add(session);
    this.log.info({ conn: session.id, ip: session.ip, tls: directTls ? 'direct' : 'none' }, 'connection opened');
  }

  /** Closes connections that never authenticated, and pings then closes silent ones. */
  private sweep(): void {
    const now = Date.now();
    const authMs = this.config.limits.auth_timeout * 1000;
    const idleMs = this.config.limits.idle_timeout * 1000;
    for (const s of this.sessions) {
      if (!s.bound) {
        if (now - s.openedAt > authMs) s.close('connection-timeout', 'authentication took too long');
        continue;
      }
      // Anything heard since the ping (its answer, say) counts as an answer.
      if (s.pingedAt !== 0 && s.stream.lastRead >= s.pingedAt) s.pingedAt = 0;
      if (now - s.stream.lastRead < idleMs) continue;
      if (s.pingedAt === 0) {
        s.pingedAt = now;
        s.send(x('iq', { type: 'get', id: `idle-${now}`, from: s.host, to: s.jid.toString() }, x('ping', { xmlns: NS_PING })));
      } else if (now - s.pingedAt > Math.min(PING_GRACE_MS, idleMs)) {
        s.close('connection-timeout', 'no answer to ping');
      }
    }
  }

  /** After a certificate reload: the direct-TLS listener's default context follows. */
  refreshTls(): void {
    this.listeners.refreshTls();
  }

  /** SIGTERM: every stream ends with system-shutdown (RFC 6120 §4.9.3.19). */
  async shutdown(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    const closing = this.listeners.close();
    // Let the modules record the ends of the sessions (last activity, presence) before the
    // spool is flushed; then tell the clients.
    const detached = [...this.sessions].map((s) => s.detach());
    await Promise.race([Promise.all([...detached, ...this.ending]), new Promise((r) => setTimeout(r, 3000))]);
    for (const s of this.sessions) s.close('system-shutdown', 'the server is shutting down');
    // Give the peers a moment to read the error before the process exits.
    await Promise.race([closing, new Promise((r) => setTimeout(r, 1500))]);
  }
}
