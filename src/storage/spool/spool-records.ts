// User records in the spool: spool/<domain>/<user>.xml, one XEP-0227 document per
// user. Reads go through an LRU cache of parsed <user/> elements; writes run one at
// a time per user and replace the file atomically.
import { clone } from 'ltx';
import { join } from 'node:path';
import type { Element } from '../../xml/element.js';
import { StorageError } from '../../errors.js';
import type { UserChange, UserRecords } from './user-records.js';
import { encodeName, TEMP_FILE_SUFFIX, userFromFileName, USER_FILE_SUFFIX } from './file-name.js';
import { parseUserDocument, serialiseUserDocument } from './pie-document.js';
import { readCredentials } from './pie-scram.js';
import { errorCode, removeFile, type SpoolFs, writeFileAtomic } from './atomic-file.js';
import { KeyedQueue } from './keyed-queue.js';
import { isListFileName } from './list-records.js';
import { LruCache } from './lru-cache.js';

export interface StorageLog {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** A cached user and the identity of the file it was read from ('' when there was no file). */
interface Cached { el: Element | null; stamp: string }

/** Changes whenever the file is replaced (rename gives a new inode) or rewritten. */
function stampOf(st: { ino: number; size: number; mtimeMs: number }): string {
  return `${st.ino}:${st.size}:${st.mtimeMs}`;
}

interface UserFile {
  /** Cache and queue key: the file's path below the spool, unique per user. */
  key: string;
  file: string;
}

export class SpoolRecords implements UserRecords {
  /** null caches "no such user" too: lookups of unknown users are frequent. */
  private readonly cache: LruCache<string, Cached>;
  private readonly queue = new KeyedQueue();
  private closed = false;

  constructor(private readonly dir: string, private readonly fs: SpoolFs, cacheSize: number, private readonly log: StorageLog) {
    this.cache = new LruCache(cacheSize);
  }

  private checkOpen(): void {
    if (this.closed) throw new StorageError('EIO', 'storage is closed');
  }

  private locate(host: string, user: string): UserFile {
    const key = join(encodeName(host), encodeName(user) + USER_FILE_SUFFIX);
    return { key, file: join(this.dir, key) };
  }

  async read(host: string, user: string, revalidate = false): Promise<Element | null> {
    this.checkOpen();
    const { key, file } = this.locate(host, user);
    const cached = this.cache.get(key);
    if (cached !== undefined && !(revalidate && (await this.stale(file, cached)))) return cached.el;
    // A miss loads in the user's queue: a load running beside a write could
    // otherwise put the older content into the cache after the write.
    return this.queue.run(key, () => this.load(key, file, host, user, revalidate));
  }

  /** Whether the file changed since it was cached (another process wrote it). */
  private async stale(file: string, cached: Cached): Promise<boolean> {
    try {
      return stampOf(await this.fs.stat(file)) !== cached.stamp;
    } catch (err) {
      return errorCode(err) === 'ENOENT' ? cached.stamp !== '' : true;
    }
  }

  /** Runs in the user's queue. */
  private async load(key: string, file: string, host: string, user: string, revalidate = false): Promise<Element | null> {
    const cached = this.cache.get(key);
    if (cached !== undefined && !(revalidate && (await this.stale(file, cached)))) return cached.el;
    let text: string;
    let stamp: string;
    try {
      // Read and stat one open file, so the stamp belongs to exactly this content.
      const handle = await this.fs.open(file, 'r');
      try {
        stamp = stampOf(await handle.stat());
        text = await handle.readFile('utf8');
      } finally {
        await handle.close();
      }
    } catch (err) {
      if (errorCode(err) === 'ENOENT') {
        this.cache.set(key, { el: null, stamp: '' });
        return null;
      }
      this.log.error({ err, file }, 'cannot read spool file');
      throw new StorageError('EIO', 'cannot read spool file', err);
    }
    let userEl: Element;
    try {
      userEl = parseUserDocument(text, host, user);
      // Malformed credentials make the whole file corrupt: replacing them would
      // write over whatever an admin still has to look at.
      readCredentials(userEl);
    } catch (err) {
      // Not cached and never written over: an admin has to look at it.
      this.log.error({ err, file }, 'corrupt spool file');
      throw err;
    }
    this.cache.set(key, { el: userEl, stamp });
    return userEl;
  }

  async update<R>(host: string, user: string, change: (current: Element | null) => UserChange<R>): Promise<R> {
    this.checkOpen();
    const { key, file } = this.locate(host, user);
    return this.queue.run(key, async () => {
      // Revalidated: a write based on a stale copy would undo what an admin command wrote.
      const current = await this.load(key, file, host, user, true);
      const { result, next } = change(current ? clone(current) : null);
      if (next === undefined || (next === null && current === null)) return result;
      // Serialising may refuse the data (EINVAL); then nothing was touched.
      const text = next === null ? null : serialiseUserDocument(host, next);
      try {
        if (text === null) await removeFile(this.fs, file);
        else await writeFileAtomic(this.fs, file, text);
      } catch (err) {
        // The file holds the old content (or, if only the directory fsync failed,
        // the new one): forget the cached copy so the next read sees the truth.
        this.cache.delete(key);
        this.log.error({ err, file }, 'cannot write spool file');
        throw new StorageError('EIO', 'cannot write spool file', err);
      }
      this.cache.set(key, { el: next, stamp: next === null ? '' : stampOf(await this.fs.stat(file).catch(() => ({ ino: -1, size: -1, mtimeMs: -1 }))) });
      return result;
    });
  }

  /** The only scan of the spool: reads one domain's directory, not the files in it. */
  async list(host: string): Promise<string[]> {
    this.checkOpen();
    const dir = join(this.dir, encodeName(host));
    let entries;
    try {
      entries = await this.fs.readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return [];
      this.log.error({ err, dir }, 'cannot list spool directory');
      throw new StorageError('EIO', 'cannot list spool directory', err);
    }
    const users: string[] = [];
    for (const entry of entries) {
      if (entry.name.endsWith(TEMP_FILE_SUFFIX)) continue;
      // A user's lists (offline messages) lie beside the user files.
      if (isListFileName(entry.name)) continue;
      const user = entry.isFile() ? userFromFileName(entry.name) : null;
      if (user === null) this.log.warn({ dir, entry: entry.name }, 'ignoring unexpected entry in spool directory');
      else users.push(user);
    }
    return users.sort();
  }

  /** Forgets cached users, e.g. after an admin edited files by hand. */
  invalidate(host?: string, user?: string): void {
    if (host !== undefined && user !== undefined) this.cache.delete(this.locate(host, user).key);
    else this.cache.clear();
  }

  stats(): { cachedUsers: number; queuedUsers: number } {
    return { cachedUsers: this.cache.size, queuedUsers: this.queue.size };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.queue.drain();
    this.cache.clear();
  }
}
