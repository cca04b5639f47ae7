// Child process for the kill test: changes accounts in a spool without end and
// prints one line after each change is durable. The test kills it at random.
//
// Usage: node spool-writer.js <spool dir> <first sequence number>
// Lines: "ready", then "<kind>\t<user>\t<seq>" with kind creds (created or new
// credentials), data (key-value data written) or gone (account deleted).
import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { x } from '../../src/xml/element.js';
import { SpoolStorage, type Codec, type StoredCredentials } from '../../src/storage/index.js';

export const HOST = 'localhost';
/** Users that only ever change; TRANSIENT is deleted and created again in turn. */
export const USERS = ['alice', 'zoë', '用户', 'o.brien'];
export const TRANSIENT = 'eve';
const NS_KILL = 'urn:example:spool-kill';

export interface Journal {
  seq: number;
  entries: string[];
}

/** The data written at `seq`: grows with seq so writes take longer, up to about 40 kB. */
export function journalAt(seq: number): Journal {
  const entries = Array.from({ length: 1 + (seq % 300) }, (_, i) => `entry ${i} of ${seq}: Grüße 😀 <&> ${'z'.repeat(i % 100)}`);
  return { seq, entries };
}

export const journalCodec: Codec<Journal> = {
  encode: (j) => x('journal', { xmlns: NS_KILL, seq: j.seq }, ...j.entries.map((e) => x('entry', null, e))),
  decode: (el) => ({ seq: Number(el.attrs.seq), entries: el.getChildren('entry').map((e) => e.getText()) }),
  match: (el) => el.is('journal', NS_KILL),
};

/** Credentials that carry their sequence number as the iteration count. */
export function credsAt(seq: number): StoredCredentials {
  const key = (alg: 'sha1' | 'sha256', label: string) => createHash(alg).update(`${label}${seq}`).digest();
  return {
    'SCRAM-SHA-1': { salt: Buffer.from(`s1-${seq}`), iterations: seq, storedKey: key('sha1', 'st'), serverKey: key('sha1', 'sv') },
    'SCRAM-SHA-256': { salt: Buffer.from(`s256-${seq}`), iterations: seq, storedKey: key('sha256', 'st'), serverKey: key('sha256', 'sv') },
  };
}

function report(kind: 'creds' | 'data' | 'gone', user: string, seq: number): void {
  process.stdout.write(`${kind}\t${user}\t${seq}\n`);
}

async function run(dir: string, firstSeq: number): Promise<void> {
  const storage = new SpoolStorage(dir);
  const journal = storage.keyval('journal', journalCodec);
  process.stdout.write('ready\n');
  for (let seq = firstSeq; ; seq++) {
    const step = seq % (USERS.length * 2 + 1);
    if (step === USERS.length * 2) {
      if (await storage.accounts.deleteAccount(HOST, TRANSIENT)) report('gone', TRANSIENT, seq);
      else if (await storage.accounts.createAccount(HOST, TRANSIENT, credsAt(seq))) report('creds', TRANSIENT, seq);
      continue;
    }
    const user = USERS[step % USERS.length];
    if (step < USERS.length || !(await storage.accounts.exists(HOST, user))) {
      const done = await storage.accounts.createAccount(HOST, user, credsAt(seq))
        || await storage.accounts.setCredentials(HOST, user, credsAt(seq));
      if (done) report('creds', user, seq);
    } else {
      await journal.set(HOST, user, journalAt(seq));
      report('data', user, seq);
    }
  }
}

// Only when run as the child, not when the test imports the helpers above.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [dir, firstSeq] = process.argv.slice(2);
  run(dir, Number(firstSeq)).catch((err) => {
    process.stderr.write(`spool-writer failed: ${String(err?.stack ?? err)}\n`);
    process.exit(1);
  });
}
