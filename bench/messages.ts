// Message throughput: N online sessions in pairs of contacts (each pair's rosters say
// subscription 'both') exchange chat messages at a rising offered load. Each step
// sends at a fixed rate for a bounded time, then waits a bounded time for the last
// deliveries; it reports delivered msgs/s, loss, latency (send to receipt, both
// timed in this process) and the server's CPU time per 1,000 messages. Stepping
// stops at the first step with any loss, a p99 over the limit, or a rate this
// client could not offer; the result names the highest step without loss.
//
//   node dist/bench/messages.js --spawn [--sessions 10000] [--rates 2000,5000,10000,20000,40000] [--tls starttls]
//   node dist/bench/messages.js --host 127.0.0.1 --port 5222 --pid PID --users bench/10000
//
// With --spawn the accounts and their rosters are written straight into a fresh
// spool. Without it, the accounts must exist and pairs (2k, 2k+1) should be contacts.
// The client shares the machine with the server: at high rates it may be the limit,
// which the 'sent/s' column shows.
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { attr } from './client/scanner.js';
import { chatMessage } from './client/stanzas.js';
import { fmt, markdownTable, rounded, summarize, type TrafficRow } from './lib/stats.js';
import { sleep, startCpuMeter, statusKiB } from './lib/proc.js';
import type { ServerProblems } from './lib/server.js';
import { PAIR_OPTIONS, pairSources, pairsFromArgs, startMessagePairs, stopMessagePairs, type MessagePairs, type PairOptions } from './lib/pairs.js';
import { checkOpenFiles } from './memory.js';
import {
  COMMON_HELP, UsageError, environment, int, note, writeJson, parseOrExit, reportServerProblems
} from './lib/args.js';

/** How often the sender wakes up to send what is due. */
const TICK_MS = 2;

export interface MessageBenchOptions extends PairOptions {
  /** Offered loads in messages per second, one step each, in order. */
  rates: number[];
  /** How long each step sends. */
  stepMs: number;
  /** How long a step waits after sending for the last deliveries. */
  drainMs: number;
  /** Stepping stops when a step's p99 latency exceeds this. */
  maxP99Ms: number;
}

export interface StepRow extends TrafficRow {
  offeredPerSecond: number;
  /** Received messages over the time from the step's start to the last receipt. */
  deliveredPerSecond: number;
  clientCpuMsPer1000: number;
}

export interface MessageBenchResult {
  benchmark: 'messages';
  environment: Record<string, unknown>;
  settings: Record<string, unknown>;
  server: { spawned: boolean; pid?: number; idleRssKiB?: number | null; peakRssKiB?: number | null; problems?: ServerProblems };
  logins: { ok: number; failed: number; errors: Record<string, number>; elapsedMs: number };
  steps: StepRow[];
  /** Why stepping stopped: 'loss', 'p99', 'client', 'sessions', or 'done'. */
  stoppedBy: string;
  /** The highest step without loss (and within the p99 limit), if any. */
  best: { offeredPerSecond: number; deliveredPerSecond: number; p50: number; p99: number } | null;
}

export const DEFAULT_MESSAGE_OPTIONS: Omit<MessageBenchOptions, 'users'> = {
  spawn: false, host: '127.0.0.1', domain: 'localhost', password: 'bench-secret', tls: 'none',
  sessions: 10_000, rates: [2000, 5000, 10_000, 20_000, 40_000], stepMs: 5000, drainMs: 3000, maxP99Ms: 100,
  to: 'full', loginConcurrency: 100, sources: [], timeoutMs: 900_000, loginTimeoutMs: 60_000, iterations: 10_000,
  serverLogLevel: 'info', log: note,
};

/** One step's bookkeeping: message seq -> send time; receipts by seq. */
class StepState {
  readonly sendAt: Float64Array;
  readonly seen: Uint8Array;
  readonly latencies: number[] = [];
  received = 0;
  duplicates = 0;
  lastReceipt = 0;
  constructor(readonly index: number, capacity: number) {
    this.sendAt = new Float64Array(capacity);
    this.seen = new Uint8Array(capacity);
  }
  receipt(seq: number, now: number): void {
    if (!(seq >= 0 && seq < this.seen.length)) return;
    if (this.seen[seq]) {
      this.duplicates++;
      return;
    }
    this.seen[seq] = 1;
    this.received++;
    this.lastReceipt = now;
    this.latencies.push(now - this.sendAt[seq]!);
  }
}

