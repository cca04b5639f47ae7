// File names for spool entries: spool/<domain>/<user>.xml.
//
// Localparts and domains arrive normalised but may hold any Unicode character, and
// the spool must work on every filesystem an admin may copy it to. So a name is
// written as its UTF-8 bytes with every byte outside [a-z0-9._-] percent-encoded
// as %XX (upper-case hex). Also encoded:
//   - a leading '.', so no name is hidden, '.' or '..';
//   - the first character of a Windows device name (con, prn, aux, nul, com1-9,
//     lpt1-9, also before a dot), which Windows reserves whatever the extension.
// Upper-case letters are encoded too, so names never differ only in case (safe on
// case-insensitive filesystems). Each name has exactly one encoding; decoding
// rejects any other spelling, so a stray file cannot alias an account.
import { StorageError } from '../../errors.js';

export const USER_FILE_SUFFIX = '.xml';
export const TEMP_FILE_SUFFIX = '.tmp';
/** The longest file name most filesystems accept, in bytes. */
const NAME_MAX = 255;

const SAFE_BYTE = /^[a-z0-9._-]$/;
const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[1-9]|lpt[1-9])(\.|$)/;
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

function hex(byte: number): string {
  return '%' + byte.toString(16).toUpperCase().padStart(2, '0');
}

/** Encodes a localpart or domain as one safe path segment. Throws StorageError('EINVAL'). */
export function encodeName(name: string): string {
  if (typeof name !== 'string' || name.length === 0) throw new StorageError('EINVAL', 'empty name');
  if (LONE_SURROGATE.test(name)) throw new StorageError('EINVAL', 'name is not well-formed Unicode');
  const bytes = Buffer.from(name, 'utf8');
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const ch = String.fromCharCode(bytes[i]);
    const mustEncode = !SAFE_BYTE.test(ch)
      || (i === 0 && ch === '.')
      || (i === 0 && WINDOWS_DEVICE.test(name));
    out += mustEncode ? hex(bytes[i]) : ch;
  }
  // The temporary file is the longest name we create next to it.
  if (Buffer.byteLength(out) + USER_FILE_SUFFIX.length + TEMP_FILE_SUFFIX.length > NAME_MAX) {
    throw new StorageError('EINVAL', 'name is too long for the spool');
  }
  return out;
}

/** Decodes a path segment made by encodeName; null if it is not one. */
export function decodeName(segment: string): string | null {
  const bytes: number[] = [];
  for (let i = 0; i < segment.length; i++) {
    const ch = segment[i];
    if (ch !== '%') {
      if (!SAFE_BYTE.test(ch)) return null;
      bytes.push(ch.charCodeAt(0));
      continue;
    }
    const pair = segment.slice(i + 1, i + 3);
    if (!/^[0-9A-F]{2}$/.test(pair)) return null;
    bytes.push(parseInt(pair, 16));
    i += 2;
  }
  let name: string;
  try {
    name = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
  } catch {
    return null;
  }
  // Only the canonical spelling maps back to a name.
  try {
    return encodeName(name) === segment ? name : null;
  } catch {
    return null;
  }
}

/** The localpart a directory entry holds, or null if the entry is not a user file. */
export function userFromFileName(fileName: string): string | null {
  if (!fileName.endsWith(USER_FILE_SUFFIX)) return null;
  return decodeName(fileName.slice(0, -USER_FILE_SUFFIX.length));
}
