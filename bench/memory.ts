// Idle-session memory: N authenticated sessions (bind + initial presence) held open,
// the server's resident memory (VmRSS in /proc/PID/status) read before and after;
// (after - before) / N is the cost of one idle session. Once per TLS mode; with
// --spawn each mode gets a fresh server, so every mode starts from the same idle RSS.
//
//   node dist/bench/memory.js --spawn [--sessions 10000] [--tls none,starttls]
//   node dist/bench/memory.js --pid PID --port 5222 --users bench/10000 --password PW
//
// Open files: this process holds one socket per session, and so does the server.
// Both need a limit of open files above N (check `ulimit -n`); a Node process cannot
// raise its own limit, so raise it in the shell that starts the benchmark, e.g.
// `ulimit -n 65536` (it cannot exceed the hard limit, `ulimit -Hn`). Nothing is
// changed system-wide. Past ~28k connections from one source address the ephemeral
// ports run out: above 20000 sessions several 127.0.0.x source addresses are used.
import { parseArgs } from 'node:util';
import { rmSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { closeAll, runLogins, sourceAddressFor } from './client/runner.js';
import { SaltedPasswordCache } from './client/scram.js';
import { MECHANISMS, type Mechanism, type SessionOptions, type TlsMode } from './client/session.js';
import { fmt, markdownTable, rounded, summarize, type Summary } from './lib/stats.js';
import { openFileCount, openFilesLimit, sleep, statusKiB } from './lib/proc.js';
import { createUsers, newBenchDir, spawnRohrpost, userName, type BenchServer, type ServerProblems } from './lib/server.js';
import {
  COMMON_HELP, COMMON_OPTIONS, UsageError, environment, int, loopbackSources, note, parseSources, parseTlsModes,
  writeJson, reportServerProblems, targetFromArgs, type TargetOptions
} from './lib/args.js';

/** Sessions per source address before another 127.0.0.x is added (ephemeral ports: ~28k). */
const SESSIONS_PER_SOURCE = 20_000;
/** Descriptors this process and the server need besides the sessions' sockets. */
const FD_HEADROOM = 100;

export interface MemoryBenchOptions extends TargetOptions {
  tlsModes: TlsMode[];
  mechanism: Mechanism;
  sessions: number;
  /** Logins in flight while the sessions are opened. */
  concurrency: number;
  sources: string[];
  /** Quiet time before each memory reading. */
  settleMs: number;
  rosterGet: boolean;
}

export interface MemoryRow {
  tls: TlsMode;
  sessions: number;
  ok: number;
  failed: number;
  errors: Record<string, number>;
  /** Sessions still open at the reading after the settle time. */
  alive: number;
  openMs: number;
  loginLatencyMs: Summary;
  rssBeforeKiB: number | null;
  rssAfterKiB: number | null;
  rssAfterCloseKiB: number | null;
  deltaKiB: number | null;
  perSessionKiB: number | null;
  serverOpenFiles: number | null;
  problems?: ServerProblems;
}

export interface MemoryBenchResult {
  benchmark: 'memory';
  environment: Record<string, unknown>;
  settings: Record<string, unknown>;
  rows: MemoryRow[];
}

export const DEFAULT_MEMORY_OPTIONS: Omit<MemoryBenchOptions, 'users'> = {
  spawn: false, host: '127.0.0.1', domain: 'localhost', password: 'bench-secret', tlsModes: ['none', 'starttls'],
  mechanism: 'SCRAM-SHA-1', sessions: 10_000, concurrency: 50, sources: [], settleMs: 3000, rosterGet: false,
  timeoutMs: 900_000, loginTimeoutMs: 30_000, iterations: 10_000, serverLogLevel: 'info', log: note,
};

/** Throws when this process (or the server) cannot hold that many sockets. */
export function checkOpenFiles(sessions: number, serverPid?: number): void {
  const need = sessions + FD_HEADROOM;
  const advice = 'A Node process cannot raise its own limit: raise it in the shell that starts the benchmark ' +
    '(e.g. `ulimit -n 65536`, at most the hard limit shown by `ulimit -Hn`), or run fewer sessions.';
  const own = openFilesLimit('self');
  if (own !== null && own < need) {
    throw new UsageError(`the limit of open files is ${own}, but ${sessions} sessions need about ${need} here ` +
      `(and as many in the server). ${advice}`);
  }
  if (serverPid !== undefined) {
    const theirs = openFilesLimit(serverPid);
    if (theirs !== null && theirs < need) {
      throw new UsageError(`the server's limit of open files is ${theirs}, too low for ${sessions} sessions. ${advice}`);
    }
  }
}

export async function runMemoryBench(opts: MemoryBenchOptions): Promise<MemoryBenchResult> {
  if (!opts.spawn && opts.pid === undefined) throw new UsageError('without --spawn, --pid of the server is needed to read its memory');
  checkOpenFiles(opts.sessions, opts.spawn ? undefined : opts.pid);
  const sources = opts.sources.length > 0 || opts.sessions <= SESSIONS_PER_SOURCE
    ? opts.sources : loopbackSources(Math.ceil(opts.sessions / SESSIONS_PER_SOURCE));
  const deadline = performance.now() + opts.timeoutMs;
  const result: MemoryBenchResult = {
    benchmark: 'memory',
    environment: environment(),
    settings: {
      sessions: opts.sessions, tls: opts.tlsModes, mechanism: opts.mechanism, concurrency: opts.concurrency,
      users: `${opts.users.prefix}/${opts.users.count}`, sources: sources.length ? sources : 'kernel default',
      settleMs: opts.settleMs, rosterGet: opts.rosterGet, presence: true,
    },
    rows: [],
  };
  const dir = opts.spawn ? newBenchDir() : null;
  try {
    if (dir) {
      const made = await createUsers(`${dir}/spool`, opts.domain, opts.users, opts.password, opts.iterations);
      opts.log(`created ${made.created} accounts in ${made.ms} ms`);
    }
    const cache = new SaltedPasswordCache();
    for (const tls of opts.tlsModes) {
      let server: BenchServer | null = null;
      let row: MemoryRow | null = null;
      try {
        let { host, port = 5222, directPort = 5223, pid } = opts;
        if (dir) {
          server = await spawnRohrpost({ dir, keepDir: true, domain: opts.domain, logLevel: opts.serverLogLevel });
          ({ pid, starttlsPort: port, directTlsPort: directPort } = server);
          host = '127.0.0.1';
        }
        row = await measure(opts, tls, pid!, (i): SessionOptions => ({
          host, port: tls === 'direct' ? directPort : port, domain: opts.domain,
          username: userName(opts.users, i), password: opts.password, mechanism: opts.mechanism, tls,
          resource: `idle-${i}`, localAddress: sourceAddressFor(sources, i),
          rosterGet: opts.rosterGet, presence: true, timeoutMs: opts.loginTimeoutMs, scramCache: cache,
        }), Math.max(0, deadline - performance.now()));
        result.rows.push(row);
      } finally {
        if (server) {
          const code = await server.stop();
          if (row) row.problems = server.problems;
          if (code !== 0) opts.log(`Rohrpost exited with code ${code}`);
        }
      }
    }
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
  return rounded(result);
}

async function measure(opts: MemoryBenchOptions, tls: TlsMode, pid: number, session: (i: number) => SessionOptions,
  budgetMs: number): Promise<MemoryRow> {
  await sleep(opts.settleMs);
  const before = statusKiB(pid, 'VmRSS');
  opts.log(`${tls}: server pid ${pid}, RSS before ${before} KiB; opening ${opts.sessions} sessions`);
  const every = Math.max(1, Math.round(opts.sessions / 10));
  const r = await runLogins({
    count: opts.sessions, concurrency: opts.concurrency, deadlineMs: budgetMs, session, keepOpen: true,
    progressEvery: every, onProgress: (done, failed) => opts.log(`  ${done} logins (${failed} failed), server RSS ${statusKiB(pid, 'VmRSS')} KiB`),
  });
  await sleep(opts.settleMs);
  const alive = r.sessions.filter((s) => s.state === 'ready').length;
  const after = statusKiB(pid, 'VmRSS');
  const serverOpenFiles = openFileCount(pid);
  const delta = before !== null && after !== null ? after - before : null;
  opts.log(`${tls}: ${r.ok} sessions open (${alive} alive, ${r.failed} failed), RSS after ${after} KiB, ` +
    `${delta === null || alive === 0 ? '?' : fmt(delta / alive, 2)} KiB per session`);
  const stillOpen = await closeAll(r.sessions);
  await sleep(opts.settleMs);
  const afterClose = statusKiB(pid, 'VmRSS');
  opts.log(`${tls}: closed ${stillOpen} sessions, RSS after close ${afterClose} KiB`);
  return {
    tls, sessions: opts.sessions, ok: r.ok, failed: r.failed, errors: r.errors, alive, openMs: r.elapsedMs,
    loginLatencyMs: summarize(r.latencies), rssBeforeKiB: before, rssAfterKiB: after, rssAfterCloseKiB: afterClose,
    deltaKiB: delta, perSessionKiB: delta === null || alive === 0 ? null : delta / alive, serverOpenFiles,
  };
}

export function memoryTable(result: MemoryBenchResult): string {
  const mib = (kib: number | null) => (kib === null ? '–' : fmt(kib / 1024, 1));
  return markdownTable(
    ['TLS', 'sessions', 'alive', 'failed', 'RSS idle MiB', 'RSS with sessions MiB', 'KiB/session', 'RSS after close MiB'],
    result.rows.map((r) => [r.tls, String(r.sessions), String(r.alive), String(r.failed), mib(r.rssBeforeKiB),
      mib(r.rssAfterKiB), r.perSessionKiB === null ? '–' : fmt(r.perSessionKiB, 1), mib(r.rssAfterCloseKiB)]),
  );
}

const HELP = `Usage: node dist/bench/memory.js [options]
Server memory per idle authenticated session (bind + initial presence).
  --sessions N             sessions held open (default 10000)
  --concurrency N          logins in flight while opening them (default 50)
  --mechanism M            SCRAM-SHA-1 (default), SCRAM-SHA-256 or PLAIN
  --pid PID                the server's process id (needed without --spawn)
  --settle MS              quiet time before each memory reading (default 3000)
  --roster                 also fetch the roster after binding
${COMMON_HELP}
  (defaults here: --tls none,starttls, --users bench/<sessions>, --timeout 900)
The limit of open files (ulimit -n) must exceed the number of sessions, here and in the server.`;

function optionsFromArgs(argv: string[]): { opts: MemoryBenchOptions; out?: string } | null {
  const { values: v } = parseArgs({
    args: argv, strict: true, allowPositionals: false,
    options: {
      ...COMMON_OPTIONS,
      sessions: { type: 'string', default: '10000' },
      concurrency: { type: 'string', default: '50' },
      mechanism: { type: 'string', default: 'SCRAM-SHA-1' },
      pid: { type: 'string' },
      settle: { type: 'string', default: '3000' },
      roster: { type: 'boolean', default: false },
    },
  });
  if (v.help) return null;
  const sessions = int(v.sessions, 'sessions', 1, 10_000_000);
  if (!MECHANISMS.includes(v.mechanism as Mechanism)) throw new UsageError(`unknown mechanism '${v.mechanism}'`);
  const opts = {
    ...DEFAULT_MEMORY_OPTIONS,
    ...targetFromArgs(v, sessions, 900_000),
    tlsModes: parseTlsModes(v.tls, ['none', 'starttls']),
    mechanism: v.mechanism as Mechanism, sessions,
    concurrency: int(v.concurrency, 'concurrency', 1, 100_000),
    sources: parseSources(v.source),
    settleMs: int(v.settle, 'settle', 0, 600_000),
    rosterGet: v.roster,
  };
  return { opts, out: v.out };
}

async function main(): Promise<void> {
  let parsed: { opts: MemoryBenchOptions; out?: string } | null;
  try {
    parsed = optionsFromArgs(process.argv.slice(2));
    if (parsed) checkOpenFiles(parsed.opts.sessions);
  } catch (err) {
    process.stderr.write(`memory: ${(err as Error).message}\n${err instanceof UsageError && /--/.test((err as Error).message) ? `\n${HELP}\n` : ''}`);
    process.exit(2);
  }
  if (!parsed) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const { opts, out } = parsed;
  const result = await runMemoryBench(opts);
  process.stdout.write(`${memoryTable(result)}\n`);
  if (out !== undefined) writeJson(out, result);
  for (const row of result.rows) reportServerProblems(row.problems, row.tls);
  if (result.rows.some((r) => r.failed > 0 || r.alive < r.sessions)) process.exitCode = 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    process.stderr.write(`memory: ${String((err as Error)?.stack ?? err)}\n`);
    process.exit(1);
  });
}
