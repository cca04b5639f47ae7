// A temporary ejabberd for benchmarks: its own ejabberdctl.cfg and ejabberd.yml in a
// temp directory (owned by the ejabberd user, which ejabberdctl switches to), c2s on a
// free 127.0.0.1 port without STARTTLS, no shapers, no mod_fail2ban, no stream
// management, no archive, log level warning, Erlang distribution on a fixed loopback
// port without epmd. Accounts are created by in-band registration (XEP-0077) on the
// server's own c2s port, several at a time: `ejabberdctl register` costs ~0.6 s of
// Erlang start-up per account. Stopped with `ejabberdctl stop`; the beam.smp PID is
// checked afterwards and killed only if it is still there.
//
// Open files: ejabberdctl, started as root, switches to the ejabberd user with su,
// whose PAM session (pam_limits) sets the soft limit of open files back to 1024; the
// Erlang VM sizes its I/O poll table from the limit it starts with, so raising the
// limit later (prlimit) is not enough. So the VM is started as the ejabberd
// user directly (no su, no PAM), through `sh -c 'ulimit -n N; exec ejabberdctl ...'`
// with N = min(this process's hard limit, 65536), and with +Q (ERL_MAX_PORTS) at 65536;
// the limit the VM got is read back from /proc/<beam pid>/limits.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFilesLimit, sleep } from '../lib/proc.js';
import { alive, freePort, pinned, pool, run, waitForPort, type PeerOptions, type PeerServer } from './common.js';

const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;');

function yml(domain: string, port: number): string {
  return `# Benchmark configuration written by bench/peers/ejabberd.ts
hosts:
  - ${JSON.stringify(domain)}
loglevel: warning
acme:
  auto: false
auth_method: internal
auth_password_format: scram
auth_scram_hash: sha
registration_timeout: infinity
s2s_use_starttls: false
listen:
  -
    port: ${port}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls: false
    shaper: none
    access: all
    max_stanza_size: 262144
    backlog: 1024
modules:
  mod_roster:
    versioning: true
  mod_register:
    access: all
    ip_access: all
  mod_offline: {}
  mod_ping: {}
  mod_disco: {}
  mod_vcard: {}
  mod_private: {}
  mod_last: {}
  mod_version: {}
  mod_caps: {}
  mod_carboncopy: {}
  mod_blocking: {}
  mod_privacy: {}
`;
}

/** Most ports (sockets, files, pipes) the Erlang VM may have open: +Q, and the limit of open files aimed for. */
const MAX_PORTS = 65_536;

function ctlConfig(dir: string, distPort: number, cookie: string): string {
  return [
    'ERLANG_NODE=ejabberd-bench@localhost',
    `ERL_DIST_PORT=${distPort}`,
    'INET_DIST_INTERFACE=127.0.0.1',
    // ERL_MAX_PORTS is what ejabberdctl exports (deprecated by the VM); +Q is what it reads.
    `ERL_MAX_PORTS=${MAX_PORTS}`,
    `ERL_OPTIONS="-setcookie ${cookie} +Q ${MAX_PORTS}"`,
    `SPOOL_DIR=${join(dir, 'db')}`,
    `LOGS_DIR=${join(dir, 'logs')}`,
    `EJABBERD_PID_PATH=${join(dir, 'ejabberd.pid')}`,
    '',
  ].join('\n');
}

