// Presence at login (scenario M4): N accounts whose rosters hold `contacts` others each,
// all with subscription 'both' (a symmetric ring, see ringOffsets), and a share of
// them online. Phase 1 logs in the first 30% (connect -> SASL SCRAM-SHA-1 -> bind ->
// roster get -> initial presence), `--login-concurrency` at a time; they stay online
// and the run waits until each has seen the presence of all its online contacts.
// Phase 2 (measured) logs in a sample of the others, `--measure-concurrency` at a
// time, each the full login, and records the time until bound, until the roster
// result, and until the presence of every online contact (the server's answers to
// its probes) has arrived; then the newcomer logs out again, so the online share
// stays put. Every presence stanza the sessions receive from others during phase 2
// counts: the newcomers' presence broadcast to their online contacts (available,
// then unavailable) and the probe answers the newcomers get. Reported: p50/p99 of
// each login milestone, presence stanzas delivered per second over phase 2, the
// server's CPU time per 1,000 of them, its RSS before and after each phase, and
// lost presences: an expected presence (probe answer or available broadcast)
// that did not arrive within --presence-timeout.
//
//   node dist/bench/presence.js --spawn [--count 1000] [--contacts 150] [--online 0.3] [--sample 200]
//   node dist/bench/presence.js --spawn --seed wire --count 200 --contacts 20
//   node dist/bench/presence.js --host 127.0.0.1 --port 5222 --pid PID --users bench/1000 --seed wire
//
// Rosters: with --spawn they are written into the spool before start-up (--seed spool,
// the default there); --seed wire makes them over the wire with subscription
// handshakes (bench/lib/seed.ts), which works against any server; --seed none takes
// the rosters as they are (seeded by an earlier run).
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { closeAll, runLogins } from './client/runner.js';
import { SaltedPasswordCache } from './client/scram.js';
import { attr } from './client/scanner.js';
import { LoadSession, LoginError, type SessionOptions, type TlsMode } from './client/session.js';
import { fmt, markdownTable, rounded, summarize, type Summary } from './lib/stats.js';
import { sleep, startCpuMeter, statusKiB } from './lib/proc.js';
import { createUsers, endpointOf, spawnOnSpool, userName, type BenchServer, type ServerProblems, finishServer } from './lib/server.js';
import { writeRosters } from './lib/rosters.js';
import { DEFAULT_SEED_OPTIONS, seedSubscriptions, type SeedResult } from './lib/seed.js';
import { checkOpenFiles } from './memory.js';
import {
  COMMON_HELP, COMMON_OPTIONS, UsageError, environment, int, note, parseTlsModes, writeJson, parseOrExit, reportServerProblems, targetFromArgs, type TargetOptions
} from './lib/args.js';

export type SeedMode = 'spool' | 'wire' | 'none';
export const SEED_MODES: readonly SeedMode[] = ['spool', 'wire', 'none'];

export interface PresenceBenchOptions extends TargetOptions {
  tls: TlsMode;
  /** Accounts in the ring (N). */
  count: number;
  /** Roster size of every account (all 'both'). */
  contacts: number;
  /** Share of the accounts online during phase 2: the first round(count * online) log in in phase 1. */
  onlineFraction: number;
  /** Measured logins, spread evenly over the accounts not online; 0 measures all of them. */
  sample: number;
  /** Logins in flight in phase 1. */
  loginConcurrency: number;
  /** Measured logins in flight in phase 2. */
  measureConcurrency: number;
  /** How the rosters come to be: written into the spool (spawn only), subscribed over the wire, or taken as they are. */
  seed: SeedMode;
  /** Subscription handshakes in flight with seed 'wire'. */
  seedConcurrency: number;
  /** How long a login (or phase 1) waits for the presences it expects, in ms. */
  presenceTimeoutMs: number;
}

