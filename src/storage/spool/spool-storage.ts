// The spool: Storage in files, spool/<domain>/<user>.xml, one XEP-0227 document
// per user (see DESIGN.md, "Storage: the spool").
import { StorageError } from '../../errors.js';
import type { AccountStore, Codec, KeyValStore, Storage } from '../types.js';
import { nodeFs, type SpoolFs } from './atomic-file.js';
import { RecordAccountStore } from './account-store.js';
import { RecordKeyValStore } from './keyval-store.js';
import { SpoolRecords, type StorageLog } from './spool-records.js';

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

  constructor(dir: string, opts: SpoolOptions = {}) {
    const cacheSize = opts.cacheSize ?? DEFAULT_CACHE_SIZE;
    if (typeof dir !== 'string' || dir === '') throw new StorageError('EINVAL', 'spool directory not given');
    if (!Number.isInteger(cacheSize) || cacheSize < 0) {
      throw new StorageError('EINVAL', `cacheSize must be a whole number >= 0, not ${cacheSize}`);
    }
    // Opening reads nothing: users are loaded when first used.
    this.records = new SpoolRecords(dir, opts.fs ?? nodeFs, cacheSize, opts.log ?? silentLog);
    this.accounts = new RecordAccountStore(this.records);
  }

  keyval<T>(key: string, codec: Codec<T>): KeyValStore<T> {
    return new RecordKeyValStore(this.records, key, codec);
  }

  /** Forgets cached users (one, or all), e.g. after an admin edited the spool by hand. */
  invalidate(host?: string, user?: string): void {
    this.records.invalidate(host, user);
  }

  stats(): { cachedUsers: number; queuedUsers: number } {
    return this.records.stats();
  }

  close(): Promise<void> {
    return this.records.close();
  }
}
