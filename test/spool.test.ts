// Storage: the spool (files) and the memory store, through the Storage interfaces.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { parse } from 'ltx';
import { x, type Element } from '../src/xml/element.js';
import { StorageError } from '../src/errors.js';
import {
  openStorage, MemoryStorage, SpoolStorage,
  type Codec, type SpoolFs, type Storage, type StoredCredentials,
} from '../src/storage/index.js';
import { decodeName, encodeName } from '../src/storage/spool/file-name.js';

const NS_PIE = 'urn:xmpp:pie:0';
const NS_PIE_SCRAM = 'urn:xmpp:pie:0#scram';
const NS_ROSTER = 'jabber:iq:roster';
const NS_NOTE = 'urn:example:note';
const HOST = 'localhost';

function digest(alg: 'sha1' | 'sha256', text: string): Buffer {
  return createHash(alg).update(text).digest();
}

function makeCreds(seed: number): StoredCredentials {
  return {
    'SCRAM-SHA-1': {
      salt: Buffer.from(`salt-1-${seed}`), iterations: 4096 + seed,
      storedKey: digest('sha1', `stored-${seed}`), serverKey: digest('sha1', `server-${seed}`),
    },
    'SCRAM-SHA-256': {
      salt: Buffer.from(`salt-256-${seed}`), iterations: 8192 + seed,
      storedKey: digest('sha256', `stored-${seed}`), serverKey: digest('sha256', `server-${seed}`),
    },
  };
}

const rosterCodec: Codec<string[]> = {
  encode: (jids) => x('query', { xmlns: NS_ROSTER }, ...jids.map((jid) => x('item', { jid }))),
  decode: (el) => el.getChildren('item').map((item) => item.attrs.jid),
  match: (el) => el.is('query', NS_ROSTER),
};

/** A text value under its own element name: lets a test use many independent keys. */
function noteCodec(name: string): Codec<string> {
  return {
    encode: (text) => x(name, { xmlns: NS_NOTE }, text),
    decode: (el) => el.getText(),
    match: (el) => el.is(name, NS_NOTE),
  };
}

