// Side-by-side benchmark of Rohrpost, Prosody and ejabberd on this machine. Each
// server is started in turn on 127.0.0.1 with a temporary configuration made as equal
// as the servers allow (plaintext c2s with SASL allowed, SCRAM stored keys, no rate
// limits or shapers, no stream management, no archive, log level warn), the same
// accounts are created with each server's own means, and the same scenarios run
// against it with the project's load generator (bench/logins.ts, bench/memory.ts,
// bench/messages.ts). Server and load generator are pinned to different CPUs with
// taskset where there are two or more. Writes bench/results/<date>.md and .json.
//
//   node dist/bench/compare.js [--scenarios logins,memory,messages] [--sessions N] [--servers rohrpost,prosody,ejabberd]
import { parseArgs } from 'node:util';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DEFAULT_LOGIN_OPTIONS, runLoginBench, type LoginBenchResult } from './logins.js';
import { DEFAULT_MEMORY_OPTIONS, checkOpenFiles, runMemoryBench, type MemoryBenchResult } from './memory.js';
import { DEFAULT_MESSAGE_OPTIONS, runMessageBench, type MessageBenchResult } from './messages.js';
import { createUsers, newBenchDir, spawnRohrpost } from './lib/server.js';
import { UsageError, environment, int, note, parseOrExit } from './lib/args.js';
import { fmt, markdownTable, rounded } from './lib/stats.js';
import { statusKiB } from './lib/proc.js';
import { freePort, hasCommand, pin, type PeerOptions, type PeerServer } from './peers/common.js';
import { startProsody } from './peers/prosody.js';
import { startEjabberd } from './peers/ejabberd.js';

const SERVERS = ['rohrpost', 'prosody', 'ejabberd'] as const;
type ServerName = (typeof SERVERS)[number];
const SCENARIOS = ['logins', 'memory', 'messages'] as const;
type Scenario = (typeof SCENARIOS)[number];
/** PBKDF2 iterations of the stored SCRAM keys: Prosody's fixed count, set on Rohrpost too. */
const ITERATIONS = 10_000;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface CompareOptions {
  servers: ServerName[];
  scenarios: Scenario[];
  /** Idle sessions of the memory scenario. */
  sessions: number;
  /** Logins per phase (one at a time, then 100 in flight). */
  logins: number;
  /** Online sessions of the message scenario, and its offered rates. */
  messageSessions: number;
  rates: number[];
  stepMs: number;
  /** Time budget of each scenario on each server, in ms. */
  scenarioTimeoutMs: number;
  outDir: string;
  domain: string;
  password: string;
  log(msg: string): void;
}

interface ServerRun {
  server: ServerName;
  available: boolean;
  /** Why it did not run (not installed, failed to start). */
  error?: string;
  pid?: number;
  pinnedTo?: string;
  userCreation?: string;
  idleRssKiB?: number | null;
  logins?: LoginBenchResult | { error: string };
  memory?: MemoryBenchResult | { error: string };
  messages?: MessageBenchResult | { error: string };
  logSamples?: string[];
}

interface Cell { value: number | null; text: string }
interface Row { metric: string; better: 'higher' | 'lower'; cells: Record<ServerName, Cell> }

const TOOL: Record<ServerName, string | null> = { rohrpost: null, prosody: 'prosody', ejabberd: 'ejabberdctl' };

