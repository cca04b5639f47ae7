// The spool survives SIGKILL at any moment: a child process changes accounts in a
// loop and reports each durable change; we kill it at random and check that every
// file still parses and holds at least what the child reported.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'ltx';
import { SpoolStorage } from '../src/storage/index.js';
import { credsAt, HOST, journalCodec, TRANSIENT } from './harness/spool-writer.js';

const WRITER = fileURLToPath(new URL('./harness/spool-writer.js', import.meta.url));
const ROUNDS = 30;
const MAX_DELAY_MS = 250;
/** No new round starts after this, so a slow machine cannot stretch the test. */
const TIME_BUDGET_MS = 15_000;
/** Each round starts far above the last so sequence numbers only grow. */
const SEQ_STRIDE = 1_000_000;

type Kind = 'creds' | 'data' | 'gone';
/** The last durable change the child reported, per kind and user. */
type Reported = Map<string, number>;

function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Runs the writer until killed after `delayMs` past its "ready"; returns how many changes it reported. */
async function runAndKill(dir: string, firstSeq: number, delayMs: number, reported: Reported): Promise<number> {
  let child: ChildProcess | undefined;
  let count = 0;
  try {
    child = spawn(process.execPath, [WRITER, dir, String(firstSeq)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const closed = once(child, 'close');
    let stderr = '';
    let pending = '';
    let ready: () => void = () => {};
    const isReady = new Promise<void>((resolve) => { ready = resolve; });
    child.stderr!.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop()!;    // an unfinished line was cut by the kill: not a report
      for (const line of lines) {
        if (line === 'ready') { ready(); continue; }
        const [kind, user, seq] = line.split('\t');
        reported.set(`${kind as Kind}\t${user}`, Number(seq));
        count++;
      }
    });
    await Promise.race([isReady, closed]);
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    assert.equal(child.exitCode, null, `writer exited early: ${stderr}`);
    child.kill('SIGKILL');
    const [, signal] = await closed;
    assert.equal(signal, 'SIGKILL', stderr);
    return count;
  } finally {
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid, 'SIGKILL');
    }
  }
}

/** Returns how many half-written temporary files it saw. */
async function checkEveryFileParses(dir: string): Promise<number> {
  let temporaries = 0;
  // Killed before its first write: there is no spool yet (checkReportedState then
  // insists that nothing was reported as durable).
  const domains = await fsp.readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  for (const domain of domains) {
    for (const name of await fsp.readdir(join(dir, domain))) {
      if (name.endsWith('.tmp')) {             // half-written temporaries are allowed
        temporaries++;
        continue;
      }
      const text = await fsp.readFile(join(dir, domain, name), 'utf8');
      assert.ok(text.length > 0, `${name} is empty`);
      const root = parse(text);
      assert.equal(root?.name, 'server-data', `${name} does not parse`);
    }
  }
  return temporaries;
}

async function checkReportedState(dir: string, reported: Reported): Promise<void> {
  const storage = new SpoolStorage(dir, { cacheSize: 0 });
  const journal = storage.keyval('journal', journalCodec);
  try {
    for (const [key, seq] of reported) {
      const [kind, user] = key.split('\t');
      const creds = await storage.accounts.getCredentials(HOST, user);
      const iterations = creds?.['SCRAM-SHA-1'].iterations;
      if (user === TRANSIENT) {
        // Deleted and created in turn: whatever is there must be newer than the
        // last reported deletion, and at least the last reported creation.
        if (creds && kind === 'gone') assert.ok(iterations! > seq, `${user} came back from before its deletion`);
        if (creds && kind === 'creds') assert.ok(iterations! >= seq, `${user} lost credentials ${seq}`);
        continue;
      }
      assert.ok(creds, `${user} is missing`);
      if (kind === 'creds') {
        assert.ok(iterations! >= seq, `${user} has credentials ${iterations}, reported ${seq}`);
        assert.deepEqual(creds, credsAt(iterations!));
      } else {
        const data = await journal.get(HOST, user);
        assert.ok(data && data.seq >= seq, `${user} has data ${data?.seq}, reported ${seq}`);
        assert.equal(data.entries.length, 1 + (data.seq % 300));
      }
    }
  } finally {
    await storage.close();
  }
}

it('keeps every spool file whole and durable across SIGKILL', { timeout: 60_000 }, async (t) => {
  const base = await fsp.mkdtemp(join(tmpdir(), 'rohrpost-kill-'));
  const dir = join(base, 'spool');
  const seed = Date.now();
  const random = seededRandom(seed);
  const reported: Reported = new Map();
  const started = Date.now();
  let total = 0;
  let cutMidWrite = 0;
  let rounds = 0;
  try {
    for (let round = 1; round <= ROUNDS && Date.now() - started < TIME_BUDGET_MS; round++) {
      rounds = round;
      total += await runAndKill(dir, round * SEQ_STRIDE, Math.floor(random() * MAX_DELAY_MS), reported);
      const temporaries = await checkEveryFileParses(dir)
        .catch((err) => { throw new Error(`round ${round}, seed ${seed}: ${err.message}`); });
      if (temporaries > 0) cutMidWrite++;
      await checkReportedState(dir, reported).catch((err) => { throw new Error(`round ${round}, seed ${seed}: ${err.message}`); });
    }
    t.diagnostic(`${total} durable changes over ${rounds} kills; ${cutMidWrite} kills left a temporary file`);
    assert.ok(rounds >= 5, `only ${rounds} rounds ran in time`);
    assert.ok(total > rounds, `the writer reported only ${total} changes`);
  } finally {
    await fsp.rm(base, { recursive: true, force: true });
  }
});
