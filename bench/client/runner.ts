// Runs many logins from one process: `concurrency` slots take the next login until
// `count` are done or the deadline passes. Every run is bounded in count and time:
// no new login starts after the deadline, and each login has its own timeout.
import { performance } from 'node:perf_hooks';
import { LoadSession, LoginError, type SessionOptions } from './session.js';

export interface RunOptions {
  count: number;
  concurrency: number;
  /** No login starts after this many milliseconds from the start of the run. */
  deadlineMs: number;
  /** Options of login number i (0-based): user, resource, source address, ... */
  session(i: number): SessionOptions;
  /** Keep each session open (idle-memory runs); otherwise it is closed right after login. */
  keepOpen?: boolean;
  /** How long a close may wait for the server's </stream:stream>. */
  closeGraceMs?: number;
  /** Called every `progressEvery` finished logins. */
  onProgress?(done: number, failed: number): void;
  progressEvery?: number;
}

export interface RunResult {
  attempted: number;
  ok: number;
  failed: number;
  /** Failure reasons ('auth: SASL failure not-authorized') with their counts. */
  errors: Record<string, number>;
  /** Login latency (connect until ready) of each successful login, in ms, in completion order. */
  latencies: number[];
  /** Wall time of the whole run, in ms (closing included when sessions are not kept). */
  elapsedMs: number;
  /** Whether the deadline cut the run short. */
  deadlineHit: boolean;
  /** The open sessions, when keepOpen was set. */
  sessions: LoadSession[];
}

export async function runLogins(opts: RunOptions): Promise<RunResult> {
  if (!(opts.count >= 0) || !(opts.concurrency >= 1)) throw new RangeError('count >= 0 and concurrency >= 1 are required');
  const result: RunResult = {
    attempted: 0, ok: 0, failed: 0, errors: {}, latencies: [], elapsedMs: 0, deadlineHit: false, sessions: [],
  };
  const start = performance.now();
  let next = 0;
  const every = opts.progressEvery ?? 0;

  const slot = async (): Promise<void> => {
    for (;;) {
      if (next >= opts.count) return;
      if (performance.now() - start > opts.deadlineMs) {
        result.deadlineHit = true;
        return;
      }
      const i = next++;
      result.attempted++;
      try {
        const session = await LoadSession.login(opts.session(i));
        result.ok++;
        result.latencies.push(session.timings.ready ?? session.elapsedMs);
        if (opts.keepOpen) result.sessions.push(session);
        else await session.close(opts.closeGraceMs);
      } catch (err) {
        result.failed++;
        const reason = err instanceof LoginError ? err.message : String(err);
        result.errors[reason] = (result.errors[reason] ?? 0) + 1;
      }
      const done = result.ok + result.failed;
      if (every > 0 && done % every === 0) opts.onProgress?.(done, result.failed);
    }
  };

  await Promise.all(Array.from({ length: Math.min(opts.concurrency, Math.max(opts.count, 1)) }, slot));
  result.elapsedMs = performance.now() - start;
  return result;
}

/** Closes sessions, `concurrency` at a time; resolves with how many were still open. */
export async function closeAll(sessions: LoadSession[], concurrency = 200, graceMs = 2000): Promise<number> {
  let open = 0;
  let next = 0;
  const slot = async (): Promise<void> => {
    while (next < sessions.length) {
      const s = sessions[next++]!;
      if (s.state === 'ready') open++;
      await s.close(graceMs);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, sessions.length) }, slot));
  return open;
}

/** Source addresses for connection i, rotated; undefined lets the kernel choose. */
export function sourceAddressFor(addresses: readonly string[], i: number): string | undefined {
  return addresses.length === 0 ? undefined : addresses[i % addresses.length];
}
