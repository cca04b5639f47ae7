// One load-client connection: connect -> features -> (STARTTLS) -> SASL -> restart ->
// bind -> (roster get) -> (initial presence) -> ready. A state machine over the
// response scanner; every step writes pre-serialised XML. For load tests only:
// TLS certificates are NOT verified (rejectUnauthorized: false).
import net from 'node:net';
import tls from 'node:tls';
import { performance } from 'node:perf_hooks';
import { ResponseScanner, attr, childText, hasChild, localName, mechanismsOf, textOf, type ScanEvent } from './scanner.js';
import { ScramClient, ScramClientError, type SaltedPasswordCache, type ScramHashName } from './scram.js';
import {
  BIND_ID, ROSTER_ID, bindRequest, iqResultFor, plainAuth, saslAuth, saslResponse, stanzasFor, type DomainStanzas,
} from './stanzas.js';

export type TlsMode = 'none' | 'starttls' | 'direct';
export type Mechanism = 'PLAIN' | ScramHashName;
export const TLS_MODES: readonly TlsMode[] = ['none', 'starttls', 'direct'];
export const MECHANISMS: readonly Mechanism[] = ['SCRAM-SHA-1', 'SCRAM-SHA-256', 'PLAIN'];

export interface SessionOptions {
  /** The server's IP address. */
  host: string;
  port: number;
  /** The XMPP domain (stream 'to', TLS SNI). */
  domain: string;
  username: string;
  password: string;
  mechanism: Mechanism;
  tls: TlsMode;
  resource: string;
  /** Source address to bind the client socket to (127.0.0.x), spreading ephemeral ports. */
  localAddress?: string;
  rosterGet?: boolean;
  presence?: boolean;
  /** The whole login must finish within this time. */
  timeoutMs: number;
  scramCache?: SaltedPasswordCache;
  /** Installed as the session's onStanza from the start, so nothing after ready can slip past it. */
  onStanza?: (name: string, tag: string, xml: string) => void;
}

export type SessionState =
  | 'connecting' | 'tls-handshake' | 'features' | 'starttls' | 'auth' | 'bind-features' | 'bind' | 'roster'
  | 'ready' | 'closing' | 'closed';

/** Milliseconds since the login started, at each milestone reached. */
export interface LoginTimings {
  connected?: number;
  tls?: number;
  authenticated?: number;
  bound?: number;
  /** The roster result arrived (only with rosterGet). */
  roster?: number;
  ready?: number;
}

/** Why a login failed, and in which state: 'auth: not-authorized', 'connecting: ECONNREFUSED'. */
export class LoginError extends Error {
  constructor(readonly state: SessionState, readonly reason: string) {
    super(`${state}: ${reason}`);
  }
}

export class LoadSession {
  state: SessionState = 'connecting';
  readonly timings: LoginTimings = {};
  /** <message/> stanzas received since ready. */
  messages = 0;
  /** Called for every top-level element after the session is ready. */
  onStanza: ((name: string, tag: string, xml: string) => void) | null = null;
  /** The full JID the server bound. */
  jid = '';
  /** Set when the roster get was answered with an error (e.g. no roster module). */
  rosterError: string | null = null;
  /** How many <item/> the roster result held (only with rosterGet). */
  rosterItems = 0;
  /** Resolves with the reason once the connection is gone. */
  readonly closed: Promise<string>;

  private socket: net.Socket;
  private readonly scanner: ResponseScanner;
  private readonly out: DomainStanzas;
  private readonly started = performance.now();
  private readonly timer: NodeJS.Timeout;
  private scram: ScramClient | null = null;
  private resolveLogin!: () => void;
  private rejectLogin!: (err: LoginError) => void;
  private resolveClosed!: (reason: string) => void;
  private closeReason = 'closed';
  private readonly loggedIn: Promise<void>;

  /** Logs in; resolves when the session is ready, rejects with a LoginError. */
  static login(opts: SessionOptions): Promise<LoadSession> {
    const s = new LoadSession(opts);
    return s.loggedIn.then(() => s);
  }

