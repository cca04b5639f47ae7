// Soak (M7): the message scenario (bench/messages.ts: online sessions in pairs of
// contacts exchanging chat messages) held at one constant offered rate for a long
// time — by default 30 minutes at half of the message scenario's maximum. Every
// sample interval (default a minute) it records the server's RSS, the delivered
// rate, p50/p99 latency (send to receipt, both timed here) and how many of the
// messages sent in that interval were lost: not received within the loss deadline.
// Stops by itself at the end; SIGINT stops sending, waits out the loss deadline of
// what is in flight and prints what it has (a second SIGINT exits at once).
//
//   node dist/bench/soak.js --spawn [--max-rate 20000 | --rate 10000] [--minutes 30] [--sample-seconds 60] [--sessions 10000]
//
// Without --rate or --max-rate a short probe of the message scenario runs first (its
// steps, --probe-rates) and the soak runs at half of its highest step without loss.
// On request, not in CI: it runs as long as it is told to.
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { attr } from './client/scanner.js';
import { chatMessage } from './client/stanzas.js';
import { fmt, markdownTable, rounded, type Summary, type TrafficRow } from './lib/stats.js';
import { sleep, startCpuMeter, statusKiB } from './lib/proc.js';
import type { ServerProblems } from './lib/server.js';
import { PAIR_OPTIONS, pairsFromArgs, startMessagePairs, stopMessagePairs, type MessagePairs, type PairOptions } from './lib/pairs.js';
import { checkOpenFiles } from './memory.js';
import { DEFAULT_MESSAGE_OPTIONS, runMessageBench } from './messages.js';
import {
  COMMON_HELP, UsageError, environment, int, note, writeJson, parseOrExit, reportServerProblems
} from './lib/args.js';

/** How often the sender wakes up to send what is due. */
const TICK_MS = 2;

export interface SoakOptions extends PairOptions {
  /** Constant offered msgs/s; null: half of maxRate, or half of the probe's result. */
  rate: number | null;
  /** The message scenario's maximum (msgs/s), when known. */
  maxRate: number | null;
  /** Steps and step length of the probe (the message scenario) run when neither rate is given. */
  probeRates: number[];
  probeStepMs: number;
  durationMs: number;
  /** One row (RSS, rates, latency, loss) per this many ms. */
  sampleMs: number;
  /** A message not received this long after it was sent counts as lost. */
  lossDeadlineMs: number;
  /** Aborting stops the sending early; the result holds what was measured. */
  signal?: AbortSignal;
}

export interface SoakRow extends TrafficRow {
  /** Minutes since the start of sending at the end of the interval. */
  minute: number;
  /** The server's resident memory at the end of the interval. */
  rssKiB: number | null;
  /** Messages of this interval received within the loss deadline. */
  received: number;
}

export interface SoakResult {
  benchmark: 'soak';
  environment: Record<string, unknown>;
  settings: Record<string, unknown>;
  server: {
    spawned: boolean; pid?: number; idleRssKiB?: number | null;
    /** After the logins, before the first message. */
    rssBeforeKiB?: number | null; peakRssKiB?: number | null; problems?: ServerProblems;
  };
  logins: { ok: number; failed: number; errors: Record<string, number>; elapsedMs: number };
  rate: number;
  /** 'given', 'half of --max-rate' or 'half of the probe'. */
  rateSource: string;
  probe?: { best: number | null; stoppedBy: string; steps: Array<{ offeredPerSecond: number; lost: number; p99: number }> };
  rows: SoakRow[];
  totals: {
    sent: number; received: number; lost: number; duplicates: number;
    /** Received after their loss deadline (counted as lost). */
    late: number;
    /** Messages that came back as errors. */
    bounced: number;
  };
  /** 'done', 'interrupted', 'sessions' (a session closed), 'time budget'. */
  stoppedBy: string;
}

export const DEFAULT_SOAK_OPTIONS: Omit<SoakOptions, 'users'> = {
  ...DEFAULT_MESSAGE_OPTIONS,
  rate: null, maxRate: null, probeRates: DEFAULT_MESSAGE_OPTIONS.rates, probeStepMs: 3000,
  durationMs: 30 * 60_000, sampleMs: 60_000, lossDeadlineMs: 5000, timeoutMs: 30 * 60_000 + 900_000,
};

