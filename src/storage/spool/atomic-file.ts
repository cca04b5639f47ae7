// Crash-safe file replacement: write <file>.tmp, fsync it, rename it over the
// file, fsync the directory. After a crash at any point the file holds either the
// old or the new content, never a mix or nothing; a leftover .tmp is garbage.
import * as fsPromises from 'node:fs/promises';
import { dirname } from 'node:path';
import { TEMP_FILE_SUFFIX } from './file-name.js';

/** The parts of node:fs/promises the spool uses; tests inject failures through it. */
export type SpoolFs = Pick<typeof fsPromises, 'open' | 'readFile' | 'readdir' | 'rename' | 'unlink' | 'mkdir' | 'stat'>;

export const nodeFs: SpoolFs = fsPromises;

/** Users' files hold their credentials: only the server may read them. */
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

export function errorCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

async function unlinkIfPresent(fs: SpoolFs, file: string): Promise<boolean> {
  try {
    await fs.unlink(file);
    return true;
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return false;
    throw err;
  }
}

/** Makes a rename or unlink in `dir` durable. */
async function syncDir(fs: SpoolFs, dir: string): Promise<void> {
  // COMPAT: Windows cannot open a directory for fsync; NTFS journals the rename.
  if (process.platform === 'win32') return;
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Creates `dir` and any missing parents, and makes their entries durable. */
async function makeDir(fs: SpoolFs, dir: string): Promise<void> {
  const first = await fs.mkdir(dir, { recursive: true, mode: DIR_MODE });
  if (first === undefined) return;
  for (let created = dir; ; created = dirname(created)) {
    await syncDir(fs, dirname(created));
    if (created === first || dirname(created) === created) break;
  }
}

async function writeSynced(fs: SpoolFs, tmp: string, data: string): Promise<void> {
  const handle = await fs.open(tmp, 'wx', FILE_MODE);
  try {
    await handle.writeFile(data, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Replaces `file` with `data` atomically and durably, creating its directory if needed. */
export async function writeFileAtomic(fs: SpoolFs, file: string, data: string): Promise<void> {
  const dir = dirname(file);
  const tmp = file + TEMP_FILE_SUFFIX;
  // A .tmp left by a crash is removed here; 'wx' then guarantees a fresh file
  // with our mode rather than reusing whatever was there.
  await unlinkIfPresent(fs, tmp);
  try {
    try {
      await writeSynced(fs, tmp, data);
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') throw err;
      await makeDir(fs, dir);
      await writeSynced(fs, tmp, data);
    }
    await fs.rename(tmp, file);
  } catch (err) {
    await unlinkIfPresent(fs, tmp).catch(ignore);
    throw err;
  }
  await syncDir(fs, dir);
}

/** Removes `file` (and a stale .tmp beside it) durably; false if there was no file. */
export async function removeFile(fs: SpoolFs, file: string): Promise<boolean> {
  const removed = await unlinkIfPresent(fs, file);
  await unlinkIfPresent(fs, file + TEMP_FILE_SUFFIX).catch(ignore);
  if (removed) await syncDir(fs, dirname(file));
  return removed;
}

function ignore(): void {}
