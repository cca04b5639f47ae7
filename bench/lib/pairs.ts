// The set-up the message scenario (bench/messages.ts) and the soak (bench/soak.ts)
// share: online sessions in pairs of contacts (2k, 2k+1), on a spawned Rohrpost whose
// spool holds the accounts and rosters, or on a server that already runs.
import { performance } from 'node:perf_hooks';
import { closeAll, runLogins, sourceAddressFor } from '../client/runner.js';
import { SaltedPasswordCache } from '../client/scram.js';
import type { LoadSession, TlsMode } from '../client/session.js';
import { fmt } from './stats.js';
import { sleep } from './proc.js';
import { createUsers, endpointOf, spawnOnSpool, userName, type BenchServer, type ServerProblems, finishServer } from './server.js';
import { writeRosters } from './rosters.js';
import {
  COMMON_OPTIONS, UsageError, int, loopbackSources, parseSources, parseTlsModes, targetFromArgs, type CommonValues, type TargetOptions,
} from './args.js';

/** Connections per client source address before another loopback address is used. */
export const SESSIONS_PER_SOURCE = 20_000;

/** What the pairs' set-up needs. */
export interface PairOptions extends TargetOptions {
  tls: TlsMode;
  /** Online sessions; an even number (pairs). */
  sessions: number;
  /** Address messages to the partner's full JID, or to the bare JID. */
  to: 'full' | 'bare';
  loginConcurrency: number;
  sources: string[];
}

/** parseArgs option specs of the benchmarks built on the pairs (messages, soak). */
export const PAIR_OPTIONS = {
  ...COMMON_OPTIONS,
  sessions: { type: 'string', default: '10000' },
  to: { type: 'string', default: 'full' },
  'login-concurrency': { type: 'string', default: '100' },
  pid: { type: 'string' },
} as const;

/** The PairOptions fields (but log) from the command line: one TLS mode, --users bench/<sessions> by default. */
export function pairsFromArgs(v: CommonValues & { sessions: string; to: string; 'login-concurrency': string; tls?: string; source?: string },
  defaultTimeoutMs: number): Omit<PairOptions, 'log'> {
  const sessions = int(v.sessions, 'sessions', 2, 1_000_000);
  const tlsModes = parseTlsModes(v.tls, ['none']);
  if (tlsModes.length !== 1) throw new UsageError('--tls takes one mode here');
  if (v.to !== 'full' && v.to !== 'bare') throw new UsageError(`--to takes full or bare, not '${v.to}'`);
  return {
    ...targetFromArgs(v, sessions, defaultTimeoutMs),
    tls: tlsModes[0]!, sessions, to: v.to,
    loginConcurrency: int(v['login-concurrency'], 'login-concurrency', 1, 100_000),
    sources: parseSources(v.source),
  };
}

/** Online sessions in pairs of contacts. */
export interface MessagePairs {
  server: BenchServer | null;
  /** The server's PID (spawned, or given). */
  pid?: number;
  sessions: LoadSession[];
  pairs: Array<[LoadSession, LoadSession]>;
  logins: { ok: number; failed: number; errors: Record<string, number>; elapsedMs: number };
  /** Where a message to this session goes (full or bare JID, as opts.to says). */
  target(s: LoadSession): string;
}

/** The client source addresses: as given, or enough loopback addresses for the sessions. */
export function pairSources(opts: Pick<PairOptions, 'sources' | 'sessions'>): string[] {
  return opts.sources.length > 0 || opts.sessions <= SESSIONS_PER_SOURCE
    ? opts.sources : loopbackSources(Math.ceil(opts.sessions / SESSIONS_PER_SOURCE));
}

export interface PairHooks {
  /** Resource prefix of the sessions (resource `<prefix>-<i>`). */
  resource: string;
  /** Called once the server is known (spawned and started, or given), before the logins. */
  onServer?(server: BenchServer | null, pid: number | undefined): void;
}

