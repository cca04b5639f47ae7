// Reading XML Names (§2.3) from the latin1 view of the input.
//
// A stream repeats a few dozen names ('message', 'to', 'id', 'xmlns', ...), so recently seen ones
// are kept and tried first: one comparison instead of a scan and a slice, and the same string
// object every time, which V8 has already internalised, makes `attrs[name] = value` much cheaper.
import { Buffer } from 'node:buffer';
import {
  CHAR_CLASS, NAME_CHAR, NAME_START, NON_ASCII, codePointAt, isNameCodePoint, isNameStartCodePoint,
  utf8SequenceLength,
} from './chars.js';
import { notWellFormed } from './violation.js';

/** The name contains a ':' (a prefixed QName, or malformed). */
export const NAME_HAS_COLON = 1;
/** 'xmlns' or 'xmlns:...': a namespace declaration when used as an attribute. */
export const NAME_IS_XMLNS = 2;

const XMLNS = 'xmlns';
const XMLNS_PREFIXED = 'xmlns:';
// Known names are found by their first two bytes; a slot holds the few most recent with those.
const SLOTS = 256; // a power of two
const WAYS = 4;
// Longer names are rare and not worth keeping.
const MAX_KNOWN_LENGTH = 32;
// Shorter slices are copies in V8 already.
const MIN_SLICED_LENGTH = 13;

/**
 * Recently seen names. About 9 KB, so one is shared by all the streams of a listener
 * (passed down from it) rather than kept per stream: the names are the same everywhere,
 * and what is cached never changes a result, only how fast it comes.
 */
export class NameCache {
  readonly known: string[] = new Array<string>(SLOTS * WAYS).fill('');
  readonly knownFlags = new Uint8Array(SLOTS * WAYS);
}

export class NameReader {
  /** The last name read, as a string. */
  name = '';
  /** The same as written, in the latin1 view (equal to name unless it has non-ASCII characters). */
  raw = '';
  /** NAME_* bits of the last name. */
  flags = 0;

  private readonly known: string[];
  private readonly knownFlags: Uint8Array;

  constructor(cache: NameCache = new NameCache()) {
    this.known = cache.known;
    this.knownFlags = cache.knownFlags;
  }

  /** Reads the Name starting at i and returns its end, or -1 if the input ends inside it. */
  read(s: string, i: number, source: Buffer): number {
    const len = s.length;
    if (i + 1 >= len) return -1;
    const c0 = s.charCodeAt(i);
    if ((CHAR_CLASS[c0] & NAME_START) !== 0) {
      const base = slotOf(c0, s.charCodeAt(i + 1)) * WAYS;
      for (let w = base; w < base + WAYS; w++) {
        const known = this.known[w];
        const end = i + known.length;
        // Empty ways fail here too: s[i] itself is a name character.
        if (end < len && (CHAR_CLASS[s.charCodeAt(end)] & (NAME_CHAR | NON_ASCII)) === 0 && sameChars(s, i, known)) {
          this.name = known;
          this.raw = known;
          this.flags = this.knownFlags[w];
          return end;
        }
      }
    }
    return this.scan(s, i, source);
  }

  /** A name not among the known ones: check every character, then remember it. */
  private scan(s: string, start: number, source: Buffer): number {
    const len = s.length;
    const first = s.charCodeAt(start);
    let i = start;
    let ascii = true;
    if ((CHAR_CLASS[first] & NAME_START) !== 0) {
      for (i++; i < len && (CHAR_CLASS[s.charCodeAt(i)] & NAME_CHAR) !== 0; i++);
      if (i < len && (CHAR_CLASS[s.charCodeAt(i)] & NON_ASCII) !== 0) {
        ascii = false;
        i = scanNonAscii(s, i, false);
      }
    } else if ((CHAR_CLASS[first] & NON_ASCII) !== 0) {
      ascii = false;
      i = scanNonAscii(s, i, true);
    } else {
      throw notWellFormed('malformed name');
    }
    if (i < 0 || i >= len) return -1;
    if (ascii) {
      const n = i - start;
      // A copy rather than a slice: V8 slices of 13+ chars keep the whole input alive.
      this.raw = copyOf(s.slice(start, i));
      this.name = this.raw;
      this.flags = flagsOf(this.name);
      if (n <= MAX_KNOWN_LENGTH) this.remember(this.name, this.flags, slotOf(first, s.charCodeAt(start + 1)));
    } else {
      this.raw = s.slice(start, i);
      this.name = source.toString('utf8', start, i);
      this.flags = flagsOf(this.name);
    }
    return i;
  }

  private remember(name: string, flags: number, slot: number): void {
    const base = slot * WAYS;
    for (let w = base + WAYS - 1; w > base; w--) {
      this.known[w] = this.known[w - 1];
      this.knownFlags[w] = this.knownFlags[w - 1];
    }
    this.known[base] = name;
    this.knownFlags[base] = flags;
  }
}

/** Continues a name at a multibyte character: decode each and check the Name ranges; -1 if cut off. */
function scanNonAscii(s: string, i: number, atStart: boolean): number {
  const len = s.length;
  while (i < len) {
    const c = s.charCodeAt(i);
    if ((CHAR_CLASS[c] & NON_ASCII) === 0) {
      if ((CHAR_CLASS[c] & (atStart ? NAME_START : NAME_CHAR)) === 0) break;
      i++;
    } else {
      const n = utf8SequenceLength(c);
      if (i + n > len) return -1;
      const cp = codePointAt(s, i);
      if (!(atStart ? isNameStartCodePoint(cp) : isNameCodePoint(cp))) break;
      i += n;
    }
    atStart = false;
  }
  if (atStart) throw notWellFormed('malformed name');
  return i;
}

/** Known names are found by their first two bytes. */
function slotOf(first: number, second: number): number {
  return (first * 31 + second) & (SLOTS - 1);
}

function flagsOf(name: string): number {
  return (name.indexOf(':') >= 0 ? NAME_HAS_COLON : 0)
    | (name === XMLNS || name.startsWith(XMLNS_PREFIXED) ? NAME_IS_XMLNS : 0);
}

/** s[a, a + t.length) === t, without the call overhead of startsWith for a few chars. */
function sameChars(s: string, a: number, t: string): boolean {
  for (let k = 0; k < t.length; k++) if (s.charCodeAt(a + k) !== t.charCodeAt(k)) return false;
  return true;
}

function copyOf(s: string): string {
  return s.length < MIN_SLICED_LENGTH ? s : Buffer.from(s, 'latin1').toString('latin1');
}
