// One XML stream over a socket (RFC 6120 §4): the state machine shared by every
// kind of stream. It owns framing — headers, restarts, STARTTLS, stream errors and
// the closing handshake — and hands each stanza to a policy (c2s, s2s in and out)
// that decides what the stream may do. A stream is either receiving (it answers the
// peer's header) or initiating (open() sends ours first; outgoing s2s).
import type { Socket } from 'node:net';
import { TLSSocket, connect as tlsConnect, type ConnectionOptions, type TlsOptions } from 'node:tls';
import { randomBytes } from 'node:crypto';
import { StreamParser, type NameCache, type ParserLimits, type StreamHeader } from '../xml/parser.js';
import { escapeXML, type Element } from '../xml/element.js';
import { StreamError, type StreamErrorCondition } from '../errors.js';
import { NS_STREAMS, NS_STREAM_ERRORS } from './namespaces.js';

export type StreamState = 'awaiting-header' | 'open' | 'tls-handshake' | 'closing' | 'closed';

/** What the stream asks of its owner. Throwing a StreamError from any callback ends the stream with that condition. */
export interface StreamPolicy {
  /**
   * Checks the peer's header; a receiving stream returns our header's attributes and the
   * features to offer (null for none, e.g. pre-1.0 streams). An initiating stream has
   * sent its header already and returns nothing; the features arrive as an element.
   */
  streamStart(header: StreamHeader): { from: string; version: boolean; features: Element | null } | void;
  element(el: Element, ns: string | undefined): void;
  /** The stream is gone (after an error, a close, or the socket dropping). Called once. */
  closed(reason: string): void;
}

export interface StreamOptions {
  /** The default namespace of this kind of stream: jabber:client or jabber:server. */
  ns: string;
  limits: ParserLimits;
  /** Bytes we may buffer for a slow reader before the stream is closed. */
  maxSendBuffer: number;
  /** Where bugs in policy code are reported (the stream then ends with internal-server-error). */
  onInternalError(err: unknown): void;
  /** Shared by the streams of a listener (a parser's name cache is ~9 KB). */
  names?: NameCache;
  /** More namespace declarations for our header, e.g. the dialback prefix on s2s streams. */
  declarations?: Record<string, string>;
}

/** Seconds to wait for the peer's </stream:stream> before dropping the socket. */
const CLOSE_GRACE_MS = 2000;

export class XmppStream {
  state: StreamState = 'awaiting-header';
  socket: Socket;
  readonly id = randomBytes(8).toString('hex');
  /** Milliseconds timestamp of the last bytes received. */
  lastRead = Date.now();
  /** Ended by a stream error: stanzas still queued from the peer are not processed. */
  errored = false;
  private headerSent = false;
  private readonly parser: StreamParser;
  private closeTimer: NodeJS.Timeout | null = null;
  private policy!: StreamPolicy;
  /** Set on an initiating stream: the addresses of the header we send. */
  private initiated: { from: string; to: string } | null = null;
  /** The id the receiving peer gave the stream (initiating streams; dialback keys use it). */
  peerStreamId: string | null = null;

  constructor(socket: Socket, private readonly opts: StreamOptions) {
    this.socket = socket;
    this.parser = new StreamParser({
      streamStart: (h) => this.onHeader(h),
      stanza: (el, ns) => this.guard(() => this.policy.element(el, ns)),
      streamEnd: () => this.close(),
      error: (err) => this.fail(err.condition, err.text),
    }, opts.limits, opts.names);
    this.attach(socket);
  }

  /** Sets the policy; must happen before any data is read. */
  start(policy: StreamPolicy): void {
    this.policy = policy;
  }

  get secure(): boolean {
    return this.socket instanceof TLSSocket && this.socket.encrypted;
  }

  /** Writes a stanza or nonza. Returns false if the stream is not writable. */
  send(el: Element | string): boolean {
    if (this.state === 'closed' || this.socket.destroyed) return false;
    this.socket.write(typeof el === 'string' ? el : el.toString());
    if (this.socket.writableLength > this.opts.maxSendBuffer) {
      // A peer that does not read must not make us buffer without bound.
      this.fail('policy-violation', 'the client does not read its data');
      return false;
    }
    return true;
  }

  /** RFC 6120 §4.3.3: after SASL success both sides start a new stream over the same socket. */
  restart(): void {
    this.parser.reset();
    this.state = 'awaiting-header';
    this.headerSent = false;
    // The initiating entity speaks first on the new stream (RFC 6120 §4.3.3, §5.4.3.3).
    if (this.initiated) this.open(this.initiated.from, this.initiated.to);
  }

  /** Initiating side: sends our header; the peer's answer comes to policy.streamStart. */
  open(from: string, to: string): void {
    this.initiated = { from, to };
    this.peerStreamId = null;
    this.writeHeader(from, true, to, false);
  }

