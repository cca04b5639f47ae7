// ListStore: append-only per-user lists, in the spool (a file beside the user
// file) and in memory. The contract is checked on both; the file format, torn
// records and fsync failures on the spool; and a child process killed at random
// while appending must never lose an append it reported.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { x, type Element } from '../src/xml/element.js';
import { StorageError } from '../src/errors.js';
import { MemoryStorage, SpoolStorage, type SpoolFs, type Storage, type StoredCredentials } from '../src/storage/index.js';
import { isListFileName, listFileName, listFileOwner } from '../src/storage/spool/list-records.js';
import { HOST as KILL_HOST, KEY as KILL_KEY, USER as KILL_USER } from './harness/list-appender.js';

const HOST = 'localhost';
const APPENDER = fileURLToPath(new URL('./harness/list-appender.js', import.meta.url));

const creds: StoredCredentials = {
  'SCRAM-SHA-1': { salt: Buffer.alloc(16, 1), iterations: 4096, storedKey: Buffer.alloc(20, 2), serverKey: Buffer.alloc(20, 3) },
  'SCRAM-SHA-256': { salt: Buffer.alloc(16, 4), iterations: 4096, storedKey: Buffer.alloc(32, 5), serverKey: Buffer.alloc(32, 6) },
};

const msg = (n: number, body = `message ${n}`): Element => x('message', { id: `m${n}`, to: `bob@${HOST}` }, x('body', null, body));
const ids = (items: Element[]) => items.map((i) => i.attrs.id);

async function tempDir(): Promise<string> {
  return fsp.mkdtemp(join(tmpdir(), 'rohrpost-list-'));
}

/** The same behaviour from every backend. */
function contract(name: string, open: () => Promise<{ storage: Storage; done(): Promise<void> }>) {
  describe(`ListStore contract: ${name}`, () => {
    let storage: Storage;
    let done: () => Promise<void>;
    before(async () => ({ storage, done } = await open()));
    after(() => done());

    it('returns items in the order appended, as copies', async () => {
      const list = storage.list('offline');
      for (let i = 1; i <= 5; i++) assert.equal(await list.append(HOST, 'bob', msg(i)), true);
      const items = await list.readAll(HOST, 'bob');
      assert.deepEqual(ids(items), ['m1', 'm2', 'm3', 'm4', 'm5']);
      items[0]!.attrs.id = 'changed';
      assert.equal((await list.readAll(HOST, 'bob'))[0]!.attrs.id, 'm1');
      await list.clear(HOST, 'bob');
      assert.deepEqual(await list.readAll(HOST, 'bob'), []);
    });

    it('keeps line breaks, markup characters and non-ASCII text', async () => {
      const list = storage.list('offline');
      const body = 'first line\nsecond\r\nthird <&> "quoted" \'single\' Grüße 😀';
      await list.append(HOST, 'carol', x('message', { id: 'nl', note: 'a\nb' }, x('body', null, body)));
      const [item] = await list.readAll(HOST, 'carol');
      assert.equal(item!.getChildText('body'), body);
      assert.equal(item!.attrs.note, 'a\nb');
    });

    it('refuses an append beyond max and stores nothing', async () => {
      const list = storage.list('offline');
      assert.equal(await list.append(HOST, 'dave', msg(1), 2), true);
      assert.equal(await list.append(HOST, 'dave', msg(2), 2), true);
      assert.equal(await list.append(HOST, 'dave', msg(3), 2), false);
      assert.equal(await list.append(HOST, 'erin', msg(1), 0), false);
      assert.deepEqual(ids(await list.readAll(HOST, 'dave')), ['m1', 'm2']);
      assert.deepEqual(await list.readAll(HOST, 'erin'), []);
    });

    it('removeFirst removes what a reader handled and keeps later appends', async () => {
      const list = storage.list('offline');
      for (let i = 1; i <= 3; i++) await list.append(HOST, 'frank', msg(i));
      const read = await list.readAll(HOST, 'frank');
      await list.append(HOST, 'frank', msg(4));
      await list.removeFirst(HOST, 'frank', read.length);
      assert.deepEqual(ids(await list.readAll(HOST, 'frank')), ['m4']);
      await list.removeFirst(HOST, 'frank', 5);
      assert.deepEqual(await list.readAll(HOST, 'frank'), []);
      await assert.rejects(list.removeFirst(HOST, 'frank', -1), StorageError);
    });

    it('keeps keys and users apart, also users whose names hold dots', async () => {
      const a = storage.list('offline');
      const b = storage.list('archive-2');
      await a.append(HOST, 'gus', msg(1));
      await b.append(HOST, 'gus', msg(2));
      await a.append(HOST, 'gus.offline', msg(3));
      assert.deepEqual(ids(await a.readAll(HOST, 'gus')), ['m1']);
      assert.deepEqual(ids(await b.readAll(HOST, 'gus')), ['m2']);
      assert.deepEqual(ids(await a.readAll(HOST, 'gus.offline')), ['m3']);
      assert.deepEqual(await a.readAll('example.org', 'gus'), []);
    });

    it('rejects keys that could alias file names', () => {
      for (const key of ['', 'Offline', 'a.b', 'a/b', '-x', 'x'.repeat(40)]) {
        assert.throws(() => storage.list(key), StorageError, key);
      }
    });

    it('deleting the account deletes its lists', async () => {
      await storage.accounts.createAccount(HOST, 'hank', creds);
      await storage.list('offline').append(HOST, 'hank', msg(1));
      await storage.list('archive').append(HOST, 'hank', msg(2));
      await storage.list('offline').append(HOST, 'hank.two', msg(3));
      assert.equal(await storage.accounts.deleteAccount(HOST, 'hank'), true);
      assert.deepEqual(await storage.list('offline').readAll(HOST, 'hank'), []);
      assert.deepEqual(await storage.list('archive').readAll(HOST, 'hank'), []);
      assert.deepEqual(ids(await storage.list('offline').readAll(HOST, 'hank.two')), ['m3']);
    });
  });
}

