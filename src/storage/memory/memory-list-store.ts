// Lists in memory, for tests: the spool's list semantics without the disk. Items
// go through the spool's record encoding, so an item the spool could not store
// fails here too, and readers get copies as they would from a file.
import type { Element } from '../../xml/element.js';
import { StorageError } from '../../errors.js';
import type { ListStore } from '../types.js';
import { encodeName } from '../spool/file-name.js';
import { checkListKey, decodeRecord, encodeRecord } from '../spool/list-records.js';

/** The lists of one memory store: host -> user -> key -> records. */
export class MemoryLists {
  private readonly lists = new Map<string, string[]>();
  private closed = false;

  private id(key: string, host: string, user: string): string {
    if (this.closed) throw new StorageError('EIO', 'storage is closed');
    checkListKey(key);
    return `${encodeName(host)}/${encodeName(user)}/${key}`;
  }

  async append(key: string, host: string, user: string, item: Element, max = Infinity): Promise<boolean> {
    const id = this.id(key, host, user);
    const record = encodeRecord(item);
    const list = this.lists.get(id) ?? [];
    if (list.length >= max) return false;
    list.push(record);
    this.lists.set(id, list);
    return true;
  }

  async readAll(key: string, host: string, user: string): Promise<Element[]> {
    return (this.lists.get(this.id(key, host, user)) ?? []).map((r) => decodeRecord(r)!);
  }

  async removeFirst(key: string, host: string, user: string, n: number): Promise<void> {
    if (!Number.isInteger(n) || n < 0) throw new StorageError('EINVAL', `cannot remove ${n} items`);
    const id = this.id(key, host, user);
    const rest = (this.lists.get(id) ?? []).slice(n);
    if (rest.length === 0) this.lists.delete(id);
    else this.lists.set(id, rest);
  }

  async clear(key: string, host: string, user: string): Promise<void> {
    this.lists.delete(this.id(key, host, user));
  }

  async removeAll(host: string, user: string): Promise<void> {
    const prefix = `${encodeName(host)}/${encodeName(user)}/`;
    for (const id of [...this.lists.keys()]) if (id.startsWith(prefix)) this.lists.delete(id);
  }

  close(): void {
    this.closed = true;
  }
}

export class MemoryListStore implements ListStore {
  constructor(private readonly lists: MemoryLists, private readonly key: string) {
    checkListKey(key);
  }

  append(host: string, user: string, item: Element, max?: number): Promise<boolean> {
    return this.lists.append(this.key, host, user, item, max);
  }

  readAll(host: string, user: string): Promise<Element[]> {
    return this.lists.readAll(this.key, host, user);
  }

  removeFirst(host: string, user: string, n: number): Promise<void> {
    return this.lists.removeFirst(this.key, host, user, n);
  }

  clear(host: string, user: string): Promise<void> {
    return this.lists.clear(this.key, host, user);
  }
}