  /** Initiating side of STARTTLS (after the peer's <proceed/>); a new stream follows once TLS is up. */
  startClientTls(options: ConnectionOptions, secured: (socket: TLSSocket) => void): void {
    this.parser.reset();
    this.state = 'tls-handshake';
    this.headerSent = false;
    const plain = this.socket;
    plain.removeAllListeners('data');
    const tlsSocket = tlsConnect({ ...options, socket: plain });
    this.socket = tlsSocket;
    this.attach(tlsSocket);
    tlsSocket.once('secureConnect', () => {
      if (this.state !== 'tls-handshake') return;
      this.state = 'awaiting-header';
      this.guard(() => secured(tlsSocket));
    });
  }

  /** RFC 6120 §5.4.3.3: after <proceed/>, TLS on the same socket, then a new stream. */
  startTls(options: TlsOptions): void {
    this.parser.reset();
    this.state = 'tls-handshake';
    this.headerSent = false;
    const plain = this.socket;
    plain.removeAllListeners('data');
    const tlsSocket = new TLSSocket(plain, { ...options, isServer: true });
    this.socket = tlsSocket;
    this.attach(tlsSocket);
    tlsSocket.once('secure', () => {
      if (this.state === 'tls-handshake') this.state = 'awaiting-header';
    });
  }

  /** Ends the stream with a stream error (RFC 6120 §4.9): header first if none was sent, then the error, then close. */
  fail(condition: StreamErrorCondition, text?: string): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.errored = true;
    const err = `<stream:error><${condition} xmlns='${NS_STREAM_ERRORS}'/>` +
      (text ? `<text xmlns='${NS_STREAM_ERRORS}'>${escapeXML(text)}</text>` : '') + '</stream:error>';
    if (!this.headerSent && this.state !== 'tls-handshake') this.writeHeader(this.defaultFrom ?? '', true);
    if (this.state !== 'tls-handshake') this.socket.write(err);
    this.endStream(`stream error: ${condition}${text ? ' (' + text + ')' : ''}`);
  }

  /** The closing handshake (RFC 6120 §4.4): send </stream:stream>, wait briefly for the peer's. */
  close(reason = 'closed'): void {
    if (this.state === 'closing' || this.state === 'closed') {
      // The peer answered our close: the reason is still why we closed.
      if (this.state === 'closing') this.destroy(this.closeReason);
      return;
    }
    if (!this.headerSent) this.writeHeader(this.defaultFrom ?? '', true);
    this.endStream(reason);
  }

  /** Used for a header written before we know the host (errors on the first bytes). */
  defaultFrom: string | null = null;

  private endStream(reason: string): void {
    this.state = 'closing';
    if (!this.socket.destroyed) this.socket.end('</stream:stream>');
    this.closeTimer = setTimeout(() => this.destroy(reason), CLOSE_GRACE_MS);
    this.closeTimer.unref();
    this.closeReason = reason;
  }

  private closeReason = 'closed';

  private destroy(reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.socket.destroy();
    this.policy?.closed(reason);
  }

  private attach(socket: Socket): void {
    socket.on('data', (chunk: Buffer) => {
      this.lastRead = Date.now();
      if (this.state === 'closed') return;
      this.parser.write(chunk);
    });
    socket.on('error', (err: Error) => this.destroy(`socket error: ${err.message}`));
    socket.on('close', () => this.destroy(this.state === 'closing' ? this.closeReason : 'connection lost'));
    socket.on('end', () => {
      if (this.state !== 'closing') this.destroy('connection closed by peer');
    });
  }

  private onHeader(h: StreamHeader): void {
    this.guard(() => {
      // RFC 6120 §4.8.1: the stream element must be qualified by the streams namespace.
      if (h.local !== 'stream' || h.ns !== NS_STREAMS) throw new StreamError('invalid-namespace', 'expected <stream:stream>');
      if (h.defaultNs !== this.opts.ns) throw new StreamError('invalid-namespace', `expected the default namespace ${this.opts.ns}`);
      if (this.initiated) this.peerStreamId = h.attrs.id ?? null;
      const answer = this.policy.streamStart(h);
      this.state = 'open';
      if (!answer) return;
      this.writeHeader(answer.from, answer.version, h.attrs.from);
      if (answer.features) this.socket.write(answer.features.toString());
    });
  }

  private writeHeader(from: string, version: boolean, to?: string, withId = true): void {
    this.headerSent = true;
    const declarations = Object.entries(this.opts.declarations ?? {}).map(([p, ns]) => ` xmlns:${p}='${ns}'`).join('');
    this.socket.write(`<?xml version='1.0'?><stream:stream xmlns='${this.opts.ns}' xmlns:stream='${NS_STREAMS}'${declarations}` +
      `${withId ? ` id='${this.id}'` : ''}${from ? ` from='${escapeXML(from)}'` : ''}${to ? ` to='${escapeXML(to)}'` : ''}` +
      `${version ? " version='1.0'" : ''} xml:lang='en'>`);
  }

  /** Runs policy code; a StreamError ends the stream, anything else is a bug reported as internal-server-error. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      if (err instanceof StreamError) this.fail(err.condition, err.text);
      else {
        this.opts.onInternalError(err);
        this.fail('internal-server-error');
      }
    }
  }
}
