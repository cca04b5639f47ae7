// Login benchmark: N logins one after another, then N with 100 in flight, for each
// SASL mechanism (SCRAM-SHA-1 and PLAIN by default) and each TLS mode. A login is
// TCP connect -> (TLS) -> SASL -> stream restart -> bind -> initial presence; its
// latency is measured from connect until the bind result, then the stream is closed
// politely before the slot starts the next login. Prints a Markdown table; --out
// also writes JSON.
//
//   node dist/bench/logins.js --spawn [--count 1000] [--tls none,starttls]
//   node dist/bench/logins.js --host 127.0.0.1 --port 5222 --users bench/1000 --password PW --tls starttls
//
// With --spawn the accounts are written straight into a fresh spool (one shared
// PBKDF2 derivation), and a warm-up logs every account in once first, so all
// phases measure a warm spool cache. The client caches SCRAM's salted password (as
// real clients do), so SCRAM costs the server HMACs only, while PLAIN costs it one
// PBKDF2 (SHA-256, the account's iteration count) per login.
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { runLogins, sourceAddressFor } from './client/runner.js';
import { SaltedPasswordCache } from './client/scram.js';
import { MECHANISMS, type Mechanism, type SessionOptions, type TlsMode } from './client/session.js';
import { fmt, markdownTable, rounded, summarize, type Summary } from './lib/stats.js';
import { startCpuMeter, statusKiB } from './lib/proc.js';
import { createUsers, endpointOf, spawnOnSpool, userName, type BenchServer, type ServerProblems, finishServer } from './lib/server.js';
import {
  COMMON_HELP, COMMON_OPTIONS, UsageError, environment, int, note, parseSources, parseTlsModes, writeJson, parseOrExit, reportServerProblems, targetFromArgs, type TargetOptions
} from './lib/args.js';

export interface LoginBenchOptions extends TargetOptions {
  tlsModes: TlsMode[];
  mechanisms: Mechanism[];
  count: number;
  concurrencies: number[];
  /** Logins before the measured phases (per TLS mode), not counted. */
  warmup: number;
  sources: string[];
}

export interface LoginRow {
  tls: TlsMode;
  mechanism: Mechanism;
  concurrency: number;
  attempted: number;
  ok: number;
  failed: number;
  errors: Record<string, number>;
  loginsPerSecond: number;
  latencyMs: Summary;
  elapsedMs: number;
  deadlineHit: boolean;
  /** CPU time (user + system) per successful login, in ms: the server's (when its PID is known) and this process's. */
  serverCpuMsPerLogin: number | null;
  clientCpuMsPerLogin: number;
  /**
   * CPU used by other processes on this machine during the phase, as a share of all CPUs
   * (0..1; null when unknown). Other work on the machine slows a run: compare only quiet runs.
   */
  otherLoad: number | null;
}

export interface LoginBenchResult {
  benchmark: 'logins';
  environment: Record<string, unknown>;
  settings: Record<string, unknown>;
  server: { spawned: boolean; pid?: number; idleRssKiB?: number | null; peakRssKiB?: number | null; problems?: ServerProblems };
  rows: LoginRow[];
}

export const DEFAULT_LOGIN_OPTIONS: Omit<LoginBenchOptions, 'users'> = {
  spawn: false, host: '127.0.0.1', domain: 'localhost', password: 'bench-secret',
  tlsModes: ['none'], mechanisms: ['SCRAM-SHA-1', 'PLAIN'], count: 1000, concurrencies: [1, 100],
  warmup: -1, sources: [], timeoutMs: 900_000, loginTimeoutMs: 30_000, iterations: 10_000,
  serverLogLevel: 'info', log: note,
};