async function rejectsWith(promise: Promise<unknown>, code: StorageError['code']): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof StorageError, `expected StorageError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

async function tempDir(): Promise<string> {
  return fsp.mkdtemp(join(tmpdir(), 'rohrpost-spool-'));
}

function userFile(spool: string, host: string, user: string): string {
  return join(spool, encodeName(host), encodeName(user) + '.xml');
}

const NAMES = ['alice', 'zoë', '用户', 'straße', '😀', '.hidden', 'con', 'a%b', "o'brien", 'with space', 'Ab'];

// The same behaviour from both backends.
for (const kind of ['memory', 'spool'] as const) {
  describe(`${kind} storage`, () => {
    let dir: string;
    let storage: Storage;
    before(async () => {
      dir = await tempDir();
      storage = openStorage(kind, join(dir, 'spool'));
    });
    after(async () => {
      await storage.close();
      await fsp.rm(dir, { recursive: true, force: true });
    });

    it('round-trips credentials through create, set and delete', async () => {
      const { accounts } = storage;
      assert.equal(await accounts.getCredentials(HOST, 'bob'), null);
      assert.equal(await accounts.exists(HOST, 'bob'), false);
      assert.equal(await accounts.createAccount(HOST, 'bob', makeCreds(1)), true);
      assert.equal(await accounts.createAccount(HOST, 'bob', makeCreds(2)), false);
      assert.deepEqual(await accounts.getCredentials(HOST, 'bob'), makeCreds(1));
      assert.equal(await accounts.setCredentials(HOST, 'bob', makeCreds(3)), true);
      assert.deepEqual(await accounts.getCredentials(HOST, 'bob'), makeCreds(3));
      assert.equal(await accounts.setCredentials(HOST, 'nobody', makeCreds(3)), false);
      assert.equal(await accounts.exists(HOST, 'nobody'), false);
      assert.equal(await accounts.deleteAccount(HOST, 'bob'), true);
      assert.equal(await accounts.deleteAccount(HOST, 'bob'), false);
      assert.equal(await accounts.getCredentials(HOST, 'bob'), null);
    });

    it('round-trips key-value data for non-ASCII users and content', async () => {
      const roster = storage.keyval('roster', rosterCodec);
      const note = storage.keyval('note', noteCodec('note'));
      for (const [i, user] of NAMES.entries()) {
        assert.equal(await storage.accounts.createAccount('münchen.example', user, makeCreds(i)), true);
        await roster.set('münchen.example', user, [`friend${i}@example.org`, 'jürgen@bücher.example']);
        await note.set('münchen.example', user, `Grüße, ${user} — 你好 😀 <&>'"`);
      }
      for (const [i, user] of NAMES.entries()) {
        assert.deepEqual(await roster.get('münchen.example', user), [`friend${i}@example.org`, 'jürgen@bücher.example']);
        assert.equal(await note.get('münchen.example', user), `Grüße, ${user} — 你好 😀 <&>'"`);
        assert.deepEqual(await storage.accounts.getCredentials('münchen.example', user), makeCreds(i));
      }
      assert.deepEqual(await storage.accounts.listAccounts('münchen.example'), [...NAMES].sort());
      // Removing one key leaves the others and the credentials alone.
      await note.set('münchen.example', 'zoë', undefined);
      assert.equal(await note.get('münchen.example', 'zoë'), undefined);
      assert.equal((await roster.get('münchen.example', 'zoë'))?.length, 2);
      assert.deepEqual(await storage.accounts.getCredentials('münchen.example', 'zoë'), makeCreds(1));
      await storage.accounts.setCredentials('münchen.example', 'zoë', makeCreds(50));
      assert.equal((await roster.get('münchen.example', 'zoë'))?.length, 2);
    });

    it('refuses data for a user without an account, and data XML cannot hold', async () => {
      const note = storage.keyval('note', noteCodec('note'));
      await rejectsWith(note.set(HOST, 'ghost', 'boo'), 'ENOENT');
      await note.set(HOST, 'ghost', undefined);
      assert.equal(await storage.accounts.exists(HOST, 'ghost'), false);
      await storage.accounts.createAccount(HOST, 'carol', makeCreds(4));
      await note.set(HOST, 'carol', 'fine');
      await rejectsWith(note.set(HOST, 'carol', 'bell \u0007 and lone \uD800'), 'EINVAL');
      assert.equal(await note.get(HOST, 'carol'), 'fine');
      const liar: Codec<string> = { ...noteCodec('note'), match: () => false };
      await rejectsWith(storage.keyval('liar', liar).set(HOST, 'carol', 'x'), 'EINVAL');
      const bad = makeCreds(5);
      bad['SCRAM-SHA-256'].storedKey = Buffer.alloc(20);
      await rejectsWith(storage.accounts.createAccount(HOST, 'dave', bad), 'EINVAL');
      await rejectsWith(storage.accounts.createAccount(HOST, '', makeCreds(5)), 'EINVAL');
      await rejectsWith(storage.accounts.createAccount(HOST, 'x'.repeat(300), makeCreds(5)), 'EINVAL');
    });

    it('lands every one of many concurrent changes to one user', async () => {
      await storage.accounts.createAccount(HOST, 'busy', makeCreds(6));
      const keys = Array.from({ length: 40 }, (_, i) => `key${i}`);
      await Promise.all([
        ...keys.map((k) => storage.keyval(k, noteCodec(k)).set(HOST, 'busy', `value of ${k}`)),
        storage.accounts.setCredentials(HOST, 'busy', makeCreds(7)),
      ]);
      for (const k of keys) assert.equal(await storage.keyval(k, noteCodec(k)).get(HOST, 'busy'), `value of ${k}`);
      assert.deepEqual(await storage.accounts.getCredentials(HOST, 'busy'), makeCreds(7));
    });

    it('lets exactly one of many concurrent createAccount calls win', async () => {
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => storage.accounts.createAccount(HOST, 'racer', makeCreds(100 + i))));
      assert.equal(results.filter(Boolean).length, 1);
      const winner = results.indexOf(true);
      assert.deepEqual(await storage.accounts.getCredentials(HOST, 'racer'), makeCreds(100 + winner));
    });

    it('lists no accounts for an unknown host', async () => {
      assert.deepEqual(await storage.accounts.listAccounts('nowhere.example'), []);
    });

    it('refuses work after close', async () => {
      const other = openStorage(kind, join(dir, 'spool'));
      await other.close();
      await rejectsWith(other.accounts.exists(HOST, 'alice'), 'EIO');
    });
  });
}

