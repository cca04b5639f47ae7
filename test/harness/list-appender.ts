// Child process for the list kill test: appends to one user's list without end
// and prints the sequence number of each append once it is durable. The test
// kills it at random and checks that every reported record is still there.
//
// Usage: node list-appender.js <spool dir> <first sequence number>
// Lines: "ready", then one sequence number per durable append.
import { pathToFileURL } from 'node:url';
import { x } from '../../src/xml/element.js';
import { SpoolStorage } from '../../src/storage/index.js';

export const HOST = 'localhost';
export const USER = 'o.brien';
export const KEY = 'offline';

/** The record for `seq`: sizes vary (up to ~20 kB) so kills land inside writes. */
export function recordAt(seq: number) {
  return x('message', { to: `${USER}@${HOST}`, id: `m${seq}` },
    x('body', null, `line one of ${seq}\nline two: Grüße 😀 <&> ${'z'.repeat((seq * 7919) % 20000)}`));
}

async function main(dir: string, first: number): Promise<void> {
  const storage = new SpoolStorage(dir);
  const list = storage.list(KEY);
  process.stdout.write('ready\n');
  for (let seq = first; ; seq++) {
    await list.append(HOST, USER, recordAt(seq));
    process.stdout.write(`${seq}\n`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  void main(process.argv[2]!, Number(process.argv[3]));
}
