// Command-line options shared by the benchmarks, and the checks on them.
import { isIPv4 } from 'node:net';
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { TLS_MODES, type TlsMode } from '../client/session.js';
import type { ServerProblems, UserSet } from './server.js';

export class UsageError extends Error {}

/** Option fields every benchmark has, whatever server it runs against. */
export interface BenchBaseOptions {
  domain: string;
  password: string;
  /** Time budget of the whole run (or of one scenario, where a benchmark runs several). */
  timeoutMs: number;
  /** PBKDF2 iterations of the accounts a benchmark creates itself. */
  iterations: number;
  /** Log level of a spawned server. */
  serverLogLevel: string;
  log(msg: string): void;
}

/** The target of a benchmark that runs against a spawned Rohrpost or an already running server. */
export interface TargetOptions extends BenchBaseOptions {
  /** Start a temporary Rohrpost; otherwise use host/port. */
  spawn: boolean;
  host: string;
  port?: number;
  directPort?: number;
  /** The server's process id, for its CPU time and memory (known anyway with spawn). */
  pid?: number;
  /** Accounts prefix0 .. prefix(count-1). */
  users: UserSet;
  /** One login's time limit. */
  loginTimeoutMs: number;
}

/** The parsed values of COMMON_OPTIONS (and a benchmark's --pid, where it takes one). */
export interface CommonValues {
  spawn: boolean;
  host: string;
  port?: string;
  'direct-port'?: string;
  pid?: string;
  domain: string;
  users?: string;
  password: string;
  timeout?: string;
  'login-timeout': string;
  iterations: string;
  'server-log-level': string;
}

/** The TargetOptions fields (but log) from the command line; --users defaults to bench/<defaultUsers>. */
export function targetFromArgs(v: CommonValues, defaultUsers: number, defaultTimeoutMs: number): Omit<TargetOptions, 'log'> {
  return {
    spawn: v.spawn, host: v.host, domain: v.domain, password: v.password,
    port: v.port === undefined ? undefined : int(v.port, 'port', 1, 65535),
    directPort: v['direct-port'] === undefined ? undefined : int(v['direct-port'], 'direct-port', 1, 65535),
    pid: v.pid === undefined ? undefined : int(v.pid, 'pid', 1),
    users: parseUsers(v.users, defaultUsers),
    timeoutMs: v.timeout === undefined ? defaultTimeoutMs : int(v.timeout, 'timeout', 1) * 1000,
    loginTimeoutMs: int(v['login-timeout'], 'login-timeout', 100),
    iterations: int(v.iterations, 'iterations', 4096, 10_000_000),
    serverLogLevel: v['server-log-level'],
  };
}

