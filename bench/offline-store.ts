// Offline message store rate (M6): S online sender sessions send chat messages to R
// distinct accounts that are offline, flat out with a bounded window: each sender
// sends a batch of B messages as one write, then pings the server and sends its next
// batch only once the ping is answered (at most S x B messages outstanding). The
// offline module stores a message before the sender's session handles its next
// stanza, so the ping's answer proves the whole batch is stored (see DURABILITY).
// Reports stored msgs/s, the latency from a batch's send to its ping answer, the
// server's CPU time per 1,000 stored messages and spool bytes per message. At the end
// the spool is read: exactly the messages sent must be there, none lost, none twice,
// each sender's in order.
//
//   node dist/bench/offline-store.js --spawn [--senders 50] [--recipients 1000] [--messages 50000] [--batch 10]
//
// Only --spawn is supported: the stored messages are checked by reading the spool.
// The spool lies in the system's temporary directory (TMPDIR); what an fsync costs
// depends on that filesystem, which the result names.
import { parseArgs } from 'node:util';
import { readFileSync, readdirSync, realpathSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { runLogins, closeAll } from './client/runner.js';
import { SaltedPasswordCache } from './client/scram.js';
import { attr } from './client/scanner.js';
import { chatMessage, serverPing } from './client/stanzas.js';
import type { LoadSession, TlsMode } from './client/session.js';
import { fmt, markdownTable, rounded, summarize, type Summary } from './lib/stats.js';
import { sleep, startCpuMeter, statusKiB } from './lib/proc.js';
import { createUsers, newBenchDir, spawnRohrpost, userName, type BenchServer, type ServerProblems, finishServer } from './lib/server.js';
import { openStorage } from '../src/storage/index.js';
import { COMMON_HELP, COMMON_OPTIONS, UsageError, environment, int, note, parseTlsModes, writeJson, parseOrExit, reportServerProblems, type BenchBaseOptions } from './lib/args.js';

const OFFLINE_LIST = 'offline';
const LIST_FILE_SUFFIX = `.${OFFLINE_LIST}.list`;
const SENDERS = { prefix: 'store-sender', count: 0 };
const RECIPIENTS = { prefix: 'store-rcpt', count: 0 };
/** The server's default offline.max_messages; raised when one recipient gets more. */
const DEFAULT_MAX_MESSAGES = 1000;

/** What "stored" means here, from src/modules/xep0160-offline.ts and src/storage/spool/list-files.ts. */
export const DURABILITY =
  'Each message is stored on its own, without batching or group commit: the offline module appends one record ' +
  '(the stanza with a XEP-0203 delay stamp, serialised as one line of XML) to the recipient\'s list file ' +
  'spool/<domain>/<user>.offline.list, and the append opens the file, writes at its end, fsyncs it and closes it ' +
  'before it resolves (a user\'s first message also creates the file and fsyncs its directory). The sender\'s ' +
  'session handles its next stanza only after that, so the answer to a ping sent after a batch proves every message ' +
  'of the batch was fsync\'d: one fsync per message. Appends to one user\'s file run one at a time, different users\' ' +
  'in parallel (here at most one per sender session). Durable as far as the filesystem\'s fsync is ' +
  '(on tmpfs it is not durable at all).';

export interface OfflineStoreOptions extends BenchBaseOptions {
  tls: TlsMode;
  /** Online sessions that send. */
  senders: number;
  /** Distinct offline accounts the messages go to. */
  recipients: number;
  /** Messages in all, spread evenly over the senders. */
  messages: number;
  /** Messages a sender sends before its ping; the window is senders x batch. */
  batch: number;
  /** Offered msgs/s of all senders together; null sends flat out (each sender's next batch as soon as its ping is answered). */
  rate: number | null;
  /** Length of each message's body in characters. */
  bodyBytes: number;
  /** A ping must be answered within this time. */
  batchTimeoutMs: number;
  loginConcurrency: number;
  loginTimeoutMs: number;
}

export interface OfflineStoreResult {
  benchmark: 'offline-store';
  environment: Record<string, unknown>;
  settings: Record<string, unknown>;
  /** What a stored message has been through (the guarantee the figures come with). */
  durability: string;
  /** The filesystem of the spool, e.g. 'ext4 on /'. */
  spoolFilesystem: string | null;
  server: { spawned: true; pid?: number; idleRssKiB?: number | null; peakRssKiB?: number | null; problems?: ServerProblems };
  logins: { ok: number; failed: number; errors: Record<string, number>; elapsedMs: number };
  /** Messages sent, and how many of them a ping answer covered. */
  sent: number;
  acknowledged: number;
  batches: number;
  /** Messages sent back as errors (e.g. the recipient's store was full). */
  bounced: number;
  /** What the spool holds afterwards, compared with what was sent. */
  verify: {
    stored: number;
    lost: number;
    duplicates: number;
    /** Stored messages that were never sent (by this run). */
    unexpected: number;
    /** Stored messages of one sender in a recipient's list after a later one of the same sender. */
    outOfOrder: number;
    /** Recipients with a list file (each file's creation fsyncs the directory once). */
    files: number;
    ms: number;
  };
  /** From the first send to the last ping answer. */
  elapsedMs: number;
  storedPerSecond: number;
  /** Send of a batch's first message until its ping's answer. */
  batchLatencyMs: Summary;
  serverCpuMsPer1000: number | null;
  clientCpuMsPer1000: number;
  otherLoad: number | null;
  spoolBytes: number;
  bytesPerMessage: number;
  /** 'done', 'time budget' or 'ping timeout'. */
  stoppedBy: string;
}

export const DEFAULT_OFFLINE_STORE_OPTIONS: OfflineStoreOptions = {
  domain: 'localhost', password: 'bench-secret', tls: 'none', senders: 50, recipients: 1000, messages: 50_000, batch: 10,
  rate: null, bodyBytes: 100, batchTimeoutMs: 30_000, loginConcurrency: 50, timeoutMs: 600_000, loginTimeoutMs: 30_000,
  iterations: 10_000, serverLogLevel: 'info', log: note,
};

/** Message n of sender s goes here: each sender walks the recipients from its own offset, so they spread over all. */
export function recipientOf(opts: Pick<OfflineStoreOptions, 'senders' | 'recipients'>, s: number, n: number): number {
  const stride = Math.max(1, Math.floor(opts.recipients / opts.senders));
  return (s * stride + n) % opts.recipients;
}

/** How many messages sender s sends. */
function quotaOf(opts: Pick<OfflineStoreOptions, 'senders' | 'messages'>, s: number): number {
  return Math.floor(opts.messages / opts.senders) + (s < opts.messages % opts.senders ? 1 : 0);
}

/** The filesystem a path lies on, from /proc/self/mounts (the longest mount point above it); null when unknown. */
export function filesystemOf(path: string): string | null {
  try {
    const real = realpathSync(path);
    let best: { mount: string; type: string } | null = null;
    for (const line of readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
      const [, rawMount, type] = line.split(' ');
      if (!rawMount || !type) continue;
      const mount = rawMount.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
      const inside = mount === '/' || real === mount || real.startsWith(`${mount}/`);
      if (inside && (!best || mount.length >= best.mount.length)) best = { mount, type };
    }
    return best ? `${best.type} on ${best.mount}` : null;
  } catch {
    return null;
  }
}

/** Bytes and number of the offline list files in a spool (one directory per domain). */
function offlineFiles(spool: string): { bytes: number; files: number } {
  let bytes = 0;
  let files = 0;
  for (const d of readdirSync(spool, { withFileTypes: true })) {
    if (!d.isDirectory()) continue;
    for (const f of readdirSync(join(spool, d.name))) {
      if (!f.endsWith(LIST_FILE_SUFFIX)) continue;
      bytes += statSync(join(spool, d.name, f)).size;
      files++;
    }
  }
  return { bytes, files };
}

export async function runOfflineStoreBench(opts: OfflineStoreOptions): Promise<OfflineStoreResult> {
  if (opts.senders < 1 || opts.recipients < 1 || opts.batch < 1) throw new UsageError('--senders, --recipients and --batch must be at least 1');
  if (opts.messages < opts.senders) throw new UsageError('--messages must be at least --senders (one per sender)');
  const deadline = performance.now() + opts.timeoutMs;
  const remaining = () => Math.max(0, deadline - performance.now());
  const senders = { ...SENDERS, count: opts.senders };
  const recipients = { ...RECIPIENTS, count: opts.recipients };
  // The most any one recipient gets, so that the server's per-user limit never refuses one.
  const perRecipient = new Uint32Array(opts.recipients);
  for (let s = 0; s < opts.senders; s++) {
    const q = quotaOf(opts, s);
    for (let n = 0; n < q; n++) perRecipient[recipientOf(opts, s, n)]!++;
  }
  const maxPerRecipient = perRecipient.reduce((a, b) => Math.max(a, b), 0);
  const result: OfflineStoreResult = {
    benchmark: 'offline-store',
    environment: environment(),
    settings: {
      senders: opts.senders, recipients: opts.recipients, messages: opts.messages, batch: opts.batch,
      window: opts.senders * opts.batch, rate: opts.rate ?? 'flat out', bodyBytes: opts.bodyBytes, tls: opts.tls,
      maxPerRecipient, maxMessagesSetting: Math.max(DEFAULT_MAX_MESSAGES, maxPerRecipient),
    },
    durability: DURABILITY,
    spoolFilesystem: null,
    server: { spawned: true },
    logins: { ok: 0, failed: 0, errors: {}, elapsedMs: 0 },
    sent: 0, acknowledged: 0, batches: 0, bounced: 0,
    verify: { stored: 0, lost: 0, duplicates: 0, unexpected: 0, outOfOrder: 0, files: 0, ms: 0 },
    elapsedMs: 0, storedPerSecond: 0, batchLatencyMs: summarize([]),
    serverCpuMsPer1000: null, clientCpuMsPer1000: Number.NaN, otherLoad: null,
    spoolBytes: 0, bytesPerMessage: Number.NaN, stoppedBy: 'done',
  };
  const dir = newBenchDir();
  let server: BenchServer | null = null;
  let sessions: LoadSession[] = [];
  const checker = openStorage('spool', join(dir, 'spool'), { cacheSize: 0 });
  try {
    const a = await createUsers(join(dir, 'spool'), opts.domain, senders, opts.password, opts.iterations);
    const b = await createUsers(join(dir, 'spool'), opts.domain, recipients, opts.password, opts.iterations);
    opts.log(`created ${a.created + b.created} accounts in ${a.ms + b.ms} ms`);
    result.spoolFilesystem = filesystemOf(dir);
    server = await spawnRohrpost({
      dir, domain: opts.domain, logLevel: opts.serverLogLevel,
      sets: [`offline.max_messages=${Math.max(DEFAULT_MAX_MESSAGES, maxPerRecipient)}`],
    });
    result.server.pid = server.pid;
    result.server.idleRssKiB = statusKiB(server.pid, 'VmRSS');
    opts.log(`Rohrpost pid ${server.pid}; spool on ${result.spoolFilesystem ?? 'an unknown filesystem'}`);
    const port = opts.tls === 'direct' ? server.directTlsPort : server.starttlsPort;

    // Ping answers by id ('p<sender>.<batch>'); bounces counted.
    const pings = new Map<string, () => void>();
    const onStanza = (name: string, tag: string) => {
      if (name === 'iq') {
        const id = attr(tag, 'id');
        if (id) pings.get(id)?.();
      } else if (name === 'message' && attr(tag, 'type') === 'error') {
        result.bounced++;
      }
    };
    const cache = new SaltedPasswordCache();
    const logins = await runLogins({
      count: opts.senders, concurrency: opts.loginConcurrency, deadlineMs: remaining(), keepOpen: true,
      session: (i) => ({
        host: '127.0.0.1', port, domain: opts.domain, username: userName(senders, i), password: opts.password,
        mechanism: 'SCRAM-SHA-1', tls: opts.tls, resource: `store-${i}`, presence: true,
        timeoutMs: opts.loginTimeoutMs, scramCache: cache, onStanza,
      }),
    });
    sessions = logins.sessions;
    result.logins = { ok: logins.ok, failed: logins.failed, errors: logins.errors, elapsedMs: logins.elapsedMs };
    if (logins.failed > 0 || sessions.length < opts.senders) {
      throw new Error(`${logins.failed} of ${opts.senders} sender logins failed: ${JSON.stringify(logins.errors)}`);
    }
    opts.log(`${sessions.length} senders online in ${fmt(logins.elapsedMs, 0)} ms; ${opts.messages} messages to ` +
      `${opts.recipients} offline accounts, batches of ${opts.batch}`);
    await sleep(Math.min(500, remaining()));

    const ping = (session: LoadSession, id: string) => new Promise<boolean>((resolve) => {
      const t = setTimeout(() => { pings.delete(id); resolve(false); }, Math.min(opts.batchTimeoutMs, remaining() + 1000));
      pings.set(id, () => { clearTimeout(t); pings.delete(id); resolve(true); });
      session.send(serverPing(opts.domain, id));
    });
    const pad = 'x'.repeat(opts.bodyBytes);
    const body = (s: number, n: number) => {
      const head = `offline message ${n} from sender ${s} `;
      return head.length >= opts.bodyBytes ? head.slice(0, opts.bodyBytes) : head + pad.slice(head.length);
    };
    const sentBy = new Uint32Array(opts.senders);
    const latencies: number[] = [];
    const meter = startCpuMeter(server.pid);
    const t0 = performance.now();
    let lastAnswer = t0;
    let stop = false;
    const sender = async (s: number) => {
      const session = sessions[s]!;
      const quota = quotaOf(opts, s);
      // With a rate, sender s's batches are due at its share of it, staggered over the senders.
      const perSender = opts.rate === null ? 0 : opts.rate / opts.senders;
      for (let k = 0; sentBy[s]! < quota && !stop; k++) {
        if (remaining() <= 0) { result.stoppedBy = 'time budget'; break; }
        if (perSender > 0) {
          const due = t0 + ((k + s / opts.senders) * opts.batch * 1000) / perSender;
          const wait = due - performance.now();
          if (wait > 0) await sleep(Math.min(wait, remaining()));
        }
        const first = sentBy[s]!;
        const size = Math.min(opts.batch, quota - first);
        let xml = '';
        for (let n = first; n < first + size; n++) {
          xml += chatMessage(`${userName(recipients, recipientOf(opts, s, n))}@${opts.domain}`, `s${s}.${n}`, body(s, n));
        }
        const at = performance.now();
        session.send(xml);
        sentBy[s] = first + size;
        result.sent += size;
        result.batches++;
        if (!(await ping(session, `p${s}.${k}`))) {
          result.stoppedBy = 'ping timeout';
          stop = true;
          break;
        }
        const now = performance.now();
        latencies.push(now - at);
        lastAnswer = Math.max(lastAnswer, now);
        result.acknowledged += size;
      }
    };
    await Promise.all(Array.from({ length: opts.senders }, (_, s) => sender(s)));
    result.elapsedMs = lastAnswer - t0;
    const cpu = meter.stop(result.elapsedMs);
    const per1000 = (ms: number | null) => (ms === null ? null : result.acknowledged > 0 ? (ms * 1000) / result.acknowledged : Number.NaN);
    result.serverCpuMsPer1000 = per1000(cpu.serverMs);
    result.clientCpuMsPer1000 = per1000(cpu.clientMs)!;
    result.otherLoad = cpu.otherLoad;
    result.storedPerSecond = result.elapsedMs > 0 ? result.acknowledged / (result.elapsedMs / 1000) : 0;
    result.batchLatencyMs = summarize(latencies);
    opts.log(`sent ${result.sent}, acknowledged ${result.acknowledged} in ${fmt(result.elapsedMs, 0)} ms ` +
      `(${fmt(result.storedPerSecond, 0)}/s); batch p50 ${fmt(result.batchLatencyMs.p50, 2)} ms, p99 ${fmt(result.batchLatencyMs.p99, 2)} ms`);

    // After a ping timeout, messages may still be on their way into the store: one more
    // ping per sender (answered after all it sent) before the spool is read.
    if (result.acknowledged < result.sent) {
      const answered = await Promise.all(sessions.map((session, s) => ping(session, `p${s}.final`)));
      opts.log(`final pings answered: ${answered.filter(Boolean).length}/${sessions.length}`);
    }

    // The spool must hold exactly what was sent: per recipient, each sender's messages in order.
    const v0 = performance.now();
    const offline = checker.list(OFFLINE_LIST);
    const seen = Array.from({ length: opts.senders }, (_, s) => new Uint8Array(sentBy[s]!));
    for (let r = 0; r < opts.recipients; r++) {
      const stored = await offline.readAll(opts.domain, userName(recipients, r));
      const lastOf = new Map<number, number>();
      for (const m of stored) {
        const id = /^s(\d+)\.(\d+)$/.exec(String(m.attrs.id ?? ''));
        const s = id ? Number(id[1]) : -1;
        const n = id ? Number(id[2]) : -1;
        if (!id || s >= opts.senders || n >= sentBy[s]! || recipientOf(opts, s, n) !== r) {
          result.verify.unexpected++;
          continue;
        }
        result.verify.stored++;
        if (seen[s]![n]) result.verify.duplicates++;
        else seen[s]![n] = 1;
        if ((lastOf.get(s) ?? -1) >= n) result.verify.outOfOrder++;
        lastOf.set(s, n);
      }
    }
    for (const marks of seen) for (const x of marks) if (!x) result.verify.lost++;
    const files = offlineFiles(join(dir, 'spool'));
    result.verify.files = files.files;
    result.verify.ms = performance.now() - v0;
    result.spoolBytes = files.bytes;
    result.bytesPerMessage = result.verify.stored > 0 ? files.bytes / result.verify.stored : Number.NaN;
    opts.log(`spool: ${result.verify.stored} stored in ${files.files} files, ${result.verify.lost} lost, ` +
      `${result.verify.duplicates} duplicates, ${result.verify.unexpected} unexpected, ${result.verify.outOfOrder} out of order`);
    result.server.peakRssKiB = statusKiB(server.pid, 'VmHWM');
  } finally {
    if (sessions.length > 0) {
      await closeAll(sessions);
      // The server answers </stream:stream> before its session/closed handlers finish.
      await sleep(300);
    }
    await checker.close();
    if (server) {
      result.server.problems = await finishServer(server, opts.log);
    } else {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return rounded(result);
}

export function offlineStoreTable(result: OfflineStoreResult): string {
  const v = result.verify;
  const l = result.batchLatencyMs;
  return markdownTable(['figure', 'value'], [
    ['messages sent / acknowledged by a ping', `${result.sent} / ${result.acknowledged}`],
    ['stored in the spool (lost, duplicates, unexpected, out of order)', `${v.stored} (${v.lost}, ${v.duplicates}, ${v.unexpected}, ${v.outOfOrder})`],
    ['stored msgs/s', fmt(result.storedPerSecond, 0)],
    [`batch send → ping answer p50 / p99 / max ms (${l.count} batches of ${result.settings.batch})`, `${fmt(l.p50, 2)} / ${fmt(l.p99, 2)} / ${fmt(l.max, 1)}`],
    ['server CPU ms per 1,000 stored', fmt(result.serverCpuMsPer1000 ?? Number.NaN, 1)],
    ['client CPU ms per 1,000 stored', fmt(result.clientCpuMsPer1000, 1)],
    [`spool bytes per message (${v.files} list files)`, fmt(result.bytesPerMessage, 1)],
    ['bounced', String(result.bounced)],
    ['other load on the machine', result.otherLoad === null ? '–' : `${fmt(result.otherLoad * 100, 0)}%`],
  ]);
}

const HELP = `Usage: node dist/bench/offline-store.js --spawn [options]
Chat messages to offline accounts, stored by the server; the spool is checked afterwards.
  --senders N              online sessions that send (default 50)
  --recipients N           distinct offline accounts (default 1000)
  --messages N             messages in all (default 50000)
  --batch N                messages per batch before a ping; window = senders x batch (default 10)
  --rate N                 offered msgs/s of all senders (default: flat out)
  --body-bytes N           characters of each message body (default 100)
  --batch-timeout MS       a ping's limit (default 30000)
  --login-concurrency N    logins in flight (default 50)
  --spawn                  required: start a temporary Rohrpost (its spool in TMPDIR)
  --tls MODE               none (default), starttls or direct
  --domain, --password, --out, --timeout S (default 600), --iterations, --server-log-level as below
${COMMON_HELP}`;

function optionsFromArgs(argv: string[]): { opts: OfflineStoreOptions; out?: string } | null {
  const { values: v } = parseArgs({
    args: argv, strict: true, allowPositionals: false,
    options: {
      ...COMMON_OPTIONS,
      senders: { type: 'string', default: '50' },
      recipients: { type: 'string', default: '1000' },
      messages: { type: 'string', default: '50000' },
      batch: { type: 'string', default: '10' },
      rate: { type: 'string' },
      'body-bytes': { type: 'string', default: '100' },
      'batch-timeout': { type: 'string', default: '30000' },
      'login-concurrency': { type: 'string', default: '50' },
    },
  });
  if (v.help) return null;
  if (!v.spawn) throw new UsageError('only --spawn is supported (the stored messages are checked by reading the spool)');
  const tlsModes = parseTlsModes(v.tls, ['none']);
  if (tlsModes.length !== 1) throw new UsageError('--tls takes one mode here');
  const opts: OfflineStoreOptions = {
    ...DEFAULT_OFFLINE_STORE_OPTIONS,
    domain: v.domain, password: v.password, tls: tlsModes[0]!,
    senders: int(v.senders, 'senders', 1, 10_000), recipients: int(v.recipients, 'recipients', 1, 1_000_000),
    messages: int(v.messages, 'messages', 1, 10_000_000), batch: int(v.batch, 'batch', 1, 10_000),
    rate: v.rate === undefined ? null : int(v.rate, 'rate', 1, 10_000_000),
    bodyBytes: int(v['body-bytes'], 'body-bytes', 1, 100_000),
    batchTimeoutMs: int(v['batch-timeout'], 'batch-timeout', 100),
    loginConcurrency: int(v['login-concurrency'], 'login-concurrency', 1, 10_000),
    timeoutMs: (v.timeout === undefined ? 600 : int(v.timeout, 'timeout', 1)) * 1000,
    loginTimeoutMs: int(v['login-timeout'], 'login-timeout', 100),
    iterations: int(v.iterations, 'iterations', 4096, 10_000_000),
    serverLogLevel: v['server-log-level'],
  };
  return { opts, out: v.out };
}

async function main(): Promise<void> {
  const parsed = parseOrExit('offline-store', HELP, optionsFromArgs);
  if (!parsed) return;
  const result = await runOfflineStoreBench(parsed.opts);
  process.stdout.write(`${offlineStoreTable(result)}\n\nSpool on ${result.spoolFilesystem ?? 'an unknown filesystem'}; ` +
    `stopped by ${result.stoppedBy}.\nDurability: ${result.durability}\n`);
  if (parsed.out !== undefined) writeJson(parsed.out, result);
  reportServerProblems(result.server.problems);
  const v = result.verify;
  if (v.lost > 0 || v.duplicates > 0 || v.unexpected > 0 || v.outOfOrder > 0 || result.stoppedBy === 'ping timeout') process.exitCode = 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    process.stderr.write(`offline-store: ${String((err as Error)?.stack ?? err)}\n`);
    process.exit(1);
  });
}
