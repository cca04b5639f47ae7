// A client session: the c2s policy on one XmppStream. It negotiates TLS, SASL and
// resource binding (RFC 6120 §5–7), stamps every stanza with the bound JID, and
// then hands stanzas to the router in the order they arrived.
import { TLSSocket } from 'node:tls';
import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { x, type Element } from '../xml/element.js';
import type { StreamHeader } from '../xml/parser.js';
import { StreamError, StanzaError, SaslError, JidError, type StreamErrorCondition } from '../errors.js';
import { jid, prepDomain, prepLocal, prepResource, type Jid } from '../jid/index.js';
import { offeredMechanisms, type ChannelBindings, type SaslContext } from '../auth/sasl.js';
import type { Router } from '../router/router.js';
import type { Session, SessionInfo } from '../router/session.js';
import { errorReply, iqPayload, iqResult } from '../router/stanza.js';
import type { StreamContext } from '../router/client-extensions.js';
import type { XmppStream } from '../stream/xmpp-stream.js';
import { OrderedWork } from '../stream/ordered-work.js';
import { NS_BIND, NS_CLIENT, NS_SASL, NS_SESSION, NS_TLS } from '../stream/namespaces.js';
import { SaslExchange, failure, MAX_ATTEMPTS_PER_STREAM } from './sasl.js';
import type { C2sContext } from './context.js';
import { NS_AUTH, addLegacyErrorCode, authFields, authenticate as legacyAuthenticate } from './legacy-auth.js';

const NS_STREAM_LIMITS = 'urn:xmpp:stream-limits:0';

type Phase = 'connected' | 'authenticated' | 'bound';

export class C2sSession implements Session {
  readonly id: string;
  readonly ip: string;
  available = false;
  priority = 0;
  presence: Element | null = null;
  /** The host this stream is for, from the header's 'to' (or SNI / the default host). */
  host = '';
  phase: Phase = 'connected';
  /** The client's header had version='1.0' (false: a pre-RFC 3920 stream). */
  version = true;
  private user = '';
  private boundJid: Jid | null = null;
  private mechanism: string | null = null;
  private since = '';
  private sasl: SaslExchange | null = null;
  private attempts = 0;
  private detached = false;
  /** Stanzas are processed strictly in order. */
  private readonly work = new OrderedWork((err) => this.internalError(err));
  readonly openedAt = Date.now();
  /** Set when an idle session has been pinged. */
  pingedAt = 0;
  private readonly log: Logger;

  constructor(readonly stream: XmppStream, private readonly ctx: C2sContext, private readonly router: Router) {
    this.id = stream.id;
    this.ip = normaliseIp(stream.socket.remoteAddress);
    this.log = ctx.log.child({ conn: this.id });
    stream.defaultFrom = ctx.config.hosts[0]!.domain;
    stream.start({
      streamStart: (h) => this.streamStart(h),
      element: (el, ns) => this.enqueue(el, ns),
      closed: (reason) => this.closed(reason),
    });
  }

  get jid(): Jid {
    if (!this.boundJid) throw new Error('session is not bound');
    return this.boundJid;
  }

  get bound(): boolean {
    return this.phase === 'bound';
  }

  send(stanza: Element): void {
    if (!this.version) addLegacyErrorCode(stanza);
    this.stream.send(stanza);
  }

  close(condition?: StreamErrorCondition, text?: string): void {
    if (condition) this.stream.fail(condition, text);
    else this.stream.close('closed by server');
  }

  info(): SessionInfo {
    return {
      jid: this.boundJid?.toString() ?? '',
      ip: this.ip,
      tls: this.tlsVersion(),
      mechanism: this.mechanism,
      since: this.since,
      available: this.available,
      priority: this.priority,
    };
  }

  tlsVersion(): string | null {
    const s = this.stream.socket;
    return s instanceof TLSSocket ? s.getProtocol() : null;
  }

  // ---- stream header and features ----