/** parseArgs option specs every benchmark takes. */
export const COMMON_OPTIONS = {
  host: { type: 'string', default: '127.0.0.1' },
  port: { type: 'string' },
  'direct-port': { type: 'string' },
  domain: { type: 'string', default: 'localhost' },
  users: { type: 'string' },
  password: { type: 'string', default: 'bench-secret' },
  tls: { type: 'string' },
  spawn: { type: 'boolean', default: false },
  source: { type: 'string' },
  out: { type: 'string' },
  timeout: { type: 'string' },
  'login-timeout': { type: 'string', default: '30000' },
  iterations: { type: 'string', default: '10000' },
  'server-log-level': { type: 'string', default: 'info' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export const COMMON_HELP = `Target (one of):
  --spawn                  start a temporary Rohrpost (127.0.0.1, ephemeral ports), create the users, stop it after
  --host IP --port N       an already running server (default host 127.0.0.1; port 5222, direct TLS --direct-port 5223)
                           it must allow SASL on plaintext streams for --tls none, and lift its per-IP connection limit
Options:
  --domain NAME            XMPP domain (default localhost)
  --users PREFIX/COUNT     accounts PREFIX0 .. PREFIX(COUNT-1) (default bench/<N>)
  --password PW            their password (default bench-secret)
  --tls LIST               comma list of none, starttls, direct
  --source LIST            client source addresses: 127.0.0.1,127.0.0.2 or a range 127.0.0.1-127.0.0.8
  --out FILE               also write the results as JSON
  --timeout S              time budget of the whole run in seconds
  --login-timeout MS       one login's time limit (default 30000)
  --iterations N           PBKDF2 iterations of created accounts with --spawn (default 10000, the server's default)
  --server-log-level L     log level of the spawned server (default info)`;

export function int(value: string | undefined, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(value);
  if (value === undefined || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, not '${value}'`);
  }
  return n;
}

export function parseUsers(value: string | undefined, defaultCount: number): UserSet {
  if (value === undefined) return { prefix: 'bench', count: defaultCount };
  const m = /^([^/\s@]*)\/(\d+)$/.exec(value);
  if (!m || Number(m[2]) < 1) throw new UsageError(`--users must look like PREFIX/COUNT (e.g. bench/1000), not '${value}'`);
  return { prefix: m[1]!, count: Number(m[2]) };
}

export function parseTlsModes(value: string | undefined, fallback: TlsMode[]): TlsMode[] {
  if (value === undefined) return fallback;
  const modes = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const m of modes) if (!TLS_MODES.includes(m as TlsMode)) throw new UsageError(`--tls takes none, starttls, direct; not '${m}'`);
  if (modes.length === 0) throw new UsageError('--tls needs at least one mode');
  return modes as TlsMode[];
}

/** '127.0.0.1,127.0.0.2' or '127.0.0.1-127.0.0.8' (last octet range) -> addresses. */
export function parseSources(value: string | undefined): string[] {
  if (value === undefined || value === '') return [];
  const out: string[] = [];
  for (const part of value.split(',').map((s) => s.trim())) {
    const range = /^(\d+\.\d+\.\d+\.)(\d+)-(?:\d+\.\d+\.\d+\.)?(\d+)$/.exec(part);
    if (range) {
      const [from, to] = [Number(range[2]), Number(range[3])];
      if (from > to || to > 255) throw new UsageError(`bad address range '${part}'`);
      for (let i = from; i <= to; i++) out.push(`${range[1]}${i}`);
    } else if (isIPv4(part)) {
      out.push(part);
    } else {
      throw new UsageError(`--source takes IPv4 addresses or a range, not '${part}'`);
    }
  }
  for (const a of out) if (!a.startsWith('127.')) throw new UsageError(`source address ${a} is not a loopback address`);
  return out;
}

/** n source addresses 127.0.0.1 .. 127.0.0.n. */
export function loopbackSources(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `127.0.0.${i + 1}`);
}

/** Where and on what the benchmark ran, for the JSON output. */
export function environment(): Record<string, unknown> {
  const cpu = cpus();
  return {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpus: cpu.length,
    cpuModel: cpu[0]?.model ?? 'unknown',
    memoryMiB: Math.round(totalmem() / 2 ** 20),
  };
}

export function writeJson(path: string, value: unknown): void {
  writeFileSync(path, JSON.stringify(value, null, 2) + '\n');
}

/** Progress and notes go to stderr; stdout carries only the result table. */
export function note(msg: string): void {
  process.stderr.write(`${msg}\n`);
}

/**
 * The command line of a benchmark: its options, or null after printing the help
 * (--help); a usage error prints the message and the help and exits with code 2.
 */
export function parseOrExit<T>(name: string, help: string, parse: (argv: string[]) => T | null): T | null {
  let parsed: T | null;
  try {
    parsed = parse(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${name}: ${(err as Error).message}\n\n${help}\n`);
    process.exit(2);
  }
  if (parsed === null) process.stdout.write(`${help}\n`);
  return parsed;
}

/** After a run: what the server logged as errors (and warnings, if asked), so a number is never read without it. */
export function reportServerProblems(problems: ServerProblems | undefined, label = '', withWarnings = false): void {
  if (!problems || !(problems.errors > 0 || problems.exited || (withWarnings && problems.warnings > 0))) return;
  note(`server problems${label ? ` (${label})` : ''}: ${problems.errors} errors, ${problems.warnings} warnings${problems.exited ? `, ${problems.exited}` : ''}`);
  for (const s of problems.samples.slice(0, 5)) note(`  ${s}`);
}