/**
 * With spawn, accounts and rosters (pairs 2k, 2k+1 are contacts) written into a fresh
 * spool and a Rohrpost started on it; then the sessions logged in with initial presence
 * and paired by user name. Cleans up after itself on failure.
 */
export async function startMessagePairs(opts: PairOptions, onStanza: (name: string, tag: string) => void,
  deadlineMs: number, hooks: PairHooks): Promise<MessagePairs> {
  const deadline = performance.now() + deadlineMs;
  const remaining = () => Math.max(0, deadline - performance.now());
  const sources = pairSources(opts);
  const server = opts.spawn ? await spawnOnSpool(async (spool) => {
    const made = await createUsers(spool, opts.domain, opts.users, opts.password, opts.iterations);
    const specs = Array.from({ length: opts.sessions }, (_, i) => ({
      user: userName(opts.users, i), contacts: [userName(opts.users, i ^ 1)],
    }));
    const r = await writeRosters(spool, opts.domain, specs);
    opts.log(`created ${made.created} accounts in ${made.ms} ms, ${r.written} rosters in ${r.ms} ms`);
  }, { domain: opts.domain, logLevel: opts.serverLogLevel }) : null;
  const { host, port, directPort, pid } = endpointOf(opts, server);
  let sessions: LoadSession[] = [];
  try {
    hooks.onServer?.(server, pid);
    if (server) opts.log(`Rohrpost pid ${server.pid}, ports ${port}/${directPort}`);
    const cache = new SaltedPasswordCache();
    const logins = await runLogins({
      count: opts.sessions, concurrency: opts.loginConcurrency, deadlineMs: remaining(), keepOpen: true,
      session: (i) => ({
        host, port: opts.tls === 'direct' ? directPort : port, domain: opts.domain,
        username: userName(opts.users, i), password: opts.password, mechanism: 'SCRAM-SHA-1', tls: opts.tls,
        resource: `${hooks.resource}-${i}`, localAddress: sourceAddressFor(sources, i), presence: true,
        timeoutMs: opts.loginTimeoutMs, scramCache: cache, onStanza,
      }),
      progressEvery: 2000,
      onProgress: (done, failed) => opts.log(`  logged in ${done - failed}/${opts.sessions}${failed ? `, ${failed} failed` : ''}`),
    });
    sessions = logins.sessions;
    opts.log(`${logins.ok} sessions online in ${fmt(logins.elapsedMs, 0)} ms${logins.failed ? `; failures ${JSON.stringify(logins.errors)}` : ''}`);
    // Pairs whose both sides are online: by user name, since logins finish out of order.
    const byUser = new Map<string, LoadSession>();
    for (const s of sessions) byUser.set(s.jid.slice(0, s.jid.indexOf('@')), s);
    const pairs: Array<[LoadSession, LoadSession]> = [];
    for (let i = 0; i < opts.sessions; i += 2) {
      const a = byUser.get(userName(opts.users, i));
      const b = byUser.get(userName(opts.users, i + 1));
      if (a && b) pairs.push([a, b]);
    }
    if (pairs.length === 0) throw new Error('no pair of contacts is online');
    return {
      server, pid, sessions, pairs,
      logins: { ok: logins.ok, failed: logins.failed, errors: logins.errors, elapsedMs: logins.elapsedMs },
      target: (s) => (opts.to === 'full' ? s.jid : s.jid.slice(0, s.jid.indexOf('/'))),
    };
  } catch (err) {
    await stopMessagePairs({ server, sessions }, opts.log);
    throw err;
  }
}

/** Closes the sessions and stops a spawned server; returns what it logged. */
export async function stopMessagePairs(p: Pick<MessagePairs, 'server' | 'sessions'>, log: (msg: string) => void): Promise<ServerProblems | undefined> {
  if (p.sessions.length > 0) {
    await closeAll(p.sessions);
    // The server answers </stream:stream> before its session/closed handlers finish.
    await sleep(Math.min(5000, 300 + p.sessions.length / 5));
  }
  return p.server ? finishServer(p.server, log) : undefined;
}
