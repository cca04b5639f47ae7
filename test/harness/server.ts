// Starts a real Rohrpost process (the CLI, as an admin would) on ephemeral
// loopback ports with a temporary spool, and stops it again.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

/** The project's root directory (tests run from dist/test/...). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = join(ROOT, 'dist', 'src', 'cli', 'index.js');

export interface ServerOptions {
  hosts?: string[];
  /** Extra --set overrides. */
  sets?: string[];
  /** Reuse a directory (for restart tests); a new temp dir otherwise. */
  dir?: string;
}

export interface TestServer {
  dir: string;
  spool: string;
  certs: string;
  host: string;
  starttlsPort: number;
  directTlsPort: number;
  /** Server-to-server listeners (NaN when s2s is disabled). */
  s2sPort: number;
  s2sDirectTlsPort: number;
  proc: ChildProcess;
  /** Every log line (JSON objects) so far. */
  logs: Array<Record<string, unknown>>;
  /** The CLI arguments that select this server's configuration. */
  configArgs: string[];
  /** Creates an account with the CLI, password on stdin. */
  adduser(jid: string, password: string): void;
  /** Waits for a log line matching the predicate. */
  waitForLog(pred: (l: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** SIGTERM and wait; returns the exit code. */
  stop(): Promise<number | null>;
  kill9(): Promise<void>;
  /** Removes the temp directory (after stop). */
  cleanup(): void;
}

export async function startServer(opts: ServerOptions = {}): Promise<TestServer> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'rohrpost-test-'));
  const hosts = opts.hosts ?? ['localhost'];
  const configArgs = [
    '--set', `hosts=[${hosts.join(',')}]`,
    '--set', `spool=${join(dir, 'spool')}`,
    '--set', `certs=${join(dir, 'certs')}`,
    '--set', 'c2s.starttls.address=127.0.0.1', '--set', 'c2s.starttls.port=0',
    '--set', 'c2s.direct_tls.address=127.0.0.1', '--set', 'c2s.direct_tls.port=0',
    '--set', 's2s.starttls.address=127.0.0.1', '--set', 's2s.starttls.port=0',
    '--set', 's2s.direct_tls.address=127.0.0.1', '--set', 's2s.direct_tls.port=0',
    '--set', 'log.level=debug',
    ...(opts.sets ?? []).flatMap((s) => ['--set', s]),
  ];
  const proc = spawn(process.execPath, [CLI, 'start', '--log-format', 'json', ...configArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Array<Record<string, unknown>> = [];
  const waiters: Array<{ pred: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }> = [];
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    let obj: Record<string, unknown>;
    try { obj = JSON.parse(line) as Record<string, unknown>; } catch { obj = { msg: line }; }
    logs.push(obj);
    for (const w of [...waiters]) if (w.pred(obj)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(obj); }
  });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));

  const waitForLog = (pred: (l: Record<string, unknown>) => boolean, timeoutMs = 20000) => {
    const found = logs.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting for a log line; stderr: ${stderr}`)), timeoutMs);
      waiters.push({ pred, resolve: (l) => { clearTimeout(t); resolve(l); } });
      void exited.then((code) => {
        clearTimeout(t);
        const last = logs.slice(-3).map((l) => JSON.stringify(l)).join('\n');
        reject(new Error(`server exited (${code}): ${stderr}${last}`));
      });
    });
  };

  await waitForLog((l) => l.msg === 'Rohrpost started', 30000);
  const port = (kind: string, what = 'c2s listening') => Number(logs.find((l) => l.msg === what && l.kind === kind)?.port);

  return {
    dir, spool: join(dir, 'spool'), certs: join(dir, 'certs'), host: hosts[0]!,
    starttlsPort: port('starttls'), directTlsPort: port('direct-tls'),
    s2sPort: port('starttls', 's2s listening'), s2sDirectTlsPort: port('direct-tls', 's2s listening'), proc, logs, configArgs,
    adduser(jid, password) {
      const r = spawnSync(process.execPath, [CLI, 'adduser', jid, ...configArgs], { input: password + '\n', encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`adduser ${jid} failed (${r.status}): ${r.stderr}`);
    },
    waitForLog,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
    async kill9() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGKILL');
      await exited;
    },
    cleanup() {
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Runs a client driver — a program that prints what it saw as one JSON line last —
 * and returns that line parsed. Killed after timeoutMs.
 */
export function runDriver<T = Record<string, unknown>>(cmd: string, args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<T> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const t = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 60000);
    p.on('exit', () => {
      clearTimeout(t);
      const line = out.trim().split('\n').pop() ?? '';
      try { resolve(JSON.parse(line) as T); } catch { reject(new Error(`${args[0] ?? cmd} failed: ${err || out}`)); }
    });
  });
}

/** A Python driver in test/harness/ (Debian's python3, which sees python3-slixmpp), given its options as JSON. */
export function pythonDriver<T = Record<string, unknown>>(script: string, options: unknown, timeoutMs?: number): Promise<T> {
  return runDriver<T>('/usr/bin/python3', [join(ROOT, 'test', 'harness', script), JSON.stringify(options)], { timeoutMs });
}

/** Runs the slixmpp driver and returns what it reported. */
export function slixmpp(options: Record<string, unknown>): Promise<Record<string, unknown>> {
  return pythonDriver('slix_client.py', options);
}

/** Runs the @xmpp/client driver, trusting the test server's certificate. */
export function xmppjs(server: TestServer, options: Record<string, unknown>): Promise<Record<string, unknown>> {
  return runDriver(process.execPath, [join(ROOT, 'dist', 'test', 'harness', 'xmppjs-client.js'), JSON.stringify(options)], {
    // The certificate names the domain, so the client connects to 'localhost' (IPv4 first: we bind 127.0.0.1).
    env: { ...process.env, NODE_EXTRA_CA_CERTS: join(server.certs, `${server.host}.crt`), NODE_OPTIONS: '--dns-result-order=ipv4first' },
  });
}