  private streamStart(h: StreamHeader): { from: string; version: boolean; features: Element | null } {
    const host = this.resolveHost(h.attrs.to);
    if (this.phase !== 'connected' && host !== this.host) throw new StreamError('host-unknown', 'the host changed on restart');
    this.host = host;
    this.stream.defaultFrom = host;
    const version = h.attrs.version;
    this.version = version !== undefined;
    if (version === undefined) {
      // A pre-RFC 3920 stream (the Jabber 1.x generation): no features are offered.
      return { from: host, version: false, features: null };
    }
    const major = Number.parseInt(version.split('.')[0] ?? '', 10);
    if (!Number.isFinite(major)) throw new StreamError('unsupported-version', `bad version '${version}'`);
    if (major > 1) throw new StreamError('unsupported-version', 'only version 1.0 is supported');
    return { from: host, version: true, features: this.features() };
  }

  private resolveHost(to: string | undefined): string {
    const sni = this.stream.socket instanceof TLSSocket ? (this.stream.socket as TLSSocket & { servername?: string | false }).servername : undefined;
    let host: string;
    try {
      host = to !== undefined ? prepDomain(to) : typeof sni === 'string' ? prepDomain(sni) : this.ctx.config.hosts[0]!.domain;
    } catch {
      throw new StreamError('host-unknown', 'the to address is not a domain');
    }
    if (!this.router.isLocal(host)) throw new StreamError('host-unknown', `this server does not serve ${host}`);
    return host;
  }

  private features(): Element {
    const limits = this.ctx.config.limits;
    // XEP-0478: tell the client how large a stanza may be and how long it may stay silent.
    const f = x('stream:features', null, x('limits', { xmlns: NS_STREAM_LIMITS },
      x('max-bytes', null, String(limits.max_stanza_size)),
      x('idle-seconds', null, String(limits.idle_timeout))));
    const c2s = this.ctx.config.c2s;
    const secure = this.stream.secure;
    if (this.phase === 'connected') {
      if (!secure) f.append(x('starttls', { xmlns: NS_TLS }, c2s.require_encryption ? x('required') : null));
      if (secure || !c2s.require_encryption) {
        const mechs = offeredMechanisms(this.saslContext());
        f.append(x('mechanisms', { xmlns: NS_SASL }, ...mechs.map((m) => x('mechanism', null, m))));
      }
      f.append(...this.router.client.featuresFor('pre-auth', this.streamContext()));
    } else if (this.phase === 'authenticated') {
      f.append(x('bind', { xmlns: NS_BIND }));
      // RFC 6121 Appendix E: session establishment is a no-op, advertised as optional for older clients.
      f.append(x('session', { xmlns: NS_SESSION }, x('optional')));
      f.append(...this.router.client.featuresFor('post-auth', this.streamContext()));
    }
    return f;
  }

  private streamContext(): StreamContext {
    return { host: this.host, secure: this.stream.secure, version: this.version };
  }

  // ---- elements ----

  private enqueue(el: Element, ns: string | undefined): void {
    this.work.run(() => this.element(el, ns));
  }

  private internalError(err: unknown): void {
    if (err instanceof StreamError) return this.stream.fail(err.condition, err.text);
    this.log.error({ err }, 'internal error in client session');
    this.stream.fail('internal-server-error');
  }

  private element(el: Element, ns: string | undefined): void | Promise<void> {
    // Stanzas that arrived before the peer's </stream:stream> are still processed (a
    // goodbye presence must reach the contacts); after a stream error nothing is.
    if (this.stream.errored) return;
    if (ns === NS_TLS) return this.starttls(el);
    if (ns === NS_SASL) return this.saslElement(el);
    if (ns !== NS_CLIENT) throw new StreamError('unsupported-stanza-type', `unexpected <${el.name}/> in ${ns ?? 'no namespace'}`);
    if (el.name !== 'message' && el.name !== 'presence' && el.name !== 'iq') {
      throw new StreamError('unsupported-stanza-type', `<${el.name}/> is not a stanza`);
    }
    if (this.phase === 'authenticated') return this.beforeBind(el);
    if (this.phase !== 'bound') return this.beforeAuth(el);
    return this.stanza(el);
  }

