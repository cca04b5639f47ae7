// The format of a list file: spool/<domain>/<user>.<key>.list holds one record per
// line, each record one element serialised as XML and ended by '\n'. Line breaks
// inside an element (text, attribute values) are written as character references,
// so a record never contains '\n' and can be read back by anyone with a text
// editor or `grep`.
//
// A crash can only tear the end of the file: every record is fsync'd before the
// append is acknowledged, so any bytes after the last '\n' belong to an append
// that was never acknowledged. Readers ignore them; the next append cuts them off.
import { parse } from 'ltx';
import type { Element } from '../../xml/element.js';
import { StorageError } from '../../errors.js';
import { encodeName, TEMP_FILE_SUFFIX } from './file-name.js';

export const LIST_FILE_SUFFIX = '.list';
/** Keys are ours ('offline'), never user input; no dots, so names cannot alias. */
const LIST_KEY = /^[a-z][a-z0-9-]{0,31}$/;
const NAME_MAX = 255;
const NEWLINE = 0x0a;

export function checkListKey(key: string): void {
  if (typeof key !== 'string' || !LIST_KEY.test(key)) {
    throw new StorageError('EINVAL', `list key must be lower-case letters, digits and '-', not '${String(key)}'`);
  }
}

/**
 * The file name of a user's list: `<user>.<key>.list`. User files end in '.xml', so a
 * list file is never taken for an account; and since keys hold no dot, the key is
 * whatever follows the last dot before '.list' ('a.b.offline.list' is user 'a.b').
 */
export function listFileName(user: string, key: string): string {
  checkListKey(key);
  const name = `${encodeName(user)}.${key}${LIST_FILE_SUFFIX}`;
  if (Buffer.byteLength(name) + TEMP_FILE_SUFFIX.length > NAME_MAX) {
    throw new StorageError('EINVAL', 'name is too long for a list file');
  }
  return name;
}

/** Whether a directory entry is a list file (or a list's leftover temporary file). */
export function isListFileName(name: string): boolean {
  return listFileOwner(name) !== null;
}

/** The encoded user a list file (or its temporary file) belongs to, or null. */
export function listFileOwner(name: string): string | null {
  const base = name.endsWith(TEMP_FILE_SUFFIX) ? name.slice(0, -TEMP_FILE_SUFFIX.length) : name;
  if (!base.endsWith(LIST_FILE_SUFFIX)) return null;
  const stem = base.slice(0, -LIST_FILE_SUFFIX.length);
  const dot = stem.lastIndexOf('.');
  if (dot <= 0 || !LIST_KEY.test(stem.slice(dot + 1))) return null;
  return stem.slice(0, dot);
}

/** One record: the element on one line, with its line breaks as character references. */
export function encodeRecord(item: Element): string {
  let text: string;
  try {
    text = item.toString();
  } catch (err) {
    throw new StorageError('EINVAL', 'list item cannot be serialised', err);
  }
  // Line breaks can only occur in text and attribute values, where a character
  // reference means the same (and keeps an attribute's newline, which a literal
  // one would lose to attribute-value normalisation).
  return text.replace(/\r/g, '&#13;').replace(/\n/g, '&#10;');
}

export interface DecodedList {
  /** The records that parsed, in order. */
  items: Element[];
  /** The complete lines (parsed or not), in order, without their '\n'. */
  lines: string[];
  /** Bytes up to and including the last '\n': where the next record goes. */
  validLength: number;
  /** Complete lines that did not parse (left by a disk fault, or edited by hand). */
  unreadable: number;
}

/** The complete lines of a list file; a torn last record is not one. */
export function splitRecords(data: Buffer): { lines: string[]; validLength: number } {
  const validLength = data.lastIndexOf(NEWLINE) + 1;
  const lines = validLength === 0 ? [] : data.subarray(0, validLength - 1).toString('utf8').split('\n');
  return { lines, validLength };
}

/** Splits a list file into records and parses them. */
export function decodeList(data: Buffer): DecodedList {
  const { lines, validLength } = splitRecords(data);
  const items: Element[] = [];
  let unreadable = 0;
  for (const line of lines) {
    const item = decodeRecord(line);
    if (item) items.push(item);
    else unreadable++;
  }
  return { items, lines, validLength, unreadable };
}

export function decodeRecord(line: string): Element | null {
  if (line === '') return null;
  try {
    const el = parse(line);
    return typeof el === 'object' && el !== null && typeof el.name === 'string' ? el : null;
  } catch {
    return null;
  }
}

/** The file text of a list of records (as lines); '' for none. */
export function joinRecords(lines: readonly string[]): string {
  return lines.length === 0 ? '' : lines.join('\n') + '\n';
}
