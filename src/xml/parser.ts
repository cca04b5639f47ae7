// Strict streaming XML parser for XMPP streams (RFC 6120 §11 "XML Usage").
//
// Bytes are validated as UTF-8 and then read as a latin1 string, one char per byte. Scanning for
// markup is plain indexOf/charCodeAt work on a one-byte string, every index is a byte offset (so
// size limits are exact) and a character split between two writes needs no special case. Text
// becomes a real string only when it leaves the parser (content.ts, tag.ts).
//
// Tokens (a tag, a run of text, a CDATA section) are read whole. A token cut off by the end of the
// input is kept aside (unfinished.ts) and read again from its start once later writes complete it.
import { Buffer } from 'node:buffer';
import type { Element } from './element.js';
import { StreamError } from '../errors.js';
import { CHAR_CLASS, SPACE, TEXT_SPECIAL } from './chars.js';
import { readCdata, readText } from './content.js';
import { InputDecoder, prepend, type Input } from './input.js';
import { NamespaceScope } from './scope.js';
import { PrologReader } from './prolog.js';
import { OpenElements } from './stack.js';
import { StartTagReader } from './tag.js';
import type { NameCache } from './names.js';
export { NameCache } from './names.js';
import { TokenKind, UnfinishedToken } from './unfinished.js';
import { Violation, notWellFormed, policyViolation, restrictedXml } from './violation.js';

export interface ParserLimits {
  /** Bytes of one top-level element (and of the prolog plus stream header). */
  maxStanzaSize: number;
  /** Nesting inside a stanza; the stanza itself is depth 1, the stream root does not count. */
  maxDepth: number;
  /** Attributes on one element, namespace declarations included. */
  maxAttributes: number;
}

export const DEFAULT_LIMITS: ParserLimits = Object.freeze({ maxStanzaSize: 262144, maxDepth: 64, maxAttributes: 64 });

export interface StreamHeader {
  name: string;                   // qualified name as written, e.g. 'stream:stream'
  local: string;                  // 'stream'
  ns: string | undefined;         // resolved namespace URI of the root element
  defaultNs: string | undefined;  // the default namespace (xmlns=) in scope at the root, e.g. 'jabber:client'
  attrs: Record<string, string>;  // attributes as written (incl. xmlns, xmlns:stream), values unescaped
}

export interface StreamParserHandler {
  streamStart(header: StreamHeader): void;
  stanza(el: Element, ns: string | undefined): void; // each complete top-level child of the root
  streamEnd(): void;                                 // the root closed (</stream:stream>)
  error(err: StreamError): void;                     // first violation only; input is then ignored until reset()
}

/** Where the parser is in the stream. */
const ParserState = { Prolog: 0, BetweenStanzas: 1, InStanza: 2, Closed: 3, Failed: 4 } as const;
type ParserState = (typeof ParserState)[keyof typeof ParserState];

/** What the last step finished, to hand to the handler. */
const Delivery = { None: 0, Header: 1, HeaderAndEnd: 2, Stanza: 3, End: 4 } as const;
type Delivery = (typeof Delivery)[keyof typeof Delivery];

const LT = 0x3c;
const SLASH = 0x2f;
const BANG = 0x21;
const QUESTION = 0x3f;
const LEFT_BRACKET = 0x5b;
const CDATA_OPEN = '<![CDATA[';
const CDATA_CLOSE = ']]>';
const NO_INPUT: Input = { text: '', bytes: Buffer.alloc(0), brokenAfter: '' };

/**
 * Parses one XMPP stream: the header, then each top-level element as an ltx Element.
 *
 * Input may be split anywhere; the events are those of the whole input, except that a malformed
 * start tag cut by a write may be reported only once more of it arrives. The first violation goes
 * to handler.error and everything after it is ignored until reset(). Handlers may call reset() or
 * write() from a callback; one that throws gets its error passed on by write(), and the input not
 * yet read is kept for the next write().
 */