/** Starts Rohrpost on a fresh spool with the accounts written into it. */
async function startRohrpostPeer(opts: PeerOptions): Promise<PeerServer> {
  const dir = newBenchDir();
  try {
    const made = await createUsers(join(dir, 'spool'), opts.domain, opts.users, opts.password, ITERATIONS);
    const userCreation = `accounts written into the spool (bench/lib/server.ts createUsers, one shared PBKDF2 derivation): ` +
      `${made.created} in ${(made.ms / 1000).toFixed(1)} s`;
    opts.log(userCreation);
    // At log level warn the start-up line with the ports is not logged: a fixed free port, ready when it accepts.
    const port = await freePort();
    const s = await spawnRohrpost({
      dir, domain: opts.domain, logLevel: 'warn', readyPort: port,
      sets: [`auth.scram_iterations=${ITERATIONS}`, `c2s.starttls.port=${port}`],
    });
    if (opts.cpus) pin(s.pid, opts.cpus);
    return {
      name: 'rohrpost', pid: s.pid, port: s.starttlsPort, domain: opts.domain, userCreation,
      get logSamples() { return s.problems.samples; },
      async stop() { await s.stop(); s.cleanup(); },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

const STARTERS: Record<ServerName, (o: PeerOptions) => Promise<PeerServer>> = {
  rohrpost: startRohrpostPeer, prosody: startProsody, ejabberd: startEjabberd,
};

export async function runCompare(opts: CompareOptions): Promise<{ runs: ServerRun[]; pinning: string }> {
  const needed = Math.max(opts.scenarios.includes('memory') ? opts.sessions : 0,
    opts.scenarios.includes('messages') ? opts.messageSessions : 0, opts.scenarios.includes('logins') ? opts.logins : 0, 2);
  checkOpenFiles(needed);
  const users = { prefix: 'bench', count: needed };
  // Load generator on CPU 0, servers on CPU 1 (when there are two CPUs and taskset).
  let serverCpus: string | undefined;
  let pinning = 'none (one CPU or no taskset)';
  if (availableParallelism() >= 2 && hasCommand('taskset') && pin(process.pid, '0')) {
    serverCpus = '1';
    pinning = 'load generator on CPU 0, server on CPU 1 (taskset)';
  }
  opts.log(`pinning: ${pinning}; ${users.count} accounts per server`);
  const runs: ServerRun[] = [];
  for (const name of opts.servers) {
    const run: ServerRun = { server: name, available: true };
    runs.push(run);
    const tool = TOOL[name];
    if (tool !== null && !hasCommand(tool)) {
      run.available = false;
      run.error = `not available (no ${tool} on PATH)`;
      opts.log(`${name}: ${run.error}`);
      continue;
    }
    opts.log(`== ${name}: starting`);
    let server: PeerServer;
    try {
      server = await STARTERS[name]({ domain: opts.domain, users, password: opts.password, cpus: serverCpus, log: opts.log, startTimeoutMs: 300_000 });
    } catch (err) {
      run.error = `failed to start: ${(err as Error).message}`.slice(0, 1000);
      opts.log(`${name}: ${run.error}`);
      continue;
    }
    run.pid = server.pid;
    run.pinnedTo = serverCpus;
    run.userCreation = server.userCreation;
    run.idleRssKiB = statusKiB(server.pid, 'VmRSS');
    opts.log(`${name}: pid ${server.pid}, port ${server.port}, RSS ${run.idleRssKiB} KiB`);
    const target = { spawn: false, host: '127.0.0.1', port: server.port, pid: server.pid, domain: opts.domain, password: opts.password, log: opts.log };
    try {
      // Memory first, on the freshly started server; then logins; then messages.
      for (const sc of ['memory', 'logins', 'messages'] as const) {
        if (!opts.scenarios.includes(sc)) continue;
        opts.log(`-- ${name}: ${sc}`);
        try {
          if (sc === 'memory') {
            run.memory = await runMemoryBench({
              ...DEFAULT_MEMORY_OPTIONS, ...target, tlsModes: ['none'], sessions: opts.sessions,
              users: { prefix: users.prefix, count: opts.sessions }, timeoutMs: opts.scenarioTimeoutMs,
            });
          } else if (sc === 'logins') {
            run.logins = await runLoginBench({
              ...DEFAULT_LOGIN_OPTIONS, ...target, tlsModes: ['none'], mechanisms: ['SCRAM-SHA-1'], count: opts.logins,
              concurrencies: [1, 100], users: { prefix: users.prefix, count: opts.logins }, timeoutMs: opts.scenarioTimeoutMs,
            });
          } else {
            run.messages = await runMessageBench({
              ...DEFAULT_MESSAGE_OPTIONS, ...target, sessions: opts.messageSessions, rates: opts.rates, stepMs: opts.stepMs,
              users: { prefix: users.prefix, count: opts.messageSessions }, timeoutMs: opts.scenarioTimeoutMs,
            });
          }
        } catch (err) {
          run[sc] = { error: String((err as Error).message ?? err).slice(0, 500) };
          opts.log(`${name} ${sc}: ${run[sc]!.error}`);
        }
      }
    } finally {
      opts.log(`${name}: stopping`);
      await server.stop();
      run.logSamples = server.logSamples.slice(0, 10);
    }
  }
  return { runs, pinning };
}

// ---- the table -------------------------------------------------------------

function failedOf<T extends object>(r: T | { error: string } | undefined): string | null {
  if (r === undefined) return 'not run';
  if ('error' in r) return `error: ${r.error.slice(0, 80)}`;
  return null;
}

export function buildRows(runs: ServerRun[], opts: Pick<CompareOptions, 'scenarios' | 'rates' | 'sessions' | 'logins' | 'messageSessions'>): Row[] {
  const rows: Row[] = [];
  const add = (metric: string, better: Row['better'], get: (r: ServerRun) => Cell) => {
    const cells = {} as Record<ServerName, Cell>;
    for (const s of SERVERS) {
      const r = runs.find((x) => x.server === s);
      cells[s] = !r ? { value: null, text: 'not selected' }
        : !r.available ? { value: null, text: 'not available' }
        : r.error ? { value: null, text: 'did not start' }
        : get(r);
    }
    rows.push({ metric, better, cells });
  };
  const num = (v: number | null | undefined, d: number, extra = ''): Cell =>
    v === null || v === undefined || !Number.isFinite(v) ? { value: null, text: '–' } : { value: v, text: `${fmt(v, d)}${extra}` };
  add('RSS after start, accounts created (MiB)', 'lower', (r) => num(r.idleRssKiB == null ? null : r.idleRssKiB / 1024, 1));

  if (opts.scenarios.includes('memory')) {
    const mem = (r: ServerRun, f: (row: MemoryBenchResult['rows'][number]) => Cell): Cell => {
      const bad = failedOf(r.memory);
      if (bad) return { value: null, text: bad };
      const row = (r.memory as MemoryBenchResult).rows[0];
      if (!row) return { value: null, text: 'no result' };
      const c = f(row);
      return row.alive < row.sessions ? { value: c.value, text: `${c.text} (${row.alive}/${row.sessions} alive)` } : c;
    };
    add(`Memory: KiB per idle session (${opts.sessions} sessions)`, 'lower', (r) => mem(r, (x) => num(x.perSessionKiB, 1)));
    add(`Memory: RSS with ${opts.sessions} idle sessions (MiB)`, 'lower', (r) => mem(r, (x) => num(x.rssAfterKiB == null ? null : x.rssAfterKiB / 1024, 1)));
  }
  if (opts.scenarios.includes('logins')) {
    for (const c of [1, 100]) {
      const lg = (r: ServerRun, f: (row: LoginBenchResult['rows'][number]) => Cell): Cell => {
        const bad = failedOf(r.logins);
        if (bad) return { value: null, text: bad };
        const row = (r.logins as LoginBenchResult).rows.find((x) => x.concurrency === c);
        if (!row) return { value: null, text: 'no result' };
        const cell = f(row);
        return row.failed > 0 || row.ok < opts.logins ? { value: cell.value, text: `${cell.text} (${row.ok}/${opts.logins} ok)` } : cell;
      };
      const label = c === 1 ? 'one at a time' : `${c} in flight`;
      add(`Logins SCRAM-SHA-1, ${label}: logins/s`, 'higher', (r) => lg(r, (x) => num(x.loginsPerSecond, 0)));
      add(`Logins SCRAM-SHA-1, ${label}: p50 ms`, 'lower', (r) => lg(r, (x) => num(x.latencyMs.p50, 2)));
      add(`Logins SCRAM-SHA-1, ${label}: p99 ms`, 'lower', (r) => lg(r, (x) => num(x.latencyMs.p99, 2)));
      add(`Logins SCRAM-SHA-1, ${label}: server CPU ms/login`, 'lower', (r) => lg(r, (x) => num(x.serverCpuMsPerLogin, 2)));
    }
  }
  if (opts.scenarios.includes('messages')) {
    for (const rate of opts.rates) {
      const msg = (r: ServerRun, f: (row: MessageBenchResult['steps'][number]) => Cell): Cell => {
        const bad = failedOf(r.messages);
        if (bad) return { value: null, text: bad };
        const m = r.messages as MessageBenchResult;
        const row = m.steps.find((x) => x.offeredPerSecond === rate);
        if (!row) return { value: null, text: `not reached (stopped by ${m.stoppedBy})` };
        const cell = f(row);
        return row.lost > 0 ? { value: cell.value, text: `${cell.text} (${row.lost} lost)` } : cell;
      };
      const label = `Messages, ${opts.messageSessions} sessions, ${rate}/s offered`;
      add(`${label}: delivered/s`, 'higher', (r) => msg(r, (x) => num(x.deliveredPerSecond, 0)));
      add(`${label}: p50 ms`, 'lower', (r) => msg(r, (x) => num(x.latencyMs.p50, 2)));
      add(`${label}: p99 ms`, 'lower', (r) => msg(r, (x) => num(x.latencyMs.p99, 2)));
      add(`${label}: server CPU ms/1k msgs`, 'lower', (r) => msg(r, (x) => num(x.serverCpuMsPer1000, 1)));
    }
  }
  return rows;
}

function ratio(a: Cell, b: Cell): string {
  return a.value !== null && b.value !== null && b.value !== 0 ? `${fmt(a.value / b.value, 2)}×` : '–';
}

export function compareTable(rows: Row[]): string {
  return markdownTable(
    ['Figure', 'Rohrpost', 'Prosody 0.12', 'ejabberd 23.01', 'Rohrpost/Prosody', 'Rohrpost/ejabberd'],
    rows.map((r) => [r.metric, r.cells.rohrpost.text, r.cells.prosody.text, r.cells.ejabberd.text,
      ratio(r.cells.rohrpost, r.cells.prosody), ratio(r.cells.rohrpost, r.cells.ejabberd)]),
  );
}

/** The largest share of the machine other processes used during any measured phase. */
function otherLoad(run: ServerRun): number | null {
  const vals: number[] = [];
  const l = run.logins;
  if (l && !('error' in l)) for (const r of l.rows) if (r.otherLoad !== null) vals.push(r.otherLoad);
  const m = run.messages;
  if (m && !('error' in m)) for (const s of m.steps) if (s.otherLoad !== null) vals.push(s.otherLoad);
  return vals.length ? Math.max(...vals) : null;
}

const EQUALISED = [
  'Plaintext c2s on 127.0.0.1, no TLS; SASL allowed without encryption (Rohrpost `c2s.require_encryption=false`, ' +
    '`c2s.allow_unencrypted_plain=true`; Prosody `c2s_require_encryption = false`, `allow_unencrypted_plain_auth = true`, ' +
    'no mod_tls; ejabberd `starttls: false`).',
  'Passwords stored as SCRAM keys: Rohrpost and Prosody with 10,000 PBKDF2 iterations (Rohrpost `auth.scram_iterations=10000`); ' +
    'ejabberd 23.01 (`auth_password_format: scram`, `auth_scram_hash: sha`) has no iteration setting and uses 4,096. ' +
    'The load generator caches the salted password per salt and count (as real clients do), so a SCRAM login costs ' +
    'the servers HMACs and hashes only; the iteration count does not enter the measured server cost.',
  'No rate limits or shapers: Rohrpost `limits.max_connections_per_ip=0` (its auth-failure throttle never triggers: no ' +
    'failures); Prosody without mod_limits; ejabberd `shaper: none` on the listener, no shaper rules, no mod_fail2ban, ' +
    '`backlog: 1024`.',
  'No stream management (no mod_smacks, no mod_stream_mgmt; Rohrpost has none), no message archive (no MAM anywhere).',
  'Log level warn (Rohrpost `log.level=warn`, Prosody `min = "warn"`, ejabberd `loglevel: warning`).',
  'Similar module sets (roster, disco, ping, version, private storage, vCard, blocking, carbons, offline); Prosody ' +
    'additionally has s2s disabled; ejabberd also runs mod_privacy, mod_last, mod_caps.',
];
const NOT_EQUALISED = [
  'ejabberd stores SCRAM keys with 4,096 iterations, not 10,000 (no setting in 23.01).',
  'Accounts are created differently: Rohrpost\'s written straight into its spool (one shared derivation, same salt for all), ' +
    'Prosody\'s with `prosodyctl register`, ejabberd\'s by in-band registration on its c2s port (`ejabberdctl register` ' +
    'takes ~0.6 s per account). ejabberd\'s accounts are created in the running server, so its first RSS figure includes them.',
  'Logins/s includes closing each stream politely (the client waits for the server\'s </stream:stream>, at most 2 s); ' +
    'login latency (p50/p99) is connect until bind only. A server that is slow to close lowers its logins/s one at a time.',
  'Runtimes differ: Rohrpost is one Node.js process, Prosody one Lua process (epoll), ejabberd an Erlang VM with its default ' +
    'schedulers, all pinned to the same single CPU. ejabberd keeps accounts in Mnesia (RAM + disc), Prosody and Rohrpost in files.',
  'One server instance per server runs all scenarios in the order memory, logins, messages; accounts have no roster contacts ' +
    '(messages go to full JIDs).',
];

export function report(runs: ServerRun[], pinning: string, opts: CompareOptions, command: string): { md: string; json: unknown } {
  const rows = buildRows(runs, opts);
  const env = environment();
  const lines = [
    `# Rohrpost vs Prosody vs ejabberd — ${String(env.date).slice(0, 10)}`,
    '',
    `Command: \`${command}\``,
    '',
    `Machine: ${env.cpus} × ${env.cpuModel}, ${env.memoryMiB} MiB, Node ${env.node}. Pinning: ${pinning}. ` +
      'The machine is shared with other work: treat the figures as rough, and compare only figures taken in the same run.',
    '',
    `Scenarios: memory — ${opts.sessions} idle sessions (SCRAM-SHA-1, bind, initial presence), RSS of the server process ` +
      `before and after; logins — ${opts.logins} SCRAM-SHA-1 logins one at a time, then ${opts.logins} with 100 in flight ` +
      `(after an unmeasured warm-up login per account; connect → SASL → bind → presence); messages — ${opts.messageSessions} ` +
      `online sessions in pairs, chat to full JIDs at ${opts.rates.join(', ')} msgs/s offered for ${opts.stepMs / 1000} s each ` +
      '(stepping stops at loss or p99 > 100 ms).',
    '',
    compareTable(rows),
    '',
    'Ratios are Rohrpost divided by the other server (for logins/s and delivered/s higher is better; for the rest lower is better).',
    '',
    '## Servers',
    '',
    ...runs.map((r) => `- ${r.server}: ${r.error ?? `pid ${r.pid}${r.pinnedTo ? ` on CPU ${r.pinnedTo}` : ''}; accounts: ${r.userCreation}`}` +
      `${otherLoad(r) !== null ? `; other load on the machine up to ${fmt(otherLoad(r)! * 100, 0)}% of all CPUs during a phase` : ''}`),
    '',
    '## Made equal',
    '',
    ...EQUALISED.map((s) => `- ${s}`),
    '',
    '## Not equal',
    '',
    ...NOT_EQUALISED.map((s) => `- ${s}`),
    '',
  ];
  return {
    md: lines.join('\n'),
    json: rounded({ benchmark: 'compare', environment: env, command, pinning, options: { ...opts, outDir: relative(ROOT, opts.outDir) || '.', log: undefined }, rows, runs }),
  };
}

// ---- command line ----------------------------------------------------------

const HELP = `Usage: node dist/bench/compare.js [options]
Runs the same scenarios against Rohrpost, Prosody and ejabberd, one after another, on 127.0.0.1.
  --scenarios LIST     logins, memory, messages (default all three)
  --servers LIST       rohrpost, prosody, ejabberd (default all three)
  --sessions N         idle sessions of the memory scenario (default 2000)
  --logins N           logins per login phase (default 500)
  --message-sessions N online sessions of the message scenario (default 1000, even)
  --rates LIST         offered msgs/s per message step (default 1000,4000)
  --step-ms MS         length of a message step (default 5000)
  --timeout S          time budget of each scenario on each server (default 180)
  --out-dir DIR        where <date>.md and <date>.json go (default bench/results)
The limit of open files (ulimit -n) must exceed the number of sessions.`;

function list<T extends string>(value: string, allowed: readonly T[], name: string): T[] {
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const i of items) if (!allowed.includes(i as T)) throw new UsageError(`--${name} takes ${allowed.join(', ')}; not '${i}'`);
  if (items.length === 0) throw new UsageError(`--${name} needs at least one item`);
  return [...new Set(items)] as T[];
}

function optionsFromArgs(argv: string[]): CompareOptions | null {
  const { values: v } = parseArgs({
    args: argv, strict: true, allowPositionals: false,
    options: {
      scenarios: { type: 'string', default: SCENARIOS.join(',') },
      servers: { type: 'string', default: SERVERS.join(',') },
      sessions: { type: 'string', default: '2000' },
      logins: { type: 'string', default: '500' },
      'message-sessions': { type: 'string', default: '1000' },
      rates: { type: 'string', default: '1000,4000' },
      'step-ms': { type: 'string', default: '5000' },
      timeout: { type: 'string', default: '180' },
      'out-dir': { type: 'string', default: join(ROOT, 'bench', 'results') },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (v.help) return null;
  const messageSessions = int(v['message-sessions'], 'message-sessions', 2, 100_000);
  if (messageSessions % 2 !== 0) throw new UsageError('--message-sessions must be even');
  return {
    servers: list(v.servers, SERVERS, 'servers'),
    scenarios: list(v.scenarios, SCENARIOS, 'scenarios'),
    sessions: int(v.sessions, 'sessions', 1, 100_000),
    logins: int(v.logins, 'logins', 1, 100_000),
    messageSessions,
    rates: v.rates.split(',').map((r) => int(r.trim(), 'rates', 1, 1_000_000)),
    stepMs: int(v['step-ms'], 'step-ms', 100, 600_000),
    scenarioTimeoutMs: int(v.timeout, 'timeout', 1, 3600) * 1000,
    outDir: v['out-dir'], domain: 'localhost', password: 'bench-secret', log: note,
  };
}

async function main(): Promise<void> {
  const opts = parseOrExit('compare', HELP, optionsFromArgs);
  if (!opts) return;
  const command = `node dist/bench/compare.js ${process.argv.slice(2).join(' ')}`.trim();
  const { runs, pinning } = await runCompare(opts);
  const { md, json } = report(runs, pinning, opts, command);
  mkdirSync(opts.outDir, { recursive: true });
  const date = new Date().toISOString().slice(0, 10);
  writeFileSync(join(opts.outDir, `${date}.md`), md);
  writeFileSync(join(opts.outDir, `${date}.json`), JSON.stringify(json, null, 2) + '\n');
  process.stdout.write(`${md}\n`);
  note(`written: ${join(opts.outDir, `${date}.md`)} and .json`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    process.stderr.write(`compare: ${String((err as Error)?.stack ?? err)}\n`);
    process.exit(1);
  });
}
