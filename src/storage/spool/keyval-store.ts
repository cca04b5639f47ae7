// KeyValStore over user records: each key is the child element of <user/> that its
// codec matches (XEP-0227 keeps roster, vCard, private XML and so on side by side).
import { clone } from 'ltx';
import type { Element } from '../../xml/element.js';
import { StorageError } from '../../errors.js';
import type { Codec, KeyValStore } from '../types.js';
import type { UserRecords } from './user-records.js';
import { isScramElement } from './pie-scram.js';

export class RecordKeyValStore<T> implements KeyValStore<T> {
  constructor(private readonly records: UserRecords, private readonly key: string, private readonly codec: Codec<T>) {
    if (typeof key !== 'string' || key === '') throw new StorageError('EINVAL', 'key-value store needs a key');
  }

  /** Credentials are never data of a key, whatever a codec's match() says. */
  private holdsKey(node: Element | string): node is Element {
    return typeof node !== 'string' && !isScramElement(node) && this.codec.match(node);
  }

  async get(host: string, user: string): Promise<T | undefined> {
    const userEl = await this.records.read(host, user);
    const el = userEl?.children.find((c) => this.holdsKey(c)) as Element | undefined;
    if (!el) return undefined;
    try {
      // A copy: the codec may keep the element, and the cached one must not change.
      return this.codec.decode(clone(el));
    } catch (err) {
      throw new StorageError('ECORRUPT', `stored '${this.key}' data cannot be decoded`, err);
    }
  }

  /** Rejects with StorageError('ENOENT') when setting data for a user that does not exist. */
  async set(host: string, user: string, value: T | undefined): Promise<void> {
    const el = value === undefined ? undefined : this.encode(value);
    await this.records.update(host, user, (current) => {
      if (!current) {
        // Writing would create a user file without an account, or bring back a
        // deleted one; removing nothing is fine.
        if (el === undefined) return { result: undefined };
        throw new StorageError('ENOENT', `no such account for '${this.key}' data`);
      }
      const children = current.children;
      const first = children.findIndex((c) => this.holdsKey(c));
      const rest = children.filter((c, i) => i <= first || !this.holdsKey(c));
      if (el === undefined && first < 0) return { result: undefined };
      // Nothing changes: the stored state is durable already.
      if (el !== undefined && first >= 0 && rest.length === children.length
        && children[first].toString() === el.toString()) return { result: undefined };
      if (el === undefined) {
        rest.splice(first, 1);
      } else {
        el.parent = current;
        if (first < 0) rest.push(el);
        else rest[first] = el;
      }
      current.children = rest;
      return { result: undefined, next: current };
    });
  }

  private encode(value: T): Element {
    let el: Element;
    try {
      el = this.codec.encode(value);
    } catch (err) {
      throw new StorageError('EINVAL', `'${this.key}' value cannot be encoded`, err);
    }
    // Data its own codec does not find again would be written but never read.
    if (!this.holdsKey(el)) throw new StorageError('EINVAL', `'${this.key}' codec does not match what it encodes`);
    return clone(el);
  }
}