export interface PresenceLoginRow {
  /** Index of the account in the ring. */
  user: number;
  boundMs: number;
  rosterMs: number;
  rosterItems: number;
  /** From connect until the presence of every online contact arrived (until ready when none is online); NaN when some never came. */
  presencesMs: number;
  /** Online contacts, whose presence was expected. */
  expected: number;
  received: number;
}

export interface PresenceStanzaCounts {
  /** Received by the online (phase 1) sessions: the newcomers' broadcasts. */
  toOnline: number;
  /** Received by the newcomers: probe answers (and presence of contacts logging in alongside). */
  toNewcomers: number;
  total: number;
  /** Of these, presence of a type other than available and unavailable (e.g. 'unsubscribed' when a roster is not mutual). */
  otherTypes: number;
}

export interface PresenceBenchResult {
  benchmark: 'presence';
  environment: Record<string, unknown>;
  settings: Record<string, unknown>;
  server: {
    spawned: boolean;
    pid?: number;
    rssKiB: { idle: number | null; afterPhase1: number | null; afterPhase2: number | null; peak: number | null };
    problems?: ServerProblems;
  };
  seed: { mode: SeedMode; ms: number; rosters?: number; wire?: SeedResult };
  phase1: {
    target: number; ok: number; failed: number; errors: Record<string, number>; elapsedMs: number;
    /** Until every online session had the presence of all its online contacts (or the limit). */
    settleMs: number;
    expectedPresences: number;
    missingPresences: number;
  };
  phase2: {
    target: number; attempted: number; ok: number; failed: number; errors: Record<string, number>; elapsedMs: number;
    stoppedBy: 'done' | 'time budget';
    rows: PresenceLoginRow[];
    summary: { boundMs: Summary; rosterMs: Summary; presencesMs: Summary; expected: Summary };
    /** Logins whose roster did not hold `contacts` items. */
    rosterMismatches: number;
    expectedProbeAnswers: number;
    missingProbeAnswers: number;
    /** The newcomers' available presence, owed to each online contact. */
    expectedBroadcasts: number;
    missingBroadcasts: number;
    /** Their unavailable presence on logging out, owed to the same contacts. */
    expectedUnavailable: number;
    missingUnavailable: number;
    presenceStanzas: PresenceStanzaCounts;
    presencesPerSecond: number;
    serverCpuMsPer1000Presences: number | null;
    clientCpuMsPer1000Presences: number;
    otherLoad: number | null;
  };
  /** Expected presences that never arrived, in both phases. */
  lostPresences: number;
  /** Online sessions still open at the end of phase 2. */
  alive: number;
}

export const DEFAULT_PRESENCE_OPTIONS: Omit<PresenceBenchOptions, 'users'> = {
  spawn: false, host: '127.0.0.1', domain: 'localhost', password: 'bench-secret', tls: 'none',
  count: 1000, contacts: 150, onlineFraction: 0.3, sample: 200, loginConcurrency: 50, measureConcurrency: 1,
  seed: 'spool', seedConcurrency: DEFAULT_SEED_OPTIONS.concurrency, presenceTimeoutMs: 30_000,
  timeoutMs: 900_000, loginTimeoutMs: 30_000, iterations: 10_000, serverLogLevel: 'info', log: note,
};

/**
 * The roster ring: account i has the contacts (i + o) mod n for each offset o. The
 * offsets are ±s, ±2s, ... ±hs with h = floor(k/2) and the stride s = floor((n-1)/2h),
 * so that hs < n/2: they are distinct and spread over the whole ring; plus n/2 when
 * k is odd (n must be even then). The set is closed under negation, so the relation is symmetric and every
 * roster holds exactly k distinct others.
 */