export async function runMessageBench(opts: MessageBenchOptions): Promise<MessageBenchResult> {
  if (opts.sessions < 2 || opts.sessions % 2 !== 0) throw new UsageError('--sessions must be an even number of at least 2');
  if (opts.users.count < opts.sessions) throw new UsageError('--users must have at least as many accounts as --sessions');
  checkOpenFiles(opts.sessions, opts.spawn ? undefined : opts.pid);
  const deadline = performance.now() + opts.timeoutMs;
  const remaining = () => Math.max(0, deadline - performance.now());
  const sources = pairSources(opts);
  const result: MessageBenchResult = {
    benchmark: 'messages',
    environment: environment(),
    settings: {
      sessions: opts.sessions, rates: opts.rates, stepMs: opts.stepMs, drainMs: opts.drainMs, maxP99Ms: opts.maxP99Ms,
      tls: opts.tls, to: opts.to, users: `${opts.users.prefix}/${opts.users.count}`,
      sources: sources.length || 'kernel default',
    },
    server: { spawned: opts.spawn },
    logins: { ok: 0, failed: 0, errors: {}, elapsedMs: 0 },
    steps: [],
    stoppedBy: 'done',
    best: null,
  };
  let pairs: MessagePairs | null = null;
  try {
    // Receipts go to the current step; ids are 'm<step>.<seq>', so late ones of an
    // earlier step are recognised and not counted.
    let step: StepState | null = null;
    const onStanza = (name: string, tag: string) => {
      if (name !== 'message' || step === null) return;
      // A bounce (type='error') is not a delivery.
      if (attr(tag, 'type') === 'error') return;
      const now = performance.now();
      const id = attr(tag, 'id');
      if (!id || id.charCodeAt(0) !== 0x6d) return;
      const dot = id.indexOf('.');
      if (Number(id.slice(1, dot)) !== step.index) return;
      step.receipt(Number(id.slice(dot + 1)), now);
    };
    pairs = await startMessagePairs(opts, onStanza, remaining(), {
      resource: 'msg',
      onServer: (server) => {
        if (!server) return;
        result.server.pid = server.pid;
        result.server.idleRssKiB = statusKiB(server.pid, 'VmRSS');
      },
    });
    const { sessions, pid, server, target } = pairs;
    result.logins = pairs.logins;
    const pairList = pairs.pairs;
    await sleep(Math.min(2000, remaining())); // let the presence exchange of the logins settle

    for (let k = 0; k < opts.rates.length; k++) {
      if (remaining() < opts.stepMs + opts.drainMs) {
        result.stoppedBy = 'time budget';
        break;
      }
      const rate = opts.rates[k]!;
      const capacity = Math.ceil((rate * opts.stepMs) / 1000) + 1;
      const st = new StepState(k, capacity);
      step = st;
      const meter = startCpuMeter(pid);
      const loop = monitorEventLoopDelay({ resolution: 5 });
      loop.enable();
      const t0 = performance.now();
      let sent = 0;
      // Sends what is due by now; the sender catches up when the event loop was busy.
      await new Promise<void>((resolve) => {
        const tick = () => {
          const now = performance.now();
          const elapsed = Math.min(now - t0, opts.stepMs);
          const due = Math.min(capacity, Math.floor((rate * elapsed) / 1000));
          while (sent < due) {
            const seq = sent++;
            const [a, b] = pairList[seq % pairList.length]!;
            const [from, to] = Math.floor(seq / pairList.length) % 2 === 0 ? [a, b] : [b, a];
            const at = performance.now();
            st.sendAt[seq] = at;
            from.send(chatMessage(target(to), `m${k}.${seq}`, `sent ${at.toFixed(3)}`));
          }
          if (now - t0 >= opts.stepMs) resolve();
          else setTimeout(tick, TICK_MS);
        };
        tick();
      });
      const sendEnd = performance.now();
      const drainEnd = sendEnd + opts.drainMs;
      while (st.received < sent && performance.now() < drainEnd) await sleep(10);
      step = null;
      loop.disable();
      const elapsed = performance.now() - t0;
      const cpu = meter.stop(elapsed);
      const per1000 = (ms: number | null) => (ms === null ? null : st.received > 0 ? (ms * 1000) / st.received : Number.NaN);
      const row: StepRow = {
        offeredPerSecond: rate, sent, sentPerSecond: sent / ((sendEnd - t0) / 1000), received: st.received,
        deliveredPerSecond: st.received > 0 ? st.received / ((st.lastReceipt - t0) / 1000) : 0,
        lost: sent - st.received, duplicates: st.duplicates, latencyMs: summarize(st.latencies),
        serverCpuMsPer1000: per1000(cpu.serverMs), clientCpuMsPer1000: per1000(cpu.clientMs)!, otherLoad: cpu.otherLoad,
        alive: sessions.filter((s) => s.state === 'ready').length,
        clientLoopDelayMs: { p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 },
      };
      result.steps.push(row);
      opts.log(`${rate}/s: sent ${sent} (${fmt(row.sentPerSecond, 0)}/s), received ${st.received} ` +
        `(${fmt(row.deliveredPerSecond, 0)}/s), lost ${row.lost}, p50 ${fmt(row.latencyMs.p50, 2)} ms, ` +
        `p99 ${fmt(row.latencyMs.p99, 2)} ms, server CPU ms/1k ${fmt(row.serverCpuMsPer1000 ?? Number.NaN, 1)}, ` +
        `client loop delay p99/max ${fmt(row.clientLoopDelayMs.p99, 1)}/${fmt(row.clientLoopDelayMs.max, 1)} ms, ` +
        `other load ${row.otherLoad === null ? '?' : `${fmt(row.otherLoad * 100, 0)}%`}`);
      const ok = row.lost === 0 && row.latencyMs.p99 <= opts.maxP99Ms;
      if (ok) {
        result.best = { offeredPerSecond: rate, deliveredPerSecond: row.deliveredPerSecond, p50: row.latencyMs.p50, p99: row.latencyMs.p99 };
      }
      if (row.alive < sessions.length) { result.stoppedBy = 'sessions'; break; }
      if (row.lost > 0) { result.stoppedBy = 'loss'; break; }
      if (row.latencyMs.p99 > opts.maxP99Ms) { result.stoppedBy = 'p99'; break; }
      if (row.sentPerSecond < rate * 0.95) { result.stoppedBy = 'client'; break; }
      await sleep(Math.min(1000, remaining()));
    }
    if (server) result.server.peakRssKiB = statusKiB(server.pid, 'VmHWM');
  } finally {
    if (pairs) {
      const problems = await stopMessagePairs(pairs, opts.log);
      if (problems) result.server.problems = problems;
    }
  }
  return rounded(result);
}