export class StreamParser {
  private readonly handler: StreamParserHandler;
  private readonly limits: ParserLimits;
  private readonly decoder = new InputDecoder();
  private readonly scope = new NamespaceScope();
  private readonly tags: StartTagReader;
  private readonly unfinished = new UnfinishedToken();

  private state: ParserState = ParserState.Prolog;
  /** Bumped by reset(): a loop that sees it change stops reading the input it had. */
  private generation = 0;
  private busy = false;
  /** Writes not yet read: normally just the current one, more if a handler writes from a callback. */
  private readonly queue: (Buffer | string)[] = [];
  /** Input left unread because a handler threw; read before anything newer. */
  private backlog: Input | null = null;
  /** The input being read. */
  private input: Input = NO_INPUT;

  private readonly prolog = new PrologReader();

  private readonly open = new OpenElements();
  private rootRawName = '';
  private stanzaNs: string | undefined = undefined;

  /** Index in the current input where the counted element began (-1: nothing is being counted). */
  private countFrom = 0;
  /** Bytes of the counted element that came in earlier inputs. */
  private counted = 0;
  /** Index in the current input past which the counted element is too large. */
  private limitAt: number;

  private delivery: Delivery = Delivery.None;
  private header: StreamHeader | null = null;
  private stanza: Element | null = null;

  /** `names` may be shared by many parsers (see NameCache); each gets its own otherwise. */
  constructor(handler: StreamParserHandler, limits?: Partial<ParserLimits>, names?: NameCache) {
    this.handler = handler;
    // A limit given as undefined (an unset config key) keeps its default rather than vanishing.
    this.limits = {
      maxStanzaSize: limits?.maxStanzaSize ?? DEFAULT_LIMITS.maxStanzaSize,
      maxDepth: limits?.maxDepth ?? DEFAULT_LIMITS.maxDepth,
      maxAttributes: limits?.maxAttributes ?? DEFAULT_LIMITS.maxAttributes,
    };
    this.tags = new StartTagReader(this.scope, this.limits.maxAttributes, names);
    this.limitAt = this.limits.maxStanzaSize;
  }

  /** Bytes of the top-level element (or stream header) currently being read; 0 between stanzas. */
  get bytesInStanza(): number {
    return this.countFrom < 0 ? 0 : this.counted;
  }

  /** Feeds bytes. Never throws for bad input (that goes to handler.error); a throwing handler's error is passed on. */
  write(chunk: Buffer | string): void {
    if (this.state === ParserState.Closed || this.state === ParserState.Failed) return;
    this.queue.push(chunk);
    if (this.busy) return; // a handler wrote from inside a callback: the loop below reads it next
    this.busy = true;
    try {
      this.drain();
    } catch (e) {
      if (!(e instanceof Violation)) throw e;
      this.fail(e);
    } finally {
      this.busy = false;
    }
  }

  /**
   * Forgets everything; the next bytes start a new stream (after STARTTLS or SASL success).
   * Called from a callback, the rest of the input being read is dropped: it belongs to TLS.
   */
  reset(): void {
    this.generation++;
    this.state = ParserState.Prolog;
    this.prolog.reset();
    this.decoder.reset();
    this.release();
    this.scope.clear();
    this.startCounting(0);
  }

  private drain(): void {
    for (;;) {
      if (this.state === ParserState.Closed || this.state === ParserState.Failed) {
        this.release();
        return;
      }
      let input: Input;
      if (this.backlog !== null) {
        input = this.backlog;
        this.backlog = null;
      } else if (this.queue.length > 0) {
        input = this.decoder.decode(this.queue.shift()!);
      } else {
        return;
      }
      const generation = this.generation;
      if (input.text !== '' && this.unfinished.kind !== TokenKind.None) {
        // Input that breaks off (invalid UTF-8) is read together with the held token too, so a
        // violation inside that token, before the break, is reported first, as it would be in one piece.
        if (this.unfinished.completedBy(input.text) || input.brokenAfter !== '') {
          this.counted -= this.unfinished.bytes;
          input = prepend(this.unfinished.take(), input);
        } else {
          this.unfinished.extend(input.text);
          this.counted += input.text.length;
          if (this.counted > this.limits.maxStanzaSize) throw this.tooLarge();
          input = { ...NO_INPUT, brokenAfter: input.brokenAfter };
        }
      }
      if (input.text !== '') {
        this.input = input;
        this.read(input.text);
      }
      if (input.brokenAfter !== '' && generation === this.generation && this.state < ParserState.Closed) {
        throw notWellFormed(input.brokenAfter);
      }
    }
  }

