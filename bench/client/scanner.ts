// A tolerant response scanner for the load client. It is not an XML parser: it
// only cuts the server's byte stream into the stream header, complete top-level
// elements (<stream:features/>, <success/>, <iq/>, <message/>, ...) and the end of
// the stream, so that the client can act on each. Tags are found quote-aware
// (a '>' inside an attribute value does not end a tag); comments, processing
// instructions and CDATA are skipped. Nothing is validated: the server under test
// has its own strict parser, and the load tool must stay cheap per connection.
import { StringDecoder } from 'node:string_decoder';

export type ScanEvent =
  /** The peer's stream header (<stream:stream ...>); `tag` is its start tag. */
  | { kind: 'open'; tag: string }
  /** A complete top-level element: its qualified name, start tag and whole text. */
  | { kind: 'element'; name: string; tag: string; xml: string }
  /** </stream:stream>. */
  | { kind: 'close' };

type ScannerState = 'outside-stream' | 'in-stream' | 'in-element';

export class ResponseScanner {
  private state: ScannerState = 'outside-stream';
  private buf = '';
  /** Where scanning resumes in buf. */
  private pos = 0;
  /** Nesting inside the current top-level element (1 = its own start tag is open). */
  private depth = 0;
  private elementStart = 0;
  private elementTag = '';
  private elementName = '';
  private decoder = new StringDecoder('utf8');
  /** Bumped by reset(), so a callback that resets stops the scan of the old stream. */
  private generation = 0;

  constructor(private readonly onEvent: (ev: ScanEvent) => void) {}

  /** Forgets everything: a stream restart (after SASL success or TLS) begins anew. */
  reset(): void {
    this.generation++;
    this.state = 'outside-stream';
    this.buf = '';
    this.pos = 0;
    this.depth = 0;
    this.decoder = new StringDecoder('utf8');
  }

  /** Bytes held while waiting for the rest of a tag or element. */
  get buffered(): number {
    return this.buf.length;
  }

  push(chunk: Buffer | string): void {
    const gen = this.generation;
    this.buf += typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    for (;;) {
      const lt = this.buf.indexOf('<', this.pos);
      if (lt < 0) {
        this.pos = this.buf.length;
        break;
      }
      const end = this.markupEnd(lt);
      if (end < 0) {
        this.pos = lt; // incomplete: wait for more bytes
        break;
      }
      this.pos = end;
      const c1 = this.buf.charCodeAt(lt + 1);
      if (c1 === 0x3f /* ? */ || c1 === 0x21 /* ! */) continue; // PI, comment, CDATA, doctype
      this.tag(lt, end);
      if (this.generation !== gen) return;
    }
    this.compact();
  }

  /** Index just past the markup starting at `lt`, or -1 when it is not complete yet. */
  private markupEnd(lt: number): number {
    const b = this.buf;
    if (b.startsWith('<?', lt)) return after(b.indexOf('?>', lt + 2), 2);
    if (b.startsWith('<!--', lt)) return after(b.indexOf('-->', lt + 4), 3);
    if (b.startsWith('<![CDATA[', lt)) return after(b.indexOf(']]>', lt + 9), 3);
    const rest = b.length - lt < 9 ? b.slice(lt) : '';
    if (rest && ('<![CDATA['.startsWith(rest) || '<!--'.startsWith(rest))) return -1; // may still become one
    let quote = 0;
    for (let i = lt + 1; i < b.length; i++) {
      const c = b.charCodeAt(i);
      if (quote !== 0) {
        if (c === quote) quote = 0;
      } else if (c === 0x22 || c === 0x27) {
        quote = c;
      } else if (c === 0x3e /* > */) {
        return i + 1;
      }
    }
    return -1;
  }

