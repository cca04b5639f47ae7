// A temporary Prosody for benchmarks: its own config in a temp directory, c2s on a
// free 127.0.0.1 port, plaintext with PLAIN allowed, no rate limits, no stream
// management, no archive, log level warn; accounts created with prosodyctl (with the
// server down); run in the foreground and stopped with SIGTERM to its PID.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort, pinned, pool, run, waitForPort, type PeerOptions, type PeerServer } from './common.js';

const lua = (s: string) => JSON.stringify(s);

function config(dir: string, domain: string, c2sPort: number): string {
  return [
    '-- Benchmark configuration written by bench/peers/prosody.ts',
    'run_as_root = true',
    `pidfile = ${lua(join(dir, 'prosody.pid'))}`,
    `data_path = ${lua(join(dir, 'data'))}`,
    'interfaces = { "127.0.0.1" }',
    `c2s_ports = { ${c2sPort} }`,
    'c2s_direct_tls_ports = { }',
    'log = { { levels = { min = "warn" }, to = "console" } }',
    `certificates = ${lua(join(dir, 'certs'))}`,
    'authentication = "internal_hashed"',
    'storage = "internal"',
    // No limits (rate limiting), no smacks (stream management), no mam (archive), no tls.
    'modules_enabled = { "roster"; "saslauth"; "disco"; "ping"; "version"; "time"; "private";',
    '  "vcard_legacy"; "blocklist"; "carbons" }',
    'modules_disabled = { "s2s" }',
    'c2s_require_encryption = false',
    'allow_unencrypted_plain_auth = true',
    'allow_registration = false',
    `VirtualHost ${lua(domain)}`,
    '',
  ].join('\n');
}

export async function startProsody(opts: PeerOptions): Promise<PeerServer> {
  const dir = mkdtempSync(join(tmpdir(), 'prosody-bench-'));
  mkdirSync(join(dir, 'data'));
  mkdirSync(join(dir, 'certs'));
  const cfg = join(dir, 'prosody.cfg.lua');
  const port = await freePort();
  writeFileSync(cfg, config(dir, opts.domain, port));
  const deadline = Date.now() + (opts.startTimeoutMs ?? 300_000);
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  try {
    const t0 = Date.now();
    const made = await pool(opts.users.count, 4, deadline, async (i) => {
      const r = await run('prosodyctl', ['--config', cfg, 'register', `${opts.users.prefix}${i}`, opts.domain, opts.password], 30_000);
      if (r.code !== 0) throw new Error(`prosodyctl register: exit ${r.code} ${r.stderr.trim() || r.stdout.trim()}`.slice(0, 300));
    });
    if (made.done < opts.users.count) throw new Error(`created ${made.done}/${opts.users.count} Prosody accounts: ${made.errors.join('; ')}`);
    const userCreation = `prosodyctl register, 4 in parallel: ${made.done} accounts in ${((Date.now() - t0) / 1000).toFixed(1)} s`;
    opts.log(userCreation);

    const [cmd, args] = pinned(opts.cpus, 'prosody', ['--config', cfg, '-F']);
    const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
    const logSamples: string[] = [];
    const keep = (line: string) => { if (logSamples.length < 20 && line.trim()) logSamples.push(line.slice(0, 500)); };
    createInterface({ input: proc.stdout! }).on('line', keep);
    createInterface({ input: proc.stderr! }).on('line', keep);
    let exited = false;
    const exit = new Promise<void>((resolve) => proc.once('exit', () => { exited = true; resolve(); }));
    const stop = async () => {
      if (!exited) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => { if (!exited) proc.kill('SIGKILL'); }, 10_000);
        await exit;
        clearTimeout(t);
      }
      cleanup();
    };
    try {
      await waitForPort(port, Math.max(1000, deadline - Date.now()), () => !exited);
    } catch (err) {
      await stop();
      throw new Error(`Prosody did not start: ${(err as Error).message}; ${logSamples.join(' | ')}`);
    }
    return { name: 'prosody', pid: proc.pid!, port, domain: opts.domain, userCreation, logSamples, stop };
  } catch (err) {
    cleanup();
    throw err;
  }
}
