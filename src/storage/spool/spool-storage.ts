// The spool: Storage in files, spool/<domain>/<user>.xml, one XEP-0227 document
// per user (see DESIGN.md, "Storage: the spool").
import { StorageError } from '../../errors.js';
import type { AccountStore, Codec, KeyValStore, ListStore, Storage } from '../types.js';
import { nodeFs, type SpoolFs } from './atomic-file.js';
import { RecordAccountStore } from './account-store.js';
import { RecordKeyValStore } from './keyval-store.js';
import { SpoolRecords, type StorageLog } from './spool-records.js';
import { SpoolListStore, SpoolLists } from './list-files.js';
import { ListOwningAccounts } from './list-owning-accounts.js';

export type { SpoolFs } from './atomic-file.js';
export type { StorageLog } from './spool-records.js';

export interface SpoolOptions {
  /** Parsed users kept in memory; 0 disables the cache. */
  cacheSize?: number;
  log?: StorageLog;
  /** The filesystem calls to use; tests inject failures here. */
  fs?: SpoolFs;
}

export const DEFAULT_CACHE_SIZE = 10_000;

const silentLog: StorageLog = { warn() {}, error() {} };

export class SpoolStorage implements Storage {
  readonly accounts: AccountStore;
  private readonly records: SpoolRecords;
  private readonly lists: SpoolLists;

  constructor(dir: string, opts: SpoolOptions = {}) {
    const cacheSize = opts.cacheSize ?? DEFAULT_CACHE_SIZE;
    if (typeof dir !== 'string' || dir === '') throw new StorageError('EINVAL', 'spool directory not given');
    if (!Number.isInteger(cacheSize) || cacheSize < 0) {
      throw new StorageError('EINVAL', `cacheSize must be a whole number >= 0, not ${cacheSize}`);
    }
    // Opening reads nothing: users are loaded when first used.
    this.records = new SpoolRecords(dir, opts.fs ?? nodeFs, cacheSize, opts.log ?? silentLog);
    // Lists (spool/<domain>/<user>.<key>.list) are appended beside the user files.
    this.lists = new SpoolLists(dir, opts.fs ?? nodeFs, cacheSize, opts.log ?? silentLog);
    this.accounts = new ListOwningAccounts(new RecordAccountStore(this.records), (host, user) => this.lists.removeAll(host, user));
  }

  keyval<T>(key: string, codec: Codec<T>): KeyValStore<T> {
    return new RecordKeyValStore(this.records, key, codec);
  }

  list(key: string): ListStore {
    return new SpoolListStore(this.lists, key);
  }

  /** Forgets cached users (one, or all), e.g. after an admin edited the spool by hand. */
  invalidate(host?: string, user?: string): void {
    this.records.invalidate(host, user);
  }

  stats(): { cachedUsers: number; queuedUsers: number } {
    return this.records.stats();
  }

  async close(): Promise<void> {
    await Promise.all([this.records.close(), this.lists.close()]);
  }
}