  private tag(start: number, end: number): void {
    const b = this.buf;
    const closing = b.charCodeAt(start + 1) === 0x2f; /* / */
    const selfClosing = !closing && b.charCodeAt(end - 2) === 0x2f;
    switch (this.state) {
      case 'outside-stream': {
        if (closing) return;
        this.state = 'in-stream';
        this.onEvent({ kind: 'open', tag: b.slice(start, end) });
        return;
      }
      case 'in-stream': {
        if (closing) {
          this.state = 'outside-stream';
          this.onEvent({ kind: 'close' });
          return;
        }
        const tag = b.slice(start, end);
        const name = tagName(tag);
        if (selfClosing) {
          this.onEvent({ kind: 'element', name, tag, xml: tag });
          return;
        }
        this.state = 'in-element';
        this.depth = 1;
        this.elementStart = start;
        this.elementTag = tag;
        this.elementName = name;
        return;
      }
      case 'in-element': {
        if (closing) this.depth--;
        else if (!selfClosing) this.depth++;
        if (this.depth > 0) return;
        this.state = 'in-stream';
        this.onEvent({ kind: 'element', name: this.elementName, tag: this.elementTag, xml: b.slice(this.elementStart, end) });
      }
    }
  }

  /** Drops what has been consumed, so the buffer holds at most one element in progress. */
  private compact(): void {
    const keepFrom = this.state === 'in-element' ? this.elementStart : this.pos;
    if (keepFrom === 0) return;
    this.buf = this.buf.slice(keepFrom);
    this.pos -= keepFrom;
    this.elementStart -= Math.min(this.elementStart, keepFrom);
  }
}

function after(i: number, len: number): number {
  return i < 0 ? -1 : i + len;
}

/** The qualified name of a start tag: '<stream:features>' -> 'stream:features'. */
export function tagName(tag: string): string {
  let i = 1;
  while (i < tag.length) {
    const c = tag.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x2f || c === 0x3e) break;
    i++;
  }
  return tag.slice(1, i);
}

/** The local part of a qualified name: 'stream:features' -> 'features'. */
export function localName(name: string): string {
  const colon = name.indexOf(':');
  return colon < 0 ? name : name.slice(colon + 1);
}

const ATTR_PATTERNS = new Map<string, RegExp>();

/** An attribute's value in a start tag (entities decoded), or undefined. */
export function attr(tag: string, name: string): string | undefined {
  let re = ATTR_PATTERNS.get(name);
  if (!re) {
    re = new RegExp(`\\s${name.replace(/[.:-]/g, '\\$&')}\\s*=\\s*(?:'([^']*)'|"([^"]*)")`);
    ATTR_PATTERNS.set(name, re);
  }
  const m = re.exec(tag);
  if (!m) return undefined;
  return decodeEntities(m[1] ?? m[2] ?? '');
}

/** The character data of an element's text, without markup (entities decoded, trimmed). */
export function textOf(xml: string): string {
  const open = xml.indexOf('>');
  if (open < 0 || xml.charCodeAt(open - 1) === 0x2f) return '';
  const close = xml.lastIndexOf('</');
  return decodeEntities(xml.slice(open + 1, close < open ? xml.length : close).replace(/<[^>]*>/g, '')).trim();
}

/** The text of the first child element with this local name (any prefix), or undefined. */
export function childText(xml: string, local: string): string | undefined {
  const re = new RegExp(`<(?:[\\w.-]+:)?${local}(?:\\s[^>]*)?>([^<]*)<`);
  const m = re.exec(xml);
  return m ? decodeEntities(m[1]!).trim() : undefined;
}

/** Whether the element contains a child with this local name (any prefix). */
export function hasChild(xml: string, local: string): boolean {
  return new RegExp(`<(?:[\\w.-]+:)?${local}[\\s/>]`).test(xml.slice(1));
}

/** The SASL mechanisms offered in <stream:features/>. */
export function mechanismsOf(features: string): string[] {
  const out: string[] = [];
  const re = /<(?:[\w.-]+:)?mechanism(?:\s[^>]*)?>\s*([^<\s]+)\s*</g;
  for (let m = re.exec(features); m; m = re.exec(features)) out.push(m[1]!);
  return out;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeEntities(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, e: string) => {
    if (e.startsWith('#x')) return String.fromCodePoint(Number.parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(Number.parseInt(e.slice(1), 10));
    return ENTITIES[e] ?? whole;
  });
}