/** Nearest-rank summary of latencies held in a typed array (sorted here, in place). */
function summarizeTyped(values: Float64Array): Summary {
  const n = values.length;
  if (n === 0) return { count: 0, min: Number.NaN, mean: Number.NaN, p50: Number.NaN, p90: Number.NaN, p99: Number.NaN, max: Number.NaN };
  values.sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i]!;
  const at = (p: number) => values[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))]!;
  return { count: n, min: values[0]!, mean: sum / n, p50: at(50), p90: at(90), p99: at(99), max: values[n - 1]! };
}

/** One sample interval: its messages by index (seq - first), their send times and receipts. */
class Interval {
  readonly sendAt: Float64Array;
  readonly seen: Uint8Array;
  readonly latencies: Float64Array;
  sent = 0;
  received = 0;
  duplicates = 0;
  /** When its sending time was over (performance.now()); 0 while open. */
  closedAt = 0;
  /** What was read when it closed (set then). */
  row: Omit<SoakRow, 'received' | 'deliveredPerSecond' | 'lost' | 'duplicates' | 'latencyMs'> | null = null;
  /**
   * @param first the seq of its first message
   * @param startMs, endMs its sending time, in ms since the start (endMs earlier when sending stops early)
   * @param openedAt performance.now() when it opened
   */
  constructor(readonly index: number, readonly first: number, capacity: number, readonly startMs: number, public endMs: number,
    readonly openedAt: number) {
    this.sendAt = new Float64Array(capacity);
    this.seen = new Uint8Array(capacity);
    this.latencies = new Float64Array(capacity);
  }
  receipt(i: number, now: number): void {
    if (!(i >= 0 && i < this.sent)) return;
    if (this.seen[i]) {
      this.duplicates++;
      return;
    }
    this.seen[i] = 1;
    this.latencies[this.received++] = now - this.sendAt[i]!;
  }
}