  /** Before authentication only the iqs modules registered for it are allowed (XEP-0077 registration). */
  private async beforeAuth(el: Element): Promise<void> {
    const payload = el.name === 'iq' ? iqPayload(el) : undefined;
    const type = el.attrs.type;
    if (!payload || (type !== 'get' && type !== 'set')) throw new StreamError('not-authorized', 'authenticate first');
    const legacy = payload.attrs.xmlns === NS_AUTH && payload.name === 'query' && this.ctx.config.c2s.legacy_auth;
    const handler = legacy
      ? () => this.legacyAuth(el, payload)
      : this.router.client.preAuthHandler(type, payload.attrs.xmlns ?? '', payload.name);
    if (!handler) throw new StreamError('not-authorized', 'authenticate first');
    const reply = (r: Element) => { delete r.attrs.from; delete r.attrs.to; this.send(r); };
    try {
      const result = await handler({ ...this.streamContext(), stanza: el, payload, ip: this.ip });
      reply(iqResult(el, result));
    } catch (err) {
      if (!(err instanceof StanzaError)) throw err;
      // Credentials are never echoed back in an error (RFC 6120 allows leaving the payload out).
      const answer = errorReply(x('iq', { id: el.attrs.id, type: el.attrs.type }), err);
      // XEP-0078 errors carry the old numeric codes (Example 6: code='401'), which its clients read.
      if (legacy) addLegacyErrorCode(answer);
      reply(answer);
      return;
    }
    if (this.phase === 'bound') this.announceBound();
  }

  private starttls(el: Element): void {
    if (el.name !== 'starttls' || this.stream.secure || this.phase !== 'connected') {
      this.stream.send(x('failure', { xmlns: NS_TLS }));
      this.stream.close('STARTTLS refused');
      return;
    }
    this.stream.send(x('proceed', { xmlns: NS_TLS }));
    this.stream.startTls(this.ctx.tls.serverOptions());
  }

  private async saslElement(el: Element): Promise<void> {
    if (this.phase !== 'connected') throw new StreamError('policy-violation', 'already authenticated');
    if (this.ctx.config.c2s.require_encryption && !this.stream.secure) {
      this.stream.send(failure('encryption-required', 'use STARTTLS first'));
      return;
    }
    if (el.name === 'auth' && this.ctx.ipThrottle.blocked(this.ip)) {
      this.log.warn({ ip: this.ip }, 'login refused: too many failed attempts from this address');
      this.stream.send(failure('temporary-auth-failure', 'too many failed attempts; try again later'));
      return;
    }
    this.sasl ??= new SaslExchange(this.saslContext(), (e) => this.stream.send(e));
    const outcome = await this.sasl.handle(el);
    if (outcome.kind === 'continue') return;
    if (outcome.kind === 'failure') {
      if (outcome.condition === 'aborted') return;
      this.ctx.ipThrottle.fail(this.ip);
      if (outcome.username) this.ctx.accountThrottle.fail(`${outcome.username}@${this.host}`);
      this.log.info({ ip: this.ip, user: outcome.username, condition: outcome.condition }, 'authentication failed');
      if (++this.attempts >= MAX_ATTEMPTS_PER_STREAM) this.stream.fail('policy-violation', 'too many failed authentication attempts');
      return;
    }
    this.user = prepLocal(outcome.username);
    this.mechanism = outcome.mechanism;
    this.phase = 'authenticated';
    this.ctx.ipThrottle.succeed(this.ip);
    this.ctx.accountThrottle.succeed(`${this.user}@${this.host}`);
    this.log.info({ ip: this.ip, jid: `${this.user}@${this.host}`, mechanism: outcome.mechanism, tls: this.tlsVersion() }, 'authenticated');
    this.stream.restart();
  }