  private constructor(private readonly opts: SessionOptions) {
    this.out = stanzasFor(opts.domain);
    this.onStanza = opts.onStanza ?? null;
    this.scanner = new ResponseScanner((ev) => this.event(ev));
    this.loggedIn = new Promise<void>((resolve, reject) => {
      this.resolveLogin = resolve;
      this.rejectLogin = reject;
    });
    this.closed = new Promise<string>((resolve) => { this.resolveClosed = resolve; });
    this.timer = setTimeout(() => this.fail(`timed out after ${opts.timeoutMs} ms`), opts.timeoutMs);
    const { host, port, localAddress } = opts;
    if (opts.tls === 'direct') {
      // XEP-0368: TLS from the first byte. tls.connect hands localAddress to the TCP connect (its type omits it).
      const options: tls.ConnectionOptions & { localAddress?: string } = {
        host, port, localAddress, servername: opts.domain, rejectUnauthorized: false, ALPNProtocols: ['xmpp-client'],
      };
      this.socket = tls.connect(options, () => this.secured());
      this.socket.once('connect', () => this.mark('connected'));
      this.state = 'tls-handshake';
    } else {
      this.socket = net.connect({ host, port, localAddress }, () => {
        this.mark('connected');
        this.openStream();
      });
    }
    this.socket.setNoDelay(true);
    this.attach(this.socket);
  }

  get elapsedMs(): number {
    return performance.now() - this.started;
  }

  get secure(): boolean {
    return this.socket instanceof tls.TLSSocket && this.socket.encrypted;
  }

  /** Writes raw XML (a pre-serialised stanza). */
  send(xml: string): void {
    if (!this.socket.destroyed) this.socket.write(xml);
  }

  /** Ends the stream politely, waits up to graceMs for the server's end, then drops the socket. */
  close(graceMs = 2000): Promise<string> {
    if (this.state === 'closed') return this.closed;
    if (this.state !== 'closing') {
      this.state = 'closing';
      this.closeReason = 'closed by client';
      this.send(this.out.close);
      const t = setTimeout(() => this.socket.destroy(), graceMs);
      t.unref();
      void this.closed.then(() => clearTimeout(t));
    }
    return this.closed;
  }

  /** Drops the connection at once. */
  destroy(): void {
    this.socket.destroy();
  }

  private mark(milestone: keyof LoginTimings): void {
    this.timings[milestone] = performance.now() - this.started;
  }