export function ringOffsets(n: number, k: number): number[] {
  if (!(Number.isInteger(n) && Number.isInteger(k) && k >= 1 && k < n)) {
    throw new UsageError(`--contacts must be from 1 to --count - 1 (${n - 1}), not ${k}`);
  }
  if (k % 2 === 1 && n % 2 === 1) throw new UsageError('an odd number of --contacts needs an even --count');
  const half = Math.floor(k / 2);
  const stride = half === 0 ? 1 : Math.max(1, Math.floor((n - 1) / (2 * half)));
  const out: number[] = [];
  for (let d = 1; d <= half; d++) out.push(d * stride, n - d * stride);
  if (k % 2 === 1) out.push(n / 2);
  return out;
}

/** The contacts of account i in the ring. */
export function ringContacts(i: number, n: number, offsets: readonly number[]): number[] {
  return offsets.map((o) => (i + o) % n);
}

/** The accounts measured in phase 2: `sample` spread evenly over [from, n), or all of them. */
export function sampleOf(from: number, n: number, sample: number): number[] {
  const rest = n - from;
  if (sample <= 0 || sample >= rest) return Array.from({ length: rest }, (_, t) => from + t);
  return Array.from({ length: sample }, (_, t) => from + Math.floor((t * rest) / sample));
}

/** One measured login waiting for its contacts' presence. */
interface Waiter {
  expected: Set<number>;
  got: Set<number>;
  t0: number;
  doneAt: number;
  resolve(): void;
}