contract('memory', async () => {
  const storage = new MemoryStorage();
  return { storage, done: () => storage.close() };
});

contract('spool', async () => {
  const dir = await tempDir();
  const storage = new SpoolStorage(join(dir, 'spool'));
  return { storage, done: async () => { await storage.close(); await fsp.rm(dir, { recursive: true, force: true }); } };
});

describe('list file names', () => {
  it('never look like user files and name their owner', () => {
    assert.equal(listFileName('alice', 'offline'), 'alice.offline.list');
    assert.equal(listFileName('a.b', 'offline'), 'a.b.offline.list');
    assert.equal(listFileName('Zoë', 'offline'), '%5Ao%C3%AB.offline.list');
    assert.equal(listFileOwner('a.b.offline.list'), 'a.b');
    assert.equal(listFileOwner('a.b.offline.list.tmp'), 'a.b');
    assert.equal(listFileOwner('alice.xml'), null);
    assert.equal(listFileOwner('.offline.list'), null);
    assert.equal(isListFileName('a.b.c.list'), true);
    assert.equal(isListFileName('alice.offline.xml'), false);
    assert.throws(() => listFileName('x'.repeat(240), 'offline'), StorageError);
  });
});

/** Counts fsyncs of list files and can make them fail like a full disk. */
function syncingFs() {
  const state = { failSync: false, syncs: 0 };
  const fs: SpoolFs = {
    ...fsp,
    open: (async (...args: Parameters<typeof fsp.open>) => {
      const handle = await fsp.open(...args);
      if (String(args[0]).endsWith('.list')) {
        const sync = handle.sync.bind(handle);
        handle.sync = async () => {
          if (state.failSync) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
          state.syncs++;
          return sync();
        };
      }
      return handle;
    }) as typeof fsp.open,
  };
  return { fs, state };
}

