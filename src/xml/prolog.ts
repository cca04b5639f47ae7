// What may come before the stream header: a BOM, white space and the XML declaration (XML §2.8,
// RFC 6120 §11.5). Comments, processing instructions and DOCTYPE are restricted (§11.1).
import { CHAR_CLASS, SPACE } from './chars.js';
import { TokenKind } from './unfinished.js';
import { Violation, notWellFormed, policyViolation, restrictedXml } from './violation.js';

const LT = 0x3c;
const BANG = 0x21;
const QUESTION = 0x3f;
const BOM_LEAD = 0xef;
const BOM = '\xef\xbb\xbf';
const XML_DECLARATION_OPEN = '<?xml';
const PI_CLOSE = '?>';

const PSEUDO_ATTRIBUTE = /^[\x20\x09\x0d\x0a]+([a-z]+)[\x20\x09\x0d\x0a]*=[\x20\x09\x0d\x0a]*(?:'([^']*)'|"([^"]*)")/;
const TRAILING_SPACE = /^[\x20\x09\x0d\x0a]*$/;
const VERSION = /^1\.[0-9]+$/;
const ENCODING_NAME = /^[A-Za-z][A-Za-z0-9._-]*$/;
const STANDALONE = /^(?:yes|no)$/;
const DECLARATION_ORDER = ['version', 'encoding', 'standalone'];
// RFC 6120 §11.6: "the XML ... MUST be encoded in UTF-8".
const UTF8 = 'utf-8';

export class PrologReader {
  /** Where the unfinished token starts when read() returns -1 (-1: nothing to keep). */
  unfinishedAt = -1;
  unfinishedKind: TokenKind = TokenKind.None;

  private atStreamStart = true;
  private declarationAllowed = true;

  /**
   * Reads the prolog from pos. Returns the index of the '<' that starts the stream header, or -1
   * when the input ends first. `limit` is the index past which the header would be too large.
   */
  read(s: string, pos: number, limit: number): number {
    const len = s.length;
    this.unfinishedAt = -1;
    while (pos < len) {
      const c = s.charCodeAt(pos);
      if (this.atStreamStart) {
        if (c === BOM_LEAD) {
          if (len - pos < BOM.length) return this.unfinished(pos, TokenKind.Markup);
          if (!s.startsWith(BOM, pos)) throw notWellFormed('the stream must start with a BOM, white space or <');
          pos += BOM.length;
        }
        this.atStreamStart = false;
        continue;
      }
      if ((CHAR_CLASS[c] & SPACE) !== 0) {
        pos++;
        continue;
      }
      if (c !== LT) throw notWellFormed('only white space may come before the stream header');
      if (pos + 1 >= len) return this.unfinished(pos, TokenKind.Markup);
      const next = s.charCodeAt(pos + 1);
      if (next === QUESTION) {
        pos = this.readDeclaration(s, pos, limit);
        if (pos < 0) return -1;
        continue;
      }
      this.declarationAllowed = false;
      if (next === BANG) throw restrictedXml('DOCTYPE declarations and comments are not allowed');
      return pos;
    }
    return -1;
  }

  reset(): void {
    this.atStreamStart = true;
    this.declarationAllowed = true;
    this.unfinishedAt = -1;
  }

  private readDeclaration(s: string, pos: number, limit: number): number {
    // Any other processing instruction is restricted, and so is a declaration that is not first.
    if (!this.declarationAllowed) throw restrictedXml('processing instructions are not allowed');
    const open = XML_DECLARATION_OPEN.length;
    if (s.length - pos <= open) return this.unfinished(pos, TokenKind.Markup);
    if (!s.startsWith(XML_DECLARATION_OPEN, pos) || (CHAR_CLASS[s.charCodeAt(pos + open)] & SPACE) === 0) {
      throw restrictedXml('processing instructions are not allowed');
    }
    const end = s.indexOf(PI_CLOSE, pos + open);
    if (end < 0) return this.unfinished(pos, TokenKind.XmlDeclaration);
    if (end + PI_CLOSE.length > limit) throw policyViolation('stream header too large');
    checkXmlDeclaration(s.slice(pos + open, end));
    this.declarationAllowed = false;
    return end + PI_CLOSE.length;
  }

  private unfinished(at: number, kind: TokenKind): number {
    this.unfinishedAt = at;
    this.unfinishedKind = kind;
    return -1;
  }
}

/** Checks the declaration text between '<?xml' and '?>': VersionInfo EncodingDecl? SDDecl? S?. */
export function checkXmlDeclaration(body: string): void {
  let next = 0;
  let rest = body;
  for (;;) {
    const m = PSEUDO_ATTRIBUTE.exec(rest);
    if (!m) break;
    const [whole, name] = m;
    const value = m[2] ?? m[3];
    const at = DECLARATION_ORDER.indexOf(name, next);
    if (at < 0 || (next === 0 && at !== 0)) throw notWellFormed(`unexpected '${name}' in the XML declaration`);
    next = at + 1;
    if (name === 'version' && !VERSION.test(value)) throw notWellFormed(`XML version '${value}' is not supported`);
    if (name === 'encoding') {
      if (!ENCODING_NAME.test(value)) throw notWellFormed(`bad encoding name '${value}'`);
      if (value.toLowerCase() !== UTF8) throw new Violation('unsupported-encoding', `encoding '${value}' is not UTF-8`);
    }
    if (name === 'standalone' && !STANDALONE.test(value)) throw notWellFormed(`bad standalone value '${value}'`);
    rest = rest.slice(whole.length);
  }
  if (next === 0) throw notWellFormed('the XML declaration needs a version');
  if (!TRAILING_SPACE.test(rest)) throw notWellFormed('malformed XML declaration');
}
