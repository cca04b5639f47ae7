// Federation: the s2s listeners (5269 STARTTLS, 5270 direct TLS), one outgoing link
// per pair of domains (made on first use, reused, closed when idle), and the inbound
// streams. The router reaches other servers only through send().
import type net from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import type { Jid } from '../jid/index.js';
import type { Element } from '../xml/element.js';
import type { RemoteRoute, Router } from '../router/router.js';
import type { TlsContexts } from '../tls/contexts.js';
import { StanzaError } from '../errors.js';
import { XmppStream, type StreamOptions } from '../stream/xmpp-stream.js';
import { ListenerPair, type ListenerAddresses } from '../stream/listeners.js';
import { NS_SERVER } from '../stream/namespaces.js';
import { NameCache } from '../xml/parser.js';
import { DialbackKeys, NS_DIALBACK } from './dialback.js';
import { FederationPolicy } from './policy.js';
import { S2sResolver } from './resolve.js';
import { S2sTls } from './tls.js';
import { InboundStream } from './inbound.js';
import { OutboundLink } from './outbound.js';
import type { LinkInfo, S2sContext } from './context.js';

export type S2sAddresses = ListenerAddresses;

/** How often idle links and unauthenticated inbound streams are checked. */
const SWEEP_MS = 5000;

export class S2sManager implements RemoteRoute {
  private readonly links = new Map<string, OutboundLink>();
  private readonly inbound = new Set<InboundStream>();
  private readonly listeners: ListenerPair;
  private sweeper: NodeJS.Timeout | null = null;
  private readonly ctx: S2sContext;
  private readonly names = new NameCache();
  readonly tls: S2sTls;

  constructor(private readonly config: Config, private readonly log: Logger, private readonly router: Router, hostTls: TlsContexts) {
    const s2s = config.s2s;
    this.tls = new S2sTls(hostTls, s2s.ca_file);
    this.ctx = {
      config, log, router,
      policy: new FederationPolicy(s2s),
      tls: this.tls,
      keys: new DialbackKeys(),
      resolver: new S2sResolver({ resolver: s2s.resolver, routes: s2s.routes, timeoutMs: Math.min(5000, s2s.connect_timeout * 500) }),
      streamOptions: () => this.streamOptions(),
      verifyKey: (local, remote, key, streamId) => this.link(local, remote).verify(key, streamId),
    };
    this.listeners = new ListenerPair({
      what: 's2s', starttls: s2s.starttls, directTls: s2s.direct_tls,
      tlsOptions: () => this.tls.serverOptions(config.hosts[0]!.domain),
      handshakeTimeoutMs: config.limits.auth_timeout * 1000,
      log,
      accept: (socket) => this.accept(socket),
    });
  }

  private streamOptions(): StreamOptions {
    const limits = this.config.limits;
    return {
      ns: NS_SERVER,
      limits: { maxStanzaSize: limits.max_stanza_size, maxDepth: limits.max_depth, maxAttributes: limits.max_attributes },
      maxSendBuffer: Math.max(limits.max_send_buffer, 16 * 1024 * 1024),
      onInternalError: (err) => this.log.error({ err }, 'internal error in server stream'),
      names: this.names,
      declarations: { db: NS_DIALBACK },
    };
  }

  async listen(): Promise<S2sAddresses> {
    const addresses = await this.listeners.listen();
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweeper.unref();
    return addresses;
  }

  private accept(socket: net.Socket): void {
    if (socket.destroyed) return;
    if (this.inbound.size >= this.config.limits.max_connections) {
      this.log.warn({ ip: socket.remoteAddress }, 'server connection refused: connection limit reached');
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    const s = new InboundStream(new XmppStream(socket, this.streamOptions()), this.ctx, (ended) => this.inbound.delete(ended));
    this.inbound.add(s);
    this.log.debug({ conn: s.id, ip: s.ip }, 'server connection opened');
  }

  /** RemoteRoute: a stanza for another domain, from one of ours. */
  send(stanza: Element, from: Jid, to: Jid): void {
    // Never a relay: only what one of our own domains sends leaves this server.
    if (!this.router.servesDomain(from.domain)) {
      this.log.warn({ from: from.toString(), to: to.toString() }, 'not relaying a stanza between two other domains');
      return;
    }
    if (!this.ctx.policy.allows(to.domain)) {
      void this.router.bounce(stanza, new StanzaError('remote-server-not-found', `this server does not talk to ${to.domain}`));
      return;
    }
    if (!this.link(from.domain, to.domain).send(stanza)) this.link(from.domain, to.domain, true).send(stanza);
  }

  /** The link for a pair of domains, started if there is none. */
  private link(local: string, remote: string, replace = false): OutboundLink {
    const key = `${local} ${remote}`;
    let link = this.links.get(key);
    if (replace && link) {
      link.close('replaced by a new connection');
      this.links.delete(key);
      link = undefined;
    }
    if (!link || link.state === 'closed') {
      link = new OutboundLink(this.ctx, local, remote, (l) => {
        if (this.links.get(key) === l) this.links.delete(key);
      });
      this.links.set(key, link);
      link.start();
    }
    return link;
  }

  list(): LinkInfo[] {
    return [...[...this.links.values()].map((l) => l.info()), ...[...this.inbound].map((s) => s.info())];
  }

  private sweep(): void {
    const now = Date.now();
    const idleMs = this.config.s2s.idle_timeout * 1000;
    for (const link of this.links.values()) {
      if (link.state === 'established' && now - link.lastUsed > idleMs) link.close('idle');
    }
    for (const s of this.inbound) {
      if (!s.authenticated && now - s.openedAt > this.config.limits.auth_timeout * 1000) {
        s.close('connection-timeout', 'authentication took too long');
      } else if (s.authenticated && now - s.stream.lastRead > idleMs) {
        s.close();
      }
    }
  }

  refreshTls(): void {
    this.tls.refresh();
    this.listeners.refreshTls();
  }

  async shutdown(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    const closing = this.listeners.close();
    for (const link of [...this.links.values()]) link.close('system shutdown');
    for (const s of [...this.inbound]) s.close('system-shutdown', 'the server is shutting down');
    await Promise.race([closing, new Promise((r) => setTimeout(r, 1500))]);
  }
}
