// A temporary Rohrpost for a benchmark run: started from the built CLI on
// ephemeral 127.0.0.1 ports with its own spool, accounts written straight into the
// spool (one credential derivation shared by all), stopped by PID afterwards.
// Unlike the test harness it keeps no log lines, only counts warnings and errors,
// so a long run does not grow the benchmark's own memory.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { connect } from 'node:net';
import { deriveCredentials } from '../../src/auth/credentials.js';
import { openStorage } from '../../src/storage/index.js';

/** The project's root (this file runs as dist/bench/lib/server.js). */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(ROOT, 'dist', 'src', 'cli', 'index.js');
/** pino's numeric levels. */
const LEVEL_WARN = 40;
const LEVEL_ERROR = 50;
const MAX_SAMPLES = 20;

export interface ServerProblems {
  warnings: number;
  errors: number;
  /** The first few warning and error lines, as logged. */
  samples: string[];
  /** Set when the process ended before it was asked to. */
  exited: string | null;
}

export interface BenchServer {
  pid: number;
  dir: string;
  spool: string;
  domain: string;
  starttlsPort: number;
  directTlsPort: number;
  problems: ServerProblems;
  /** SIGTERM, then SIGKILL after 10 s; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** Removes the directory (after stop), unless it was given and keepDir set. */
  cleanup(): void;
}

export interface SpawnOptions {
  /** A directory with spool/ (and certs/) to use; a new temp directory otherwise. */
  dir?: string;
  /** Leave the directory in place on cleanup() (when several servers share it in turn). */
  keepDir?: boolean;
  domain?: string;
  /** Extra --set overrides. */
  sets?: string[];
  /** The server's log level; info is its default and what production runs with. */
  logLevel?: string;
  startTimeoutMs?: number;
  /** Extra environment for the server, e.g. NODE_OPTIONS='--heapsnapshot-signal=SIGUSR2' to inspect it. */
  env?: Record<string, string>;
  /**
   * Ready when 127.0.0.1:readyPort accepts a connection, instead of waiting for the
   * 'Rohrpost started' info line (which log levels above info hide). Set the listener
   * to that port with sets, e.g. 'c2s.starttls.port=N'; starttlsPort is then that port.
   */
  readyPort?: number;
}

/** Settings every benchmark server gets: SASL on plaintext streams too, no per-IP cap. */
export const BENCH_SETTINGS = [
  'c2s.require_encryption=false',
  'c2s.allow_unencrypted_plain=true',
  'limits.max_connections_per_ip=0',
];

export function newBenchDir(): string {
  return mkdtempSync(join(tmpdir(), 'rohrpost-bench-'));
}

/**
 * Settings for every Rohrpost spawned by this process: `cpus` pins it (taskset) to
 * those CPUs, as bench/compare.ts does when it also runs scenarios that spawn their own.
 */
export const spawnDefaults: { cpus?: string } = {};

/**
 * A new directory whose spool `prepare` fills (accounts, rosters), then a Rohrpost
 * started on it; the directory is removed again when either fails.
 */