  private saslContext(): SaslContext {
    const host = this.host || this.ctx.config.hosts[0]!.domain;
    return {
      host,
      secure: this.stream.secure,
      allowUnencryptedPlain: this.ctx.config.c2s.allow_unencrypted_plain,
      channelBindings: this.channelBindings(),
      scramIterations: this.ctx.config.auth.scram_iterations,
      lookup: async (username: string) => {
        let local: string;
        try {
          local = prepLocal(username);
        } catch {
          return null;
        }
        if (this.sasl) this.sasl.username = local;
        if (this.ctx.accountThrottle.blocked(`${local}@${host}`)) {
          throw new SaslError('temporary-auth-failure', 'too many failed attempts for this account; try again later');
        }
        return this.ctx.storage.accounts.getCredentials(host, local);
      },
    };
  }

  /** RFC 9266 tls-exporter (TLS 1.3 only) and RFC 5929 tls-server-end-point. */
  private channelBindings(): ChannelBindings {
    const s = this.stream.socket;
    if (!(s instanceof TLSSocket) || !s.encrypted) return {};
    const cb: ChannelBindings = {};
    if (s.getProtocol() === 'TLSv1.3') cb['tls-exporter'] = s.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));
    const cert = s.getCertificate() as { raw?: Buffer } | null;
    // RFC 5929 §4.1: SHA-256 unless the certificate is signed with a stronger hash; ours and typical ones use SHA-256.
    if (cert?.raw) cb['tls-server-end-point'] = createHash('sha256').update(cert.raw).digest();
    // The first Finished of the handshake: the client's in a full one, ours when resumed.
    const finished = s.isSessionReused() ? s.getFinished() : s.getPeerFinished();
    if (finished) cb['tls-unique'] = finished;
    return cb;
  }

  // ---- resource binding ----

  private beforeBind(el: Element): void {
    const bind = el.name === 'iq' && el.attrs.type === 'set' ? el.getChild('bind', NS_BIND) : undefined;
    if (!bind) throw new StreamError('not-authorized', 'bind a resource first');
    let resource = bind.getChildText('resource') ?? '';
    try {
      resource = resource === '' ? randomBytes(6).toString('hex') : prepResource(resource);
    } catch (err) {
      const msg = err instanceof JidError ? err.message : 'bad resource';
      this.send(errorReply(el, new StanzaError('bad-request', msg)));
      return;
    }
    if (!this.bindResource(resource)) {
      this.send(errorReply(el, new StanzaError('conflict', 'that resource is in use')));
      return;
    }
    this.send(iqResult(el, x('bind', { xmlns: NS_BIND }, x('jid', null, this.jid.toString()))));
    this.announceBound();
  }

  /** Binds a resource of the authenticated user; false when it is in use and the policy refuses. */
  private bindResource(resource: string): boolean {
    const full = jid(this.user, this.host, resource);
    const existing = this.router.sessions.get(full.bareString(), resource);
    if (existing) {
      if (this.ctx.config.c2s.resource_conflict === 'refuse') return false;
      // RFC 6120 §7.7.2.2: the server may terminate the existing session with a conflict stream error.
      if (existing instanceof C2sSession) void existing.detach();
      else this.router.sessions.remove(existing);
      existing.close('conflict', 'replaced by a new connection');
    }
    this.boundJid = full;
    this.phase = 'bound';
    this.since = new Date().toISOString();
    this.router.sessions.add(this);
    this.log.info({ jid: full.toString() }, 'resource bound');
    return true;
  }

  /** Tells the modules, after the client has its answer. */
  private announceBound(): void {
    const r = this.router.lifecycle.fire('session/bound', this);
    if (r instanceof Promise) r.catch((err) => this.log.error({ err }, 'session/bound handler failed'));
  }

  /** XEP-0078 jabber:iq:auth: a login that also binds the resource (2002-era clients). */
  private async legacyAuth(el: Element, query: Element): Promise<Element | null> {
    if (el.attrs.type === 'get') return authFields();
    const host = this.host;
    await legacyAuthenticate({
      secure: this.stream.secure,
      allowUnencrypted: this.ctx.config.c2s.allow_unencrypted_plain,
      throttled: (user) => this.ctx.ipThrottle.blocked(this.ip) || (user !== null && this.ctx.accountThrottle.blocked(`${user}@${host}`)),
      failed: (user) => {
        this.ctx.ipThrottle.fail(this.ip);
        if (user) this.ctx.accountThrottle.fail(`${user}@${host}`);
        this.log.info({ ip: this.ip, user, mechanism: 'jabber:iq:auth' }, 'authentication failed');
      },
      lookup: (user) => this.ctx.storage.accounts.getCredentials(host, user),
      complete: (user, resource) => {
        this.user = user;
        this.mechanism = 'jabber:iq:auth';
        this.phase = 'authenticated';
        if (!this.bindResource(resource)) {
          this.phase = 'connected';
          return false;
        }
        this.log.info({ ip: this.ip, jid: `${user}@${host}`, mechanism: 'jabber:iq:auth', tls: this.tlsVersion() }, 'authenticated');
        return true;
      },
    }, query);
    return null;
  }

  // ---- stanzas ----

  private stanza(el: Element): void | Promise<void> {
    const full = this.jid;
    const from = el.attrs.from;
    // RFC 6120 §8.1.2.1: the server stamps the full JID; a 'from' that is not this session is invalid-from.
    if (from !== undefined && from !== full.toString() && from !== full.bareString()) {
      throw new StreamError('invalid-from', 'the from address does not match this session');
    }
    el.attrs.from = full.toString();
    if (el.attrs.xmlns === NS_CLIENT) delete el.attrs.xmlns;
    if (el.name === 'iq') {
      if (!el.attrs.id || !['get', 'set', 'result', 'error'].includes(el.attrs.type ?? '')) {
        if (el.attrs.type !== 'error') this.send(errorReply(el, new StanzaError('bad-request', 'an iq needs an id and a valid type')));
        return;
      }
      // RFC 3921 §3 session establishment: accepted and answered, nothing else to do.
      if (el.attrs.type === 'set' && el.getChild('session', NS_SESSION)) return void this.send(iqResult(el, null));
      if (el.attrs.type === 'set' && el.getChild('bind', NS_BIND)) {
        return void this.send(errorReply(el, new StanzaError('not-allowed', 'a resource is already bound')));
      }
    }
    return this.router.route(el, this);
  }

  private closed(reason: string): void {
    this.log.info({ ip: this.ip, jid: this.boundJid?.toString(), reason }, 'connection closed');
    // Nothing can reach the client any more: out of the registry at once, so stanzas
    // for it are routed as for an offline user (stored, not lost in a dead socket).
    if (this.phase === 'bound') this.router.sessions.remove(this);
    // Stanzas still in its queue belong to the session: handle them before it ends.
    const pending = this.work.pending;
    const ended = pending ? pending.then(() => this.detach()) : this.detach();
    this.ctx.connectionClosed(this, ended ?? undefined);
  }

  /**
   * Leaves the registry and tells the modules (unavailable presence, last activity), once.
   * A session replaced by a new one for the same resource is detached before the new one
   * binds, so contacts see its unavailable before the new session's presence.
   */
  detach(): Promise<void> | void {
    if (this.detached || this.phase !== 'bound') return;
    this.detached = true;
    this.router.sessions.remove(this);
    const r = this.router.lifecycle.fire('session/closed', this);
    if (r instanceof Promise) return r.then(() => undefined, (err) => this.log.error({ err }, 'session/closed handler failed'));
  }
}

function normaliseIp(addr: string | undefined): string {
  if (!addr) return 'unknown';
  return addr.startsWith('::ffff:') ? addr.slice(7) : addr;
}
