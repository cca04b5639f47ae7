// Multi-user chat (XEP-0045) load against a Rohrpost this benchmark spawns.
//
// 'room': one room filled with N occupants, first one join after another (each
// join timed from sending its presence to receiving its own status-110 presence),
// then a second room filled with a window of joins in flight. Then groupchat
// fan-out in the second room: a few occupants send at a rising offered rate; each
// message is reflected to every occupant, so one message is N deliveries.
// Stepping stops at the first step with loss, a p99 over the limit, or a rate
// this client could not offer.
//
// 'rooms': R rooms of M occupants each (R*M sessions, one room each) with steady
// traffic, each room getting a fixed number of messages per second.
//
//   node dist/bench/muc.js --spawn [--scenario room|rooms|both] [--occupants 1000] [--rates 5,10,20,50,100]
//                                  [--rooms 100] [--room-size 50] [--room-rates 2]
//
// Latency is from the send to each receipt, both timed in this process, which
// shares the machine with the server: its own pauses show up as latency too.
import { parseArgs } from 'node:util';
import { rmSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { closeAll, runLogins } from './client/runner.js';
import { SaltedPasswordCache } from './client/scram.js';
import { attr, childText } from './client/scanner.js';
import { escapeXml } from './client/stanzas.js';
import type { LoadSession } from './client/session.js';
import { fmt, markdownTable, rounded, summarize, type Summary } from './lib/stats.js';
import { sleep, startCpuMeter, statusKiB } from './lib/proc.js';
import { createUsers, newBenchDir, spawnRohrpost, userName, type BenchServer, type ServerProblems, type UserSet } from './lib/server.js';
import { checkOpenFiles } from './memory.js';
import { COMMON_HELP, COMMON_OPTIONS, UsageError, environment, int, note, parseUsers, writeJson, parseOrExit, reportServerProblems, type BenchBaseOptions } from './lib/args.js';

const NS_MUC = 'http://jabber.org/protocol/muc';
const NS_MUC_OWNER = 'http://jabber.org/protocol/muc#owner';
const NS_DATA = 'jabber:x:data';
/** How often the sender wakes up to send what is due. */
const TICK_MS = 2;
const SELF_CODE = /code=["']110["']/;
const CREATED_CODE = /code=["']201["']/;

export interface MucBenchOptions extends BenchBaseOptions {
  users: UserSet;
  loginConcurrency: number;
  loginTimeoutMs: number;
  /** One join's time limit. */
  joinTimeoutMs: number;
  /** Joins in flight in the windowed phases. */
  joinConcurrency: number;
  /** muc.message_rate for the server (per occupant per 10 s; 0 = no limit). */
  messageRate: number;
  // 'room'
  occupants: number;
  senders: number;
  /** Offered messages per second (whole room), one step each. */
  rates: number[];
  stepMs: number;
  drainMs: number;
  maxP99Ms: number;
  // 'rooms'
  rooms: number;
  roomSize: number;
  /** Messages per second per room, one steady step each. */
  roomRates: number[];
  roomStepMs: number;
}

export const DEFAULT_MUC_OPTIONS: MucBenchOptions = {
  domain: 'localhost', users: { prefix: 'muc', count: 5000 }, password: 'bench-secret', iterations: 10_000,
  loginConcurrency: 100, loginTimeoutMs: 60_000, joinTimeoutMs: 30_000, joinConcurrency: 50, timeoutMs: 900_000,
  serverLogLevel: 'info', messageRate: 100_000,
  occupants: 1000, senders: 5, rates: [5, 10, 20, 50, 100, 200], stepMs: 5000, drainMs: 5000, maxP99Ms: 200,
  rooms: 100, roomSize: 50, roomRates: [2], roomStepMs: 10_000,
  log: note,
};

export interface JoinPhase {
  room: string;
  /** Joins in flight at once. */
  concurrency: number;
  joined: number;
  failed: number;
  errors: Record<string, number>;
  totalMs: number;
  /** The join that was sent last: its latency, and how many occupants were in the room before it. */
  lastJoinMs: number;
  latencyMs: Summary;
  serverCpuMs: number | null;
  otherLoad: number | null;
}

export interface FanoutStep {
  offeredPerSecond: number;
  sent: number;
  sentPerSecond: number;
  /** Deliveries expected: each message times the occupants of its room. */
  expected: number;
  received: number;
  deliveredPerSecond: number;
  lost: number;
  duplicates: number;
  errors: number;
  latencyMs: Summary;
  serverCpuMsPer1000: number | null;
  otherLoad: number | null;
  alive: number;
  clientLoopDelayMs: { p99: number; max: number };
}

export interface MucScenarioResult {
  scenario: 'room' | 'rooms';
  environment: Record<string, unknown>;
  settings: Record<string, unknown>;
  server: {
    pid?: number; idleRssKiB?: number | null; peakRssKiB?: number | null; problems?: ServerProblems;
    /** How long the server took from SIGTERM to exit, and its exit code (null when it had to be killed). */
    stopMs?: number; exitCode?: number | null;
  };
  logins: { ok: number; failed: number; errors: Record<string, number>; elapsedMs: number };
  joins: JoinPhase[];
  steps: FanoutStep[];
  stoppedBy: string;
}

/** Receipts of one traffic step: message seq -> send time, deliveries by seq (bodies 'g<step>.<seq>'). */
class StepState {
  sendAt: Float64Array;
  counts: Uint32Array;
  latencies: number[] = [];
  received = 0;
  duplicates = 0;
  errors = 0;
  lastReceipt = 0;
  constructor(readonly index: number, capacity: number, readonly expectedOf: (seq: number) => number) {
    this.sendAt = new Float64Array(capacity);
    this.counts = new Uint32Array(capacity);
  }
  receipt(seq: number, now: number): void {
    if (!(seq >= 0 && seq < this.counts.length)) return;
    if (++this.counts[seq]! > this.expectedOf(seq)) {
      this.duplicates++;
      return;
    }
    this.received++;
    this.lastReceipt = now;
    this.latencies.push(now - this.sendAt[seq]!);
  }
}

interface PendingJoin {
  room: string;
  resolve(created: boolean): void;
  reject(err: Error): void;
}

/** The sessions of a run and what they are waiting for; one stanza handler for all. */
class MucClients {
  sessions: (LoadSession | undefined)[] = [];
  readonly joins = new Map<number, PendingJoin>();
  readonly iqs = new Map<string, (ok: boolean) => void>();
  step: StepState | null = null;
  constructor(readonly service: string) {}

  handler(i: number) {
    return (name: string, tag: string, xml: string) => {
      if (name === 'message') {
        const st = this.step;
        if (st === null) return;
        const now = performance.now();
        if (attr(tag, 'type') === 'error') { st.errors++; return; }
        const body = childText(xml, 'body');
        if (!body || body.charCodeAt(0) !== 0x67) return; // 'g'
        const dot = body.indexOf('.');
        if (Number(body.slice(1, dot)) !== st.index) return;
        st.receipt(Number(body.slice(dot + 1)), now);
      } else if (name === 'presence') {
        const pending = this.joins.get(i);
        if (!pending) return;
        const from = attr(tag, 'from') ?? '';
        if (!from.startsWith(`${pending.room}@`)) return;
        if (attr(tag, 'type') === 'error') {
          this.joins.delete(i);
          pending.reject(new Error(`join error: ${/<(\w[\w-]*) xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas/.exec(xml)?.[1] ?? 'unknown'}`));
        } else if (SELF_CODE.test(xml)) {
          this.joins.delete(i);
          pending.resolve(CREATED_CODE.test(xml));
        }
      } else if (name === 'iq') {
        const id = attr(tag, 'id');
        const done = id === undefined ? undefined : this.iqs.get(id);
        if (done) { this.iqs.delete(id!); done(attr(tag, 'type') === 'result'); }
      }
    };
  }

  /** Joins session i to a room as `nick`; unlocks the room when this join created it. Resolves with the join time. */
  async join(i: number, room: string, nick: string, timeoutMs: number): Promise<number> {
    const s = this.sessions[i];
    if (!s || s.state !== 'ready') throw new Error('session not ready');
    const roomJid = `${room}@${this.service}`;
    let timer: NodeJS.Timeout | undefined;
    const t0 = performance.now();
    try {
      const created = await new Promise<boolean>((resolve, reject) => {
        this.joins.set(i, { room, resolve, reject });
        timer = setTimeout(() => { this.joins.delete(i); reject(new Error('join timeout')); }, timeoutMs);
        s.send(`<presence to='${escapeXml(`${roomJid}/${nick}`)}'><x xmlns='${NS_MUC}'><history maxstanzas='0'/></x></presence>`);
      });
      const ms = performance.now() - t0;
      if (created) {
        const id = `unlock-${room}-${i}`;
        const ok = await new Promise<boolean>((resolve, reject) => {
          this.iqs.set(id, resolve);
          clearTimeout(timer);
          timer = setTimeout(() => { this.iqs.delete(id); reject(new Error('unlock timeout')); }, timeoutMs);
          s.send(`<iq type='set' to='${escapeXml(roomJid)}' id='${id}'><query xmlns='${NS_MUC_OWNER}'><x xmlns='${NS_DATA}' type='submit'/></query></iq>`);
        });
        if (!ok) throw new Error('unlock refused');
      }
      return ms;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Joins sessions `members` to `room`, `concurrency` at a time, in order. */
async function joinPhase(c: MucClients, room: string, members: number[], concurrency: number, opts: MucBenchOptions,
  pid: number, deadline: number): Promise<JoinPhase> {
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  let failed = 0;
  let lastJoinMs = Number.NaN;
  let next = 0;
  const meter = startCpuMeter(pid);
  const t0 = performance.now();
  const one = async (k: number): Promise<void> => {
    const i = members[k]!;
    try {
      const ms = await c.join(i, room, `n${i}`, opts.joinTimeoutMs);
      latencies.push(ms);
      if (k === members.length - 1) lastJoinMs = ms;
    } catch (err) {
      failed++;
      const reason = (err as Error).message;
      errors[reason] = (errors[reason] ?? 0) + 1;
    }
  };
  const slot = async () => {
    while (next < members.length && performance.now() < deadline) await one(next++);
  };
  // The first joiner creates the room, which stays locked until it is configured:
  // the others join only after that, as they could not enter before.
  await one(next++);
  await Promise.all(Array.from({ length: Math.min(concurrency, members.length) }, slot));
  const totalMs = performance.now() - t0;
  const cpu = meter.stop(totalMs);
  return {
    room, concurrency, joined: latencies.length, failed, errors, totalMs, lastJoinMs, latencyMs: summarize(latencies),
    serverCpuMs: cpu.serverMs, otherLoad: cpu.otherLoad,
  };
}

function logJoin(opts: MucBenchOptions, p: JoinPhase): void {
  opts.log(`join ${p.room} (${p.concurrency} in flight): ${p.joined} joined${p.failed ? `, ${p.failed} failed ${JSON.stringify(p.errors)}` : ''} ` +
    `in ${fmt(p.totalMs, 0)} ms; last join ${fmt(p.lastJoinMs, 1)} ms, p50 ${fmt(p.latencyMs.p50, 1)}, p99 ${fmt(p.latencyMs.p99, 1)}, ` +
    `max ${fmt(p.latencyMs.max, 1)} ms; server CPU ${fmt(p.serverCpuMs ?? Number.NaN, 0)} ms; other load ${pct(p.otherLoad)}`);
}

function pct(x: number | null): string {
  return x === null ? '?' : `${fmt(x * 100, 0)}%`;
}

/**
 * One traffic step: `rate` messages/s for stepMs, message seq sent by pick(seq), then
 * up to drainMs for the last deliveries.
 */
async function trafficStep(c: MucClients, k: number, rate: number, stepMs: number, drainMs: number, pid: number,
  pick: (seq: number) => { from: LoadSession; room: string } | undefined, expectedOf: (seq: number) => number,
  opts: MucBenchOptions): Promise<FanoutStep> {
  const capacity = Math.ceil((rate * stepMs) / 1000) + 1;
  const st = new StepState(k, capacity, expectedOf);
  c.step = st;
  const meter = startCpuMeter(pid);
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const t0 = performance.now();
  let sent = 0;
  let expected = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      const due = Math.min(capacity, Math.floor((rate * Math.min(now - t0, stepMs)) / 1000));
      while (sent < due) {
        const seq = sent;
        const target = pick(seq);
        if (!target) break;
        sent++;
        expected += expectedOf(seq);
        st.sendAt[seq] = performance.now();
        target.from.send(`<message to='${escapeXml(`${target.room}@${c.service}`)}' type='groupchat'><body>g${k}.${seq}</body></message>`);
      }
      if (now - t0 >= stepMs) resolve();
      else setTimeout(tick, TICK_MS);
    };
    tick();
  });
  const sendEnd = performance.now();
  const drainEnd = sendEnd + drainMs;
  while (st.received < expected && st.errors === 0 && performance.now() < drainEnd) await sleep(10);
  c.step = null;
  loop.disable();
  const elapsed = performance.now() - t0;
  const cpu = meter.stop(elapsed);
  const row: FanoutStep = {
    offeredPerSecond: rate, sent, sentPerSecond: sent / ((sendEnd - t0) / 1000), expected, received: st.received,
    deliveredPerSecond: st.received > 0 ? st.received / ((st.lastReceipt - t0) / 1000) : 0,
    lost: expected - st.received, duplicates: st.duplicates, errors: st.errors, latencyMs: summarize(st.latencies),
    serverCpuMsPer1000: cpu.serverMs === null || st.received === 0 ? null : (cpu.serverMs * 1000) / st.received,
    otherLoad: cpu.otherLoad,
    alive: c.sessions.filter((s) => s?.state === 'ready').length,
    clientLoopDelayMs: { p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 },
  };
  opts.log(`${rate} msgs/s: sent ${sent} (${fmt(row.sentPerSecond, 1)}/s), deliveries ${row.received}/${expected} ` +
    `(${fmt(row.deliveredPerSecond, 0)}/s), lost ${row.lost}, errors ${row.errors}, p50 ${fmt(row.latencyMs.p50, 1)} ms, ` +
    `p99 ${fmt(row.latencyMs.p99, 1)} ms, server CPU ms/1k deliveries ${fmt(row.serverCpuMsPer1000 ?? Number.NaN, 1)}, ` +
    `client loop delay max ${fmt(row.clientLoopDelayMs.max, 0)} ms, other load ${pct(row.otherLoad)}`);
  return row;
}

/** Spawns the server, creates the accounts and logs `count` sessions in. */
async function setUp(opts: MucBenchOptions, count: number, result: MucScenarioResult, c: MucClients,
  deadline: number): Promise<BenchServer> {
  checkOpenFiles(count);
  if (opts.users.count < count) throw new UsageError(`--users must have at least ${count} accounts`);
  const dir = newBenchDir();
  let server: BenchServer;
  try {
    const made = await createUsers(`${dir}/spool`, opts.domain, opts.users, opts.password, opts.iterations);
    opts.log(`created ${made.created} accounts in ${made.ms} ms`);
    server = await spawnRohrpost({
      dir, domain: opts.domain, logLevel: opts.serverLogLevel,
      sets: [`muc.max_users=${Math.max(2000, count)}`, `muc.message_rate=${opts.messageRate}`, 'muc.max_rooms_per_user=0'],
    });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  result.server.pid = server.pid;
  result.server.idleRssKiB = statusKiB(server.pid, 'VmRSS');
  opts.log(`Rohrpost pid ${server.pid}, port ${server.starttlsPort}`);
  const cache = new SaltedPasswordCache();
  const logins = await runLogins({
    count, concurrency: opts.loginConcurrency, deadlineMs: Math.max(0, deadline - performance.now()), keepOpen: true,
    session: (i) => ({
      host: '127.0.0.1', port: server.starttlsPort, domain: opts.domain, username: userName(opts.users, i),
      password: opts.password, mechanism: 'SCRAM-SHA-1', tls: 'none', resource: `muc-${i}`, presence: true,
      timeoutMs: opts.loginTimeoutMs, scramCache: cache, onStanza: c.handler(i),
    }),
  });
  // Sessions finish out of order: index them by their user number.
  c.sessions = new Array(count);
  for (const s of logins.sessions) {
    const local = s.jid.slice(0, s.jid.indexOf('@'));
    c.sessions[Number(local.slice(opts.users.prefix.length))] = s;
  }
  result.logins = { ok: logins.ok, failed: logins.failed, errors: logins.errors, elapsedMs: logins.elapsedMs };
  opts.log(`${logins.ok} sessions online in ${fmt(logins.elapsedMs, 0)} ms${logins.failed ? `; failures ${JSON.stringify(logins.errors)}` : ''}`);
  return server;
}

async function tearDown(server: BenchServer | null, c: MucClients, result: MucScenarioResult, opts: MucBenchOptions): Promise<void> {
  // Stopping the server first: it tells each occupant once that the room goes away,
  // where closing the clients first would have every leave broadcast to all who remain.
  if (server) {
    result.server.peakRssKiB = statusKiB(server.pid, 'VmHWM');
    const t0 = performance.now();
    const code = await server.stop();
    result.server.stopMs = performance.now() - t0;
    result.server.exitCode = code;
    result.server.problems = server.problems;
    // null: it did not finish its shutdown within 10 s of SIGTERM and was killed.
    if (code !== 0) opts.log(`Rohrpost exited with code ${code} after ${fmt(result.server.stopMs, 0)} ms`);
  }
  await closeAll(c.sessions.filter((s): s is LoadSession => s !== undefined), 200, 500);
  server?.cleanup();
}

function newResult(scenario: 'room' | 'rooms', settings: Record<string, unknown>): MucScenarioResult {
  return {
    scenario, environment: environment(), settings, server: {},
    logins: { ok: 0, failed: 0, errors: {}, elapsedMs: 0 }, joins: [], steps: [], stoppedBy: 'done',
  };
}

/** One big room: sequential joins, windowed joins, then fan-out at rising rates. */
export async function runMucRoomBench(opts: MucBenchOptions): Promise<MucScenarioResult> {
  const n = opts.occupants;
  if (n < 2) throw new UsageError('--occupants must be at least 2');
  const deadline = performance.now() + opts.timeoutMs;
  const result = newResult('room', {
    occupants: n, joinConcurrency: opts.joinConcurrency, senders: opts.senders, rates: opts.rates, stepMs: opts.stepMs,
    drainMs: opts.drainMs, maxP99Ms: opts.maxP99Ms, messageRate: opts.messageRate, tls: 'none',
  });
  const c = new MucClients(`conference.${opts.domain}`);
  let server: BenchServer | null = null;
  try {
    server = await setUp(opts, n, result, c, deadline);
    const members = c.sessions.flatMap((s, i) => (s ? [i] : []));
    const seq = await joinPhase(c, 'seq', members, 1, opts, server.pid, deadline);
    logJoin(opts, seq);
    result.joins.push(seq);
    const win = await joinPhase(c, 'win', members, opts.joinConcurrency, opts, server.pid, deadline);
    logJoin(opts, win);
    result.joins.push(win);
    if (win.joined < 1) throw new Error('nobody joined the room');
    await sleep(Math.min(1000, Math.max(0, deadline - performance.now())));
    const senders = members.slice(0, Math.max(1, Math.min(opts.senders, members.length)));
    const occupants = win.joined;
    for (let k = 0; k < opts.rates.length; k++) {
      if (deadline - performance.now() < opts.stepMs + opts.drainMs) { result.stoppedBy = 'time budget'; break; }
      const rate = opts.rates[k]!;
      const row = await trafficStep(c, k, rate, opts.stepMs, opts.drainMs, server.pid,
        (s) => ({ from: c.sessions[senders[s % senders.length]!]!, room: 'win' }), () => occupants, opts);
      result.steps.push(row);
      if (row.alive < members.length) { result.stoppedBy = 'sessions'; break; }
      if (row.lost > 0 || row.errors > 0) { result.stoppedBy = 'loss'; break; }
      if (row.latencyMs.p99 > opts.maxP99Ms) { result.stoppedBy = 'p99'; break; }
      if (row.sent < Math.floor((rate * opts.stepMs) / 1000) * 0.95) { result.stoppedBy = 'client'; break; }
      await sleep(Math.min(1000, Math.max(0, deadline - performance.now())));
    }
  } finally {
    await tearDown(server, c, result, opts);
  }
  return rounded(result);
}

/** Many rooms of a few occupants each, steady traffic in every room. */
export async function runMucRoomsBench(opts: MucBenchOptions): Promise<MucScenarioResult> {
  const { rooms, roomSize } = opts;
  if (rooms < 1 || roomSize < 1) throw new UsageError('--rooms and --room-size must be at least 1');
  const count = rooms * roomSize;
  const deadline = performance.now() + opts.timeoutMs;
  const result = newResult('rooms', {
    rooms, roomSize, sessions: count, joinConcurrency: opts.joinConcurrency, roomRates: opts.roomRates,
    stepMs: opts.roomStepMs, drainMs: opts.drainMs, messageRate: opts.messageRate, tls: 'none',
  });
  const c = new MucClients(`conference.${opts.domain}`);
  let server: BenchServer | null = null;
  try {
    server = await setUp(opts, count, result, c, deadline);
    // Session r*roomSize + j is occupant j of room r; the first of each creates and unlocks it.
    const roomOf = (i: number) => `r${Math.floor(i / roomSize)}`;
    const creators: number[] = [];
    const others: number[] = [];
    for (let i = 0; i < count; i++) if (c.sessions[i]) (i % roomSize === 0 ? creators : others).push(i);
    const joined: number[][] = Array.from({ length: rooms }, () => []);
    const phase = async (label: string, list: number[]) => {
      const latencies: number[] = [];
      const errors: Record<string, number> = {};
      let failed = 0;
      let next = 0;
      const meter = startCpuMeter(server!.pid);
      const t0 = performance.now();
      await Promise.all(Array.from({ length: Math.min(opts.joinConcurrency, list.length) }, async () => {
        while (next < list.length && performance.now() < deadline) {
          const i = list[next++]!;
          try {
            latencies.push(await c.join(i, roomOf(i), `n${i}`, opts.joinTimeoutMs));
            joined[Math.floor(i / roomSize)]!.push(i);
          } catch (err) {
            failed++;
            const reason = (err as Error).message;
            errors[reason] = (errors[reason] ?? 0) + 1;
          }
        }
      }));
      const totalMs = performance.now() - t0;
      const cpu = meter.stop(totalMs);
      const p: JoinPhase = {
        room: label, concurrency: opts.joinConcurrency, joined: latencies.length, failed, errors, totalMs,
        lastJoinMs: latencies[latencies.length - 1] ?? Number.NaN, latencyMs: summarize(latencies),
        serverCpuMs: cpu.serverMs, otherLoad: cpu.otherLoad,
      };
      logJoin(opts, p);
      result.joins.push(p);
    };
    await phase(`${rooms} rooms created`, creators);
    await phase(`rest of ${rooms} rooms`, others);
    const active = joined.map((m, r) => ({ r, m })).filter((x) => x.m.length > 0);
    if (active.length === 0) throw new Error('no room has occupants');
    await sleep(Math.min(1000, Math.max(0, deadline - performance.now())));
    for (let k = 0; k < opts.roomRates.length; k++) {
      if (deadline - performance.now() < opts.roomStepMs + opts.drainMs) { result.stoppedBy = 'time budget'; break; }
      const perRoom = opts.roomRates[k]!;
      // Message seq goes to room seq % rooms, from its occupants in turn.
      const row = await trafficStep(c, k, perRoom * active.length, opts.roomStepMs, opts.drainMs, server.pid,
        (s) => {
          const { r, m } = active[s % active.length]!;
          return { from: c.sessions[m[Math.floor(s / active.length) % m.length]!]!, room: `r${r}` };
        },
        (s) => active[s % active.length]!.m.length, opts);
      row.offeredPerSecond = perRoom * active.length;
      result.steps.push(row);
      if (row.alive < creators.length + others.length) { result.stoppedBy = 'sessions'; break; }
      await sleep(Math.min(1000, Math.max(0, deadline - performance.now())));
    }
  } finally {
    await tearDown(server, c, result, opts);
  }
  return rounded(result);
}

export function joinTable(r: MucScenarioResult): string {
  return markdownTable(
    ['phase', 'in flight', 'joined', 'failed', 'total ms', 'last join ms', 'p50 ms', 'p99 ms', 'max ms', 'server CPU ms', 'other load'],
    r.joins.map((p) => [p.room, String(p.concurrency), String(p.joined), String(p.failed), fmt(p.totalMs, 0), fmt(p.lastJoinMs, 1),
      fmt(p.latencyMs.p50, 1), fmt(p.latencyMs.p99, 1), fmt(p.latencyMs.max, 1), fmt(p.serverCpuMs ?? Number.NaN, 0), pct(p.otherLoad)]),
  );
}

export function trafficTable(r: MucScenarioResult): string {
  return markdownTable(
    ['offered msgs/s', 'sent', 'sent/s', 'deliveries', 'delivered/s', 'lost', 'errors', 'p50 ms', 'p99 ms', 'max ms',
      'server CPU ms/1k deliveries', 'client loop delay max ms', 'other load'],
    r.steps.map((s) => [String(s.offeredPerSecond), String(s.sent), fmt(s.sentPerSecond, 1), `${s.received}/${s.expected}`,
      fmt(s.deliveredPerSecond, 0), String(s.lost), String(s.errors), fmt(s.latencyMs.p50, 1), fmt(s.latencyMs.p99, 1),
      fmt(s.latencyMs.max, 1), fmt(s.serverCpuMsPer1000 ?? Number.NaN, 2), fmt(s.clientLoopDelayMs.max, 0), pct(s.otherLoad)]),
  );
}

const HELP = `Usage: node dist/bench/muc.js --spawn [options]
Multi-user chat: joins and groupchat fan-out against a Rohrpost it spawns (plaintext sessions).
  --scenario room|rooms|both  which scenario(s) to run (default both)
  --occupants N            'room': occupants of the one room (default 1000)
  --join-concurrency N     joins in flight in the windowed phases (default 50)
  --senders N              'room': occupants that send (default 5)
  --rates LIST             'room': offered msgs/s to the room, one step each (default 5,10,20,50,100,200)
  --step-ms MS             'room': how long each step sends (default 5000)
  --drain-ms MS            how long a step waits for the last deliveries (default 5000)
  --max-p99 MS             'room': stop after a step with a p99 above this (default 200)
  --rooms N                'rooms': number of rooms (default 100)
  --room-size N            'rooms': occupants per room (default 50)
  --room-rates LIST        'rooms': msgs/s per room, one steady step each (default 2)
  --room-step-ms MS        'rooms': how long each step sends (default 10000)
  --message-rate N         the server's muc.message_rate (default 100000; 0 = no limit)
  --join-timeout MS        one join's time limit (default 30000)
  --login-concurrency N    logins in flight (default 100)
${COMMON_HELP}
  (only --spawn is supported here; --tls is always none; --timeout applies to each scenario, default 900)`;

function optionsFromArgs(argv: string[]): { opts: MucBenchOptions; scenarios: Array<'room' | 'rooms'>; out?: string } | null {
  const { values: v } = parseArgs({
    args: argv, strict: true, allowPositionals: false,
    options: {
      ...COMMON_OPTIONS,
      scenario: { type: 'string', default: 'both' },
      occupants: { type: 'string', default: '1000' },
      'join-concurrency': { type: 'string', default: '50' },
      senders: { type: 'string', default: '5' },
      rates: { type: 'string', default: '5,10,20,50,100,200' },
      'step-ms': { type: 'string', default: '5000' },
      'drain-ms': { type: 'string', default: '5000' },
      'max-p99': { type: 'string', default: '200' },
      rooms: { type: 'string', default: '100' },
      'room-size': { type: 'string', default: '50' },
      'room-rates': { type: 'string', default: '2' },
      'room-step-ms': { type: 'string', default: '10000' },
      'message-rate': { type: 'string', default: '100000' },
      'join-timeout': { type: 'string', default: '30000' },
      'login-concurrency': { type: 'string', default: '100' },
    },
  });
  if (v.help) return null;
  if (!v.spawn) throw new UsageError('only --spawn is supported');
  if (v.tls !== undefined && v.tls !== 'none') throw new UsageError('--tls none only');
  const scenarios: Array<'room' | 'rooms'> | null = v.scenario === 'both' ? ['room', 'rooms']
    : v.scenario === 'room' || v.scenario === 'rooms' ? [v.scenario] : null;
  if (!scenarios) throw new UsageError(`--scenario takes room, rooms or both, not '${v.scenario}'`);
  const occupants = int(v.occupants, 'occupants', 2, 100_000);
  const rooms = int(v.rooms, 'rooms', 1, 10_000);
  const roomSize = int(v['room-size'], 'room-size', 1, 10_000);
  const list = (s: string, name: string) => s.split(',').map((r) => int(r.trim(), name, 1, 10_000_000));
  const users: UserSet = v.users === undefined ? { prefix: 'muc', count: Math.max(occupants, rooms * roomSize) }
    : parseUsers(v.users, 0);
  const opts: MucBenchOptions = {
    ...DEFAULT_MUC_OPTIONS, domain: v.domain, password: v.password, users,
    iterations: int(v.iterations, 'iterations', 4096, 10_000_000),
    loginConcurrency: int(v['login-concurrency'], 'login-concurrency', 1, 100_000),
    loginTimeoutMs: int(v['login-timeout'], 'login-timeout', 100),
    joinTimeoutMs: int(v['join-timeout'], 'join-timeout', 100),
    joinConcurrency: int(v['join-concurrency'], 'join-concurrency', 1, 100_000),
    timeoutMs: (v.timeout === undefined ? 900 : int(v.timeout, 'timeout', 1)) * 1000,
    serverLogLevel: v['server-log-level'], messageRate: int(v['message-rate'], 'message-rate', 0, 1_000_000),
    occupants, senders: int(v.senders, 'senders', 1, 100_000), rates: list(v.rates, 'rates'),
    stepMs: int(v['step-ms'], 'step-ms', 100, 600_000), drainMs: int(v['drain-ms'], 'drain-ms', 0, 600_000),
    maxP99Ms: int(v['max-p99'], 'max-p99', 1), rooms, roomSize, roomRates: list(v['room-rates'], 'room-rates'),
    roomStepMs: int(v['room-step-ms'], 'room-step-ms', 100, 600_000),
  };
  return { opts, scenarios, out: v.out };
}

async function main(): Promise<void> {
  const parsed = parseOrExit('muc', HELP, optionsFromArgs);
  if (!parsed) return;
  const results: MucScenarioResult[] = [];
  for (const scenario of parsed.scenarios) {
    const r = scenario === 'room' ? await runMucRoomBench(parsed.opts) : await runMucRoomsBench(parsed.opts);
    results.push(r);
    const title = scenario === 'room' ? `One room, ${parsed.opts.occupants} occupants`
      : `${parsed.opts.rooms} rooms x ${parsed.opts.roomSize} occupants`;
    process.stdout.write(`\n## ${title}\n\n${joinTable(r)}\n\n${trafficTable(r)}\n\nstopped by: ${r.stoppedBy}\n`);
    reportServerProblems(r.server.problems, '', true);
    if (r.logins.failed > 0 || r.joins.some((p) => p.failed > 0)) process.exitCode = 1;
  }
  if (parsed.out !== undefined) writeJson(parsed.out, results);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    process.stderr.write(`muc: ${String((err as Error)?.stack ?? err)}\n`);
    process.exit(1);
  });
}
