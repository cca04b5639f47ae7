// Streaming UTF-8 validation (RFC 6120 §11.6: streams are UTF-8) and the conversions between the
// parser's latin1 view of the bytes and real strings.
import { Buffer, isUtf8 } from 'node:buffer';
import { utf8SequenceLength } from './chars.js';

/**
 * Validates a byte stream that may be split anywhere, even inside a character. The last
 * incomplete sequence of a chunk is held back and checked together with the next chunk.
 */
export class Utf8Validator {
  private readonly carry = Buffer.alloc(4);
  private carryLength = 0;

  /** Index of the first byte of `chunk` that cannot be valid UTF-8, or chunk.length if none. */
  check(chunk: Buffer): number {
    let start = 0;
    if (this.carryLength > 0) {
      const need = utf8SequenceLength(this.carry[0]);
      while (this.carryLength < need && start < chunk.length) {
        const b = chunk[start];
        if ((b & 0xc0) !== 0x80) return 0;
        this.carry[this.carryLength++] = b;
        start++;
      }
      if (this.carryLength < need) return chunk.length;
      const complete = isUtf8(this.carry.subarray(0, need));
      this.carryLength = 0;
      // The broken sequence began in an earlier chunk; nothing of this one can be trusted.
      if (!complete) return 0;
    }
    let end = chunk.length;
    const tail = incompleteTailStart(chunk, start);
    if (tail >= 0) {
      this.carryLength = chunk.copy(this.carry, 0, tail, end);
      end = tail;
    }
    if (isUtf8(chunk.subarray(start, end))) return chunk.length;
    this.carryLength = 0;
    return start + firstInvalidByte(chunk, start, end);
  }

  reset(): void {
    this.carryLength = 0;
  }
}

/**
 * Start of a multibyte sequence cut off by the end of the chunk, or -1. Only a prefix that can
 * still become a valid character is held back: a byte that can never start one (C0, C1, F5–FF)
 * or a second byte out of range is judged at once, so where a stream is cut does not change
 * which error it gets.
 */
function incompleteTailStart(chunk: Buffer, from: number): number {
  const end = chunk.length;
  let i = end - 1;
  while (i >= from && i > end - 4 && (chunk[i] & 0xc0) === 0x80) i--;
  if (i < from || chunk[i] < 0xc0) return -1;
  if (i + utf8SequenceLength(chunk[i]) <= end) return -1;
  return firstInvalidByte(chunk, i, end) === end - i && validLead(chunk[i]) ? i : -1;
}

function validLead(b0: number): boolean {
  return (b0 >= 0xc2 && b0 <= 0xdf) || (b0 >= 0xe0 && b0 <= 0xf4);
}

/** Slow path after isUtf8 said no: where exactly the first bad sequence starts (Unicode Table 3-7). */
function firstInvalidByte(b: Buffer, start: number, end: number): number {
  let i = start;
  while (i < end) {
    const b0 = b[i];
    if (b0 < 0x80) { i++; continue; }
    let n: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b0 >= 0xc2 && b0 <= 0xdf) n = 2;
    else if (b0 >= 0xe0 && b0 <= 0xef) {
      n = 3;
      if (b0 === 0xe0) lo = 0xa0; // overlong
      if (b0 === 0xed) hi = 0x9f; // UTF-16 surrogates
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      n = 4;
      if (b0 === 0xf0) lo = 0x90; // overlong
      if (b0 === 0xf4) hi = 0x8f; // above U+10FFFF
    } else return i - start;
    if (i + n > end) {
      // Cut off: valid so far if what is there fits (used for the held-back tail).
      if (i + 1 < end && (b[i + 1]! < lo || b[i + 1]! > hi)) return i - start;
      for (let k = 2; i + k < end; k++) if ((b[i + k]! & 0xc0) !== 0x80) return i - start;
      return end - start;
    }
    const b1 = b[i + 1];
    if (b1 < lo || b1 > hi) return i - start;
    for (let k = 2; k < n; k++) if ((b[i + k] & 0xc0) !== 0x80) return i - start;
    i += n;
  }
  return end - start;
}

const SURROGATE = /[\ud800-\udfff]/;

/** Lone surrogates cannot be encoded as UTF-8; index of the first one in a string, or -1. */
export function firstLoneSurrogate(s: string): number {
  if (!SURROGATE.test(s)) return -1;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) { i++; continue; }
    }
    return i;
  }
  return -1;
}

/** Turns the parser's latin1 view of UTF-8 bytes back into a string. */
export function decodeLatin1View(bytes: string): string {
  return Buffer.from(bytes, 'latin1').toString('utf8');
}