export async function runPresenceBench(opts: PresenceBenchOptions): Promise<PresenceBenchResult> {
  const n = opts.count;
  const offsets = ringOffsets(n, opts.contacts);
  if (opts.users.count < n) throw new UsageError('--users must have at least as many accounts as --count');
  if (!(opts.onlineFraction > 0 && opts.onlineFraction < 1)) throw new UsageError('--online must be above 0 and below 1');
  const online = Math.round(n * opts.onlineFraction);
  if (online < 1 || online >= n) throw new UsageError('--online leaves no account online, or none to log in');
  if (opts.seed === 'spool' && !opts.spawn) throw new UsageError('--seed spool needs --spawn (use wire or none for a running server)');
  const measured = sampleOf(online, n, opts.sample);
  checkOpenFiles(Math.max(online + opts.measureConcurrency, opts.seed === 'wire' ? n : 0), opts.spawn ? undefined : opts.pid);
  const deadline = performance.now() + opts.timeoutMs;
  const remaining = () => Math.max(0, deadline - performance.now());
  const contactsOf = (i: number) => ringContacts(i, n, offsets);

  const result: PresenceBenchResult = {
    benchmark: 'presence',
    environment: environment(),
    settings: {
      count: n, contacts: opts.contacts, onlineFraction: opts.onlineFraction, online, sample: measured.length,
      loginConcurrency: opts.loginConcurrency, measureConcurrency: opts.measureConcurrency, seed: opts.seed,
      presenceTimeoutMs: opts.presenceTimeoutMs, tls: opts.tls, users: `${opts.users.prefix}/${opts.users.count}`,
      ring: `offsets ${offsets.length > 6 ? `${offsets.slice(0, 6).join(', ')}, ...` : offsets.join(', ')}`,
    },
    server: { spawned: opts.spawn, rssKiB: { idle: null, afterPhase1: null, afterPhase2: null, peak: null } },
    seed: { mode: opts.seed, ms: 0 },
    phase1: { target: online, ok: 0, failed: 0, errors: {}, elapsedMs: 0, settleMs: 0, expectedPresences: 0, missingPresences: 0 },
    phase2: {
      target: measured.length, attempted: 0, ok: 0, failed: 0, errors: {}, elapsedMs: 0, stoppedBy: 'done', rows: [],
      summary: { boundMs: summarize([]), rosterMs: summarize([]), presencesMs: summarize([]), expected: summarize([]) },
      rosterMismatches: 0, expectedProbeAnswers: 0, missingProbeAnswers: 0, expectedBroadcasts: 0, missingBroadcasts: 0,
      expectedUnavailable: 0, missingUnavailable: 0, presenceStanzas: { toOnline: 0, toNewcomers: 0, total: 0, otherTypes: 0 },
      presencesPerSecond: 0, serverCpuMsPer1000Presences: null, clientCpuMsPer1000Presences: 0, otherLoad: null,
    },
    lostPresences: 0,
    alive: 0,
  };

  let server: BenchServer | null = null;
  let onlineSessions: LoadSession[] = [];
  const newcomers = new Set<LoadSession>();
  const closing: Array<Promise<string>> = [];
  try {
    if (opts.spawn) {
      server = await spawnOnSpool(async (spool) => {
        const t0 = performance.now();
        const made = await createUsers(spool, opts.domain, { prefix: opts.users.prefix, count: n }, opts.password, opts.iterations);
        opts.log(`created ${made.created} accounts in ${made.ms} ms`);
        if (opts.seed === 'spool') {
          const specs = Array.from({ length: n }, (_, i) => ({
            user: userName(opts.users, i), contacts: contactsOf(i).map((c) => userName(opts.users, c)),
          }));
          const r = await writeRosters(spool, opts.domain, specs);
          result.seed = { mode: 'spool', ms: performance.now() - t0, rosters: r.written };
          opts.log(`wrote ${r.written} rosters of ${opts.contacts} contacts in ${r.ms} ms`);
        }
      }, { domain: opts.domain, logLevel: opts.serverLogLevel });
    }
    const { host, port, directPort, pid } = endpointOf(opts, server);
    if (server) {
      result.server.pid = server.pid;
      opts.log(`Rohrpost pid ${server.pid}, ports ${port}/${directPort}`);
    }
    const cache = new SaltedPasswordCache();
    const base: Omit<SessionOptions, 'username' | 'resource'> = {
      host, port: opts.tls === 'direct' ? directPort : port, domain: opts.domain, password: opts.password,
      mechanism: 'SCRAM-SHA-1', tls: opts.tls, timeoutMs: opts.loginTimeoutMs, scramCache: cache,
    };

    if (opts.seed === 'wire') {
      const pairs: Array<[number, number]> = [];
      for (let i = 0; i < n; i++) for (const c of contactsOf(i)) if (i < c) pairs.push([i, c]);
      const wire = await seedSubscriptions({
        ...DEFAULT_SEED_OPTIONS, session: base, users: Array.from({ length: n }, (_, i) => userName(opts.users, i)), pairs,
        concurrency: opts.seedConcurrency, loginConcurrency: opts.loginConcurrency, timeoutMs: remaining(), log: opts.log,
      });
      result.seed = { mode: 'wire', ms: wire.ms, wire };
      opts.log(`seeded over the wire: ${wire.established}/${wire.pairs} pairs mutual (${wire.already} already) ` +
        `in ${fmt(wire.ms / 1000, 1)} s${wire.logins.failed ? `; failed logins ${JSON.stringify(wire.logins.errors)}` : ''}`);
      if (wire.established < wire.pairs) opts.log(`  ${wire.pairs - wire.established} pairs are not mutual: their presences will be missing`);
    }
    if (pid !== undefined) result.server.rssKiB.idle = statusKiB(pid, 'VmRSS');

    // Who is who: the account index of a presence's sender, by its bare JID.
    const indexOf = new Map<string, number>();
    for (let i = 0; i < n; i++) indexOf.set(`${userName(opts.users, i)}@${opts.domain}`.toLowerCase(), i);
    const senderOf = (tag: string): number | undefined => {
      const from = attr(tag, 'from');
      if (!from) return undefined;
      const slash = from.indexOf('/');
      return indexOf.get((slash < 0 ? from : from.slice(0, slash)).toLowerCase());
    };
    /** Available presence each online session has seen, by sender. */
    const seen: Array<Set<number>> = Array.from({ length: online }, () => new Set());
    /** Broadcasts still expected in phase 2, available and unavailable: receiver * n + sender. */
    const pendingBroadcasts = new Set<number>();
    const pendingGone = new Set<number>();
    const waiters = new Map<number, Waiter>();
    const counts = result.phase2.presenceStanzas;
    let counting = false;

    const onPresence = (receiver: number) => (name: string, tag: string): void => {
      if (name !== 'presence') return;
      const sender = senderOf(tag);
      // The server's echo of the session's own presence is not a delivery to a contact.
      if (sender === undefined || sender === receiver) return;
      const type = attr(tag, 'type');
      if (counting) {
        counts.total++;
        if (receiver < online) counts.toOnline++;
        else counts.toNewcomers++;
        if (type !== undefined && type !== 'unavailable') counts.otherTypes++;
      }
      if (type === 'unavailable' && receiver < online) pendingGone.delete(receiver * n + sender);
      if (type !== undefined) return;
      if (receiver < online) {
        seen[receiver]!.add(sender);
        pendingBroadcasts.delete(receiver * n + sender);
      } else {
        const w = waiters.get(receiver);
        if (w && w.expected.has(sender) && !w.got.has(sender)) {
          w.got.add(sender);
          if (w.got.size === w.expected.size) {
            w.doneAt = performance.now();
            w.resolve();
          }
        }
      }
    };

    // ---- phase 1: the online share logs in and stays --------------------------
    opts.log(`phase 1: ${online} of ${n} accounts log in (${opts.loginConcurrency} at a time), ${opts.contacts} contacts each`);
    const p1 = await runLogins({
      count: online, concurrency: opts.loginConcurrency, deadlineMs: remaining(), keepOpen: true,
      session: (i) => ({
        ...base, username: userName(opts.users, i), resource: `presence-${i}`, rosterGet: true, presence: true, onStanza: onPresence(i),
      }),
      progressEvery: 1000,
      onProgress: (done, failed) => opts.log(`  logged in ${done - failed}/${online}${failed ? `, ${failed} failed` : ''}`),
    });
    onlineSessions = p1.sessions;
    Object.assign(result.phase1, { ok: p1.ok, failed: p1.failed, errors: p1.errors, elapsedMs: p1.elapsedMs });
    // Logins finish out of order: the sessions by account index.
    const sessionOf = new Map<number, LoadSession>();
    for (const s of onlineSessions) {
      const i = indexOf.get(s.jid.slice(0, s.jid.indexOf('/')).toLowerCase());
      if (i !== undefined && i < online) sessionOf.set(i, s);
    }
    const isOnline = (c: number) => sessionOf.has(c);
    const stillOnline = (c: number) => sessionOf.get(c)?.state === 'ready';
    // Each online session should see the presence of its online contacts (probe answers or broadcasts).
    const phase1Missing = () => {
      let expected = 0;
      let missing = 0;
      for (let i = 0; i < online; i++) {
        if (!isOnline(i)) continue;
        for (const c of contactsOf(i)) {
          if (!isOnline(c)) continue;
          expected++;
          if (!seen[i]!.has(c)) missing++;
        }
      }
      return { expected, missing };
    };
    const settle0 = performance.now();
    let p1state = phase1Missing();
    while (p1state.missing > 0 && performance.now() - settle0 < Math.min(opts.presenceTimeoutMs, remaining())) {
      await sleep(50);
      p1state = phase1Missing();
    }
    result.phase1.settleMs = performance.now() - settle0;
    result.phase1.expectedPresences = p1state.expected;
    result.phase1.missingPresences = p1state.missing;
    opts.log(`phase 1: ${p1.ok} online in ${fmt(p1.elapsedMs, 0)} ms${p1.failed ? ` (${p1.failed} failed: ${JSON.stringify(p1.errors)})` : ''}; ` +
      `${p1state.expected - p1state.missing}/${p1state.expected} presences between them after ${fmt(result.phase1.settleMs, 0)} ms`);
    await sleep(Math.min(500, remaining())); // let the server finish the login wave
    if (pid !== undefined) result.server.rssKiB.afterPhase1 = statusKiB(pid, 'VmRSS');

    // ---- phase 2: measured logins of the others ---------------------------------
    opts.log(`phase 2: ${measured.length} measured logins (${opts.measureConcurrency} at a time)`);
    const p2 = result.phase2;
    const measure = async (j: number): Promise<void> => {
      const expected = new Set(contactsOf(j).filter(stillOnline));
      for (const c of expected) pendingBroadcasts.add(c * n + j);
      p2.expectedProbeAnswers += expected.size;
      p2.expectedBroadcasts += expected.size;
      let resolve!: () => void;
      const allIn = new Promise<void>((r) => { resolve = r; });
      const w: Waiter = { expected, got: new Set(), t0: performance.now(), doneAt: Number.NaN, resolve };
      waiters.set(j, w);
      p2.attempted++;
      let session: LoadSession;
      try {
        session = await LoadSession.login({
          ...base, username: userName(opts.users, j), resource: `presence-${j}`, rosterGet: true, presence: true,
          onStanza: onPresence(j), timeoutMs: Math.min(opts.loginTimeoutMs, Math.max(1, remaining())),
        });
      } catch (err) {
        waiters.delete(j);
        // No presence went out: nothing is owed for this login.
        for (const c of expected) pendingBroadcasts.delete(c * n + j);
        p2.expectedProbeAnswers -= expected.size;
        p2.expectedBroadcasts -= expected.size;
        p2.failed++;
        const reason = err instanceof LoginError ? err.message : String(err);
        p2.errors[reason] = (p2.errors[reason] ?? 0) + 1;
        return;
      }
      newcomers.add(session);
      p2.ok++;
      if (expected.size === 0) w.doneAt = w.t0 + (session.timings.ready ?? 0);
      else {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([allIn, new Promise<void>((r) => { timer = setTimeout(r, Math.min(opts.presenceTimeoutMs, remaining())); })]);
        clearTimeout(timer);
      }
      waiters.delete(j);
      const t = session.timings;
      p2.rows.push({
        user: j, boundMs: t.bound ?? Number.NaN, rosterMs: t.roster ?? Number.NaN, rosterItems: session.rosterItems,
        presencesMs: w.doneAt - w.t0, expected: expected.size, received: w.got.size,
      });
      if (session.rosterError !== null || session.rosterItems !== opts.contacts) p2.rosterMismatches++;
      p2.missingProbeAnswers += expected.size - w.got.size;
      // Log out again (not waited for): the online share stays as it was; the online
      // contacts see it go.
      for (const c of expected) pendingGone.add(c * n + j);
      p2.expectedUnavailable += expected.size;
      newcomers.delete(session);
      closing.push(session.close());
    };

    const meter = startCpuMeter(pid);
    const t0 = performance.now();
    counting = true;
    let next = 0;
    let finished = 0;
    const slot = async () => {
      while (next < measured.length) {
        if (remaining() < 1000) { p2.stoppedBy = 'time budget'; return; }
        await measure(measured[next++]!);
        if (++finished % 100 === 0) opts.log(`  measured ${finished}/${measured.length}`);
      }
    };
    await Promise.all(Array.from({ length: Math.min(opts.measureConcurrency, measured.length) }, slot));
    // The last broadcasts (the newcomers' unavailable ones above all) may still be on their way.
    const drain0 = performance.now();
    await Promise.all(closing);
    while (pendingBroadcasts.size + pendingGone.size > 0 && performance.now() - drain0 < Math.min(opts.presenceTimeoutMs, remaining())) await sleep(10);
    const end = performance.now();
    counting = false;
    const cpu = meter.stop(end - t0);
    p2.elapsedMs = end - t0;
    p2.missingBroadcasts = pendingBroadcasts.size;
    p2.missingUnavailable = pendingGone.size;
    p2.presencesPerSecond = p2.elapsedMs > 0 ? counts.total / (p2.elapsedMs / 1000) : 0;
    const per1000 = (ms: number) => (counts.total > 0 ? (ms * 1000) / counts.total : Number.NaN);
    p2.serverCpuMsPer1000Presences = cpu.serverMs === null ? null : per1000(cpu.serverMs);
    p2.clientCpuMsPer1000Presences = per1000(cpu.clientMs);
    p2.otherLoad = cpu.otherLoad;
    const pick = (f: (r: PresenceLoginRow) => number) => summarize(p2.rows.map(f).filter(Number.isFinite));
    p2.summary = {
      boundMs: pick((r) => r.boundMs), rosterMs: pick((r) => r.rosterMs),
      presencesMs: pick((r) => (r.received === r.expected ? r.presencesMs : Number.NaN)), expected: pick((r) => r.expected),
    };
    result.lostPresences = result.phase1.missingPresences + p2.missingProbeAnswers + p2.missingBroadcasts + p2.missingUnavailable;
    result.alive = onlineSessions.filter((s) => s.state === 'ready').length;
    if (pid !== undefined) {
      result.server.rssKiB.afterPhase2 = statusKiB(pid, 'VmRSS');
      result.server.rssKiB.peak = statusKiB(pid, 'VmHWM');
    }
    opts.log(`phase 2: ${p2.ok} logins in ${fmt(p2.elapsedMs, 0)} ms, ${counts.total} presence stanzas ` +
      `(${fmt(p2.presencesPerSecond, 0)}/s), lost ${result.lostPresences}, other load ` +
      `${p2.otherLoad === null ? '?' : `${fmt(p2.otherLoad * 100, 0)}%`}`);
  } finally {
    await Promise.all(closing);
    const open = [...onlineSessions, ...newcomers];
    if (open.length > 0) {
      await closeAll(open);
      // The server answers </stream:stream> before its session/closed handlers finish.
      await sleep(Math.min(5000, 300 + open.length / 5));
    }
    if (server) result.server.problems = await finishServer(server, opts.log);
  }
  return rounded(result);
}