  private attach(socket: net.Socket): void {
    socket.on('data', (chunk: Buffer) => this.scanner.push(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => this.fail(err.code ?? err.message));
    socket.on('close', () => this.gone());
  }

  private openStream(): void {
    this.state = this.state === 'auth' ? 'bind-features' : 'features';
    this.send(this.out.header);
  }

  private secured(): void {
    this.mark('tls');
    this.scanner.reset();
    this.state = 'features';
    this.send(this.out.header);
  }

  private event(ev: ScanEvent): void {
    if (ev.kind === 'open') return;
    if (ev.kind === 'close') {
      this.closeReason = this.state === 'closing' ? 'closed by client' : 'stream closed by server';
      if (this.state === 'closing') this.socket.destroy();
      else this.fail('stream closed by server');
      return;
    }
    const local = localName(ev.name);
    if (local === 'error' && ev.name.includes(':')) {
      // <stream:error>: name the condition.
      const condition = /<([a-z-]+)\s+xmlns=['"]urn:ietf:params:xml:ns:xmpp-streams['"]/.exec(ev.xml)?.[1] ?? 'unknown';
      this.fail(`stream error ${condition}`);
      return;
    }
    try {
      this.element(local, ev.tag, ev.xml);
    } catch (err) {
      this.fail(err instanceof ScramClientError ? `SCRAM: ${err.message}` : String(err));
    }
  }

  private element(local: string, tag: string, xml: string): void {
    switch (this.state) {
      case 'features':
        if (local !== 'features') return this.fail(`unexpected <${local}/>`);
        if (this.opts.tls === 'starttls' && !this.secure) {
          if (!hasChild(xml, 'starttls')) return this.fail('server offers no STARTTLS');
          this.state = 'starttls';
          return this.send(this.out.starttls);
        }
        return this.authenticate(mechanismsOf(xml));
      case 'starttls':
        if (local !== 'proceed') return this.fail(`STARTTLS refused (<${local}/>)`);
        return this.upgrade();
      case 'auth':
        return this.saslElement(local, xml);
      case 'bind-features':
        if (local !== 'features') return this.fail(`unexpected <${local}/>`);
        if (!hasChild(xml, 'bind')) return this.fail('server offers no resource binding');
        this.state = 'bind';
        return this.send(bindRequest(this.opts.resource));
      case 'bind':
        if (local !== 'iq' || attr(tag, 'id') !== BIND_ID) return;
        if (attr(tag, 'type') !== 'result') return this.fail(`bind failed: ${firstErrorCondition(xml)}`);
        this.jid = childText(xml, 'jid') ?? '';
        this.mark('bound');
        if (this.opts.rosterGet) {
          this.state = 'roster';
          return this.send(this.out.rosterGet);
        }
        return this.ready();
      case 'roster':
        if (local !== 'iq' || attr(tag, 'id') !== ROSTER_ID) return;
        this.mark('roster');
        if (attr(tag, 'type') !== 'result') this.rosterError = firstErrorCondition(xml);
        else this.rosterItems = countItems(xml);
        return this.ready();
      case 'ready':
        return this.readyElement(local, tag, xml);
      default:
    }
  }

  private authenticate(offered: string[]): void {
    const { mechanism, username, password } = this.opts;
    if (!offered.includes(mechanism)) return this.fail(`${mechanism} not offered (offered: ${offered.join(' ') || 'none'})`);
    this.state = 'auth';
    if (mechanism === 'PLAIN') return this.send(plainAuth(username, password));
    this.scram = new ScramClient(mechanism, username, password, { cache: this.opts.scramCache });
    this.send(saslAuth(mechanism, this.scram.first()));
  }

  private saslElement(local: string, xml: string): void {
    const payload = () => Buffer.from(textOf(xml), 'base64').toString('utf8');
    switch (local) {
      case 'challenge':
        if (!this.scram) return this.fail('unexpected SASL challenge');
        return this.send(saslResponse(this.scram.final(payload())));
      case 'success':
        if (this.scram && !this.scram.verify(payload())) return this.fail('server signature does not verify');
        this.mark('authenticated');
        this.scanner.reset();
        return this.openStream();
      case 'failure':
        return this.fail(`SASL failure ${firstChildName(xml) ?? 'unknown'}`);
      default:
        return this.fail(`unexpected <${local}/> during SASL`);
    }
  }

  private upgrade(): void {
    const raw = this.socket;
    raw.removeAllListeners('data');
    raw.removeAllListeners('close');
    raw.removeAllListeners('error');
    raw.on('error', () => {}); // reported by the TLS socket
    this.state = 'tls-handshake';
    this.scanner.reset();
    this.socket = tls.connect({ socket: raw, servername: this.opts.domain, rejectUnauthorized: false }, () => this.secured());
    this.attach(this.socket);
  }

  private ready(): void {
    if (this.opts.presence) this.send(this.out.presence);
    this.state = 'ready';
    this.mark('ready');
    clearTimeout(this.timer);
    this.resolveLogin();
  }

  private readyElement(local: string, tag: string, xml: string): void {
    if (local === 'message') this.messages++;
    else if (local === 'iq' && attr(tag, 'type') === 'get') {
      // Idle pings (XEP-0199) and other queries: answer, so the server keeps us.
      this.send(iqResultFor(attr(tag, 'id') ?? '', attr(tag, 'from')));
    }
    this.onStanza?.(local, tag, xml);
  }

  private fail(reason: string): void {
    if (this.state === 'closed') return;
    this.closeReason = reason;
    if (this.state === 'ready' || this.state === 'closing') {
      this.socket.destroy();
      return;
    }
    const err = new LoginError(this.state, reason);
    clearTimeout(this.timer);
    this.socket.destroy();
    this.rejectLogin(err);
  }

  private gone(): void {
    if (this.state === 'closed') return;
    if (this.state !== 'ready' && this.state !== 'closing') this.fail('connection closed');
    clearTimeout(this.timer);
    this.state = 'closed';
    this.resolveClosed(this.closeReason);
  }
}

function countItems(xml: string): number {
  let n = 0;
  for (let i = xml.indexOf('<item'); i >= 0; i = xml.indexOf('<item', i + 5)) {
    const next = xml.charCodeAt(i + 5);
    if (next === 0x20 || next === 0x2f || next === 0x3e || next === 0x09 || next === 0x0a || next === 0x0d) n++;
  }
  return n;
}

/** The condition of a stanza error or SASL failure: the first element child's name. */
function firstChildName(xml: string): string | undefined {
  const m = /^<[^>]*[^/]>\s*<([\w.:-]+)/.exec(xml);
  return m ? localName(m[1]!) : undefined;
}

function firstErrorCondition(xml: string): string {
  const m = /<([a-z-]+)\s+xmlns=['"]urn:ietf:params:xml:ns:xmpp-stanzas['"]/.exec(xml);
  return m?.[1] ?? 'unknown error';
}
