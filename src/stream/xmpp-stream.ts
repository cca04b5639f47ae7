// One XML stream over a socket (RFC 6120 §4): the state machine shared by every
// kind of stream. It owns framing — headers, restarts, STARTTLS, stream errors and
// the closing handshake — and hands each stanza to a policy (c2s now, s2s later)
// that decides what the stream may do.
import type { Socket } from 'node:net';
import { TLSSocket, type TlsOptions } from 'node:tls';
import { randomBytes } from 'node:crypto';
import { StreamParser, type NameCache, type ParserLimits, type StreamHeader } from '../xml/parser.js';
import { escapeXML, type Element } from '../xml/element.js';
import { StreamError, type StreamErrorCondition } from '../errors.js';
import { NS_STREAMS, NS_STREAM_ERRORS } from './namespaces.js';

export type StreamState = 'awaiting-header' | 'open' | 'tls-handshake' | 'closing' | 'closed';

/** What the stream asks of its owner. Throwing a StreamError from any callback ends the stream with that condition. */
export interface StreamPolicy {
  /** Checks the peer's header; returns our header's attributes and the features to offer (null for none, e.g. pre-1.0 streams). */
  streamStart(header: StreamHeader): { from: string; version: boolean; features: Element | null };
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
      if (this.state === 'closing') this.destroy(reason);
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
      const answer = this.policy.streamStart(h);
      this.state = 'open';
      this.writeHeader(answer.from, answer.version, h.attrs.from);
      if (answer.features) this.socket.write(answer.features.toString());
    });
  }

  private writeHeader(from: string, version: boolean, to?: string): void {
    this.headerSent = true;
    this.socket.write(`<?xml version='1.0'?><stream:stream xmlns='${this.opts.ns}' xmlns:stream='${NS_STREAMS}'` +
      ` id='${this.id}'${from ? ` from='${escapeXML(from)}'` : ''}${to ? ` to='${escapeXML(to)}'` : ''}` +
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