export async function runLoginBench(opts: LoginBenchOptions): Promise<LoginBenchResult> {
  const deadline = performance.now() + opts.timeoutMs;
  let server: BenchServer | null = null;
  const result: LoginBenchResult = {
    benchmark: 'logins',
    environment: environment(),
    settings: {
      count: opts.count, concurrencies: opts.concurrencies, mechanisms: opts.mechanisms, tls: opts.tlsModes,
      users: `${opts.users.prefix}/${opts.users.count}`, sources: opts.sources.length || 'kernel default',
      iterations: opts.spawn ? opts.iterations : 'as stored on the server',
      warmup: opts.warmup >= 0 ? opts.warmup : Math.min(opts.count, opts.users.count),
    },
    server: { spawned: opts.spawn },
    rows: [],
  };
  try {
    if (opts.spawn) {
      server = await spawnOnSpool(async (spool) => {
        const made = await createUsers(spool, opts.domain, opts.users, opts.password, opts.iterations);
        opts.log(`created ${made.created} accounts in ${made.ms} ms`);
      }, { domain: opts.domain, logLevel: opts.serverLogLevel });
    }
    const { host, port, directPort, pid } = endpointOf(opts, server);
    if (server) {
      result.server.pid = server.pid;
      result.server.idleRssKiB = statusKiB(server.pid, 'VmRSS');
      opts.log(`Rohrpost pid ${server.pid}, ports ${port}/${directPort}, idle RSS ${result.server.idleRssKiB} KiB`);
    }
    const cache = new SaltedPasswordCache();
    let connection = 0;
    const sessionFor = (tls: TlsMode, mechanism: Mechanism, phase: string) => (i: number): SessionOptions => ({
      host, port: tls === 'direct' ? directPort : port, domain: opts.domain,
      username: userName(opts.users, i), password: opts.password, mechanism, tls,
      resource: `${phase}-${i}`, localAddress: sourceAddressFor(opts.sources, connection++),
      presence: true, timeoutMs: opts.loginTimeoutMs, scramCache: cache,
    });
    const remaining = () => Math.max(0, deadline - performance.now());

    for (const tls of opts.tlsModes) {
      const warmup = result.settings.warmup as number;
      if (warmup > 0) {
        const w = await runLogins({ count: warmup, concurrency: 20, deadlineMs: remaining(), session: sessionFor(tls, opts.mechanisms[0]!, 'warm') });
        opts.log(`warm-up (${tls}): ${w.ok} ok, ${w.failed} failed in ${fmt(w.elapsedMs, 0)} ms${w.failed ? ` ${JSON.stringify(w.errors)}` : ''}`);
      }
      for (const mechanism of opts.mechanisms) {
        for (const concurrency of opts.concurrencies) {
          const meter = startCpuMeter(pid);
          const r = await runLogins({
            count: opts.count, concurrency, deadlineMs: remaining(),
            session: sessionFor(tls, mechanism, `${mechanism}-${concurrency}`),
          });
          const cpu = meter.stop(r.elapsedMs);
          const perLogin = (ms: number | null) => (ms === null ? null : r.ok > 0 ? ms / r.ok : Number.NaN);
          const row: LoginRow = {
            tls, mechanism, concurrency, attempted: r.attempted, ok: r.ok, failed: r.failed, errors: r.errors,
            loginsPerSecond: r.ok / (r.elapsedMs / 1000), latencyMs: summarize(r.latencies),
            elapsedMs: r.elapsedMs, deadlineHit: r.deadlineHit,
            serverCpuMsPerLogin: perLogin(cpu.serverMs), clientCpuMsPerLogin: perLogin(cpu.clientMs)!, otherLoad: cpu.otherLoad,
          };
          result.rows.push(row);
          opts.log(`${tls} ${mechanism} x${concurrency}: ${r.ok}/${r.attempted} ok, ${fmt(row.loginsPerSecond)} logins/s, ` +
            `p50 ${fmt(row.latencyMs.p50, 2)} ms, p99 ${fmt(row.latencyMs.p99, 2)} ms, ` +
            `CPU ms/login server ${fmt(row.serverCpuMsPerLogin ?? Number.NaN, 2)} client ${fmt(row.clientCpuMsPerLogin, 2)}, ` +
            `other load ${row.otherLoad === null ? '?' : `${fmt(row.otherLoad * 100, 0)}%`}` +
            `${r.failed ? `; failures ${JSON.stringify(r.errors)}` : ''}${r.deadlineHit ? '; time budget exhausted' : ''}`);
        }
      }
    }
    if (server) result.server.peakRssKiB = statusKiB(server.pid, 'VmHWM');
  } finally {
    if (server) {
      result.server.problems = await finishServer(server, opts.log);
    }
  }
  return rounded(result);
}