describe('spool file names', () => {
  it('encodes names to safe, canonical file names', () => {
    const cases: Array<[string, string]> = [
      ['alice', 'alice'], ['a.b_c-d', 'a.b_c-d'], ['zoë', 'zo%C3%AB'], ['.hidden', '%2Ehidden'],
      ['..', '%2E.'], ['con', '%63on'], ['lpt1.txt', '%6Cpt1.txt'], ['console', 'console'],
      ['a%b', 'a%25b'], ['Ab', '%41b'], ['a/b', 'a%2Fb'], ['😀', '%F0%9F%98%80'],
    ];
    for (const [name, file] of cases) {
      assert.equal(encodeName(name), file);
      assert.equal(decodeName(file), name);
    }
  });

  it('refuses names no file can carry', () => {
    for (const name of ['', 'lone \uD800 surrogate', 'ü'.repeat(42)]) {
      assert.throws(() => encodeName(name), (err: unknown) => err instanceof StorageError && err.code === 'EINVAL');
    }
    assert.equal(encodeName('u'.repeat(247)).length, 247);
  });

  it('decodes only the canonical spelling', () => {
    for (const file of ['%2e', 'a%2', '%zz', 'A', 'a b', '%61', 'con', '.x', '%C3', '%FF']) {
      assert.equal(decodeName(file), null, file);
    }
  });

  it('round-trips any string that encodes', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }), (name) => {
      const file = encodeName(name);
      assert.match(file, /^[a-z0-9._%A-F-]+$/);
      assert.ok(!file.startsWith('.'));
      assert.equal(decodeName(file), name);
    }));
  });
});

/** A filesystem layer that records reads and can fail fsync like a full disk. */
function instrumentedFs() {
  const state = { failSync: false, readdirs: 0, reads: [] as string[] };
  const fs: SpoolFs = {
    ...fsp,
    open: (async (...args: Parameters<typeof fsp.open>) => {
      // User files are read through a handle (stat and content of one file).
      if (args[1] === 'r' && String(args[0]).endsWith('.xml')) state.reads.push(String(args[0]));
      const handle = await fsp.open(...args);
      if (state.failSync && String(args[0]).endsWith('.tmp')) {
        handle.sync = async () => {
          throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
        };
      }
      return handle;
    }) as typeof fsp.open,
    readFile: ((...args: Parameters<typeof fsp.readFile>) => {
      state.reads.push(String(args[0]));
      return fsp.readFile(...args);
    }) as typeof fsp.readFile,
    readdir: ((...args: Parameters<typeof fsp.readdir>) => {
      state.readdirs++;
      return fsp.readdir(...args);
    }) as typeof fsp.readdir,
  };
  return { fs, state };
}

