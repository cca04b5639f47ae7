// Character classes for the strict parser (XML 1.0 fifth edition, §2.2 Char and §2.3 Name).
//
// The parser reads raw UTF-8 bytes viewed as a latin1 string (one char per byte), so the
// table below is indexed by byte value; bytes >= 0x80 are parts of multibyte characters and
// are decoded only where a rule needs the code point (names, U+FFFE/U+FFFF).

/** Byte is a NameStartChar (ASCII part; ':' included, QName rules are checked separately). */
export const NAME_START = 1;
/** Byte is a NameChar (ASCII part). */
export const NAME_CHAR = 2;
/** S ::= (#x20 | #x9 | #xD | #xA)+ */
export const SPACE = 4;
/** Byte needs a second look inside character data: '&', '>' (for "]]>"), CR, C0 controls, non-ASCII. */
export const TEXT_SPECIAL = 8;
/** Byte needs a second look inside an attribute value: '&', '<', TAB/LF/CR, C0 controls, non-ASCII. */
export const ATTR_SPECIAL = 16;
/** Byte needs a second look inside a CDATA section: CR, C0 controls, non-ASCII. */
export const CDATA_SPECIAL = 32;
/** Byte is 0x80-0xFF: part of a multibyte UTF-8 sequence. */
export const NON_ASCII = 64;
/** Byte ends the fast scan of an attribute value: a quote or anything ATTR_SPECIAL. */
export const VALUE_STOP = 128;

export const CHAR_CLASS: Uint8Array = buildCharClass();

function buildCharClass(): Uint8Array {
  const t = new Uint8Array(256);
  const set = (from: number, to: number, bits: number): void => {
    for (let c = from; c <= to; c++) t[c] |= bits;
  };
  const ch = (s: string): number => s.charCodeAt(0);
  set(ch('A'), ch('Z'), NAME_START | NAME_CHAR);
  set(ch('a'), ch('z'), NAME_START | NAME_CHAR);
  set(ch('_'), ch('_'), NAME_START | NAME_CHAR);
  set(ch(':'), ch(':'), NAME_START | NAME_CHAR);
  set(ch('0'), ch('9'), NAME_CHAR);
  set(ch('-'), ch('-'), NAME_CHAR);
  set(ch('.'), ch('.'), NAME_CHAR);
  for (const c of [0x20, 0x09, 0x0d, 0x0a]) t[c] |= SPACE;
  // C0 controls other than TAB, LF and CR are not Chars at all; every context must stop on them.
  set(0x00, 0x1f, TEXT_SPECIAL | ATTR_SPECIAL | CDATA_SPECIAL);
  t[0x09] &= ~(TEXT_SPECIAL | CDATA_SPECIAL);
  t[0x0a] &= ~(TEXT_SPECIAL | CDATA_SPECIAL);
  t[ch('&')] |= TEXT_SPECIAL | ATTR_SPECIAL;
  t[ch('<')] |= TEXT_SPECIAL | ATTR_SPECIAL;
  t[ch('>')] |= TEXT_SPECIAL;
  set(0x80, 0xff, NON_ASCII | TEXT_SPECIAL | ATTR_SPECIAL | CDATA_SPECIAL);
  for (let c = 0; c < 256; c++) if ((t[c] & ATTR_SPECIAL) !== 0) t[c] |= VALUE_STOP;
  t[ch('"')] |= VALUE_STOP;
  t[ch("'")] |= VALUE_STOP;
  return t;
}

/** Char ::= #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF] */
export function isXmlChar(cp: number): boolean {
  return cp >= 0x20
    ? cp <= 0xd7ff || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff)
    : cp === 0x09 || cp === 0x0a || cp === 0x0d;
}

/** NameStartChar for code points above ASCII. */
export function isNameStartCodePoint(cp: number): boolean {
  if (cp < 0x80) return (CHAR_CLASS[cp] & NAME_START) !== 0;
  return (cp >= 0xc0 && cp <= 0xd6) || (cp >= 0xd8 && cp <= 0xf6) || (cp >= 0xf8 && cp <= 0x2ff)
    || (cp >= 0x370 && cp <= 0x37d) || (cp >= 0x37f && cp <= 0x1fff) || cp === 0x200c || cp === 0x200d
    || (cp >= 0x2070 && cp <= 0x218f) || (cp >= 0x2c00 && cp <= 0x2fef) || (cp >= 0x3001 && cp <= 0xd7ff)
    || (cp >= 0xf900 && cp <= 0xfdcf) || (cp >= 0xfdf0 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0xeffff);
}

/** NameChar for any code point. */
export function isNameCodePoint(cp: number): boolean {
  if (cp < 0x80) return (CHAR_CLASS[cp] & NAME_CHAR) !== 0;
  return isNameStartCodePoint(cp) || cp === 0xb7 || (cp >= 0x300 && cp <= 0x36f) || cp === 0x203f || cp === 0x2040;
}

/** Length of the UTF-8 sequence a lead byte starts (1 for bytes that cannot lead one). */
export function utf8SequenceLength(lead: number): number {
  return lead < 0xc0 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : lead < 0xf8 ? 4 : 1;
}

/**
 * The code point of the (already validated) UTF-8 sequence starting at byte i of a latin1 view.
 * The caller has checked that utf8SequenceLength(lead) bytes are present.
 */
export function codePointAt(bytes: string, i: number): number {
  const b0 = bytes.charCodeAt(i);
  if (b0 < 0x80) return b0;
  if (b0 < 0xe0) return ((b0 & 0x1f) << 6) | (bytes.charCodeAt(i + 1) & 0x3f);
  if (b0 < 0xf0) {
    return ((b0 & 0x0f) << 12) | ((bytes.charCodeAt(i + 1) & 0x3f) << 6) | (bytes.charCodeAt(i + 2) & 0x3f);
  }
  return ((b0 & 0x07) << 18) | ((bytes.charCodeAt(i + 1) & 0x3f) << 12)
    | ((bytes.charCodeAt(i + 2) & 0x3f) << 6) | (bytes.charCodeAt(i + 3) & 0x3f);
}

/** A code point as UTF-8 bytes in a latin1 string, so that references can be spliced into raw text. */
export function utf8Bytes(cp: number): string {
  if (cp < 0x80) return String.fromCharCode(cp);
  if (cp < 0x800) return String.fromCharCode(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
  if (cp < 0x10000) {
    return String.fromCharCode(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  }
  return String.fromCharCode(
    0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
}

/** True when the bytes at i are EF BF BE or EF BF BF: U+FFFE / U+FFFF, which are not Chars. */
export function isNonCharacterAt(bytes: string, i: number): boolean {
  return bytes.charCodeAt(i + 1) === 0xbf && (bytes.charCodeAt(i + 2) | 1) === 0xbf;
}