export async function runSoak(opts: SoakOptions): Promise<SoakResult> {
  if (opts.sessions < 2 || opts.sessions % 2 !== 0) throw new UsageError('--sessions must be an even number of at least 2');
  if (opts.users.count < opts.sessions) throw new UsageError('--users must have at least as many accounts as --sessions');
  checkOpenFiles(opts.sessions, opts.spawn ? undefined : opts.pid);
  const deadline = performance.now() + opts.timeoutMs;
  const remaining = () => Math.max(0, deadline - performance.now());
  const result: SoakResult = {
    benchmark: 'soak',
    environment: environment(),
    settings: {
      sessions: opts.sessions, durationMs: opts.durationMs, sampleMs: opts.sampleMs, lossDeadlineMs: opts.lossDeadlineMs,
      tls: opts.tls, to: opts.to, users: `${opts.users.prefix}/${opts.users.count}`,
    },
    server: { spawned: opts.spawn },
    logins: { ok: 0, failed: 0, errors: {}, elapsedMs: 0 },
    rate: 0, rateSource: 'given', rows: [],
    totals: { sent: 0, received: 0, lost: 0, duplicates: 0, late: 0, bounced: 0 },
    stoppedBy: 'done',
  };

  // The rate: given, half of the given maximum, or half of what a probe of the message scenario reaches.
  if (opts.rate !== null) {
    result.rate = opts.rate;
  } else if (opts.maxRate !== null) {
    result.rate = Math.max(1, Math.floor(opts.maxRate / 2));
    result.rateSource = 'half of --max-rate';
  } else {
    opts.log(`probe: the message scenario at ${opts.probeRates.join(', ')} msgs/s, ${opts.probeStepMs} ms each`);
    const probe = await runMessageBench({
      ...opts, rates: opts.probeRates, stepMs: opts.probeStepMs, drainMs: DEFAULT_MESSAGE_OPTIONS.drainMs,
      maxP99Ms: DEFAULT_MESSAGE_OPTIONS.maxP99Ms, timeoutMs: remaining(),
    });
    result.probe = {
      best: probe.best?.offeredPerSecond ?? null, stoppedBy: probe.stoppedBy,
      steps: probe.steps.map((s) => ({ offeredPerSecond: s.offeredPerSecond, lost: s.lost, p99: s.latencyMs.p99 })),
    };
    if (probe.best === null) throw new Error(`the probe found no step without loss (stopped by ${probe.stoppedBy})`);
    result.rate = Math.max(1, Math.floor(probe.best.offeredPerSecond / 2));
    result.rateSource = 'half of the probe';
    opts.log(`probe: highest step without loss ${probe.best.offeredPerSecond}/s (stopped by ${probe.stoppedBy}); soak at ${result.rate}/s`);
  }
  const rate = result.rate;
  if (opts.signal?.aborted) {
    result.stoppedBy = 'interrupted';
    return rounded(result);
  }

  // Receipts: ids are 'k<interval>.<index>'; receipts of a finished interval are late.
  const intervals = new Map<number, Interval>();
  const onStanza = (name: string, tag: string) => {
    if (name !== 'message') return;
    if (attr(tag, 'type') === 'error') { result.totals.bounced++; return; }
    const now = performance.now();
    const id = attr(tag, 'id');
    if (!id || id.charCodeAt(0) !== 0x6b) return;
    const dot = id.indexOf('.');
    const iv = intervals.get(Number(id.slice(1, dot)));
    if (iv) iv.receipt(Number(id.slice(dot + 1)), now);
    else result.totals.late++;
  };
  let pairs: MessagePairs | null = null;
  try {
    pairs = await startMessagePairs(opts, onStanza, remaining(), { resource: 'soak' });
    const { sessions, pid } = pairs;
    result.server.pid = pid;
    if (pairs.server) result.server.idleRssKiB = statusKiB(pairs.server.pid, 'VmRSS');
    result.logins = pairs.logins;
    await sleep(Math.min(2000, remaining())); // let the presence exchange of the logins settle
    result.server.rssBeforeKiB = pid === undefined ? null : statusKiB(pid, 'VmRSS');
    const duration = Math.min(opts.durationMs, Math.max(0, remaining() - opts.lossDeadlineMs - 1000));
    if (duration < opts.durationMs) result.stoppedBy = 'time budget';
    opts.log(`soak: ${rate} msgs/s for ${fmt(duration / 60_000, 2)} min over ${pairs.pairs.length} pairs; ` +
      `a row every ${opts.sampleMs / 1000} s; RSS before ${result.server.rssBeforeKiB ?? '?'} KiB`);

    const intervalCount = Math.max(1, Math.ceil(duration / opts.sampleMs));
    /** Messages due by time t (ms since start): seq k is due at k * 1000 / rate. */
    const dueBy = (t: number) => Math.floor((rate * t) / 1000);
    const firstOf = (i: number) => Math.ceil((rate * Math.min(duration, i * opts.sampleMs)) / 1000);
    const total = firstOf(intervalCount);
    const loop = monitorEventLoopDelay({ resolution: 5 });
    const t0 = performance.now();
    loop.enable();
    let current: Interval | null = null;
    let meter: ReturnType<typeof startCpuMeter> | null = null;
    const open = (i: number, now: number) => {
      const iv = new Interval(i, firstOf(i), Math.max(1, firstOf(i + 1) - firstOf(i)), Math.min(duration, i * opts.sampleMs),
        Math.min(duration, (i + 1) * opts.sampleMs), now);
      intervals.set(i, iv);
      meter = startCpuMeter(pid);
      loop.reset();
      current = iv;
    };
    /** The interval's sending time is over: what only then can be read (RSS, CPU, loop delay). */
    const close = (iv: Interval, now: number) => {
      const cpu = meter!.stop(now - iv.openedAt);
      iv.closedAt = now;
      // Stopped early (SIGINT, a lost session): the interval ends now.
      iv.endMs = Math.max(iv.startMs, Math.min(iv.endMs, now - t0));
      const rssKiB = pid === undefined ? null : statusKiB(pid, 'VmRSS');
      iv.row = {
        minute: iv.endMs / 60_000, rssKiB, sent: iv.sent,
        sentPerSecond: iv.endMs > iv.startMs ? iv.sent / ((iv.endMs - iv.startMs) / 1000) : Number.NaN,
        serverCpuMsPer1000: cpu.serverMs === null || iv.sent === 0 ? null : (cpu.serverMs * 1000) / iv.sent,
        otherLoad: cpu.otherLoad, alive: sessions.filter((s) => s.state === 'ready').length,
        clientLoopDelayMs: { p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 },
      };
    };
    /** Its loss deadline is over (or every message arrived): the row is final. */
    const finish = (iv: Interval) => {
      intervals.delete(iv.index);
      const secs = (iv.endMs - iv.startMs) / 1000;
      const row: SoakRow = {
        ...iv.row!, received: iv.received, deliveredPerSecond: secs > 0 ? iv.received / secs : Number.NaN, lost: iv.sent - iv.received,
        duplicates: iv.duplicates, latencyMs: summarizeTyped(iv.latencies.subarray(0, iv.received)),
      };
      result.rows.push(row);
      result.totals.sent += row.sent;
      result.totals.received += row.received;
      result.totals.lost += row.lost;
      result.totals.duplicates += row.duplicates;
      opts.log(`${fmt(row.minute, 2)} min: RSS ${row.rssKiB === null ? '?' : fmt(row.rssKiB / 1024, 1)} MiB, sent ${row.sent} ` +
        `(${fmt(row.sentPerSecond, 0)}/s), received ${row.received}, lost ${row.lost}, p50 ${fmt(row.latencyMs.p50, 2)} ms, ` +
        `p99 ${fmt(row.latencyMs.p99, 2)} ms, server CPU ms/1k ${fmt(row.serverCpuMsPer1000 ?? Number.NaN, 1)}, alive ${row.alive}`);
    };

    open(0, t0);
    let seq = 0;
    let sending = true;
    await new Promise<void>((resolve) => {
      const tick = () => {
        const now = performance.now();
        const elapsed = now - t0;
        if (sending && opts.signal?.aborted) {
          result.stoppedBy = 'interrupted';
          sending = false;
        }
        if (sending) {
          const due = Math.min(total, dueBy(Math.min(elapsed, duration)));
          while (seq < due) {
            // The interval a message belongs to is the one its due time falls in.
            while (seq >= firstOf(current!.index + 1) && current!.index + 1 < intervalCount) {
              close(current!, now);
              open(current!.index + 1, now);
            }
            const iv = current!;
            const k = seq++;
            const [a, b] = pairs!.pairs[k % pairs!.pairs.length]!;
            const [from, to] = Math.floor(k / pairs!.pairs.length) % 2 === 0 ? [a, b] : [b, a];
            const i = k - iv.first;
            const at = performance.now();
            iv.sendAt[i] = at;
            iv.sent = i + 1;
            from.send(chatMessage(pairs!.target(to), `k${iv.index}.${i}`, `sent ${at.toFixed(3)}`));
          }
          // An interval also ends when its time is over and all its messages are sent (at low rates).
          const cur = current!;
          if (elapsed >= cur.endMs && seq >= firstOf(cur.index + 1) && cur.index + 1 < intervalCount) {
            close(cur, now);
            open(cur.index + 1, now);
          }
          if (elapsed >= duration) sending = false;
        }
        if (!sending && current !== null) {
          close(current, now);
          current = null;
        }
        for (const iv of [...intervals.values()]) {
          if (iv.row === null) continue;
          if (iv.received >= iv.sent || now - iv.closedAt >= opts.lossDeadlineMs) finish(iv);
        }
        // After an interval with a lost session every later message may be lost too: stop there.
        if (sending && result.rows.some((r) => r.alive < sessions.length)) {
          result.stoppedBy = 'sessions';
          sending = false;
        }
        if (!sending && current === null && intervals.size === 0) resolve();
        else setTimeout(tick, TICK_MS);
      };
      tick();
    });
    loop.disable();
    result.rows.sort((a, b) => a.minute - b.minute);
    if (pid !== undefined) result.server.peakRssKiB = statusKiB(pid, 'VmHWM');
  } finally {
    if (pairs) result.server.problems = await stopMessagePairs(pairs, opts.log);
  }
  return rounded(result);
}

