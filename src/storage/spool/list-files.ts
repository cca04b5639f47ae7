// ListStore in the spool: each user's list is an append-only file beside the user
// file (DESIGN.md: "Large append-only data gets its own append-only files beside
// the user file, not rewrites of it"). An append writes one record at the end and
// fsyncs; only removing items rewrites the file (atomically) or unlinks it.
// Operations on one file run one at a time, in the order they were called.
import { dirname, join } from 'node:path';
import type { FileHandle } from 'node:fs/promises';
import type { Element } from '../../xml/element.js';
import { StorageError } from '../../errors.js';
import type { ListStore } from '../types.js';
import { encodeName } from './file-name.js';
import { errorCode, removeFile, type SpoolFs, writeFileAtomic } from './atomic-file.js';
import { KeyedQueue } from './keyed-queue.js';
import { LruCache } from './lru-cache.js';
import type { StorageLog } from './spool-records.js';
import { checkListKey, decodeList, decodeRecord, encodeRecord, joinRecords, listFileName, listFileOwner, splitRecords } from './list-records.js';

/** Lists hold users' messages: only the server may read them, as the user files. */
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

/** What an append needs to know of a file without reading it again. */
interface FileState {
  /** The file's size when this was recorded; a different size means someone else changed it. */
  size: number;
  /** Bytes of complete records; anything after is a torn record. */
  validLength: number;
  /** Complete records, readable or not: what the `max` of append() counts. */
  records: number;
}

interface ListFile { key: string; file: string }

/** The list files of one spool; shared by the ListStores of every key. */
export class SpoolLists {
  private readonly queue = new KeyedQueue();
  private readonly states: LruCache<string, FileState>;
  private closed = false;

  constructor(private readonly dir: string, private readonly fs: SpoolFs, cacheSize: number, private readonly log: StorageLog) {
    this.states = new LruCache(cacheSize);
  }

  private locate(key: string, host: string, user: string): ListFile {
    if (this.closed) throw new StorageError('EIO', 'storage is closed');
    const rel = join(encodeName(host), listFileName(user, key));
    return { key: rel, file: join(this.dir, rel) };
  }

  async append(key: string, host: string, user: string, item: Element, max = Infinity): Promise<boolean> {
    const f = this.locate(key, host, user);
    const record = Buffer.from(encodeRecord(item) + '\n', 'utf8');
    // Queued before anything is awaited, so appends keep the order of the calls.
    return this.queue.run(f.key, () => this.appendNow(f, record, max));
  }

  private async appendNow(f: ListFile, record: Buffer, max: number): Promise<boolean> {
    let handle: FileHandle;
    let created = false;
    try {
      handle = await this.fs.open(f.file, 'r+');
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') throw this.failed(err, f, 'cannot open list file');
      if (max <= 0) return false;
      handle = await this.create(f);
      created = true;
    }
    let state: FileState | undefined;
    try {
      state = await this.stateOf(handle, f);
      if (state.records >= max) return false;
      if (state.validLength < state.size) {
        // A record torn by a crash: it was never acknowledged, so it goes.
        this.log.warn({ file: f.file, bytes: state.size - state.validLength }, 'removing a torn record from a list file');
        await handle.truncate(state.validLength);
      }
      await writeAt(handle, record, state.validLength);
      await handle.sync();
    } catch (err) {
      this.states.delete(f.key);
      // A failed append reports "not stored", so it must not turn up later.
      if (state) await handle.truncate(state.validLength).catch(ignore);
      throw this.failed(err, f, 'cannot append to list file');
    } finally {
      await handle.close().catch(ignore);
    }
    const size = state.validLength + record.length;
    this.states.set(f.key, { size, validLength: size, records: state.records + 1 });
    // A new file exists only once its directory entry is on disk too.
    if (created) await syncDirectory(this.fs, dirname(f.file)).catch((err) => { throw this.failed(err, f, 'cannot sync spool directory'); });
    return true;
  }

  /** Creates the file (and, unusually, its domain directory). */
  private async create(f: ListFile): Promise<FileHandle> {
    try {
      return await this.fs.open(f.file, 'wx', FILE_MODE);
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') throw this.failed(err, f, 'cannot create list file');
    }
    try {
      const dir = dirname(f.file);
      await this.fs.mkdir(dir, { recursive: true, mode: DIR_MODE });
      await syncDirectory(this.fs, dirname(dir));
      return await this.fs.open(f.file, 'wx', FILE_MODE);
    } catch (err) {
      throw this.failed(err, f, 'cannot create list file');
    }
  }