  /** Reads one input from the current state up to its end, a delivery that resets, or a violation. */
  private read(s: string): void {
    const generation = this.generation;
    this.limitAt = this.countFrom < 0 ? Infinity : this.countFrom + this.limits.maxStanzaSize - this.counted;
    let pos = 0;
    while (pos < s.length) {
      switch (this.state) {
        case ParserState.Prolog: pos = this.readProlog(s, pos); break;
        case ParserState.BetweenStanzas: pos = this.readBetweenStanzas(s, pos); break;
        case ParserState.InStanza: pos = this.readStanzaContent(s, pos); break;
        default: return;
      }
      if (this.delivery !== Delivery.None) {
        this.deliver(s, pos);
        if (this.generation !== generation) return;
      }
    }
    if (this.countFrom >= 0) {
      this.counted += s.length - this.countFrom;
      this.countFrom = 0;
      if (this.counted > this.limits.maxStanzaSize) throw this.tooLarge();
    }
  }

  private readProlog(s: string, pos: number): number {
    const prolog = this.prolog;
    const root = prolog.read(s, pos, this.limitAt);
    if (root < 0) {
      return prolog.unfinishedAt < 0 ? s.length : this.suspend(s, prolog.unfinishedAt, prolog.unfinishedKind);
    }
    const end = this.tags.read(s, root + 1, this.limitAt, this.input.bytes);
    if (end < 0) return this.suspend(s, root, TokenKind.StartTag);
    this.openStream(end);
    return end;
  }

  private openStream(end: number): void {
    const tags = this.tags;
    const root = tags.element!;
    tags.element = null;
    const name = root.name;
    const colon = name.indexOf(':');
    this.header = {
      name,
      local: colon < 0 ? name : name.slice(colon + 1),
      ns: this.scope.lookup(colon < 0 ? '' : name.slice(0, colon)),
      defaultNs: this.scope.lookup(''),
      attrs: root.attrs,
    };
    this.rootRawName = tags.rawName;
    if (end > this.limitAt) throw this.tooLarge();
    this.stopCounting();
    if (tags.selfClosing) {
      this.state = ParserState.Closed;
      this.delivery = Delivery.HeaderAndEnd;
    } else {
      this.state = ParserState.BetweenStanzas;
      this.delivery = Delivery.Header;
    }
  }

  private readBetweenStanzas(s: string, pos: number): number {
    const len = s.length;
    // Whitespace keepalives are fine; anything else directly under the root is not.
    while (pos < len && (CHAR_CLASS[s.charCodeAt(pos)] & SPACE) !== 0) pos++;
    if (pos >= len) return len;
    if (s.charCodeAt(pos) !== LT) throw notWellFormed('text is not allowed directly under the stream root');
    this.startCounting(pos);
    if (pos + 2 >= len) return this.suspend(s, pos, TokenKind.Markup);
    const next = s.charCodeAt(pos + 1);
    if (next === SLASH) return this.closeStream(s, pos);
    if (next === BANG) throw this.declarationViolation(s, pos);
    if (next === QUESTION) throw restrictedXml('processing instructions are not allowed');
    if (this.limits.maxDepth < 1) throw this.tooDeep();
    const end = this.tags.read(s, pos + 1, this.limitAt, this.input.bytes);
    if (end < 0) return this.suspend(s, pos, TokenKind.StartTag);
    if (end > this.limitAt) throw this.tooLarge();
    const tags = this.tags;
    const el = tags.element!;
    tags.element = null;
    const colon = el.name.indexOf(':');
    this.stanzaNs = this.scope.lookup(colon < 0 ? '' : el.name.slice(0, colon));
    if (tags.selfClosing) {
      this.scope.truncate(tags.scopeMark);
      this.finishStanza(el);
    } else {
      this.open.open(el, tags.rawName, tags.scopeMark);
      this.state = ParserState.InStanza;
    }
    return end;
  }

