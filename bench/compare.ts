// Side-by-side benchmark of Rohrpost, Prosody and ejabberd on this machine. Each
// server is started in turn on 127.0.0.1 with a temporary configuration made as equal
// as the servers allow (plaintext c2s with SASL allowed, SCRAM stored keys, no rate
// limits or shapers, no stream management, no archive, log level warn), the same
// accounts are created with each server's own means, and the same scenarios run
// against it with the project's load generator (bench/logins.ts, bench/memory.ts,
// bench/messages.ts, bench/presence.ts with --seed wire). The scenarios that need a
// Rohrpost of their own (bench/muc.ts, bench/offline-store.ts, bench/offline-login.ts)
// run for Rohrpost only, on a Rohrpost they spawn; for the peers they are marked as
// not run, with the reason. Server and load generator are pinned to different CPUs
// with taskset where there are two or more. Writes bench/results/<date>.md and .json.
//
//   node dist/bench/compare.js [--scenarios memory,logins,messages,presence,muc] [--sessions N] [--servers rohrpost,prosody,ejabberd]
import { parseArgs } from 'node:util';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DEFAULT_LOGIN_OPTIONS, runLoginBench, type LoginBenchResult } from './logins.js';
import { DEFAULT_MEMORY_OPTIONS, checkOpenFiles, runMemoryBench, type MemoryBenchResult } from './memory.js';
import { DEFAULT_MESSAGE_OPTIONS, runMessageBench, type MessageBenchResult } from './messages.js';
import { DEFAULT_PRESENCE_OPTIONS, runPresenceBench, type PresenceBenchResult } from './presence.js';
import { DEFAULT_MUC_OPTIONS, runMucRoomBench, type MucScenarioResult } from './muc.js';
import { DEFAULT_OFFLINE_STORE_OPTIONS, runOfflineStoreBench, type OfflineStoreResult } from './offline-store.js';
import { DEFAULT_OFFLINE_LOGIN_OPTIONS, runOfflineLoginBench, type OfflineLoginResult } from './offline-login.js';
import { createUsers, newBenchDir, spawnDefaults, spawnRohrpost } from './lib/server.js';
import { UsageError, environment, int, note, parseOrExit } from './lib/args.js';
import { fmt, markdownTable, rounded } from './lib/stats.js';
import { statusKiB } from './lib/proc.js';
import { freePort, hasCommand, pin, type PeerOptions, type PeerServer } from './peers/common.js';
import { startProsody } from './peers/prosody.js';
import { startEjabberd } from './peers/ejabberd.js';

const SERVERS = ['rohrpost', 'prosody', 'ejabberd'] as const;
type ServerName = (typeof SERVERS)[number];
const SCENARIOS = ['memory', 'logins', 'messages', 'presence', 'muc', 'offline-store', 'offline-login'] as const;
type Scenario = (typeof SCENARIOS)[number];
/** Run against the server each server run starts, in this order (presence last: its seeding leaves rosters behind). */
const SHARED_SCENARIOS = ['memory', 'logins', 'messages', 'presence'] as const;
/** Scenarios that start a Rohrpost of their own; why the peers cannot run them. */
const ROHRPOST_ONLY = {
  muc: 'bench/muc.ts runs only against a Rohrpost it spawns itself (--spawn: it writes the occupants\' accounts ' +
    'into the spool and sets the room limits muc.max_users, muc.message_rate, muc.max_rooms_per_user)',
  'offline-store': 'bench/offline-store.ts checks every stored message by reading Rohrpost\'s spool (no equivalent for ' +
    'Prosody\'s or ejabberd\'s stores here)',
  'offline-login': 'bench/offline-login.ts fills the offline store through the server and checks it by reading ' +
    'Rohrpost\'s spool before each measured login',
} as const;
type RohrpostOnly = keyof typeof ROHRPOST_ONLY;
const SHORT_REASON: Record<RohrpostOnly, string> = {
  muc: 'not run: Rohrpost only (needs --spawn)',
  'offline-store': 'not run: Rohrpost only (reads its spool)',
  'offline-login': 'not run: Rohrpost only (reads its spool)',
};
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
  /** Presence: accounts in the roster ring, and contacts of each (subscribed over the wire on every server). */
  presenceCount: number;
  presenceContacts: number;
  /** MUC (Rohrpost only): occupants of the one room, and offered groupchat messages per second per step. */
  mucOccupants: number;
  mucRates: number[];
  /** Offline store (Rohrpost only): messages stored in all. */
  offlineMessages: number;
  /** Time budget of each scenario on each server, in ms. */
  scenarioTimeoutMs: number;
  outDir: string;
  domain: string;
  password: string;
  log(msg: string): void;
}