/** PIDs of running processes with this command name (from /proc). */
function pidsNamed(name: string): Set<number> {
  const out = new Set<number>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/comm`, 'utf8').trim() === name) out.add(Number(e));
    } catch { /* gone */ }
  }
  return out;
}

/** The hard limit of open files of this process (from /proc/self/limits); null when unknown, Infinity when unlimited. */
function hardOpenFilesLimit(): number | null {
  try {
    const m = /^Max open files\s+\S+\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (!m) return null;
    return m[1] === 'unlimited' ? Infinity : Number(m[1]);
  } catch {
    return null;
  }
}

/** uid and gid of a system user (from `id`), or null when there is none. */
function userIds(name: string): { uid: number; gid: number } | null {
  const uid = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) return null;
  const ids = { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  return Number.isInteger(ids.uid) && Number.isInteger(ids.gid) ? ids : null;
}

/**
 * How to start the VM: as the ejabberd user directly when we are root (ejabberdctl's own
 * switch goes through su and PAM, which lowers the limit of open files), behind a
 * `ulimit -n N` of the limit asked for.
 */
function foregroundCommand(dir: string, files: number | null): { cmd: string; args: string[]; uid?: number; gid?: number; env: NodeJS.ProcessEnv } {
  // The directory goes in as $1, never into the script text.
  const ctl = 'exec ejabberdctl --config-dir "$1" foreground';
  const script = files === null ? ctl : `ulimit -n ${files} 2>/dev/null || ulimit -Sn ${files}; ${ctl}`;
  const ids = process.getuid?.() === 0 ? userIds('ejabberd') : null;
  const env: NodeJS.ProcessEnv = ids ? { ...process.env, HOME: dir, USER: 'ejabberd', LOGNAME: 'ejabberd' } : process.env;
  return { cmd: 'sh', args: ['-c', script, 'sh', dir], ...(ids ?? {}), env };
}

/** One in-band registration on a fresh stream; resolves on success or 'conflict' (already there). */
export function registerInBand(port: number, domain: string, user: string, password: string, timeoutMs = 15_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    let sent = false;
    const finish = (err?: Error) => {
      clearTimeout(timer);
      sock.removeAllListeners('data');
      sock.end('</stream:stream>');
      sock.destroy();
      if (err) reject(err); else resolve();
    };
    const timer = setTimeout(() => finish(new Error(`registration of ${user} timed out`)), timeoutMs);
    sock.once('error', (e) => finish(e));
    sock.on('connect', () => sock.write(`<?xml version='1.0'?><stream:stream to='${xmlEscape(domain)}' xmlns='jabber:client' ` +
      `xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`));
    sock.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      if (!sent && buf.includes('</stream:features>')) {
        sent = true;
        buf = '';
        sock.write(`<iq type='set' id='reg1'><query xmlns='jabber:iq:register'><username>${xmlEscape(user)}</username>` +
          `<password>${xmlEscape(password)}</password></query></iq>`);
        return;
      }
      if (sent && /<iq[^>]*reg1/.test(buf) && /<\/iq>|<iq[^>]*\/>/.test(buf)) {
        if (/type=['"]result['"]/.test(buf) || buf.includes('<conflict')) finish();
        else finish(new Error(`registration of ${user} failed: ${buf.slice(0, 300)}`));
      }
      if (buf.includes('</stream:stream>') || buf.includes('<stream:error')) finish(new Error(`stream closed: ${buf.slice(0, 300)}`));
    });
  });
}

export async function startEjabberd(opts: PeerOptions): Promise<PeerServer> {
  const dir = mkdtempSync(join(tmpdir(), 'ejabberd-bench-'));
  for (const d of ['db', 'logs']) mkdirSync(join(dir, d));
  const port = await freePort();
  const distPort = await freePort();
  writeFileSync(join(dir, 'ejabberd.yml'), yml(opts.domain, port));
  writeFileSync(join(dir, 'ejabberdctl.cfg'), ctlConfig(dir, distPort, randomBytes(12).toString('hex')));
  writeFileSync(join(dir, 'inetrc'), '{lookup, ["file", "native"]}.\n');
  spawnSync('chown', ['-R', 'ejabberd:ejabberd', dir], { stdio: 'ignore' });
  const deadline = Date.now() + (opts.startTimeoutMs ?? 300_000);
  const epmdBefore = pidsNamed('epmd');
  const ctl = (...args: string[]) => run('ejabberdctl', ['--config-dir', dir, ...args], 60_000);

  const hard = hardOpenFilesLimit();
  const files = hard === null ? null : Math.min(hard, MAX_PORTS);
  const fg = foregroundCommand(dir, files);
  const [cmd, args] = pinned(opts.cpus, fg.cmd, fg.args);
  const proc = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir, uid: fg.uid, gid: fg.gid, env: fg.env });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => { if (stderr.length < 4000) stderr += d.toString(); });
  let exited = false;
  const exit = new Promise<void>((resolve) => proc.once('exit', () => { exited = true; resolve(); }));
  const beamPid = (): number | null => {
    try {
      const n = Number(readFileSync(join(dir, 'ejabberd.pid'), 'utf8').trim());
      return Number.isInteger(n) && n > 0 ? n : null;
    } catch {
      return null;
    }
  };
  const logSamples: string[] = [];
  let knownBeam: number | null = null;
  const stop = async () => {
    knownBeam ??= beamPid();
    if (!exited) {
      await ctl('stop');
      await Promise.race([exit, sleep(30_000)]);
    }
    if (knownBeam !== null && alive(knownBeam)) {
      opts.log(`ejabberd beam.smp ${knownBeam} still running after stop: SIGKILL`);
      process.kill(knownBeam, 'SIGKILL');
    }
    if (!exited) proc.kill('SIGKILL');
    for (const p of pidsNamed('epmd')) {
      if (!epmdBefore.has(p)) {
        opts.log(`an epmd (${p}) appeared during the ejabberd run: stopping it`);
        try { process.kill(p, 'SIGTERM'); } catch { /* gone */ }
      }
    }
    const errLog = join(dir, 'logs', 'error.log');
    if (existsSync(errLog)) {
      for (const line of readFileSync(errLog, 'utf8').split('\n')) if (line.trim() && logSamples.length < 20) logSamples.push(line.slice(0, 500));
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // Ready when the c2s port accepts connections and ejabberdctl status says so.
    await waitForPort(port, Math.max(1000, deadline - Date.now()), () => !exited);
    for (;;) {
      if ((await ctl('status')).code === 0) break;
      if (exited || Date.now() > deadline) throw new Error(`ejabberd did not become ready; ${stderr.slice(0, 500)}`);
      await sleep(500);
    }
    knownBeam = beamPid();
    if (knownBeam === null) throw new Error('no beam.smp PID in the PID file');
    // The limit the VM started with is the one it can use (see the header).
    const got = openFilesLimit(knownBeam);
    opts.log(`ejabberd beam.smp ${knownBeam}: limit of open files ${got ?? 'unknown'}` +
      `${files !== null && got !== null && got < files ? ` (asked for ${files})` : ''}`);
    const t0 = Date.now();
    const made = await pool(opts.users.count, 16, deadline, (i) =>
      registerInBand(port, opts.domain, `${opts.users.prefix}${i}`, opts.password));
    if (made.done < opts.users.count) throw new Error(`created ${made.done}/${opts.users.count} ejabberd accounts: ${made.errors.join('; ')}`);
    const userCreation = `in-band registration (XEP-0077) on the c2s port, 16 in parallel: ${made.done} accounts in ${((Date.now() - t0) / 1000).toFixed(1)} s`;
    opts.log(userCreation);
    return { name: 'ejabberd', pid: knownBeam, port, domain: opts.domain, userCreation, logSamples, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
