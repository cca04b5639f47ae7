// Character data, attribute values and CDATA sections: reference expansion (XML §4.1), end-of-line
// handling (§2.11), attribute-value normalisation (§3.3.3) and the Char check (§2.2), all over the
// parser's latin1 view of the UTF-8 bytes. Each function gets a complete token and returns a string;
// `source` is the same input as bytes, to decode untouched non-ASCII text from directly.
import type { Buffer } from 'node:buffer';
import {
  ATTR_SPECIAL, CDATA_SPECIAL, CHAR_CLASS, NAME_CHAR, NAME_START, NON_ASCII, TEXT_SPECIAL,
  isNonCharacterAt, isXmlChar, utf8Bytes,
} from './chars.js';
import { decodeLatin1View } from './utf8.js';
import { notWellFormed, restrictedXml, type Violation } from './violation.js';

const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const AMP = 0x26;
const LT = 0x3c;
const GT = 0x3e;
const HASH = 0x23;
const RIGHT_BRACKET = 0x5d;
const LOWER_X = 0x78;
const NON_CHARACTER_LEAD = 0xef;
const MAX_CODE_POINT = 0x10ffff;

/** Character data between two tags. */
export function readText(s: string, a: number, b: number, source: Buffer): string {
  let out = '';
  let last = a;
  let nonAscii = false;
  for (let i = a; i < b; i++) {
    const c = s.charCodeAt(i);
    if ((CHAR_CLASS[c] & TEXT_SPECIAL) === 0) continue;
    if (c >= 0x80) {
      nonAscii = true;
      if (c === NON_CHARACTER_LEAD && isNonCharacterAt(s, i)) throw nonCharacter(s, i);
    } else if (c === AMP) {
      const semicolon = referenceEnd(s, i, b);
      const expansion = expandReference(s, i + 1, semicolon);
      if (expansion.charCodeAt(0) >= 0x80) nonAscii = true;
      out += s.slice(last, i) + expansion;
      last = semicolon + 1;
      i = semicolon;
    } else if (c === GT) {
      // §2.4: "The right angle bracket (>) ... MUST ... be escaped ... when it appears in the string ']]>'".
      if (i - 2 >= a && s.charCodeAt(i - 1) === RIGHT_BRACKET && s.charCodeAt(i - 2) === RIGHT_BRACKET) {
        throw notWellFormed("']]>' is not allowed in character data");
      }
    } else if (c === CR) {
      // §2.11: CR LF and a lone CR reach the application as a single LF.
      out += s.slice(last, i) + '\n';
      if (i + 1 < b && s.charCodeAt(i + 1) === LF) i++;
      last = i + 1;
    } else {
      throw illegalCharacter(c);
    }
  }
  return finish(s, a, b, source, out, last, nonAscii);
}

/** An attribute value between its quotes. */
export function readAttributeValue(s: string, a: number, b: number, source: Buffer): string {
  let out = '';
  let last = a;
  let nonAscii = false;
  for (let i = a; i < b; i++) {
    const c = s.charCodeAt(i);
    if ((CHAR_CLASS[c] & ATTR_SPECIAL) === 0) continue;
    if (c >= 0x80) {
      nonAscii = true;
      if (c === NON_CHARACTER_LEAD && isNonCharacterAt(s, i)) throw nonCharacter(s, i);
    } else if (c === AMP) {
      const semicolon = referenceEnd(s, i, b);
      const expansion = expandReference(s, i + 1, semicolon);
      if (expansion.charCodeAt(0) >= 0x80) nonAscii = true;
      out += s.slice(last, i) + expansion;
      last = semicolon + 1;
      i = semicolon;
    } else if (c === TAB || c === LF || c === CR) {
      // §3.3.3: each white space character is normalised to a space; CR LF counts as one (§2.11).
      out += s.slice(last, i) + ' ';
      if (c === CR && i + 1 < b && s.charCodeAt(i + 1) === LF) i++;
      last = i + 1;
    } else if (c === LT) {
      throw notWellFormed("'<' is not allowed in an attribute value");
    } else {
      throw illegalCharacter(c);
    }
  }
  return finish(s, a, b, source, out, last, nonAscii);
}