export function messageTable(result: MessageBenchResult): string {
  return markdownTable(
    ['offered/s', 'sent', 'sent/s', 'received', 'delivered/s', 'lost', 'dup', 'p50 ms', 'p99 ms', 'max ms',
      'server CPU ms/1k msgs', 'client CPU ms/1k msgs', 'client loop delay max ms', 'other load'],
    result.steps.map((r) => [String(r.offeredPerSecond), String(r.sent), fmt(r.sentPerSecond, 0), String(r.received),
      fmt(r.deliveredPerSecond, 0), String(r.lost), String(r.duplicates), fmt(r.latencyMs.p50, 2), fmt(r.latencyMs.p99, 2),
      fmt(r.latencyMs.max, 1), fmt(r.serverCpuMsPer1000 ?? Number.NaN, 1), fmt(r.clientCpuMsPer1000, 1),
      fmt(r.clientLoopDelayMs.max, 1), r.otherLoad === null ? '–' : `${fmt(r.otherLoad * 100, 0)}%`]),
  );
}

export function bestLine(result: MessageBenchResult): string {
  const b = result.best;
  return b === null
    ? `No step ran without loss within p99 <= limit (stopped by ${result.stoppedBy}).`
    : `Highest step without loss: ${b.offeredPerSecond} msgs/s offered, ${fmt(b.deliveredPerSecond, 0)} delivered/s, ` +
      `p50 ${fmt(b.p50, 2)} ms, p99 ${fmt(b.p99, 2)} ms (stopped by ${result.stoppedBy}).`;
}

const HELP = `Usage: node dist/bench/messages.js [options]
Chat messages between online contacts at a rising offered load.
  --sessions N             online sessions, in pairs (default 10000)
  --rates LIST             offered msgs/s per step (default 2000,5000,10000,20000,40000)
  --step-ms MS             how long each step sends (default 5000)
  --drain-ms MS            how long a step waits for the last deliveries (default 3000)
  --max-p99 MS             stop after a step with a p99 above this (default 100)
  --to full|bare           address the partner's full JID (default) or bare JID
  --login-concurrency N    logins in flight while connecting (default 100)
  --pid PID                the server's process id, for its CPU time (without --spawn)
${COMMON_HELP}
  (defaults here: --tls none (one mode), --users bench/<sessions>, --timeout 900)`;

function optionsFromArgs(argv: string[]): { opts: MessageBenchOptions; out?: string } | null {
  const { values: v } = parseArgs({
    args: argv, strict: true, allowPositionals: false,
    options: {
      ...PAIR_OPTIONS,
      rates: { type: 'string', default: '2000,5000,10000,20000,40000' },
      'step-ms': { type: 'string', default: '5000' },
      'drain-ms': { type: 'string', default: '3000' },
      'max-p99': { type: 'string', default: '100' },
    },
  });
  if (v.help) return null;
  const opts: MessageBenchOptions = {
    ...DEFAULT_MESSAGE_OPTIONS,
    ...pairsFromArgs(v, 900_000),
    rates: v.rates.split(',').map((r) => int(r.trim(), 'rates', 1, 10_000_000)),
    stepMs: int(v['step-ms'], 'step-ms', 100, 600_000),
    drainMs: int(v['drain-ms'], 'drain-ms', 0, 600_000),
    maxP99Ms: int(v['max-p99'], 'max-p99', 1),
  };
  return { opts, out: v.out };
}

async function main(): Promise<void> {
  const parsed = parseOrExit('messages', HELP, optionsFromArgs);
  if (!parsed) return;
  const result = await runMessageBench(parsed.opts);
  process.stdout.write(`${messageTable(result)}\n\n${bestLine(result)}\n`);
  if (parsed.out !== undefined) writeJson(parsed.out, result);
  reportServerProblems(result.server.problems);
  if (result.logins.failed > 0) process.exitCode = 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    process.stderr.write(`messages: ${String((err as Error)?.stack ?? err)}\n`);
    process.exit(1);
  });
}
