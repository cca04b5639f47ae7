// An incoming server-to-server stream (RFC 6120 §4–6): STARTTLS, then SASL EXTERNAL
// with the peer's certificate or XEP-0220 dialback, for one or more pairs of
// domains (dialback "piggybacking"); then stanzas from those domains only.
import { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { x, type Element } from '../xml/element.js';
import type { StreamHeader } from '../xml/parser.js';
import { StreamError } from '../errors.js';
import { tryParseJid } from '../jid/index.js';
import { prepDomain } from '../jid/index.js';
import type { XmppStream } from '../stream/xmpp-stream.js';
import { OrderedWork } from '../stream/ordered-work.js';
import { NS_SASL, NS_SERVER, NS_TLS } from '../stream/namespaces.js';
import { NS_DIALBACK, dbAnswer, dialbackFeature, localName, type DialbackError } from './dialback.js';
import { S2sTls, type CertificateStatus } from './tls.js';
import type { LinkInfo, S2sContext } from './context.js';

export class InboundStream {
  readonly id: string;
  readonly ip: string;
  readonly openedAt = Date.now();
  /** Remote domain -> the local domains it has authenticated for. */
  private readonly authorized = new Map<string, Set<string>>();
  /** The domain our header answered for, and the peer's 'from' (if it gave one). */
  private local = '';
  private peer: string | null = null;
  auth: string | null = null;
  private since = '';
  private readonly work = new OrderedWork((err) => this.internalError(err));
  private readonly log: Logger;

  constructor(readonly stream: XmppStream, private readonly ctx: S2sContext, private readonly ended: (s: InboundStream) => void) {
    this.id = stream.id;
    this.ip = stream.socket.remoteAddress ?? 'unknown';
    this.log = ctx.log.child({ s2s: 'in', conn: this.id });
    stream.defaultFrom = ctx.config.hosts[0]!.domain;
    stream.start({
      streamStart: (h) => this.streamStart(h),
      element: (el, ns) => this.enqueue(el, ns),
      closed: (reason) => this.closed(reason),
    });
  }

  get authenticated(): boolean {
    return this.authorized.size > 0;
  }

  info(): LinkInfo {
    const s = this.stream.socket;
    const locals = new Set<string>();
    for (const set of this.authorized.values()) for (const l of set) locals.add(l);
    return {
      direction: 'in', remote: [...this.authorized.keys()], local: [...locals], auth: this.auth,
      tls: s instanceof TLSSocket ? s.getProtocol() : null, ip: this.ip, since: this.since,
      state: this.authenticated ? 'established' : 'negotiating',
    };
  }

  close(condition?: 'system-shutdown' | 'connection-timeout', text?: string): void {
    if (condition) this.stream.fail(condition, text);
    else this.stream.close('closed by server');
  }

  private streamStart(h: StreamHeader): { from: string; version: boolean; features: Element | null } {
    let to: string;
    try {
      to = h.attrs.to !== undefined ? prepDomain(h.attrs.to) : this.ctx.config.hosts[0]!.domain;
    } catch {
      throw new StreamError('host-unknown', 'the to address is not a domain');
    }
    if (!this.ctx.router.servesDomain(to)) throw new StreamError('host-unknown', `this server does not serve ${to}`);
    this.local = to;
    this.stream.defaultFrom = to;
    if (h.attrs.from !== undefined) {
      try {
        this.peer = prepDomain(h.attrs.from);
      } catch {
        throw new StreamError('invalid-from', 'the from address is not a domain');
      }
      if (!this.ctx.policy.allows(this.peer)) throw new StreamError('policy-violation', `this server does not talk to ${this.peer}`);
    }
    // A pre-1.0 server (no version) gets no features and may only use dialback.
    if (h.attrs.version === undefined) return { from: to, version: false, features: null };
    return { from: to, version: true, features: this.features() };
  }

  private features(): Element {
    const f = x('stream:features');
    const secure = this.stream.secure;
    if (!secure) f.append(x('starttls', { xmlns: NS_TLS }, this.ctx.policy.requireEncryption ? x('required') : null));
    if (!secure && this.ctx.policy.requireEncryption) return f;
    // RFC 6120 §6.4.1 / XEP-0178: EXTERNAL only when the certificate proves the peer's name.
    if (secure && !this.auth && this.peer && this.certificateFor(this.peer) === 'valid') {
      f.append(x('mechanisms', { xmlns: NS_SASL }, x('mechanism', null, 'EXTERNAL')));
    }
    f.append(dialbackFeature());
    return f;
  }

  private certificateFor(domain: string): CertificateStatus {
    const s = this.stream.socket;
    const status = s instanceof TLSSocket && s.encrypted ? this.ctx.tls.status(s, domain) : 'none';
    if (status === 'untrusted' && s instanceof TLSSocket) this.log.debug({ domain, reason: S2sTls.reason(s) }, 'peer certificate not trusted');
    else if (status === 'mismatch') this.log.debug({ domain }, 'peer certificate is for another name');
    return status;
  }

  // ---- elements, in order ----

  private enqueue(el: Element, ns: string | undefined): void {
    this.work.run(() => this.element(el, ns));
  }

  private internalError(err: unknown): void {
    if (err instanceof StreamError) return this.stream.fail(err.condition, err.text);
    this.log.error({ err }, 'internal error in server stream');
    this.stream.fail('internal-server-error');
  }

  private async element(el: Element, ns: string | undefined): Promise<void> {
    if (this.stream.errored) return;
    const name = localName(el);
    if (ns === NS_TLS) return this.starttls(name);
    if (ns === NS_SASL) return this.sasl(el, name);
    if (ns === NS_DIALBACK && name === 'result') return this.dialbackResult(el);
    if (ns === NS_DIALBACK && name === 'verify') return this.dialbackVerify(el);
    if (ns !== NS_SERVER || (name !== 'message' && name !== 'presence' && name !== 'iq')) {
      throw new StreamError('unsupported-stanza-type', `unexpected <${el.name}/>`);
    }
    return this.stanza(el);
  }

  private starttls(name: string): void {
    if (name !== 'starttls' || this.stream.secure || this.authenticated) {
      this.stream.send(x('failure', { xmlns: NS_TLS }));
      this.stream.close('STARTTLS refused');
      return;
    }
    this.stream.send(x('proceed', { xmlns: NS_TLS }));
    this.stream.startTls(this.ctx.tls.serverOptions(this.local));
  }

  /** SASL EXTERNAL (RFC 6120 §6.4, XEP-0178): the certificate is the credential. */
  private sasl(el: Element, name: string): void {
    if (name !== 'auth' || el.attrs.mechanism !== 'EXTERNAL' || this.auth) {
      this.stream.send(x('failure', { xmlns: NS_SASL }, x('invalid-mechanism')));
      return;
    }
    const text = el.text().trim();
    let claimed: string | null = this.peer;
    if (text !== '' && text !== '=') {
      try {
        claimed = prepDomain(Buffer.from(text, 'base64').toString('utf8'));
      } catch {
        claimed = null;
      }
    }
    const status = claimed ? this.certificateFor(claimed) : 'none';
    if (!claimed || status !== 'valid' || !this.ctx.policy.allows(claimed)) {
      this.log.info({ claimed, certificate: status }, 'SASL EXTERNAL refused');
      this.stream.send(x('failure', { xmlns: NS_SASL }, x('not-authorized')));
      return;
    }
    this.stream.send(x('success', { xmlns: NS_SASL }));
    this.authorize(claimed, this.local, 'SASL EXTERNAL');
    this.peer = claimed;
    this.stream.restart();
  }

  /** XEP-0220 §2.2–2.4: the peer claims `from` for talking to our `to`; we ask `from`'s authoritative server. */
  private async dialbackResult(el: Element): Promise<void> {
    const answer = (outcome: 'valid' | 'invalid' | DialbackError): void => {
      this.stream.send(dbAnswer('result', el.attrs.to ?? '', el.attrs.from ?? '', outcome));
    };
    let remote: string;
    let local: string;
    try {
      remote = prepDomain(el.attrs.from ?? '');
      local = prepDomain(el.attrs.to ?? '');
    } catch {
      throw new StreamError('improper-addressing', 'dialback needs from and to domains');
    }
    if (!this.ctx.router.servesDomain(local)) return answer({ type: 'cancel', condition: 'item-not-found' });
    if (!this.ctx.policy.allows(remote)) return answer({ type: 'cancel', condition: 'not-allowed' });
    if (this.ctx.policy.requireEncryption && !this.stream.secure) return answer({ type: 'cancel', condition: 'policy-violation' });
    const certificate = this.certificateFor(remote);
    // A certificate valid for the claimed domain proves it already (as Prosody and
    // ejabberd do); the key is still sent, but needs no check over the network.
    if (certificate === 'valid') {
      this.authorize(remote, local, 'dialback (valid certificate)');
      return answer('valid');
    }
    if (this.ctx.policy.requiresCertificate(remote)) {
      this.log.info({ remote, certificate }, 'dialback refused: policy requires a valid certificate');
      return answer({ type: 'auth', condition: 'not-authorized' });
    }
    const valid = await this.ctx.verifyKey(local, remote, el.text().trim(), this.stream.id);
    if (this.stream.state === 'closed') return;
    if (!valid) {
      this.log.info({ remote, local }, 'dialback key not confirmed');
      return answer('invalid');
    }
    this.authorize(remote, local, 'dialback');
    answer('valid');
  }

  /** XEP-0220 §2.3.2: we are the authoritative server, asked whether a key is ours. */
  private dialbackVerify(el: Element): void {
    const receiving = el.attrs.from ?? '';
    const originating = el.attrs.to ?? '';
    const id = el.attrs.id ?? '';
    if (!this.ctx.router.servesDomain(originating)) {
      this.stream.send(dbAnswer('verify', originating, receiving, { type: 'cancel', condition: 'item-not-found' }, id));
      return;
    }
    const valid = this.ctx.keys.valid(receiving, originating, id, el.text());
    this.stream.send(dbAnswer('verify', originating, receiving, valid ? 'valid' : 'invalid', id));
  }

  private authorize(remote: string, local: string, how: string): void {
    let set = this.authorized.get(remote);
    if (!set) this.authorized.set(remote, (set = new Set()));
    set.add(local);
    this.auth ??= how;
    this.since ||= new Date().toISOString();
    const s = this.stream.socket;
    this.log.info({ remote, local, auth: how, tls: s instanceof TLSSocket ? s.getProtocol() : null, ip: this.ip }, 's2s link established');
  }

  /** RFC 6120 §4.9.3: only domains the stream authenticated may send, and only to ours. */
  private stanza(el: Element): void | Promise<void> {
    const from = tryParseJid(el.attrs.from ?? '');
    const to = tryParseJid(el.attrs.to ?? '');
    if (!from || !to) throw new StreamError('improper-addressing', 'a stanza between servers needs valid from and to addresses');
    // RFC 6120 §4.9.3.12: stanzas before authentication are not-authorized.
    if (!this.authenticated) throw new StreamError('not-authorized', 'authenticate first');
    const locals = this.authorized.get(from.domain);
    if (!locals) throw new StreamError('invalid-from', `${from.domain} has not authenticated on this stream`);
    if (!locals.has(to.domain)) throw new StreamError('improper-addressing', `${from.domain} has not authenticated for ${to.domain}`);
    if (el.attrs.xmlns === NS_SERVER) delete el.attrs.xmlns;
    return this.ctx.router.route(el, null);
  }

  private closed(reason: string): void {
    if (this.authenticated) this.log.info({ remote: [...this.authorized.keys()], reason }, 's2s link ended');
    else this.log.info({ ip: this.ip, reason }, 'server connection closed');
    this.ended(this);
  }
}