export interface ServerRun {
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
  presence?: PresenceBenchResult | { error: string };
  muc?: MucScenarioResult | { error: string };
  'offline-store'?: OfflineStoreResult | { error: string };
  'offline-login'?: OfflineLoginResult | { error: string };
  /** Scenarios chosen but not run against this server, and why. */
  notRun?: Partial<Record<Scenario, string>>;
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
    opts.scenarios.includes('messages') ? opts.messageSessions : 0, opts.scenarios.includes('logins') ? opts.logins : 0,
    opts.scenarios.includes('presence') ? opts.presenceCount : 0, 2);
  checkOpenFiles(Math.max(needed, opts.scenarios.includes('muc') ? opts.mucOccupants : 0));
  const users = { prefix: 'bench', count: needed };
  // Load generator on CPU 0, servers on CPU 1 (when there are two CPUs and taskset).
  let serverCpus: string | undefined;
  let pinning = 'none (one CPU or no taskset)';
  if (availableParallelism() >= 2 && hasCommand('taskset') && pin(process.pid, '0')) {
    serverCpus = '1';
    pinning = 'load generator on CPU 0, server on CPU 1 (taskset)';
    // The Rohrpost-only scenarios spawn their own server: pinned the same way.
    spawnDefaults.cpus = serverCpus;
  }
  opts.log(`pinning: ${pinning}; ${users.count} accounts per server`);
  const runs: ServerRun[] = [];
  for (const name of opts.servers) {
    const run: ServerRun = { server: name, available: true };
    runs.push(run);
    if (name !== 'rohrpost') {
      for (const sc of Object.keys(ROHRPOST_ONLY) as RohrpostOnly[]) {
        if (opts.scenarios.includes(sc)) (run.notRun ??= {})[sc] = `Rohrpost only: ${ROHRPOST_ONLY[sc]}`;
      }
    }
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
      // Memory first, on the freshly started server; then logins; then messages; presence last.
      for (const sc of SHARED_SCENARIOS) {
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
          } else if (sc === 'messages') {
            run.messages = await runMessageBench({
              ...DEFAULT_MESSAGE_OPTIONS, ...target, sessions: opts.messageSessions, rates: opts.rates, stepMs: opts.stepMs,
              users: { prefix: users.prefix, count: opts.messageSessions }, timeoutMs: opts.scenarioTimeoutMs,
            });
          } else {
            // Subscriptions over the wire on every server (Rohrpost too), so that all start alike.
            run.presence = await runPresenceBench({
              ...DEFAULT_PRESENCE_OPTIONS, ...target, seed: 'wire', count: opts.presenceCount, contacts: opts.presenceContacts,
              users: { prefix: users.prefix, count: opts.presenceCount }, timeoutMs: opts.scenarioTimeoutMs,
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
    if (name === 'rohrpost') await runRohrpostOnly(run, opts);
  }
  return { runs, pinning };
}

/** The scenarios that spawn a Rohrpost of their own, one after another (after the shared server has stopped). */
async function runRohrpostOnly(run: ServerRun, opts: CompareOptions): Promise<void> {
  // Log level info: a spawned Rohrpost is ready when it logs its start-up line at info.
  const common = { domain: opts.domain, password: opts.password, iterations: ITERATIONS, serverLogLevel: 'info', log: opts.log,
    timeoutMs: opts.scenarioTimeoutMs };
  for (const sc of Object.keys(ROHRPOST_ONLY) as RohrpostOnly[]) {
    if (!opts.scenarios.includes(sc)) continue;
    opts.log(`-- rohrpost: ${sc} (a Rohrpost of its own)`);
    try {
      if (sc === 'muc') {
        run.muc = await runMucRoomBench({
          ...DEFAULT_MUC_OPTIONS, ...common, users: { prefix: 'muc', count: opts.mucOccupants }, occupants: opts.mucOccupants,
          rates: opts.mucRates, stepMs: opts.stepMs,
        });
      } else if (sc === 'offline-store') {
        run['offline-store'] = await runOfflineStoreBench({ ...DEFAULT_OFFLINE_STORE_OPTIONS, ...common, messages: opts.offlineMessages });
      } else {
        run['offline-login'] = await runOfflineLoginBench({ ...DEFAULT_OFFLINE_LOGIN_OPTIONS, ...common });
      }
    } catch (err) {
      run[sc] = { error: String((err as Error).message ?? err).slice(0, 500) };
      opts.log(`rohrpost ${sc}: ${run[sc]!.error}`);
    }
  }
}

// ---- the table -------------------------------------------------------------

function failedOf<T extends object>(r: T | { error: string } | undefined): string | null {
  if (r === undefined) return 'not run';
  if ('error' in r) return `error: ${r.error.slice(0, 80)}`;
  return null;
}

export function buildRows(runs: ServerRun[], opts: Pick<CompareOptions, 'scenarios' | 'rates' | 'sessions' | 'logins' | 'messageSessions' |
  'presenceCount' | 'presenceContacts' | 'mucOccupants' | 'mucRates' | 'offlineMessages' | 'scenarioTimeoutMs'>): Row[] {
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
  if (opts.scenarios.includes('presence')) {
    const pr = (r: ServerRun, f: (p: PresenceBenchResult) => Cell): Cell => {
      const bad = failedOf(r.presence);
      if (bad) return { value: null, text: bad };
      const p = r.presence as PresenceBenchResult;
      if (p.phase2.ok === 0) {
        return { value: null, text: p.seed.ms >= opts.scenarioTimeoutMs * 0.9
          ? `not measured: seeding took ${fmt(p.seed.ms / 1000, 0)} s of the ${fmt(opts.scenarioTimeoutMs / 1000, 0)} s budget`
          : `not measured (phase 1: ${p.phase1.ok}/${p.phase1.target} online; stopped by ${p.phase2.stoppedBy})` };
      }
      const cell = f(p);
      return p.phase2.failed > 0 || p.lostPresences > 0
        ? { value: cell.value, text: `${cell.text} (${p.phase2.failed} failed, ${p.lostPresences} presences lost)` } : cell;
    };
    const label = `Presence, ${opts.presenceCount} accounts × ${opts.presenceContacts} contacts, 30% online`;
    add(`${label}: subscriptions seeded over the wire (s)`, 'lower', (r) => {
      const bad = failedOf(r.presence);
      return bad ? { value: null, text: bad } : num((r.presence as PresenceBenchResult).seed.ms / 1000, 1);
    });
    add(`${label}: login until all online contacts' presence, p50 ms`, 'lower', (r) => pr(r, (p) => num(p.phase2.summary.presencesMs.p50, 2)));
    add(`${label}: login until all online contacts' presence, p99 ms`, 'lower', (r) => pr(r, (p) => num(p.phase2.summary.presencesMs.p99, 2)));
    add(`${label}: presence stanzas delivered/s`, 'higher', (r) => pr(r, (p) => num(p.phase2.presencesPerSecond, 0)));
    add(`${label}: server CPU ms/1k presences`, 'lower', (r) => pr(r, (p) => num(p.phase2.serverCpuMsPer1000Presences, 1)));
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
  if (opts.scenarios.includes('muc')) {
    const mu = (r: ServerRun, f: (m: MucScenarioResult) => Cell): Cell => {
      const bad = r.notRun?.muc ? SHORT_REASON.muc : failedOf(r.muc);
      return bad ? { value: null, text: bad } : f(r.muc as MucScenarioResult);
    };
    const join = (m: MucScenarioResult, i: number, f: (j: MucScenarioResult['joins'][number]) => Cell): Cell => {
      const j = m.joins[i];
      if (!j) return { value: null, text: `not reached (stopped by ${m.stoppedBy})` };
      const cell = f(j);
      return j.failed > 0 ? { value: cell.value, text: `${cell.text} (${j.failed} failed)` } : cell;
    };
    const label = `MUC, one room of ${opts.mucOccupants}`;
    add(`${label}: last join, joins one at a time (ms)`, 'lower', (r) => mu(r, (m) => join(m, 0, (j) => num(j.lastJoinMs, 1))));
    add(`${label}: last join, ${DEFAULT_MUC_OPTIONS.joinConcurrency} in flight (ms)`, 'lower', (r) => mu(r, (m) => join(m, 1, (j) => num(j.lastJoinMs, 1))));
    add(`${label}: joins/s, ${DEFAULT_MUC_OPTIONS.joinConcurrency} in flight`, 'higher',
      (r) => mu(r, (m) => join(m, 1, (j) => num(j.totalMs > 0 ? j.joined / (j.totalMs / 1000) : null, 0))));
    for (const rate of opts.mucRates) {
      const step = (m: MucScenarioResult, f: (x: MucScenarioResult['steps'][number]) => Cell): Cell => {
        const x = m.steps.find((y) => y.offeredPerSecond === rate);
        if (!x) return { value: null, text: `not reached (stopped by ${m.stoppedBy})` };
        const cell = f(x);
        return x.lost > 0 ? { value: cell.value, text: `${cell.text} (${x.lost} lost)` } : cell;
      };
      add(`${label}: ${rate} msgs/s offered, deliveries/s`, 'higher', (r) => mu(r, (m) => step(m, (x) => num(x.deliveredPerSecond, 0))));
      add(`${label}: ${rate} msgs/s offered, p99 ms`, 'lower', (r) => mu(r, (m) => step(m, (x) => num(x.latencyMs.p99, 2))));
      add(`${label}: ${rate} msgs/s offered, server CPU ms/1k deliveries`, 'lower', (r) => mu(r, (m) => step(m, (x) => num(x.serverCpuMsPer1000, 1))));
    }
  }
  if (opts.scenarios.includes('offline-store')) {
    const os = (r: ServerRun, f: (o: OfflineStoreResult) => Cell): Cell => {
      const bad = r.notRun?.['offline-store'] ? SHORT_REASON['offline-store'] : failedOf(r['offline-store']);
      if (bad) return { value: null, text: bad };
      const o = r['offline-store'] as OfflineStoreResult;
      const cell = f(o);
      return o.verify.lost > 0 ? { value: cell.value, text: `${cell.text} (${o.verify.lost} lost)` } : cell;
    };
    const label = `Offline store, ${opts.offlineMessages} messages to ${DEFAULT_OFFLINE_STORE_OPTIONS.recipients} offline accounts`;
    add(`${label}: stored/s`, 'higher', (r) => os(r, (o) => num(o.storedPerSecond, 0)));
    add(`${label}: server CPU ms/1k msgs`, 'lower', (r) => os(r, (o) => num(o.serverCpuMsPer1000, 1)));
    add(`${label}: bytes per stored message`, 'lower', (r) => os(r, (o) => num(o.bytesPerMessage, 0)));
  }
  if (opts.scenarios.includes('offline-login')) {
    const ol = (r: ServerRun, f: (o: OfflineLoginResult) => Cell): Cell => {
      const bad = r.notRun?.['offline-login'] ? SHORT_REASON['offline-login'] : failedOf(r['offline-login']);
      return bad ? { value: null, text: bad } : f(r['offline-login'] as OfflineLoginResult);
    };
    const label = `Login with ${DEFAULT_OFFLINE_LOGIN_OPTIONS.messages} offline messages, ${DEFAULT_OFFLINE_LOGIN_OPTIONS.contacts} contacts`;
    add(`${label}: until the last offline message, p50 ms`, 'lower', (r) => ol(r, (o) => num(o.summary.lastOfflineMs.p50, 1)));
    add(`${label}: until the last offline message, p99 ms`, 'lower', (r) => ol(r, (o) => num(o.summary.lastOfflineMs.p99, 1)));
    add(`${label}: server CPU ms/login`, 'lower', (r) => ol(r, (o) => num(o.serverCpuMsPerLogin, 1)));
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
  const p = run.presence;
  if (p && !('error' in p) && p.phase2.otherLoad !== null) vals.push(p.phase2.otherLoad);
  const mu = run.muc;
  if (mu && !('error' in mu)) for (const x of [...mu.joins, ...mu.steps]) if (x.otherLoad !== null) vals.push(x.otherLoad);
  const os = run['offline-store'];
  if (os && !('error' in os) && os.otherLoad !== null) vals.push(os.otherLoad);
  const ol = run['offline-login'];
  if (ol && !('error' in ol) && ol.otherLoad !== null) vals.push(ol.otherLoad);
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
  'One server instance per server runs the shared scenarios in the order memory, logins, messages, presence; until presence ' +
    'seeds its rosters the accounts have no roster contacts (messages go to full JIDs).',
  'Presence: the roster ring is subscribed over the wire on every server (bench/lib/seed.ts: roster set, subscribe, ' +
    'subscribed both ways), Rohrpost included, so that all three start from rosters made the same way; the seeding time ' +
    'is in the table but is not the scenario\'s measured phase.',
  'The Rohrpost-only scenarios (MUC, offline store, offline login) run on a Rohrpost each of them starts itself, pinned ' +
    'like the others, at log level info (a spawned Rohrpost is ready when it logs its start-up line at info).',
];

/** Every chosen scenario a server did not run, with the reason (or its error). */
function notRunLines(runs: ServerRun[], opts: Pick<CompareOptions, 'scenarios' | 'servers'>): string[] {
  const out: string[] = [];
  for (const s of SERVERS) {
    if (!opts.servers.includes(s)) { out.push(`- ${s}: not selected (--servers)`); continue; }
    const r = runs.find((x) => x.server === s);
    if (!r) continue;
    if (r.error) { out.push(`- ${s}: none of the scenarios: ${r.error}`); continue; }
    for (const sc of opts.scenarios) {
      const reason = r.notRun?.[sc];
      const res = r[sc];
      if (reason) out.push(`- ${s}, ${sc}: ${reason}.`);
      else if (res === undefined) out.push(`- ${s}, ${sc}: not run (the run stopped before it).`);
      else if ('error' in res) out.push(`- ${s}, ${sc}: failed: ${res.error}`);
      else if (sc === 'presence' && (res as PresenceBenchResult).phase2.ok === 0) {
        const p = res as PresenceBenchResult;
        out.push(`- ${s}, presence: seeded (${fmt(p.seed.ms / 1000, 0)} s over the wire) but not measured: ` +
          `the scenario's time budget (--timeout) was used up before its logins (phase 1: ${p.phase1.ok}/${p.phase1.target} online).`);
      }
    }
  }
  return out.length > 0 ? out : ['- Every chosen scenario ran against every chosen server.'];
}

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
      '(stepping stops at loss or p99 > 100 ms)' +
      (opts.scenarios.includes('presence') ? `; presence — ${opts.presenceCount} accounts in a roster ring of ${opts.presenceContacts} ` +
        'contacts each (subscribed over the wire), 30% online, then up to 200 of the others log in one at a time (SCRAM-SHA-1, ' +
        'bind, roster get, initial presence) until the presence of every online contact has arrived' : '') +
      (opts.scenarios.includes('muc') ? `; MUC (Rohrpost only) — ${opts.mucOccupants} occupants join one room one at a time, ` +
        `then again ${DEFAULT_MUC_OPTIONS.joinConcurrency} in flight, then groupchat at ${opts.mucRates.join(', ')} msgs/s ` +
        `offered from ${DEFAULT_MUC_OPTIONS.senders} senders` : '') +
      (opts.scenarios.includes('offline-store') ? `; offline store (Rohrpost only) — ${DEFAULT_OFFLINE_STORE_OPTIONS.senders} ` +
        `senders store ${opts.offlineMessages} messages for offline accounts, flat out` : '') +
      (opts.scenarios.includes('offline-login') ? `; offline login (Rohrpost only) — ${DEFAULT_OFFLINE_LOGIN_OPTIONS.rounds} logins ` +
        `of a user with ${DEFAULT_OFFLINE_LOGIN_OPTIONS.messages} offline messages waiting` : '') + '.',
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
    '## Not run',
    '',
    ...notRunLines(runs, opts),
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
  --scenarios LIST     memory, logins, messages, presence, muc, offline-store, offline-login (default all);
                       muc, offline-store and offline-login run for Rohrpost only (on a Rohrpost of their own)
  --servers LIST       rohrpost, prosody, ejabberd (default all three)
  --sessions N         idle sessions of the memory scenario (default 2000)
  --logins N           logins per login phase (default 500)
  --message-sessions N online sessions of the message scenario (default 1000, even)
  --rates LIST         offered msgs/s per message step (default 1000,4000)
  --step-ms MS         length of a message step, and of a MUC step (default 5000)
  --presence-count N   accounts of the presence scenario's roster ring (default 300)
  --presence-contacts N  contacts of each (default 50; subscribed over the wire on every server)
  --muc-occupants N    occupants of the MUC room (default 1000)
  --muc-rates LIST     offered groupchat msgs/s per MUC step (default 5,10,20)
  --offline-messages N messages of the offline-store scenario (default 20000)
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
      'presence-count': { type: 'string', default: '300' },
      'presence-contacts': { type: 'string', default: '50' },
      'muc-occupants': { type: 'string', default: '1000' },
      'muc-rates': { type: 'string', default: '5,10,20' },
      'offline-messages': { type: 'string', default: '20000' },
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
    presenceCount: int(v['presence-count'], 'presence-count', 4, 100_000),
    presenceContacts: int(v['presence-contacts'], 'presence-contacts', 1, 10_000),
    mucOccupants: int(v['muc-occupants'], 'muc-occupants', 2, 100_000),
    mucRates: v['muc-rates'].split(',').map((r) => int(r.trim(), 'muc-rates', 1, 100_000)),
    offlineMessages: int(v['offline-messages'], 'offline-messages', 50, 10_000_000),
    scenarioTimeoutMs: int(v.timeout, 'timeout', 1, 3600) * 1000,
    outDir: v['out-dir'], domain: 'localhost', password: 'bench-secret', log: note,
  };
}

/** <date>, or <date>b, <date>c, ... when an earlier run of the day wrote its results already (they are kept). */
export function resultName(dir: string, date: string): string {
  for (let i = 0; i < 26; i++) {
    const name = i === 0 ? date : `${date}${String.fromCharCode(0x61 + i)}`;
    if (!existsSync(join(dir, `${name}.md`)) && !existsSync(join(dir, `${name}.json`))) return name;
  }
  return `${date}-${Date.now()}`;
}

async function main(): Promise<void> {
  const opts = parseOrExit('compare', HELP, optionsFromArgs);
  if (!opts) return;
  const command = `node dist/bench/compare.js ${process.argv.slice(2).join(' ')}`.trim();
  const { runs, pinning } = await runCompare(opts);
  const { md, json } = report(runs, pinning, opts, command);
  mkdirSync(opts.outDir, { recursive: true });
  const name = resultName(opts.outDir, new Date().toISOString().slice(0, 10));
  writeFileSync(join(opts.outDir, `${name}.md`), md);
  writeFileSync(join(opts.outDir, `${name}.json`), JSON.stringify(json, null, 2) + '\n');
  process.stdout.write(`${md}\n`);
  note(`written: ${join(opts.outDir, `${name}.md`)} and .json`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    process.stderr.write(`compare: ${String((err as Error)?.stack ?? err)}\n`);
    process.exit(1);
  });
}
