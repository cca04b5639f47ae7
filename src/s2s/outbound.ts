// An outgoing server-to-server link for one pair of domains (RFC 6120 §4–6,
// XEP-0220, XEP-0368): resolve, connect, STARTTLS, authenticate with SASL EXTERNAL
// or dialback, then carry stanzas one way. Stanzas queue while it is being set up
// and bounce if it cannot be; the same link asks the peer to verify dialback keys.
import net from 'node:net';
import { connect as tlsConnect, TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { x, type Element } from '../xml/element.js';
import type { StreamHeader } from '../xml/parser.js';
import { StanzaError, type StanzaErrorCondition } from '../errors.js';
import { XmppStream } from '../stream/xmpp-stream.js';
import { NS_SASL, NS_STREAMS, NS_TLS } from '../stream/namespaces.js';
import { NS_DIALBACK, NS_DIALBACK_FEATURE, dbResult, dbVerify, localName } from './dialback.js';
import type { S2sTarget } from './resolve.js';
import type { CertificateStatus } from './tls.js';
import type { LinkInfo, S2sContext } from './context.js';

type LinkState = 'resolving' | 'connecting' | 'negotiating' | 'established' | 'closed';

/** Why a link failed, as the stanza error its queued stanzas bounce with. */
class LinkFailure extends Error {
  constructor(readonly condition: StanzaErrorCondition, message: string) {
    super(message);
  }
}

export class OutboundLink {
  state: LinkState = 'resolving';
  auth: string | null = null;
  lastUsed = Date.now();
  private readonly queue: Element[] = [];
  private stream: XmppStream | null = null;
  private target: S2sTarget | null = null;
  private certificate: CertificateStatus = 'none';
  /** The peer's stream is open (after TLS, if any): db:verify may be sent. */
  private opened = false;
  private readonly verifies = new Map<string, { key: string; done: (valid: boolean) => void }>();
  private deadline: NodeJS.Timeout | null = null;
  private since = '';
  private readonly log: Logger;

  constructor(private readonly ctx: S2sContext, readonly local: string, readonly remote: string,
    private readonly ended: (link: OutboundLink) => void) {
    this.log = ctx.log.child({ s2s: 'out', local, remote });
  }

  /** Starts connecting; stanzas sent meanwhile wait in order. */
  start(): void {
    // The whole set-up is bounded: queued stanzas bounce with remote-server-timeout after it.
    this.deadline = setTimeout(() => this.fail(new LinkFailure('remote-server-timeout', 'connection set-up timed out')),
      this.ctx.config.s2s.connect_timeout * 1000);
    this.deadline.unref();
    this.connect().catch((err: unknown) => this.fail(err instanceof LinkFailure ? err
      : new LinkFailure('remote-server-not-found', (err as Error).message)));
  }

  /** Sends or queues a stanza; false when the link is going away (the caller takes a new one). */
  send(stanza: Element): boolean {
    if (this.state === 'closed') return false;
    this.lastUsed = Date.now();
    if (this.state === 'established' && this.stream) {
      // The peer may have closed the stream (an idle timeout on its side): a new link carries it.
      if (this.stream.state !== 'open') return false;
      this.stream.send(stanza);
      return true;
    }
    if (this.queue.length >= this.ctx.config.s2s.max_queue) {
      void this.ctx.router.bounce(stanza, new StanzaError('resource-constraint', `too many stanzas waiting for ${this.remote}`));
      return true;
    }
    this.queue.push(stanza);
    return true;
  }

  /** Sends db:verify for a key a peer of `remote` gave us on an inbound stream; resolves with the answer. */
  verify(key: string, streamId: string): Promise<boolean> {
    if (this.state === 'closed') return Promise.resolve(false);
    return new Promise((resolve) => {
      this.verifies.get(streamId)?.done(false);
      // A peer that never answers must not hold the asking stream open for ever.
      const timer = setTimeout(() => {
        if (this.verifies.get(streamId)?.done === done) this.verifies.delete(streamId);
        resolve(false);
      }, this.ctx.config.s2s.connect_timeout * 1000);
      timer.unref();
      const done = (valid: boolean) => {
        clearTimeout(timer);
        resolve(valid);
      };
      this.verifies.set(streamId, { key, done });
      if (this.opened) this.stream!.send(dbVerify(this.local, this.remote, streamId, key));
    });
  }

  info(): LinkInfo {
    const s = this.stream?.socket;
    return {
      direction: 'out', remote: [this.remote], local: [this.local], auth: this.auth,
      tls: s instanceof TLSSocket ? s.getProtocol() : null,
      ip: this.target ? `${this.target.address}:${this.target.port}` : '', since: this.since, state: this.state,
    };
  }

  close(reason = 'closed'): void {
    if (this.state === 'closed') return;
    if (this.stream) this.stream.close(reason);
    else this.fail(new LinkFailure('remote-server-not-found', reason));
  }

  // ---- connecting ----

  private async connect(): Promise<void> {
    const targets = await this.ctx.resolver.resolve(this.remote);
    if (this.state === 'closed') return;
    if (targets.length === 0) throw new LinkFailure('remote-server-not-found', `${this.remote} does not resolve`);
    this.state = 'connecting';
    let lastError = 'no address';
    for (const target of targets) {
      if (this.state !== 'connecting') return;
      try {
        const socket = await this.open(target);
        if (this.state !== 'connecting') {
          socket.destroy();
          return;
        }
        this.target = target;
        this.negotiate(socket, target.directTls);
        return;
      } catch (err) {
        lastError = `${target.address}:${target.port}: ${(err as Error).message}`;
        this.log.debug({ target, err: (err as Error).message }, 's2s connection attempt failed');
      }
    }
    throw new LinkFailure('remote-server-not-found', `cannot connect to ${this.remote} (${lastError})`);
  }

  /** A TCP (or direct TLS) connection to one address, or an error. */
  private open(t: S2sTarget): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const socket: net.Socket = t.directTls
        ? tlsConnect({ host: t.address, port: t.port, ...this.ctx.tls.clientOptions(this.local, this.remote, true) })
        : net.connect({ host: t.address, port: t.port });
      const ready = t.directTls ? 'secureConnect' : 'connect';
      const timer = setTimeout(() => socket.destroy(new Error('connect timed out')), this.ctx.config.s2s.connect_timeout * 1000);
      socket.once(ready, () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(socket);
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  private negotiate(socket: net.Socket, directTls: boolean): void {
    this.state = 'negotiating';
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    const stream = new XmppStream(socket, this.ctx.streamOptions());
    this.stream = stream;
    stream.start({
      streamStart: (h) => this.streamStart(h),
      element: (el, ns) => this.element(el, ns),
      closed: (reason) => this.closed(reason),
    });
    if (directTls && socket instanceof TLSSocket) this.checkCertificate(socket);
    stream.open(this.local, this.remote);
  }

  private streamStart(h: StreamHeader): void {
    // A pre-1.0 server sends no features: dialback is all it knows (XEP-0220 §2.1).
    if (h.attrs.version === undefined) this.authenticate(null);
  }

  private element(el: Element, ns: string | undefined): void {
    const name = localName(el);
    if (ns === NS_STREAMS && name === 'features') return this.features(el);
    if (ns === NS_TLS && name === 'proceed') return this.startTls();
    if (ns === NS_TLS) return this.abort('remote-server-not-found', 'the peer refused STARTTLS');
    if (ns === NS_SASL && name === 'success') {
      this.auth = 'SASL EXTERNAL';
      this.opened = false;
      return this.stream!.restart();
    }
    if (ns === NS_SASL && name === 'failure') return this.dialback('SASL EXTERNAL failed');
    if (ns === NS_DIALBACK && name === 'result') return this.dialbackResult(el);
    if (ns === NS_DIALBACK && name === 'verify') return this.verifyAnswer(el);
    // Nothing else may come this way on a one-way link.
    this.log.debug({ element: el.toString() }, 'unexpected element on an outgoing server stream');
  }

  private features(f: Element): void {
    const stream = this.stream!;
    if (this.auth) return this.established();
    if (!stream.secure && f.getChild('starttls', NS_TLS)) {
      stream.send(x('starttls', { xmlns: NS_TLS }));
      return;
    }
    if (!stream.secure && this.ctx.policy.requireEncryption) {
      return this.abort('remote-server-not-found', `${this.remote} does not offer TLS, which this server requires`);
    }
    this.ready();
    this.authenticate(f);
  }

  /** The stream is open for good (TLS done): pending db:verify requests go out. */
  private ready(): void {
    this.opened = true;
    for (const [id, v] of this.verifies) this.stream!.send(dbVerify(this.local, this.remote, id, v.key));
  }

  private startTls(): void {
    this.stream!.startClientTls(this.ctx.tls.clientOptions(this.local, this.remote, false), (socket) => {
      this.checkCertificate(socket);
      this.stream!.open(this.local, this.remote);
    });
  }

  private checkCertificate(socket: TLSSocket): void {
    this.certificate = this.ctx.tls.status(socket, this.remote);
    this.log.debug({ certificate: this.certificate }, 'peer certificate checked');
  }

  private authenticate(f: Element | null): void {
    if (f === null) {
      this.ready();
      return this.dialback(null);
    }
    // RFC 6120 §6.3.4 / XEP-0178: the peer offers EXTERNAL only if our certificate satisfies it.
    const mechanisms = f.getChild('mechanisms', NS_SASL)?.getChildren('mechanism').map((m) => m.text()) ?? [];
    if (this.stream!.secure && mechanisms.includes('EXTERNAL')) {
      this.stream!.send(x('auth', { xmlns: NS_SASL, mechanism: 'EXTERNAL' }, Buffer.from(this.local).toString('base64')));
      this.pendingDialback = f.getChild('dialback', NS_DIALBACK_FEATURE) !== undefined;
      return;
    }
    this.pendingDialback = true;
    this.dialback(null);
  }

  /** Whether the peer offered dialback (a fallback after a failed SASL EXTERNAL). */
  private pendingDialback = false;

  private dialback(why: string | null): void {
    if (why) this.log.info({ reason: why }, 'trying dialback');
    if (!this.pendingDialback && why) return this.abort('remote-server-not-found', `${why}; no dialback offered`);
    // We accept the peer on the strength of DNS (we connected to where it points) only
    // when policy lets this domain go without a valid certificate.
    if (this.ctx.policy.requiresCertificate(this.remote) && this.certificate !== 'valid') {
      return this.abort('remote-server-not-found', `${this.remote} presented no valid certificate (${this.certificate}) and policy requires one`);
    }
    const id = this.stream!.peerStreamId;
    if (!id) return this.abort('remote-server-not-found', 'the peer gave no stream id for dialback');
    this.stream!.send(dbResult(this.local, this.remote, this.ctx.keys.key(this.remote, this.local, id)));
  }

  private dialbackResult(el: Element): void {
    if (el.attrs.from !== this.remote || el.attrs.to !== this.local) return;
    if (el.attrs.type === 'valid') {
      this.auth = this.certificate === 'valid' ? 'dialback (valid certificate)' : 'dialback';
      return this.established();
    }
    const condition = el.getChild('error')?.children.find((c) => typeof c !== 'string') as Element | undefined;
    this.abort('remote-server-not-found', `dialback ${el.attrs.type ?? 'failed'}${condition ? ` (${condition.name})` : ''}`);
  }

  private verifyAnswer(el: Element): void {
    const id = el.attrs.id ?? '';
    const pending = this.verifies.get(id);
    if (!pending || el.attrs.from !== this.remote || el.attrs.to !== this.local) return;
    this.verifies.delete(id);
    pending.done(el.attrs.type === 'valid');
  }

  private established(): void {
    if (this.deadline) clearTimeout(this.deadline);
    this.state = 'established';
    this.since = new Date().toISOString();
    const s = this.stream!.socket;
    this.log.info({ auth: this.auth, tls: s instanceof TLSSocket ? s.getProtocol() : null, address: this.target?.address, port: this.target?.port },
      's2s link established');
    for (const stanza of this.queue.splice(0)) this.stream!.send(stanza);
  }

  private abort(condition: StanzaErrorCondition, message: string): void {
    this.failure = new LinkFailure(condition, message);
    this.stream!.close(message);
  }

  private failure: LinkFailure | null = null;

  private closed(reason: string): void {
    this.fail(this.failure ?? new LinkFailure('remote-server-not-found', reason));
  }

  /** Ends the link: what waits bounces, pending verifications fail, the manager forgets it. */
  private fail(f: LinkFailure): void {
    if (this.state === 'closed') return;
    const wasUp = this.state === 'established';
    this.state = 'closed';
    if (this.deadline) clearTimeout(this.deadline);
    if (this.stream && this.stream.state !== 'closed') this.stream.close(f.message);
    if (wasUp) this.log.info({ reason: f.message }, 's2s link ended');
    else this.log.warn({ reason: f.message, queued: this.queue.length }, 's2s link failed');
    for (const v of this.verifies.values()) v.done(false);
    this.verifies.clear();
    this.ended(this);
    for (const stanza of this.queue.splice(0)) void this.ctx.router.bounce(stanza, new StanzaError(f.condition, f.message));
  }
}