describe('spool files', () => {
  let dir: string;
  let spool: string;
  let storage: SpoolStorage;
  const errors: object[] = [];
  const log = { warn() {}, error(obj: object) { errors.push(obj); } };
  before(async () => {
    dir = await tempDir();
    spool = join(dir, 'spool');
    storage = new SpoolStorage(spool, { log });
  });
  after(async () => {
    await storage.close();
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('writes a valid XEP-0227 document with mode 0600 in a 0700 directory', async () => {
    await storage.accounts.createAccount(HOST, 'alice', makeCreds(1));
    await storage.keyval('roster', rosterCodec).set(HOST, 'alice', ['bob@localhost']);
    const file = userFile(spool, HOST, 'alice');
    assert.equal((await fsp.stat(file)).mode & 0o777, 0o600);
    assert.equal((await fsp.stat(join(spool, HOST))).mode & 0o777, 0o700);
    const text = await fsp.readFile(file, 'utf8');
    assert.ok(text.startsWith('<?xml version='));
    const root = parse(text);
    assert.equal(root.name, 'server-data');
    assert.equal(root.attrs.xmlns, NS_PIE);
    const hosts = root.getChildren('host');
    assert.equal(hosts.length, 1);
    assert.equal(hosts[0].attrs.jid, HOST);
    const users = hosts[0].getChildren('user');
    assert.equal(users.length, 1);
    assert.equal(users[0].attrs.name, 'alice');
    const scram = users[0].getChildren('scram-credentials', NS_PIE_SCRAM);
    assert.deepEqual(scram.map((el) => el.attrs.mechanism), ['SCRAM-SHA-1', 'SCRAM-SHA-256']);
    const expected = makeCreds(1);
    for (const el of scram) {
      const keys = expected[el.attrs.mechanism as 'SCRAM-SHA-1' | 'SCRAM-SHA-256'];
      assert.equal(el.getChildText('iter-count'), String(keys.iterations));
      assert.equal(el.getChildText('salt'), keys.salt.toString('base64'));
      assert.equal(el.getChildText('server-key'), keys.serverKey.toString('base64'));
      assert.equal(el.getChildText('stored-key'), keys.storedKey.toString('base64'));
    }
    const roster = users[0].getChild('query', NS_ROSTER) as Element;
    assert.equal(roster.getChild('item')?.attrs.jid, 'bob@localhost');
  });

  it('reads back from disk after reopening, and names files by the encoding', async () => {
    await storage.accounts.createAccount('bücher.example', 'zoë', makeCreds(2));
    await storage.keyval('note', noteCodec('note')).set('bücher.example', 'zoë', 'ünïcödé 😀');
    const entries = await fsp.readdir(join(spool, 'b%C3%BCcher.example'));
    assert.deepEqual(entries, ['zo%C3%AB.xml']);
    const fresh = new SpoolStorage(spool);
    assert.deepEqual(await fresh.accounts.getCredentials('bücher.example', 'zoë'), makeCreds(2));
    assert.equal(await fresh.keyval('note', noteCodec('note')).get('bücher.example', 'zoë'), 'ünïcödé 😀');
    assert.deepEqual(await fresh.accounts.listAccounts('bücher.example'), ['zoë']);
    await fresh.close();
  });

  it('removes the file when the account is deleted', async () => {
    await storage.accounts.createAccount(HOST, 'gone', makeCreds(3));
    const file = userFile(spool, HOST, 'gone');
    await fsp.access(file);
    assert.equal(await storage.accounts.deleteAccount(HOST, 'gone'), true);
    await assert.rejects(fsp.access(file), { code: 'ENOENT' });
    assert.ok(!(await storage.accounts.listAccounts(HOST)).includes('gone'));
  });

  it('lists decoded names and skips temporary and foreign files', async () => {
    const host = 'list.example';
    for (const user of NAMES) await storage.accounts.createAccount(host, user, makeCreds(4));
    await fsp.writeFile(join(spool, host, 'alice.xml.tmp'), 'partial');
    await fsp.writeFile(join(spool, host, 'README'), 'not a user');
    await fsp.writeFile(join(spool, host, 'A.xml'), 'not canonical');
    assert.deepEqual(await storage.accounts.listAccounts(host), [...NAMES].sort());
  });

  it('ignores a stale .tmp file on read and replaces it on the next write', async () => {
    await storage.accounts.createAccount(HOST, 'stale', makeCreds(5));
    const file = userFile(spool, HOST, 'stale');
    await fsp.writeFile(file + '.tmp', '<server-data xmlns=', { mode: 0o644 });
    const fresh = new SpoolStorage(spool);
    assert.deepEqual(await fresh.accounts.getCredentials(HOST, 'stale'), makeCreds(5));
    await fresh.accounts.setCredentials(HOST, 'stale', makeCreds(6));
    await assert.rejects(fsp.access(file + '.tmp'), { code: 'ENOENT' });
    assert.equal((await fsp.stat(file)).mode & 0o777, 0o600);
    await fresh.close();
  });

  it('fails with EIO where a file blocks the domain directory', async () => {
    await fsp.writeFile(join(spool, 'blocked.example'), 'in the way');
    await rejectsWith(storage.accounts.createAccount('blocked.example', 'alice', makeCreds(7)), 'EIO');
    assert.equal(await fsp.readFile(join(spool, 'blocked.example'), 'utf8'), 'in the way');
  });

  it('keeps the previous content when the temporary file cannot be written', async () => {
    await storage.accounts.createAccount(HOST, 'stuck', makeCreds(8));
    const file = userFile(spool, HOST, 'stuck');
    const before = await fsp.readFile(file, 'utf8');
    // A directory where the .tmp goes: the write fails even for root.
    await fsp.mkdir(file + '.tmp');
    await fsp.writeFile(join(file + '.tmp', 'pin'), '');
    await rejectsWith(storage.accounts.setCredentials(HOST, 'stuck', makeCreds(9)), 'EIO');
    await rejectsWith(storage.keyval('roster', rosterCodec).set(HOST, 'stuck', ['x@y']), 'EIO');
    assert.deepEqual(await storage.accounts.getCredentials(HOST, 'stuck'), makeCreds(8));
    assert.equal(await fsp.readFile(file, 'utf8'), before);
    const fresh = new SpoolStorage(spool);
    assert.deepEqual(await fresh.accounts.getCredentials(HOST, 'stuck'), makeCreds(8));
    await fresh.close();
    await fsp.rm(file + '.tmp', { recursive: true });
    assert.equal(await storage.accounts.setCredentials(HOST, 'stuck', makeCreds(9)), true);
  });

  it('keeps the previous content when fsync fails (ENOSPC)', async () => {
    const { fs, state } = instrumentedFs();
    const faulty = new SpoolStorage(spool, { fs });
    const roster = faulty.keyval('roster', rosterCodec);
    await faulty.accounts.createAccount(HOST, 'full', makeCreds(10));
    await roster.set(HOST, 'full', ['old@localhost']);
    const file = userFile(spool, HOST, 'full');
    const before = await fsp.readFile(file, 'utf8');
    state.failSync = true;
    await rejectsWith(roster.set(HOST, 'full', ['new@localhost']), 'EIO');
    await rejectsWith(faulty.accounts.setCredentials(HOST, 'full', makeCreds(11)), 'EIO');
    assert.deepEqual(await roster.get(HOST, 'full'), ['old@localhost']);
    assert.deepEqual(await faulty.accounts.getCredentials(HOST, 'full'), makeCreds(10));
    assert.equal(await fsp.readFile(file, 'utf8'), before);
    await assert.rejects(fsp.access(file + '.tmp'), { code: 'ENOENT' });
    state.failSync = false;
    await roster.set(HOST, 'full', ['new@localhost']);
    assert.deepEqual(await new SpoolStorage(spool).keyval('roster', rosterCodec).get(HOST, 'full'), ['new@localhost']);
    assert.equal(faulty.stats().queuedUsers, 0);
    await faulty.close();
  });

  it('reports a corrupt file as ECORRUPT and never writes over it', async () => {
    const bodies = [
      '',
      '<?xml version="1.0"?><server-data xmlns="urn:xmpp:pie:0"><host jid="localhost"><user name="broken">',
      "<server-data xmlns='urn:xmpp:pie:0'><host jid='localhost'><user name='someone-else'/></host></server-data>",
      "<server-data xmlns='urn:xmpp:pie:0'><host jid='localhost'><user name='broken'><scram-credentials xmlns='urn:xmpp:pie:0#scram' mechanism='SCRAM-SHA-1'><iter-count>many</iter-count></scram-credentials></user></host></server-data>",
      'PK\u0003\u0004 binary junk &bogus;',
    ];
    const file = userFile(spool, HOST, 'broken');
    const note = storage.keyval('note', noteCodec('note'));
    for (const body of bodies) {
      await fsp.writeFile(file, body);
      storage.invalidate(HOST, 'broken');
      errors.length = 0;
      await rejectsWith(storage.accounts.getCredentials(HOST, 'broken'), 'ECORRUPT');
      await rejectsWith(storage.accounts.createAccount(HOST, 'broken', makeCreds(12)), 'ECORRUPT');
      await rejectsWith(storage.accounts.setCredentials(HOST, 'broken', makeCreds(12)), 'ECORRUPT');
      await rejectsWith(storage.accounts.deleteAccount(HOST, 'broken'), 'ECORRUPT');
      await rejectsWith(note.set(HOST, 'broken', 'x'), 'ECORRUPT');
      assert.equal(await fsp.readFile(file, 'utf8'), body);
      assert.ok(errors.length > 0, 'the corrupt file is logged');
    }
    // Once repaired, it is read again: corruption is not cached.
    await fsp.writeFile(file,
      "<server-data xmlns='urn:xmpp:pie:0'><host jid='localhost'><user name='broken'/></host></server-data>");
    assert.equal(await storage.accounts.exists(HOST, 'broken'), true);
    assert.equal(await storage.accounts.getCredentials(HOST, 'broken'), null);
  });

  it('keeps imported data it does not know and drops an imported plain password', async () => {
    const file = userFile(spool, HOST, 'imported');
    await fsp.writeFile(file, `<?xml version='1.0'?>
<server-data xmlns='urn:xmpp:pie:0'>
  <host jid='localhost'>
    <user name='imported' password='secret'>
      <vCard xmlns='vcard-temp'><FN>Imported  User</FN></vCard>
      <scram-credentials xmlns='urn:xmpp:pie:0#scram' mechanism='SCRAM-SHA-512'><iter-count>1</iter-count></scram-credentials>
    </user>
  </host>
</server-data>`);
    assert.equal(await storage.accounts.getCredentials(HOST, 'imported'), null);
    assert.equal(await storage.accounts.setCredentials(HOST, 'imported', makeCreds(13)), true);
    const text = await fsp.readFile(file, 'utf8');
    assert.ok(!text.includes('secret') && !text.includes('SCRAM-SHA-512'));
    assert.ok(text.includes("<vCard xmlns=\"vcard-temp\"><FN>Imported  User</FN></vCard>"));
    assert.deepEqual(await new SpoolStorage(spool).accounts.getCredentials(HOST, 'imported'), makeCreds(13));
  });

  it('reads only the files of users asked for, and bounds its cache', async () => {
    const { fs, state } = instrumentedFs();
    const small = new SpoolStorage(spool, { fs, cacheSize: 3 });
    assert.deepEqual(state.reads, []);
    await small.accounts.getCredentials(HOST, 'alice');
    await small.accounts.getCredentials(HOST, 'alice');
    assert.deepEqual(state.reads, [userFile(spool, HOST, 'alice')]);
    for (const user of NAMES) await small.accounts.exists('list.example', user);
    assert.equal(state.readdirs, 0);
    assert.ok(small.stats().cachedUsers <= 3);
    await small.accounts.listAccounts(HOST);
    assert.equal(state.readdirs, 1);
    await small.close();
  });

  it('finishes queued writes before close resolves', async () => {
    const closing = new SpoolStorage(spool);
    await closing.accounts.createAccount(HOST, 'closer', makeCreds(14));
    const note = closing.keyval('note', noteCodec('note'));
    const writes = Array.from({ length: 20 }, (_, i) => note.set(HOST, 'closer', `v${i}`));
    await closing.close();
    await Promise.all(writes);
    assert.equal(closing.stats().queuedUsers, 0);
    assert.equal(await new SpoolStorage(spool).keyval('note', noteCodec('note')).get(HOST, 'closer'), 'v19');
    await rejectsWith(note.set(HOST, 'closer', 'late'), 'EIO');
  });
});

describe('openStorage', () => {
  it('opens each kind and refuses a spool without a directory', () => {
    assert.ok(openStorage('memory') instanceof MemoryStorage);
    assert.ok(openStorage('spool', 'somewhere') instanceof SpoolStorage);
    assert.throws(() => openStorage('spool'), (err: unknown) => err instanceof StorageError && err.code === 'EINVAL');
    assert.throws(() => new SpoolStorage('x', { cacheSize: -1 }), StorageError);
  });
});

describe('spool shared with admin commands', () => {
  it('sees accounts and passwords that another process changed while it had them cached', async () => {
    const dir = await fsp.mkdtemp(join(tmpdir(), 'rohrpost-shared-'));
    try {
      const server = new SpoolStorage(dir);
      const admin = new SpoolStorage(dir);
      assert.equal(await server.accounts.exists(HOST, 'newbie'), false, 'cached as absent');
      await admin.accounts.createAccount(HOST, 'newbie', makeCreds(1));
      assert.equal(await server.accounts.exists(HOST, 'newbie'), true);
      const first = await server.accounts.getCredentials(HOST, 'newbie');
      await admin.accounts.setCredentials(HOST, 'newbie', makeCreds(2));
      const second = await server.accounts.getCredentials(HOST, 'newbie');
      assert.notDeepEqual(second, first);
      assert.deepEqual(second, makeCreds(2));
      // A write by the server starts from the admin's version, not its stale copy.
      const note = server.keyval('note', noteCodec('note'));
      await admin.accounts.setCredentials(HOST, 'newbie', makeCreds(3));
      await note.set(HOST, 'newbie', 'hello');
      assert.deepEqual(await new SpoolStorage(dir).accounts.getCredentials(HOST, 'newbie'), makeCreds(3));
      await admin.accounts.deleteAccount(HOST, 'newbie');
      assert.equal(await server.accounts.exists(HOST, 'newbie'), false);
      await server.close();
      await admin.close();
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});
