// Login of a user with a roster and pending offline messages: connect -> (TLS) ->
// SASL -> bind -> roster get answered (time to roster) -> initial presence -> every
// stored message received (time to last offline message). Before each round another
// session (one of the contacts) sends the messages through the server while the
// user is offline, pings the server (its answer proves they were handled, and the
// offline module stores before it answers) and the spool is read to check that
// exactly those messages are stored. Rounds repeat R times; p50/p99 are reported.
//
//   node dist/bench/offline-login.js --spawn [--contacts 100] [--messages 100] [--rounds 20] [--tls starttls]
//
// Only --spawn is supported: the roster is written into the spool before start-up
// and the stored messages are checked by reading the spool.
import { parseArgs } from 'node:util';
import { rmSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { SaltedPasswordCache } from './client/scram.js';
import { attr } from './client/scanner.js';
import { chatMessage, serverPing } from './client/stanzas.js';
import { LoadSession, type SessionOptions, type TlsMode } from './client/session.js';
import { fmt, markdownTable, rounded, summarize, type Summary } from './lib/stats.js';
import { sleep, startCpuMeter } from './lib/proc.js';
import { createUsers, newBenchDir, spawnRohrpost, type BenchServer, type ServerProblems, finishServer } from './lib/server.js';
import { writeRosters } from './lib/rosters.js';
import { openStorage } from '../src/storage/index.js';
import { COMMON_HELP, COMMON_OPTIONS, UsageError, environment, int, note, parseTlsModes, writeJson, parseOrExit, reportServerProblems, type BenchBaseOptions } from './lib/args.js';

const OFFLINE_LIST = 'offline';

export interface OfflineLoginOptions extends BenchBaseOptions {
  tls: TlsMode;
  /** Contacts on the user's roster (subscription 'both'). */
  contacts: number;
  /** Offline messages waiting at each login. */
  messages: number;
  rounds: number;
  /** Unmeasured rounds first (the first login reads the user's files from disk). */
  warmup: number;
  /** How long one round may wait for its messages. */
  roundTimeoutMs: number;
}

export interface RoundRow {
  round: number;
  authenticatedMs: number;
  boundMs: number;
  rosterMs: number;
  rosterItems: number;
  lastOfflineMs: number;
  received: number;
  /** Time to fill the store through the server (send, ping answered, spool checked). */
  fillMs: number;
}

export interface OfflineLoginResult {
  benchmark: 'offline-login';
  environment: Record<string, unknown>;
  settings: Record<string, unknown>;
  server: { spawned: true; pid?: number; problems?: ServerProblems };
  rounds: RoundRow[];
  summary: { authenticatedMs: Summary; boundMs: Summary; rosterMs: Summary; lastOfflineMs: Summary };
  serverCpuMsPerLogin: number | null;
  otherLoad: number | null;
}

export const DEFAULT_OFFLINE_LOGIN_OPTIONS: OfflineLoginOptions = {
  domain: 'localhost', password: 'bench-secret', tls: 'none', contacts: 100, messages: 100, rounds: 20, warmup: 1,
  roundTimeoutMs: 30_000, timeoutMs: 600_000, iterations: 10_000, serverLogLevel: 'info', log: note,
};

const USER = 'offline-user';
const contactName = (i: number) => `offline-contact${i}`;

export async function runOfflineLoginBench(opts: OfflineLoginOptions): Promise<OfflineLoginResult> {
  if (opts.contacts < 1) throw new UsageError('--contacts must be at least 1 (a contact sends the messages)');
  const deadline = performance.now() + opts.timeoutMs;
  const remaining = () => Math.max(0, deadline - performance.now());
  const result: OfflineLoginResult = {
    benchmark: 'offline-login',
    environment: environment(),
    settings: { contacts: opts.contacts, messages: opts.messages, rounds: opts.rounds, warmup: opts.warmup, tls: opts.tls },
    server: { spawned: true },
    rounds: [],
    summary: { authenticatedMs: summarize([]), boundMs: summarize([]), rosterMs: summarize([]), lastOfflineMs: summarize([]) },
    serverCpuMsPerLogin: null,
    otherLoad: null,
  };
  const dir = newBenchDir();
  let server: BenchServer | null = null;
  let sender: LoadSession | null = null;
  const checker = openStorage('spool', `${dir}/spool`, { cacheSize: 0 });
  try {
    const contacts = Array.from({ length: opts.contacts }, (_, i) => contactName(i));
    await createUsers(`${dir}/spool`, opts.domain, { prefix: USER, count: 1 }, opts.password, opts.iterations);
    await createUsers(`${dir}/spool`, opts.domain, { prefix: 'offline-contact', count: opts.contacts }, opts.password, opts.iterations);
    await writeRosters(`${dir}/spool`, opts.domain, [
      { user: `${USER}0`, contacts },
      ...contacts.map((c) => ({ user: c, contacts: [`${USER}0`] })),
    ]);
    server = await spawnRohrpost({ dir, domain: opts.domain, logLevel: opts.serverLogLevel });
    opts.log(`Rohrpost pid ${server.pid}; ${opts.contacts} contacts, ${opts.messages} messages, ${opts.rounds} rounds`);
    result.server.pid = server.pid;
    const port = opts.tls === 'direct' ? server.directTlsPort : server.starttlsPort;
    const cache = new SaltedPasswordCache();
    const base = (username: string, resource: string): SessionOptions => ({
      host: '127.0.0.1', port, domain: opts.domain, username, password: opts.password, mechanism: 'SCRAM-SHA-1',
      tls: opts.tls, resource, presence: true, timeoutMs: Math.min(opts.roundTimeoutMs, remaining()), scramCache: cache,
    });
    const user = `${USER}0`;
    const bare = `${user}@${opts.domain}`;

    // The sender: answers to its pings by id, and the user's unavailable presence by full JID.
    const pings = new Map<string, () => void>();
    const gone = new Map<string, () => void>();
    sender = await LoadSession.login({
      ...base(contactName(0), 'sender'),
      onStanza: (name, tag) => {
        if (name === 'iq') {
          const id = attr(tag, 'id');
          if (id) pings.get(id)?.();
        } else if (name === 'presence' && attr(tag, 'type') === 'unavailable') {
          const from = attr(tag, 'from');
          if (from) gone.get(from)?.();
        }
      },
    });
    const senderSession = sender;
    let pingCount = 0;
    const ping = () => new Promise<void>((resolve, reject) => {
      const id = `p${pingCount++}`;
      const t = setTimeout(() => { pings.delete(id); reject(new Error('the server did not answer a ping in time')); }, opts.roundTimeoutMs);
      pings.set(id, () => { clearTimeout(t); pings.delete(id); resolve(); });
      senderSession.send(serverPing(opts.domain, id));
    });
    const offline = checker.list(OFFLINE_LIST);

    const fill = async (round: number): Promise<number> => {
      const t0 = performance.now();
      for (let j = 0; j < opts.messages; j++) {
        senderSession.send(chatMessage(bare, `o${round}.${j}`, `offline message ${j} of round ${round}`));
      }
      await ping();
      const stored = await offline.readAll(opts.domain, user);
      const ids = stored.map((m) => m.attrs.id as string | undefined);
      const expected = Array.from({ length: opts.messages }, (_, j) => `o${round}.${j}`);
      if (ids.length !== expected.length || ids.some((id, j) => id !== expected[j])) {
        throw new Error(`round ${round}: expected ${opts.messages} stored messages of this round, found ${ids.length} ` +
          `(${ids.slice(0, 3).join(', ')}...)`);
      }
      return performance.now() - t0;
    };

    const login = async (round: number, fillMs: number): Promise<RoundRow> => {
      const prefix = `o${round}.`;
      let received = 0;
      let last = Number.NaN;
      let t0 = 0;
      let allIn!: () => void;
      const done = new Promise<void>((resolve) => { allIn = resolve; });
      if (opts.messages === 0) allIn();
      t0 = performance.now();
      // The sender (a contact) sees the user's unavailable presence once the server has
      // taken the session out of its registry; only then do new messages go to storage.
      // (Until then they are routed to the closed session: see the report.)
      let offlineSeen!: () => void;
      const unavailable = new Promise<void>((resolve) => { offlineSeen = resolve; });
      const full = `${bare}/round-${round}`;
      gone.set(full, offlineSeen);
      const session = await LoadSession.login({
        ...base(user, `round-${round}`), rosterGet: true,
        onStanza: (name, tag) => {
          if (name !== 'message' || !attr(tag, 'id')?.startsWith(prefix)) return;
          received++;
          if (received === opts.messages) {
            last = performance.now() - t0;
            allIn();
          }
        },
      });
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([done, new Promise<void>((r) => { timer = setTimeout(r, Math.min(opts.roundTimeoutMs, remaining())); })]);
      clearTimeout(timer);
      await session.close();
      await Promise.race([unavailable, sleep(Math.min(opts.roundTimeoutMs, remaining()))]);
      gone.delete(full);
      if (received !== opts.messages) throw new Error(`round ${round}: received ${received} of ${opts.messages} offline messages`);
      if (session.rosterError) throw new Error(`round ${round}: roster get failed: ${session.rosterError}`);
      const t = session.timings;
      return {
        round, authenticatedMs: t.authenticated ?? Number.NaN, boundMs: t.bound ?? Number.NaN,
        rosterMs: t.roster ?? Number.NaN, rosterItems: session.rosterItems, lastOfflineMs: opts.messages === 0 ? t.ready! : last,
        received, fillMs,
      };
    };

    for (let w = 0; w < opts.warmup; w++) await login(-1 - w, await fill(-1 - w));
    const meter = startCpuMeter(server.pid);
    const t0 = performance.now();
    for (let r = 0; r < opts.rounds; r++) {
      if (remaining() < 1000) break;
      const fillMs = await fill(r);
      const row = await login(r, fillMs);
      if (row.rosterItems !== opts.contacts) throw new Error(`round ${r}: the roster held ${row.rosterItems} items, not ${opts.contacts}`);
      result.rounds.push(row);
    }
    const cpu = meter.stop(performance.now() - t0);
    // Includes the sender's fills: an upper bound of the login's own cost.
    result.serverCpuMsPerLogin = cpu.serverMs === null || result.rounds.length === 0 ? null : cpu.serverMs / result.rounds.length;
    result.otherLoad = cpu.otherLoad;
    const pick = (f: (r: RoundRow) => number) => summarize(result.rounds.map(f));
    result.summary = {
      authenticatedMs: pick((r) => r.authenticatedMs), boundMs: pick((r) => r.boundMs),
      rosterMs: pick((r) => r.rosterMs), lastOfflineMs: pick((r) => r.lastOfflineMs),
    };
  } finally {
    if (sender) await sender.close();
    await checker.close();
    // The server answers </stream:stream> before its session/closed handlers finish;
    // stopping it at once can catch them with the storage already closed.
    if (server) await sleep(300);
    if (server) {
      result.server.problems = await finishServer(server, opts.log);
    } else {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return rounded(result);
}

export function offlineLoginTable(result: OfflineLoginResult): string {
  const s = result.summary;
  const row = (what: string, m: Summary) => [what, String(m.count), fmt(m.p50, 2), fmt(m.p99, 2), fmt(m.max, 2)];
  return markdownTable(['from connect until', 'rounds', 'p50 ms', 'p99 ms', 'max ms'], [
    row('authenticated', s.authenticatedMs), row('bound', s.boundMs),
    row(`roster result (${result.settings.contacts} items)`, s.rosterMs),
    row(`last of ${result.settings.messages} offline messages`, s.lastOfflineMs),
  ]);
}

const HELP = `Usage: node dist/bench/offline-login.js --spawn [options]
Login of a user with a roster and stored offline messages, repeated.
  --contacts N             roster size (default 100)
  --messages N             offline messages per login (default 100)
  --rounds R               measured logins (default 20)
  --warmup N               unmeasured logins first (default 1)
  --round-timeout MS       one round's limit (default 30000)
  --spawn                  required: start a temporary Rohrpost
  --tls MODE               none (default), starttls or direct
  --domain, --password, --out, --timeout S (default 600), --iterations, --server-log-level as below
${COMMON_HELP}`;

function optionsFromArgs(argv: string[]): { opts: OfflineLoginOptions; out?: string } | null {
  const { values: v } = parseArgs({
    args: argv, strict: true, allowPositionals: false,
    options: {
      ...COMMON_OPTIONS,
      contacts: { type: 'string', default: '100' },
      messages: { type: 'string', default: '100' },
      rounds: { type: 'string', default: '20' },
      warmup: { type: 'string', default: '1' },
      'round-timeout': { type: 'string', default: '30000' },
    },
  });
  if (v.help) return null;
  if (!v.spawn) throw new UsageError('only --spawn is supported (the roster is written into the spool before start-up)');
  const tlsModes = parseTlsModes(v.tls, ['none']);
  if (tlsModes.length !== 1) throw new UsageError('--tls takes one mode here');
  const opts: OfflineLoginOptions = {
    ...DEFAULT_OFFLINE_LOGIN_OPTIONS,
    domain: v.domain, password: v.password, tls: tlsModes[0]!,
    contacts: int(v.contacts, 'contacts', 1, 1000), messages: int(v.messages, 'messages', 0, 1000),
    rounds: int(v.rounds, 'rounds', 1, 10_000), warmup: int(v.warmup, 'warmup', 0, 100),
    roundTimeoutMs: int(v['round-timeout'], 'round-timeout', 100),
    timeoutMs: (v.timeout === undefined ? 600 : int(v.timeout, 'timeout', 1)) * 1000,
    iterations: int(v.iterations, 'iterations', 4096, 10_000_000),
    serverLogLevel: v['server-log-level'],
  };
  return { opts, out: v.out };
}

async function main(): Promise<void> {
  const parsed = parseOrExit('offline-login', HELP, optionsFromArgs);
  if (!parsed) return;
  const result = await runOfflineLoginBench(parsed.opts);
  process.stdout.write(`${offlineLoginTable(result)}\n\nserver CPU per login (fill included): ` +
    `${fmt(result.serverCpuMsPerLogin ?? Number.NaN, 1)} ms; other load ` +
    `${result.otherLoad === null ? '?' : `${fmt(result.otherLoad * 100, 0)}%`}\n`);
  if (parsed.out !== undefined) writeJson(parsed.out, result);
  reportServerProblems(result.server.problems);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    process.stderr.write(`offline-login: ${String((err as Error)?.stack ?? err)}\n`);
    process.exit(1);
  });
}
