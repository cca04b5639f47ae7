// Turns each write into the parser's input: validated UTF-8 bytes and their latin1 view.
import { Buffer } from 'node:buffer';
import { Utf8Validator, firstLoneSurrogate } from './utf8.js';

/** One write, cut short where it stops being acceptable. */
export interface Input {
  /** The bytes as a latin1 string, one char per byte (a flat string: it is read char by char). */
  text: string;
  /** The same bytes, for decoding non-ASCII text without a copy. */
  bytes: Buffer;
  /** Why the bytes after these are not acceptable, or '' if the whole write was. */
  brokenAfter: string;
}

const INVALID_UTF8 = 'invalid UTF-8';
const LONE_SURROGATE = 'unpaired surrogate in the input';

export class InputDecoder {
  private readonly utf8 = new Utf8Validator();
  /** A string write ended with the first half of a surrogate pair. */
  private highSurrogate = '';

  decode(chunk: Buffer | string): Input {
    let brokenAfter = '';
    let bytes: Buffer;
    if (typeof chunk === 'string') {
      let text = this.highSurrogate + chunk;
      this.highSurrogate = '';
      const last = text.charCodeAt(text.length - 1);
      if (last >= 0xd800 && last <= 0xdbff) {
        this.highSurrogate = text.slice(-1);
        text = text.slice(0, -1);
      }
      const lone = firstLoneSurrogate(text);
      if (lone >= 0) {
        text = text.slice(0, lone);
        brokenAfter = LONE_SURROGATE;
      }
      bytes = Buffer.from(text, 'utf8');
    } else {
      bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
      if (this.highSurrogate !== '') {
        this.highSurrogate = '';
        return { text: '', bytes: Buffer.alloc(0), brokenAfter: LONE_SURROGATE };
      }
    }
    const valid = this.utf8.check(bytes);
    if (valid < bytes.length) {
      brokenAfter = INVALID_UTF8;
      bytes = bytes.subarray(0, valid);
    }
    return { text: bytes.toString('latin1'), bytes, brokenAfter };
  }

  reset(): void {
    this.utf8.reset();
    this.highSurrogate = '';
  }
}

/** `head` (a latin1 view) followed by `input`, joined through a Buffer so the result is flat. */
export function prepend(head: string, input: Input): Input {
  const bytes = Buffer.concat([Buffer.from(head, 'latin1'), input.bytes]);
  return { text: bytes.toString('latin1'), bytes, brokenAfter: input.brokenAfter };
}
