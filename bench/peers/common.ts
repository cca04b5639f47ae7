// What the peer launchers (Prosody, ejabberd) share: a free loopback port, waiting
// for a port to accept connections, running a command with a time limit, CPU pinning.
import { execFile, spawnSync } from 'node:child_process';
import net from 'node:net';
import { sleep } from '../lib/proc.js';

/** A started peer server on 127.0.0.1, stopped by its own launcher. */
export interface PeerServer {
  /** 'prosody' or 'ejabberd'. */
  name: string;
  /** The process whose memory and CPU time are read (beam.smp for ejabberd). */
  pid: number;
  port: number;
  domain: string;
  /** What the launcher did to create the accounts, for the report. */
  userCreation: string;
  /** Lines of the server's own log at warn and above (the first few). */
  logSamples: string[];
  stop(): Promise<void>;
}

export interface PeerOptions {
  domain: string;
  users: { prefix: string; count: number };
  password: string;
  /** CPU list for `taskset -c`, e.g. '1'; none when empty. */
  cpus?: string;
  log(msg: string): void;
  /** Limit for creating the accounts and starting, in ms. */
  startTimeoutMs?: number;
}

/** A port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function tryConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => { s.destroy(); resolve(ok); };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.setTimeout(1000, () => done(false));
  });
}

/** Resolves once 127.0.0.1:port accepts a connection; throws after timeoutMs or when alive() turns false. */
export async function waitForPort(port: number, timeoutMs: number, alive: () => boolean): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (!alive()) throw new Error('the server exited during start-up');
    if (await tryConnect(port)) return;
    await sleep(200);
  }
  throw new Error(`port ${port} did not open within ${timeoutMs} ms`);
}

export interface RunResult { code: number | null; stdout: string; stderr: string }

/** Runs a command to completion (killed after timeoutMs). */
export function run(cmd: string, args: string[], timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** Whether a command is on PATH. */
export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Pins all threads of a process to a CPU list with taskset; false when that did not work. */
export function pin(pid: number, cpus: string): boolean {
  return spawnSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' }).status === 0;
}

/** The command and arguments, behind `taskset -c CPUS` when CPUs are given and taskset exists. */
export function pinned(cpus: string | undefined, cmd: string, args: string[]): [string, string[]] {
  return cpus && hasCommand('taskset') ? ['taskset', ['-c', cpus, cmd, ...args]] : [cmd, args];
}

/** Runs fn over 0..count-1 with `concurrency` in flight; stops starting new ones after deadline (ms since epoch). */
export async function pool(count: number, concurrency: number, deadline: number,
  fn: (i: number) => Promise<void>): Promise<{ done: number; errors: string[] }> {
  let next = 0;
  let done = 0;
  const errors: string[] = [];
  const slot = async () => {
    while (next < count && Date.now() < deadline) {
      const i = next++;
      try {
        await fn(i);
        done++;
      } catch (err) {
        if (errors.length < 10) errors.push(String((err as Error).message ?? err));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, slot));
  return { done, errors };
}

/** Whether a process exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