export function soakTable(result: SoakResult): string {
  const mib = (k: number | null | undefined) => (k === null || k === undefined ? '–' : fmt(k / 1024, 1));
  const before = ['0 (before)', mib(result.server.rssBeforeKiB), '–', '–', '–', '–', '–', '–', '–', '–', '–'];
  return markdownTable(
    ['minute', 'RSS MiB', 'sent/s', 'delivered/s', 'p50 ms', 'p99 ms', 'max ms', 'lost', 'dup', 'server CPU ms/1k msgs', 'alive'],
    [before, ...result.rows.map((r) => [fmt(r.minute, 2), mib(r.rssKiB), fmt(r.sentPerSecond, 0), fmt(r.deliveredPerSecond, 0),
      fmt(r.latencyMs.p50, 2), fmt(r.latencyMs.p99, 2), fmt(r.latencyMs.max, 1), String(r.lost), String(r.duplicates),
      fmt(r.serverCpuMsPer1000 ?? Number.NaN, 1), String(r.alive)])],
  );
}

export function soakSummary(result: SoakResult): string {
  const t = result.totals;
  const first = result.rows[0]?.rssKiB;
  const last = result.rows[result.rows.length - 1]?.rssKiB;
  const growth = first != null && last != null ? `${fmt((last - first) / 1024, 1)} MiB from the first row to the last` : 'unknown';
  return `Rate ${result.rate} msgs/s (${result.rateSource}${result.probe ? `: highest probe step without loss ${result.probe.best}/s` : ''}); ` +
    `stopped by ${result.stoppedBy}. Sent ${t.sent}, received ${t.received}, lost ${t.lost} ` +
    `(received late: ${t.late}), duplicates ${t.duplicates}, bounced ${t.bounced}. RSS growth ${growth}; ` +
    `peak RSS ${result.server.peakRssKiB == null ? '–' : `${fmt(result.server.peakRssKiB / 1024, 1)} MiB`}.`;
}