  private closeStream(s: string, pos: number): number {
    const gt = s.indexOf('>', pos + 2);
    if (gt < 0) return this.suspend(s, pos, TokenKind.EndTag);
    if (!rootClosedBy(s, pos + 2, gt, this.rootRawName)) throw notWellFormed(`expected </${this.rootRawName}>`);
    this.stopCounting();
    this.state = ParserState.Closed;
    this.delivery = Delivery.End;
    return gt + 1;
  }

  /** The hot loop: text, child elements and end tags inside a stanza. */
  private readStanzaContent(s: string, pos: number): number {
    const len = s.length;
    const tags = this.tags;
    const open = this.open;
    while (pos < len) {
      if (s.charCodeAt(pos) !== LT) {
        // Most text needs no rewriting: find its end and learn that in one pass, up to the size limit.
        const scanEnd = len < this.limitAt ? len : this.limitAt + 1;
        let lt = pos;
        while (lt < scanEnd && (CHAR_CLASS[s.charCodeAt(lt)] & TEXT_SPECIAL) === 0) lt++;
        let text: string;
        if (lt < scanEnd && s.charCodeAt(lt) === LT) {
          text = s.slice(pos, lt);
        } else {
          if (lt === scanEnd && scanEnd < len) throw this.tooLarge();
          lt = s.indexOf('<', lt);
          if (lt < 0) return this.suspend(s, pos, TokenKind.Text);
          if (lt > this.limitAt) throw this.tooLarge();
          text = readText(s, pos, lt, this.input.bytes);
        }
        open.appendText(text);
        pos = lt;
      }
      if (pos + 1 >= len) return this.suspend(s, pos, TokenKind.Markup);
      const next = s.charCodeAt(pos + 1);
      if (next === SLASH) {
        const gt = s.indexOf('>', pos + 2);
        if (gt < 0) return this.suspend(s, pos, TokenKind.EndTag);
        if (gt >= this.limitAt) throw this.tooLarge();
        if (!open.closedBy(s, pos + 2, gt)) throw notWellFormed(`expected </${open.currentName}>`);
        this.scope.truncate(open.currentScopeMark);
        const el = open.close();
        pos = gt + 1;
        if (open.depth === 0) {
          this.finishStanza(el);
          return pos;
        }
      } else if (next === BANG) {
        pos = this.readCdataSection(s, pos);
      } else if (next === QUESTION) {
        throw restrictedXml('processing instructions are not allowed');
      } else {
        if (open.depth >= this.limits.maxDepth) throw this.tooDeep();
        const end = tags.read(s, pos + 1, this.limitAt, this.input.bytes);
        if (end < 0) return this.suspend(s, pos, TokenKind.StartTag);
        if (end > this.limitAt) throw this.tooLarge();
        const el = tags.element!;
        tags.element = null;
        if (tags.selfClosing) {
          open.adopt(el);
          this.scope.truncate(tags.scopeMark);
        } else {
          open.open(el, tags.rawName, tags.scopeMark);
        }
        pos = end;
      }
    }
    return len;
  }

  private readCdataSection(s: string, pos: number): number {
    const len = s.length;
    if (len - pos < CDATA_OPEN.length) {
      if (CDATA_OPEN.startsWith(s.slice(pos))) return this.suspend(s, pos, TokenKind.Markup);
      throw this.declarationViolation(s, pos);
    }
    if (!s.startsWith(CDATA_OPEN, pos)) throw this.declarationViolation(s, pos);
    const end = s.indexOf(CDATA_CLOSE, pos + CDATA_OPEN.length);
    if (end < 0) return this.suspend(s, pos, TokenKind.Cdata);
    if (end + CDATA_CLOSE.length > this.limitAt) throw this.tooLarge();
    const text = readCdata(s, pos + CDATA_OPEN.length, end, this.input.bytes);
    if (text !== '') this.open.appendText(text);
    return end + CDATA_CLOSE.length;
  }