export function loginTable(result: LoginBenchResult): string {
  return markdownTable(
    ['TLS', 'mechanism', 'in flight', 'logins', 'failed', 'logins/s', 'p50 ms', 'p99 ms', 'max ms', 'server CPU ms/login',
      'client CPU ms/login', 'other load'],
    result.rows.map((r) => [r.tls, r.mechanism, String(r.concurrency), String(r.ok), String(r.failed),
      fmt(r.loginsPerSecond, 0), fmt(r.latencyMs.p50, 2), fmt(r.latencyMs.p99, 2), fmt(r.latencyMs.max, 1),
      fmt(r.serverCpuMsPerLogin ?? Number.NaN, 2), fmt(r.clientCpuMsPerLogin, 2),
      r.otherLoad === null ? '–' : `${fmt(r.otherLoad * 100, 0)}%`]),
  );
}

const HELP = `Usage: node dist/bench/logins.js [options]
Logins in sequence and in parallel, per SASL mechanism and TLS mode.
  --count N                logins per phase (default 1000)
  --concurrency LIST       logins in flight per phase (default 1,100)
  --mechanisms LIST        SCRAM-SHA-1, SCRAM-SHA-256, PLAIN (default SCRAM-SHA-1,PLAIN)
  --warmup N               unmeasured logins first (default: one per account, at most --count)
  --pid PID                the server's process id, to report its CPU time per login (without --spawn)
${COMMON_HELP}
  (defaults here: --tls none, --users bench/<count>, --timeout 900)`;

function optionsFromArgs(argv: string[]): { opts: LoginBenchOptions; out?: string } | null {
  const { values: v } = parseArgs({
    args: argv, strict: true, allowPositionals: false,
    options: {
      ...COMMON_OPTIONS,
      count: { type: 'string', default: '1000' },
      concurrency: { type: 'string', default: '1,100' },
      mechanisms: { type: 'string', default: 'SCRAM-SHA-1,PLAIN' },
      warmup: { type: 'string' },
      pid: { type: 'string' },
    },
  });
  if (v.help) return null;
  const count = int(v.count, 'count', 1, 10_000_000);
  const mechanisms = v.mechanisms.split(',').map((m) => m.trim()) as Mechanism[];
  for (const m of mechanisms) if (!MECHANISMS.includes(m)) throw new UsageError(`unknown mechanism '${m}'`);
  const opts = {
    ...DEFAULT_LOGIN_OPTIONS,
    ...targetFromArgs(v, count, 900_000),
    tlsModes: parseTlsModes(v.tls, ['none']),
    mechanisms, count,
    concurrencies: v.concurrency.split(',').map((c) => int(c.trim(), 'concurrency', 1, 100_000)),
    warmup: v.warmup === undefined ? -1 : int(v.warmup, 'warmup', 0),
    sources: parseSources(v.source),
  };
  return { opts, out: v.out };
}

async function main(): Promise<void> {
  const parsed = parseOrExit('logins', HELP, optionsFromArgs);
  if (!parsed) return;
  const { opts, out } = parsed;
  const result = await runLoginBench(opts);
  process.stdout.write(`${loginTable(result)}\n`);
  if (out !== undefined) writeJson(out, result);
  reportServerProblems(result.server.problems);
  if (result.rows.some((r) => r.failed > 0 || r.ok < r.attempted)) process.exitCode = 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    process.stderr.write(`logins: ${String((err as Error)?.stack ?? err)}\n`);
    process.exit(1);
  });
}