  /** The file's state, from the cache if the file is as we left it, else by reading it. */
  private async stateOf(handle: FileHandle, f: ListFile): Promise<FileState> {
    const { size } = await handle.stat();
    const known = this.states.get(f.key);
    if (known && known.size === size) return known;
    if (size === 0) return { size, validLength: 0, records: 0 };
    const { lines, validLength } = splitRecords(await handle.readFile());
    return { size, validLength, records: lines.length };
  }

  async readAll(key: string, host: string, user: string): Promise<Element[]> {
    const f = this.locate(key, host, user);
    return this.queue.run(f.key, async () => {
      const data = await this.read(f);
      if (!data) return [];
      const decoded = decodeList(data);
      if (decoded.unreadable > 0) this.log.warn({ file: f.file, records: decoded.unreadable }, 'skipping unreadable records in a list file');
      this.states.set(f.key, { size: data.length, validLength: decoded.validLength, records: decoded.lines.length });
      return decoded.items;
    });
  }

  async removeFirst(key: string, host: string, user: string, n: number): Promise<void> {
    if (!Number.isInteger(n) || n < 0) throw new StorageError('EINVAL', `cannot remove ${n} items`);
    const f = this.locate(key, host, user);
    if (n === 0) return;
    await this.queue.run(f.key, async () => {
      const data = await this.read(f);
      if (!data) return;
      const { lines } = splitRecords(data);
      // Drop lines until n readable items are gone; unreadable lines before the
      // next readable item go too (readAll skipped them for the reader).
      let cut = 0;
      for (let removed = 0; cut < lines.length; cut++) {
        const readable = decodeRecord(lines[cut]!) !== null;
        if (readable && removed === n) break;
        if (readable) removed++;
      }
      await this.rewrite(f, lines.slice(cut));
    });
  }

  async clear(key: string, host: string, user: string): Promise<void> {
    const f = this.locate(key, host, user);
    await this.queue.run(f.key, () => this.rewrite(f, []));
  }

  /**
   * Removes every list of a user, whatever its key (when the account is deleted, also
   * by another process such as `rohrpost deluser`, which never opened those keys).
   */
  async removeAll(host: string, user: string): Promise<void> {
    if (this.closed) throw new StorageError('EIO', 'storage is closed');
    const domain = encodeName(host);
    const owner = encodeName(user);
    let names: string[];
    try {
      names = await this.fs.readdir(join(this.dir, domain));
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return;
      throw new StorageError('EIO', 'cannot list spool directory', err);
    }
    for (const name of names) {
      if (listFileOwner(name) !== owner) continue;
      const f = { key: join(domain, name), file: join(this.dir, domain, name) };
      await this.queue.run(f.key, async () => {
        this.states.delete(f.key);
        await removeFile(this.fs, f.file).catch((err) => { throw this.failed(err, f, 'cannot remove list file'); });
      });
    }
  }

  /** Replaces the file with these records atomically, or removes it when there are none. */
  private async rewrite(f: ListFile, lines: string[]): Promise<void> {
    this.states.delete(f.key);
    try {
      if (lines.length === 0) await removeFile(this.fs, f.file);
      else await writeFileAtomic(this.fs, f.file, joinRecords(lines));
    } catch (err) {
      throw this.failed(err, f, 'cannot rewrite list file');
    }
  }

  private async read(f: ListFile): Promise<Buffer | null> {
    try {
      return await this.fs.readFile(f.file);
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return null;
      throw this.failed(err, f, 'cannot read list file');
    }
  }

  private failed(err: unknown, f: ListFile, what: string): StorageError {
    if (err instanceof StorageError) return err;
    this.log.error({ err, file: f.file }, what);
    return new StorageError('EIO', what, err);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.queue.drain();
    this.states.clear();
  }
}

/** One key's lists. */
export class SpoolListStore implements ListStore {
  constructor(private readonly lists: SpoolLists, private readonly key: string) {
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

async function writeAt(handle: FileHandle, data: Buffer, position: number): Promise<void> {
  for (let done = 0; done < data.length;) {
    const { bytesWritten } = await handle.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}

/** Makes a new directory entry durable (as atomic-file.ts does after a rename). */
async function syncDirectory(fs: SpoolFs, dir: string): Promise<void> {
  // COMPAT: Windows cannot open a directory for fsync; NTFS journals the creation.
  if (process.platform === 'win32') return;
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function ignore(): void {}
