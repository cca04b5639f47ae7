// A token cut off by the end of the input (XML §2.4-§3.1 tokens: tags, text, CDATA sections).
// Later inputs are only searched for its terminator, never re-read, so even a large token fed
// byte by byte costs linear time; once it is complete the parser reads it whole.

/** What kind of token is unfinished, and so what ends it. */
export const TokenKind = { None: 0, Markup: 1, StartTag: 2, EndTag: 3, Text: 4, Cdata: 5, XmlDeclaration: 6 } as const;
export type TokenKind = (typeof TokenKind)[keyof typeof TokenKind];

const GT = 0x3e;
const QUOT = 0x22;
const APOS = 0x27;
const CDATA_CLOSE = ']]>';
const PI_CLOSE = '?>';
// Enough of the previous input to find a terminator split between two inputs.
const TAIL_LENGTH = 2;

export class UnfinishedToken {
  kind: TokenKind = TokenKind.None;
  /** Bytes held so far. */
  bytes = 0;

  private readonly parts: string[] = [];
  /** Inside a start tag: the quote of the attribute value we are in, 0 if none. */
  private quote = 0;
  private tail = '';

  /** Starts holding `piece` (from the token's first byte to the end of the input). */
  hold(piece: string, kind: TokenKind): void {
    this.kind = kind;
    this.parts.push(piece);
    this.bytes = piece.length;
    this.quote = 0;
    this.tail = piece.slice(-TAIL_LENGTH);
    if (kind === TokenKind.StartTag) this.findTagEnd(piece);
  }

  /** Whether `input` completes the token, or should be read together with it anyway. */
  completedBy(input: string): boolean {
    switch (this.kind) {
      case TokenKind.Text: return input.indexOf('<') >= 0;
      case TokenKind.EndTag: return input.indexOf('>') >= 0;
      // The quote-tracking scan does not check syntax, so a malformed tag would wait for its '>'.
      // Re-reading the whole tag whenever the new input is at least as long keeps errors prompt
      // for ordinary reads, while a byte-by-byte drip still costs linear time.
      case TokenKind.StartTag: return this.findTagEnd(input) >= 0 || input.length >= this.bytes;
      case TokenKind.Cdata: return containsAcross(this.tail, input, CDATA_CLOSE);
      case TokenKind.XmlDeclaration: return containsAcross(this.tail, input, PI_CLOSE);
      default: return true; // a few bytes of undecided markup: decide again with more input
    }
  }

  /** Adds an input that did not complete the token. */
  extend(input: string): void {
    this.parts.push(input);
    this.bytes += input.length;
    this.tail = (this.tail + input).slice(-TAIL_LENGTH);
  }

  /** The token so far, which the holder reads again followed by the new input. */
  take(): string {
    const token = this.parts.join('');
    this.clear();
    return token;
  }

  clear(): void {
    this.kind = TokenKind.None;
    this.parts.length = 0;
    this.bytes = 0;
  }

  /** Index of the '>' ending a start tag, honouring quoted values across inputs; -1 if not yet. */
  private findTagEnd(t: string): number {
    let quote = this.quote;
    let i = 0;
    while (i < t.length) {
      if (quote !== 0) {
        const close = t.indexOf(quote === QUOT ? '"' : "'", i);
        if (close < 0) break;
        quote = 0;
        i = close + 1;
        continue;
      }
      const c = t.charCodeAt(i);
      if (c === GT) return i;
      if (c === QUOT || c === APOS) quote = c;
      i++;
    }
    this.quote = quote;
    return -1;
  }
}

/** Whether `term` occurs in tail + input, where tail is the end of what came before. */
function containsAcross(tail: string, input: string, term: string): boolean {
  return (tail + input.slice(0, term.length - 1)).indexOf(term) >= 0 || input.indexOf(term) >= 0;
}