export function presenceTable(result: PresenceBenchResult): string {
  const s = result.phase2.summary;
  const row = (what: string, m: Summary) => [what, String(m.count), fmt(m.p50, 2), fmt(m.p99, 2), fmt(m.max, 2)];
  return markdownTable(['from connect until', 'logins', 'p50 ms', 'p99 ms', 'max ms'], [
    row('bound', s.boundMs),
    row(`roster result (${result.settings.contacts} items)`, s.rosterMs),
    row(`presence of every online contact (mean ${fmt(s.expected.mean, 1)})`, s.presencesMs),
  ]);
}

export function presenceSummaryTable(result: PresenceBenchResult): string {
  const p = result.phase2;
  const mib = (k: number | null) => (k === null ? '–' : fmt(k / 1024, 1));
  const rss = result.server.rssKiB;
  return markdownTable(
    ['online', 'measured', 'presence stanzas', 'delivered/s', 'server CPU ms/1k', 'lost', 'server RSS MiB idle / phase 1 / phase 2', 'other load'],
    [[String(result.phase1.ok), String(p.ok), String(p.presenceStanzas.total), fmt(p.presencesPerSecond, 0),
      fmt(p.serverCpuMsPer1000Presences ?? Number.NaN, 1), String(result.lostPresences),
      `${mib(rss.idle)} / ${mib(rss.afterPhase1)} / ${mib(rss.afterPhase2)}`,
      p.otherLoad === null ? '–' : `${fmt(p.otherLoad * 100, 0)}%`]],
  );
}

