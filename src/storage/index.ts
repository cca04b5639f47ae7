// Opens the configured storage backend. Everything else sees only the interfaces.
import { StorageError } from '../errors.js';
import type { Storage } from './types.js';
import { MemoryStorage } from './memory/memory-storage.js';
import { SpoolStorage, type SpoolOptions } from './spool/spool-storage.js';

export type * from './types.js';
export { MemoryStorage } from './memory/memory-storage.js';
export { SpoolStorage, DEFAULT_CACHE_SIZE } from './spool/spool-storage.js';
export type { SpoolOptions, SpoolFs, StorageLog } from './spool/spool-storage.js';

export type StorageKind = 'spool' | 'memory';

/** 'spool' needs the spool directory; 'memory' ignores dir and opts. */
export function openStorage(kind: StorageKind, dir?: string, opts?: SpoolOptions): Storage {
  switch (kind) {
    case 'spool':
      if (!dir) throw new StorageError('EINVAL', 'the spool needs a directory');
      return new SpoolStorage(dir, opts);
    case 'memory':
      return new MemoryStorage();
    default:
      throw new StorageError('EINVAL', `unknown storage kind '${String(kind)}'`);
  }
}