export async function spawnOnSpool(prepare: (spool: string) => Promise<void>, opts: Omit<SpawnOptions, 'dir'> = {}): Promise<BenchServer> {
  const dir = newBenchDir();
  try {
    await prepare(join(dir, 'spool'));
    return await spawnRohrpost({ ...opts, dir });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Where a benchmark's sessions connect: the spawned server's ports, or those given (5222 and 5223 by default). */
export function endpointOf(opts: { host: string; port?: number; directPort?: number; pid?: number }, server: BenchServer | null):
  { host: string; port: number; directPort: number; pid?: number } {
  return server
    ? { host: '127.0.0.1', port: server.starttlsPort, directPort: server.directTlsPort, pid: server.pid }
    : { host: opts.host, port: opts.port ?? 5222, directPort: opts.directPort ?? 5223, pid: opts.pid };
}

export async function spawnRohrpost(opts: SpawnOptions = {}): Promise<BenchServer> {
  const dir = opts.dir ?? newBenchDir();
  const domain = opts.domain ?? 'localhost';
  const sets = [
    `hosts=[${domain}]`, `spool=${join(dir, 'spool')}`, `certs=${join(dir, 'certs')}`,
    'c2s.starttls.address=127.0.0.1', 'c2s.starttls.port=0',
    'c2s.direct_tls.address=127.0.0.1', 'c2s.direct_tls.port=0',
    // Benchmarks measure client traffic; no federation listener on a public port.
    's2s.enabled=false',
    `log.level=${opts.logLevel ?? 'info'}`,
    ...BENCH_SETTINGS, ...(opts.sets ?? []),
  ];
  const proc = spawn(process.execPath, [CLI, 'start', '--log-format', 'json', ...sets.flatMap((s) => ['--set', s])], {
    stdio: ['ignore', 'pipe', 'pipe'], cwd: dir, env: { ...process.env, ...opts.env },
  });
  // Pinned at once, before it starts its worker threads (-a: all of its threads).
  if (spawnDefaults.cpus && proc.pid !== undefined) {
    spawnSync('taskset', ['-a', '-p', '-c', spawnDefaults.cpus, String(proc.pid)], { stdio: 'ignore' });
  }
  const problems: ServerProblems = { warnings: 0, errors: 0, samples: [], exited: null };
  const ports: Record<string, number> = {};
  let stopping = false;
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => { if (stderr.length < 10_000) stderr += d.toString(); });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code, signal) => {
    if (!stopping) problems.exited = `exit code ${code}${signal ? `, signal ${signal}` : ''}; stderr: ${stderr.slice(0, 2000)}`;
    resolve(code);
  }));
  const started = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Rohrpost did not start in time; stderr: ${stderr}`)), opts.startTimeoutMs ?? 30_000);
    void exited.then(() => { clearTimeout(timer); reject(new Error(`Rohrpost exited during start-up: ${problems.exited}`)); });
    let up = false;
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      // pino lines start with {"level":NN — read that cheaply; parse only what matters.
      const level = line.startsWith('{"level":') ? Number(line.slice(9, 11)) : LEVEL_WARN;
      if (level >= LEVEL_WARN) {
        if (level >= LEVEL_ERROR) problems.errors++;
        else problems.warnings++;
        if (problems.samples.length < MAX_SAMPLES) problems.samples.push(line.slice(0, 1000));
      }
      if (up) return;
      let entry: { msg?: string; kind?: string; port?: number };
      try { entry = JSON.parse(line) as typeof entry; } catch { return; }
      if (entry.msg === 'c2s listening' && entry.kind) ports[entry.kind] = Number(entry.port);
      if (entry.msg === 'Rohrpost started') { up = true; clearTimeout(timer); resolve(); }
    });
    if (opts.readyPort !== undefined) {
      const port = opts.readyPort;
      const probe = () => {
        if (up || proc.exitCode !== null || proc.signalCode !== null) return;
        const sock = connect({ host: '127.0.0.1', port });
        sock.once('connect', () => { sock.destroy(); up = true; clearTimeout(timer); resolve(); });
        sock.once('error', () => { sock.destroy(); setTimeout(probe, 100); });
      };
      probe();
    }
  });
  try {
    await started;
  } catch (err) {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    throw err;
  }
  return {
    pid: proc.pid!, dir, spool: join(dir, 'spool'), domain,
    starttlsPort: ports.starttls ?? opts.readyPort ?? 0, directTlsPort: ports['direct-tls'] ?? 0, problems,
    stop: () => stopProcess(proc, exited, () => { stopping = true; }),
    cleanup() {
      if (!opts.keepDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function stopProcess(proc: ChildProcess, exited: Promise<number | null>, mark: () => void): Promise<number | null> {
  if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
  mark();
  proc.kill('SIGTERM');
  const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
  const code = await exited;
  clearTimeout(t);
  return code;
}

export interface UserSet {
  prefix: string;
  count: number;
}

/** The user name of account i: prefix + i. */
export function userName(users: UserSet, i: number): string {
  return `${users.prefix}${i % users.count}`;
}

/**
 * Writes `count` accounts into a spool, all with the same password. The credentials
 * (PBKDF2 at `iterations`) are derived once and shared, salt included: fine for a
 * benchmark, never for real accounts. Existing accounts are left as they are.
 */
export async function createUsers(spoolDir: string, domain: string, users: UserSet, password: string,
  iterations: number, concurrency = 32): Promise<{ created: number; ms: number }> {
  const t0 = Date.now();
  const creds = deriveCredentials(password, iterations);
  const storage = openStorage('spool', spoolDir, { cacheSize: 0 });
  let next = 0;
  let created = 0;
  const slot = async () => {
    while (next < users.count) {
      const i = next++;
      if (await storage.accounts.createAccount(domain, userName(users, i), creds)) created++;
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, users.count) }, slot));
  } finally {
    await storage.close();
  }
  return { created, ms: Date.now() - t0 };
}

/** After a run: stops the server, says so if it did not exit cleanly, removes its directory; returns what it logged. */
export async function finishServer(server: BenchServer, log: (msg: string) => void): Promise<ServerProblems> {
  const code = await server.stop();
  if (code !== 0) log(`Rohrpost exited with code ${code}`);
  server.cleanup();
  return server.problems;
}
