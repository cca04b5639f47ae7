// Storage in memory, for tests: the spool without the disk. It keeps the same
// <user/> elements the spool writes and runs them through the same account and
// key-value stores and the same checks, so both behave alike.
import { clone } from 'ltx';
import type { Element } from '../../xml/element.js';
import { StorageError } from '../../errors.js';
import type { AccountStore, Codec, KeyValStore, ListStore, Storage } from '../types.js';
import type { UserChange, UserRecords } from '../spool/user-records.js';
import { RecordAccountStore } from '../spool/account-store.js';
import { RecordKeyValStore } from '../spool/keyval-store.js';
import { encodeName } from '../spool/file-name.js';
import { serialiseUserDocument } from '../spool/pie-document.js';
import { ListOwningAccounts } from '../spool/list-owning-accounts.js';
import { MemoryListStore, MemoryLists } from './memory-list-store.js';

class MemoryRecords implements UserRecords {
  /** host -> user -> <user/>; an empty host's map is dropped. */
  private readonly hosts = new Map<string, Map<string, Element>>();
  private closed = false;

  /** The spool's name rules apply here too, so tests catch names the spool refuses. */
  private check(host: string, user?: string): void {
    if (this.closed) throw new StorageError('EIO', 'storage is closed');
    encodeName(host);
    if (user !== undefined) encodeName(user);
  }

  async read(host: string, user: string): Promise<Element | null> {
    this.check(host, user);
    return this.hosts.get(host)?.get(user) ?? null;
  }

  // Runs without awaiting anything, so changes to one user cannot interleave.
  async update<R>(host: string, user: string, change: (current: Element | null) => UserChange<R>): Promise<R> {
    this.check(host, user);
    const current = this.hosts.get(host)?.get(user) ?? null;
    const { result, next } = change(current ? clone(current) : null);
    if (next === undefined) return result;
    if (next === null) {
      const users = this.hosts.get(host);
      users?.delete(user);
      if (users?.size === 0) this.hosts.delete(host);
      return result;
    }
    serialiseUserDocument(host, next);
    let users = this.hosts.get(host);
    if (!users) this.hosts.set(host, (users = new Map()));
    users.set(user, next);
    return result;
  }

  async list(host: string): Promise<string[]> {
    this.check(host);
    return [...(this.hosts.get(host)?.keys() ?? [])].sort();
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

export class MemoryStorage implements Storage {
  readonly accounts: AccountStore;
  private readonly records = new MemoryRecords();
  private readonly lists = new MemoryLists();

  constructor() {
    this.accounts = new ListOwningAccounts(new RecordAccountStore(this.records), (host, user) => this.lists.removeAll(host, user));
  }

  keyval<T>(key: string, codec: Codec<T>): KeyValStore<T> {
    return new RecordKeyValStore(this.records, key, codec);
  }

  list(key: string): ListStore {
    return new MemoryListStore(this.lists, key);
  }

  close(): Promise<void> {
    this.lists.close();
    return this.records.close();
  }
}