/** The content of a CDATA section (§2.7): no references, but still Chars and line ends. */
export function readCdata(s: string, a: number, b: number, source: Buffer): string {
  let out = '';
  let last = a;
  let nonAscii = false;
  for (let i = a; i < b; i++) {
    const c = s.charCodeAt(i);
    if ((CHAR_CLASS[c] & CDATA_SPECIAL) === 0) continue;
    if (c >= 0x80) {
      nonAscii = true;
      if (c === NON_CHARACTER_LEAD && isNonCharacterAt(s, i)) throw nonCharacter(s, i);
    } else if (c === CR) {
      out += s.slice(last, i) + '\n';
      if (i + 1 < b && s.charCodeAt(i + 1) === LF) i++;
      last = i + 1;
    } else {
      throw illegalCharacter(c);
    }
  }
  return finish(s, a, b, source, out, last, nonAscii);
}

/** The token as a string: untouched bytes straight from the source, rewritten ones via their latin1 view. */
function finish(s: string, a: number, b: number, source: Buffer, out: string, last: number, nonAscii: boolean): string {
  if (last === a) return nonAscii ? source.toString('utf8', a, b) : s.slice(a, b);
  const bytes = out + s.slice(last, b);
  return nonAscii ? decodeLatin1View(bytes) : bytes;
}

/** The ';' that closes the reference starting at `amp`; a bare '&' is not well-formed. */
function referenceEnd(s: string, amp: number, b: number): number {
  const semicolon = s.indexOf(';', amp + 1);
  if (semicolon < 0 || semicolon >= b || semicolon === amp + 1) {
    throw notWellFormed("'&' must start a character or entity reference");
  }
  return semicolon;
}

/** Expands the reference whose name is s[a, b) into UTF-8 bytes (latin1 view). */
function expandReference(s: string, a: number, b: number): string {
  if (s.charCodeAt(a) === HASH) return expandCharacterReference(s, a + 1, b);
  switch (b - a) {
    case 2:
      if (s.startsWith('lt', a)) return '<';
      if (s.startsWith('gt', a)) return '>';
      break;
    case 3:
      if (s.startsWith('amp', a)) return '&';
      break;
    case 4:
      if (s.startsWith('quot', a)) return '"';
      if (s.startsWith('apos', a)) return "'";
      break;
  }
  // RFC 6120 §11.1: only the five predefined entities exist; anything else would need a DTD.
  if (isNameBytes(s, a, b)) return throwRestricted(`entity reference '&${s.slice(a, b)};' is not allowed`);
  throw notWellFormed("'&' must start a character or entity reference");
}

/** &#NNN; or &#xHHH; — digits in s[a, b) after the '#'. */
function expandCharacterReference(s: string, a: number, b: number): string {
  let radix = 10;
  if (s.charCodeAt(a) === LOWER_X) {
    radix = 16;
    a++;
  }
  if (a === b) throw notWellFormed('empty character reference');
  let cp = 0;
  for (let i = a; i < b; i++) {
    const digit = digitValue(s.charCodeAt(i), radix);
    if (digit < 0) throw notWellFormed('bad digit in character reference');
    cp = cp * radix + digit;
    if (cp > MAX_CODE_POINT) throw notWellFormed('character reference beyond U+10FFFF');
  }
  // §4.1 WFC Legal Character: "Characters referred to using character references MUST match the production for Char."
  if (!isXmlChar(cp)) throw illegalCharacter(cp);
  return utf8Bytes(cp);
}

function digitValue(c: number, radix: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (radix === 16) {
    const lower = c | 0x20;
    if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  }
  return -1;
}

/** Loose Name check, only to tell an undeclared entity (restricted) from garbage (not well-formed). */
function isNameBytes(s: string, a: number, b: number): boolean {
  if ((CHAR_CLASS[s.charCodeAt(a)] & (NAME_START | NON_ASCII)) === 0) return false;
  for (let i = a + 1; i < b; i++) if ((CHAR_CLASS[s.charCodeAt(i)] & (NAME_CHAR | NON_ASCII)) === 0) return false;
  return true;
}

function throwRestricted(text: string): never {
  throw restrictedXml(text);
}

/** U+FFFE or U+FFFF, from the third byte of its encoding. */
function nonCharacter(s: string, i: number): Violation {
  return illegalCharacter(0xfffe | (s.charCodeAt(i + 2) & 1));
}

function illegalCharacter(cp: number): Violation {
  return notWellFormed(`U+${cp.toString(16).toUpperCase().padStart(4, '0')} is not an XML character`);
}