const HELP = `Usage: node dist/bench/presence.js [options]
Logins into a roster of online contacts: login p99 and presence stanzas delivered per second.
  --count N                accounts in the roster ring (default 1000)
  --contacts K             roster size, all 'both' (default 150; odd K needs an even N)
  --online F               share of accounts online, logged in first (default 0.3)
  --sample S               measured logins among the others, spread evenly; 0 = all (default 200)
  --login-concurrency N    logins in flight in phase 1 (and while seeding) (default 50)
  --measure-concurrency N  measured logins in flight in phase 2 (default 1)
  --seed MODE              spool: rosters written into the spool before start (--spawn, default there);
                           wire: subscription handshakes over the wire (default without --spawn);
                           none: the rosters are there already
  --seed-concurrency N     handshakes in flight with --seed wire (default ${DEFAULT_SEED_OPTIONS.concurrency})
  --presence-timeout MS    how long a login waits for its contacts' presence (default 30000)
  --pid PID                the server's process id, for its CPU time and memory (without --spawn)
${COMMON_HELP}
  (defaults here: --tls none (one mode), --users bench/<count>, --timeout 900)`;

function optionsFromArgs(argv: string[]): { opts: PresenceBenchOptions; out?: string } | null {
  const { values: v } = parseArgs({
    args: argv, strict: true, allowPositionals: false,
    options: {
      ...COMMON_OPTIONS,
      count: { type: 'string', default: '1000' },
      contacts: { type: 'string', default: '150' },
      online: { type: 'string', default: '0.3' },
      sample: { type: 'string', default: '200' },
      'login-concurrency': { type: 'string', default: '50' },
      'measure-concurrency': { type: 'string', default: '1' },
      seed: { type: 'string' },
      'seed-concurrency': { type: 'string', default: String(DEFAULT_SEED_OPTIONS.concurrency) },
      'presence-timeout': { type: 'string', default: '30000' },
      pid: { type: 'string' },
    },
  });
  if (v.help) return null;
  const count = int(v.count, 'count', 2, 1_000_000);
  const tlsModes = parseTlsModes(v.tls, ['none']);
  if (tlsModes.length !== 1) throw new UsageError('--tls takes one mode here');
  const seed = v.seed ?? (v.spawn ? 'spool' : 'wire');
  if (!SEED_MODES.includes(seed as SeedMode)) throw new UsageError(`--seed takes spool, wire or none; not '${seed}'`);
  const fraction = Number(v.online);
  if (!(fraction > 0 && fraction < 1)) throw new UsageError(`--online must be a number above 0 and below 1, not '${v.online}'`);
  const opts: PresenceBenchOptions = {
    ...DEFAULT_PRESENCE_OPTIONS,
    ...targetFromArgs(v, count, 900_000),
    tls: tlsModes[0]!, count,
    contacts: int(v.contacts, 'contacts', 1, 10_000), onlineFraction: fraction,
    sample: int(v.sample, 'sample', 0, 1_000_000),
    loginConcurrency: int(v['login-concurrency'], 'login-concurrency', 1, 100_000),
    measureConcurrency: int(v['measure-concurrency'], 'measure-concurrency', 1, 100_000),
    seed: seed as SeedMode, seedConcurrency: int(v['seed-concurrency'], 'seed-concurrency', 1, 100_000),
    presenceTimeoutMs: int(v['presence-timeout'], 'presence-timeout', 100),
  };
  if (opts.seed === 'spool' && !opts.spawn) throw new UsageError('--seed spool needs --spawn');
  if (v.source !== undefined) throw new UsageError('--source is not supported here (a few thousand connections at most)');
  ringOffsets(opts.count, opts.contacts); // the ring must exist: a usage error otherwise
  return { opts, out: v.out };
}

async function main(): Promise<void> {
  const parsed = parseOrExit('presence', HELP, optionsFromArgs);
  if (!parsed) return;
  const result = await runPresenceBench(parsed.opts);
  process.stdout.write(`${presenceTable(result)}\n\n${presenceSummaryTable(result)}\n`);
  if (parsed.out !== undefined) writeJson(parsed.out, result);
  reportServerProblems(result.server.problems);
  if (result.lostPresences > 0 || result.phase1.failed > 0 || result.phase2.failed > 0) process.exitCode = 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    process.stderr.write(`presence: ${String((err as Error)?.stack ?? err)}\n`);
    process.exit(1);
  });
}