describe('list files in the spool', () => {
  let dir: string;
  let spool: string;
  let storage: SpoolStorage;
  const warnings: string[] = [];
  const log = { warn(_o: object, msg: string) { warnings.push(msg); }, error() {} };
  const { fs, state } = syncingFs();
  const file = (user: string, key = 'offline') => join(spool, HOST, `${user}.${key}.list`);
  before(async () => {
    dir = await tempDir();
    spool = join(dir, 'spool');
    storage = new SpoolStorage(spool, { log, fs });
    await storage.accounts.createAccount(HOST, 'alice', creds);
  });
  after(async () => {
    await storage.close();
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('appends one line per record beside the user file, mode 0600, fsync before resolving', async () => {
    const list = storage.list('offline');
    const before = state.syncs;
    await list.append(HOST, 'alice', msg(1, 'two\nlines'));
    assert.equal(state.syncs, before + 1);
    await list.append(HOST, 'alice', msg(2));
    assert.equal(state.syncs, before + 2);
    const text = await fsp.readFile(file('alice'), 'utf8');
    const lines = text.split('\n');
    assert.equal(lines.length, 3);
    assert.equal(lines[2], '');
    assert.match(lines[0]!, /^<message id="m1"[^\n]*two&#10;lines<\/body><\/message>$/);
    assert.equal((await fsp.stat(file('alice'))).mode & 0o777, 0o600);
    await fsp.access(join(spool, HOST, 'alice.xml'));
  });

  it('is not listed as an account, and listing does not warn about it', async () => {
    warnings.length = 0;
    assert.deepEqual(await storage.accounts.listAccounts(HOST), ['alice']);
    assert.deepEqual(warnings, []);
  });

  it('ignores a torn last record, and the next append cuts it off', async () => {
    await storage.list('offline').clear(HOST, 'alice');
    const list = storage.list('offline');
    await list.append(HOST, 'alice', msg(1));
    await fsp.appendFile(file('alice'), '<message id="torn"><body>half a rec');
    assert.deepEqual(ids(await list.readAll(HOST, 'alice')), ['m1']);
    warnings.length = 0;
    await list.append(HOST, 'alice', msg(2));
    assert.ok(warnings.includes('removing a torn record from a list file'));
    assert.deepEqual(ids(await list.readAll(HOST, 'alice')), ['m1', 'm2']);
    assert.doesNotMatch(await fsp.readFile(file('alice'), 'utf8'), /torn/);
  });

  it('skips a complete but unreadable line and removes it with the items around it', async () => {
    await storage.list('offline').clear(HOST, 'alice');
    const list = storage.list('offline');
    await list.append(HOST, 'alice', msg(1));
    await fsp.appendFile(file('alice'), '\0\0\0\0\n');
    await list.append(HOST, 'alice', msg(2));
    await list.append(HOST, 'alice', msg(3));
    warnings.length = 0;
    const items = await list.readAll(HOST, 'alice');
    assert.deepEqual(ids(items), ['m1', 'm2', 'm3']);
    assert.ok(warnings.includes('skipping unreadable records in a list file'));
    await list.removeFirst(HOST, 'alice', 2);
    assert.deepEqual(ids(await list.readAll(HOST, 'alice')), ['m3']);
    assert.doesNotMatch(await fsp.readFile(file('alice'), 'utf8'), /\0/);
  });

  it('counts a file changed behind its back afresh for max', async () => {
    const list = storage.list('offline');
    await list.clear(HOST, 'alice');
    await list.append(HOST, 'alice', msg(1), 2);
    await list.append(HOST, 'alice', msg(2), 2);
    assert.equal(await list.append(HOST, 'alice', msg(3), 2), false);
    await fsp.writeFile(file('alice'), (await fsp.readFile(file('alice'), 'utf8')).split('\n')[0] + '\n');
    assert.equal(await list.append(HOST, 'alice', msg(3), 2), true);
    assert.deepEqual(ids(await list.readAll(HOST, 'alice')), ['m1', 'm3']);
  });

  it('a failed fsync rejects with StorageError and leaves nothing behind', async () => {
    const list = storage.list('offline');
    await list.clear(HOST, 'alice');
    await list.append(HOST, 'alice', msg(1));
    state.failSync = true;
    try {
      await assert.rejects(list.append(HOST, 'alice', msg(2)), (err: unknown) => err instanceof StorageError && err.code === 'EIO');
    } finally {
      state.failSync = false;
    }
    assert.deepEqual(ids(await list.readAll(HOST, 'alice')), ['m1']);
    assert.equal((await fsp.readFile(file('alice'), 'utf8')).split('\n').length, 2);
  });

  it('removing every item unlinks the file; another process deleting the account removes the lists', async () => {
    const list = storage.list('offline');
    await list.append(HOST, 'alice', msg(9));
    await list.removeFirst(HOST, 'alice', 100);
    await assert.rejects(fsp.access(file('alice')));
    await list.append(HOST, 'alice', msg(10));
    await fsp.writeFile(file('alice', 'archive') + '.tmp', 'left by a crash');
    // What `rohrpost deluser` does: its own SpoolStorage on the same directory.
    const cli = new SpoolStorage(spool);
    assert.equal(await cli.accounts.deleteAccount(HOST, 'alice'), true);
    await cli.close();
    assert.deepEqual(await fsp.readdir(join(spool, HOST)), []);
  });

  it('survives a restart: a new SpoolStorage reads what was appended', async () => {
    await storage.list('offline').append(HOST, 'zoë', msg(1));
    await storage.list('offline').append(HOST, 'zoë', msg(2));
    const again = new SpoolStorage(spool);
    assert.deepEqual(ids(await again.list('offline').readAll(HOST, 'zoë')), ['m1', 'm2']);
    await again.close();
  });
});

describe('list appends killed with SIGKILL', () => {
  const ROUNDS = 8;
  const MAX_DELAY_MS = 150;

  async function runAndKill(dir: string, first: number, delayMs: number, reported: number[]): Promise<void> {
    let child: ChildProcess | undefined;
    try {
      child = spawn(process.execPath, [APPENDER, dir, String(first)], { stdio: ['ignore', 'pipe', 'pipe'] });
      const closed = once(child, 'close');
      let stderr = '';
      let pending = '';
      let ready: () => void = () => {};
      const isReady = new Promise<void>((resolve) => { ready = resolve; });
      child.stderr!.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
      child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
        pending += chunk;
        const lines = pending.split('\n');
        pending = lines.pop()!;     // cut by the kill: not a report
        for (const line of lines) {
          if (line === 'ready') ready();
          else reported.push(Number(line));
        }
      });
      await Promise.race([isReady, closed]);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      assert.equal(child.exitCode, null, `appender exited early: ${stderr}`);
      child.kill('SIGKILL');
      const [, signal] = await closed;
      assert.equal(signal, 'SIGKILL', stderr);
    } finally {
      if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
    }
  }

  it('keeps every reported append, in order, without duplicates', async () => {
    const dir = await tempDir();
    try {
      const reported: number[] = [];
      let seed = 12345;
      for (let round = 0; round < ROUNDS; round++) {
        seed = (seed * 1664525 + 1013904223) >>> 0;
        await runAndKill(dir, round * 1_000_000, 20 + (seed % MAX_DELAY_MS), reported);
        const storage = new SpoolStorage(dir);
        const seqs = (await storage.list(KILL_KEY).readAll(KILL_HOST, KILL_USER)).map((m) => Number(m.attrs.id!.slice(1)));
        await storage.close();
        const stored = new Set(seqs);
        for (const seq of reported) assert.ok(stored.has(seq), `reported append ${seq} was lost in round ${round}`);
        for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i]! > seqs[i - 1]!, `records out of order near ${seqs[i]}`);
      }
      assert.ok(reported.length > ROUNDS, `too few appends reported (${reported.length}) to mean anything`);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});