  /** '<!' that does not start a CDATA section inside a stanza: a comment, DOCTYPE or garbage. */
  private declarationViolation(s: string, pos: number): Violation {
    if (s.charCodeAt(pos + 2) === LEFT_BRACKET) {
      return notWellFormed(this.state === ParserState.InStanza
        ? 'malformed CDATA section'
        : 'CDATA is not allowed directly under the stream root');
    }
    return restrictedXml('comments and DOCTYPE declarations are not allowed');
  }

  private finishStanza(el: Element): void {
    this.stopCounting();
    this.stanza = el;
    this.delivery = Delivery.Stanza;
    this.state = ParserState.BetweenStanzas;
  }

  private deliver(s: string, pos: number): void {
    const what = this.delivery;
    const generation = this.generation;
    this.delivery = Delivery.None;
    try {
      if (what === Delivery.Stanza) {
        const el = this.stanza!;
        this.stanza = null;
        this.handler.stanza(el, this.stanzaNs);
      } else if (what === Delivery.Header || what === Delivery.HeaderAndEnd) {
        const header = this.header!;
        this.header = null;
        this.handler.streamStart(header);
        if (what === Delivery.HeaderAndEnd && generation === this.generation) this.handler.streamEnd();
      } else {
        this.handler.streamEnd();
      }
    } catch (e) {
      // Nothing is lost: the unread rest waits for the next write(), unless the handler reset us.
      if (generation === this.generation && this.state < ParserState.Closed) {
        const { bytes, brokenAfter } = this.input;
        this.backlog = { text: bytes.toString('latin1', pos), bytes: bytes.subarray(pos), brokenAfter };
        this.input = NO_INPUT;
      }
      throw e;
    }
  }

  /** Keeps s[from..] as an unfinished token and returns s.length. */
  private suspend(s: string, from: number, kind: TokenKind): number {
    if (this.countFrom < 0) this.startCounting(from);
    this.unfinished.hold(from === 0 ? s : s.slice(from), kind);
    return s.length;
  }

  private startCounting(from: number): void {
    this.countFrom = from;
    this.counted = 0;
    this.limitAt = from + this.limits.maxStanzaSize;
  }

  private stopCounting(): void {
    this.countFrom = -1;
    this.counted = 0;
    this.limitAt = Infinity;
  }

  private tooLarge(): Violation {
    const what = this.state === ParserState.Prolog ? 'stream header' : 'stanza';
    return policyViolation(`${what} larger than ${this.limits.maxStanzaSize} bytes`);
  }

  private tooDeep(): Violation {
    return policyViolation(`elements nested deeper than ${this.limits.maxDepth}`);
  }

  private fail(v: Violation): void {
    this.state = ParserState.Failed;
    this.release();
    this.handler.error(new StreamError(v.condition, v.text));
  }

  /** Drops everything read but not delivered. */
  private release(): void {
    this.queue.length = 0;
    this.backlog = null;
    this.input = NO_INPUT;
    this.unfinished.clear();
    this.stopCounting();
    this.open.clear();
    this.delivery = Delivery.None;
    this.header = null;
    this.stanza = null;
    this.tags.element = null;
  }
}

/** '</' name S? '>' closing the stream root, with its name exactly as written. */
function rootClosedBy(s: string, from: number, gt: number, rawName: string): boolean {
  if (!s.startsWith(rawName, from)) return false;
  let i = from + rawName.length;
  while (i < gt && (CHAR_CLASS[s.charCodeAt(i)] & SPACE) !== 0) i++;
  return i === gt;
}