const HELP = `Usage: node dist/bench/soak.js [options]
The message scenario held at a constant rate; a row of RSS, rates, latency and loss per interval.
  --rate N                 offered msgs/s (default: half of --max-rate)
  --max-rate N             the message scenario's maximum; without it (and --rate) a probe finds it first
  --probe-rates LIST       the probe's steps (default 2000,5000,10000,20000,40000)
  --probe-step-ms MS       the probe's step length (default 3000)
  --minutes M              how long to send (default 30; fractions allowed)
  --seconds S              how long to send, instead of --minutes
  --sample-seconds S       one row per this many seconds (default 60)
  --loss-deadline MS       a message not received within this is lost (default 5000)
  --sessions N             online sessions, in pairs (default 10000)
  --to full|bare           address the partner's full JID (default) or bare JID
  --login-concurrency N    logins in flight while connecting (default 100)
  --pid PID                the server's process id, for its RSS and CPU time (without --spawn)
${COMMON_HELP}
  (defaults here: --tls none (one mode), --users bench/<sessions>, --timeout: the duration + 900)
SIGINT stops early and prints what was measured; a second SIGINT exits at once.`;

function optionsFromArgs(argv: string[]): { opts: SoakOptions; out?: string } | null {
  const { values: v } = parseArgs({
    args: argv, strict: true, allowPositionals: false,
    options: {
      ...PAIR_OPTIONS,
      rate: { type: 'string' },
      'max-rate': { type: 'string' },
      'probe-rates': { type: 'string', default: DEFAULT_MESSAGE_OPTIONS.rates.join(',') },
      'probe-step-ms': { type: 'string', default: '3000' },
      minutes: { type: 'string', default: '30' },
      seconds: { type: 'string' },
      'sample-seconds': { type: 'string', default: '60' },
      'loss-deadline': { type: 'string', default: '5000' },
    },
  });
  if (v.help) return null;
  const minutes = Number(v.minutes);
  if (!(minutes > 0 && minutes <= 7 * 24 * 60)) throw new UsageError(`--minutes must be a number above 0, not '${v.minutes}'`);
  const durationMs = v.seconds === undefined ? Math.round(minutes * 60_000) : int(v.seconds, 'seconds', 1, 7 * 24 * 3600) * 1000;
  const opts: SoakOptions = {
    ...DEFAULT_SOAK_OPTIONS,
    ...pairsFromArgs(v, durationMs + 900_000),
    rate: v.rate === undefined ? null : int(v.rate, 'rate', 1, 10_000_000),
    maxRate: v['max-rate'] === undefined ? null : int(v['max-rate'], 'max-rate', 2, 10_000_000),
    probeRates: v['probe-rates'].split(',').map((r) => int(r.trim(), 'probe-rates', 1, 10_000_000)),
    probeStepMs: int(v['probe-step-ms'], 'probe-step-ms', 100, 600_000),
    durationMs,
    sampleMs: int(v['sample-seconds'], 'sample-seconds', 1, 24 * 3600) * 1000,
    lossDeadlineMs: int(v['loss-deadline'], 'loss-deadline', 1, 600_000),
  };
  return { opts, out: v.out };
}

async function main(): Promise<void> {
  const parsed = parseOrExit('soak', HELP, optionsFromArgs);
  if (!parsed) return;
  const stop = new AbortController();
  const onSigint = () => {
    if (stop.signal.aborted) process.exit(130);
    note('soak: interrupted; stopping (SIGINT again to exit at once)');
    stop.abort();
  };
  process.on('SIGINT', onSigint);
  const result = await runSoak({ ...parsed.opts, signal: stop.signal });
  process.off('SIGINT', onSigint);
  process.stdout.write(`${soakTable(result)}\n\n${soakSummary(result)}\n`);
  if (parsed.out !== undefined) writeJson(parsed.out, result);
  reportServerProblems(result.server.problems);
  if (result.totals.lost > 0 || result.logins.failed > 0) process.exitCode = 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    process.stderr.write(`soak: ${String((err as Error)?.stack ?? err)}\n`);
    process.exit(1);
  });
}
