// Real third-party XMPP servers for federation (s2s) tests: Debian's Prosody and ejabberd,
// each started in the foreground from a throwaway directory with a generated configuration,
// listening on free ports of 127.0.0.1 only, and finding other servers through a loopback
// DNS server (see dns.ts) by SRV. Also a small openssl-based CA for s2s certificates.
//
// Nothing here reads or writes the system-wide configuration of either server: every file
// (configuration, data, logs, certificate copies) lives in the peer's own temporary directory.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, chmodSync, constants, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DnsRecords } from './dns.js';

export interface PeerCerts {
  /** PEM files */
  cert: string;
  key: string;
  /** CA file the peer trusts for s2s; when set the peer requires valid certificates (secure auth) */
  ca?: string;
}

export interface PeerOptions {
  /** e.g. 'prosody.test' or 'ejabberd.test' */
  domain: string;
  /** MUC service domain, default 'conference.' + domain */
  muc?: string;
  /** loopback DNS (dnsmasq) port the peer uses for SRV lookups */
  dnsPort: number;
  /** without: no TLS on s2s at all (plain dialback); with: STARTTLS on s2s offered/used */
  certs?: PeerCerts;
  /**
   * true: require valid certificates for s2s (Prosody: s2s_secure_auth; ejabberd: STARTTLS
   * required, certificates verified, no dialback). Defaults to whether certs.ca is set;
   * needs certs.ca.
   */
  secure?: boolean;
  /** How much the peer logs; default 'info'. */
  logLevel?: 'info' | 'debug';
  /** Start-up bound in ms; default 20 s for Prosody, 60 s for ejabberd. */
  startTimeoutMs?: number;
}

export interface Peer {
  kind: 'prosody' | 'ejabberd';
  domain: string;
  muc: string;
  /** free ephemeral ports chosen by the harness, bound on 127.0.0.1 */
  c2sPort: number;
  s2sPort: number;
  /** temp dir */
  dir: string;
  /** PID of the spawned foreground process (for ejabberd: the ejabberdctl wrapper). */
  pid: number;
  /** Registers a user with the peer's own tool (prosodyctl / ejabberdctl). */
  register(user: string, password: string): Promise<void>;
  /** everything the peer logged so far (for assertion messages) */
  log(): string;
  /** Stops by PID (Prosody) or `ejabberdctl stop` (ejabberd); waits until exited; removes nothing. */
  stop(): Promise<void>;
  /** rm -rf dir */
  cleanup(): void;
}

// ejabberdctl and dnsmasq live in sbin, which is often not on an ordinary user's PATH.
const EXTRA_BIN_DIRS = ['/usr/sbin', '/usr/local/sbin', '/sbin', '/usr/bin', '/usr/local/bin', '/bin'];
const MAX_LOG = 4 * 1024 * 1024;
const TAIL_LINES = 40;
const STOP_GRACE_MS = 15_000;
const REGISTER_TIMEOUT_MS = 30_000;
const CTL_TIMEOUT_MS = 30_000;
const isRoot = (): boolean => process.getuid?.() === 0;

function findBin(name: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...EXTRA_BIN_DIRS];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

function needBin(name: string, pkg: string): string {
  const bin = findBin(name);
  if (bin === null) throw new Error(`${name} is not installed (Debian/Ubuntu: apt-get install ${pkg})`);
  return bin;
}

/** Prosody can only be pointed at a DNS server on another port through libunbound's Lua binding. */
function luaUnboundInstalled(): boolean {
  const roots = ['/usr/lib', '/usr/local/lib', '/usr/lib64'];
  for (const root of roots) {
    let entries: string[];
    try { entries = readdirSync(root); } catch { continue; }
    // Debian puts it under the multiarch directory, others directly under lib/lua.
    for (const sub of ['', ...entries]) {
      const luaDir = join(root, sub, 'lua');
      let versions: string[];
      try { versions = readdirSync(luaDir); } catch { continue; }
      if (versions.some((v) => existsSync(join(luaDir, v, 'lunbound.so')))) return true;
    }
  }
  return false;
}

export function peersAvailable(): { prosody: boolean; ejabberd: boolean; dnsmasq: boolean } {
  const user = (() => { try { return userInfo().username; } catch { return ''; } })();
  return {
    prosody: findBin('prosody') !== null && findBin('prosodyctl') !== null && luaUnboundInstalled(),
    // Debian's ejabberdctl refuses to run for anyone but root and its own system user.
    ejabberd: findBin('ejabberdctl') !== null && (isRoot() || user === 'ejabberd'),
    dnsmasq: findBin('dnsmasq') !== null,
  };
}

/** A TCP port free on 127.0.0.1 at the moment of asking. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('freePort: no port'))));
    });
  });
}

/** Several distinct free ports. */
async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  for (let i = 0; ports.size < n && i < n * 20; i++) ports.add(await freePort());
  if (ports.size < n) throw new Error('freePorts: could not find enough distinct free ports');
  return [...ports];
}

/**
 * SRV records (for dns.ts) that lead s2s connections for the peer's domain and its MUC domain
 * to its s2s port. The target defaults to 'localhost' on purpose: ejabberd 23.01 looks up only
 * the SRV record through its inetrc name server and resolves the target's address with the
 * system resolver (getaddrinfo), which knows nothing of the test's DNS server, so a target
 * such as 'prosody.test' fails there with "DNS lookup failed: enoname". Prosody (libunbound
 * reading the hosts file) and Rohrpost resolve 'localhost' as well.
 */
export function peerSrvRecords(peer: Pick<Peer, 'domain' | 'muc' | 's2sPort'>, target = 'localhost'): NonNullable<DnsRecords['srv']> {
  return [peer.domain, peer.muc].map((d) => ({ name: `_xmpp-server._tcp.${d}`, target, port: peer.s2sPort }));
}

// ---------------------------------------------------------------------------------------------
// Process plumbing

/** Direct children of pid and their children, from /proc (Linux). */
function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  let entries: string[] = [];
  try { entries = readdirSync('/proc'); } catch { return []; }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      // The command name (2nd field) is in parentheses and may contain spaces.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parentOf.set(Number(e), Number(rest[1]));
    } catch {
      // gone
    }
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length) {
    const p = queue.shift()!;
    for (const [child, parent] of parentOf) {
      if (parent === p && !out.includes(child)) {
        out.push(child);
        queue.push(child);
      }
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try { process.kill(pid, signal); } catch { /* already gone */ }
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => { child.off('exit', onExit); resolve(false); }, timeoutMs);
    const onExit = (): void => { clearTimeout(timer); resolve(true); };
    child.once('exit', onExit);
  });
}

/** Collects a child's stdout and stderr (bounded, keeping the latest) and tells listeners of new output. */
class OutputLog {
  text = '';
  private readonly listeners = new Set<() => void>();

  attach(child: ChildProcess): void {
    const add = (chunk: Buffer | string): void => {
      this.text += chunk.toString();
      if (this.text.length > MAX_LOG) this.text = this.text.slice(-MAX_LOG);
      for (const l of [...this.listeners]) l();
    };
    child.stdout?.on('data', add);
    child.stderr?.on('data', add);
  }

  onChange(l: () => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
}

function tail(text: string, lines = TAIL_LINES): string {
  return text.split('\n').slice(-lines - 1).join('\n').trimEnd();
}

/** Runs a command to completion with a time bound; resolves with its output or rejects with it. */
function run(bin: string, args: string[], timeoutMs: number, opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env, cwd: opts.cwd });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    const timer = setTimeout(() => {
      for (const p of descendants(child.pid ?? -1)) killQuietly(p, 'SIGKILL');
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (e) => { clearTimeout(timer); reject(e); });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${bin} ${args.join(' ')} failed (${signal ?? code}${signal === 'SIGKILL' ? `, killed after ${timeoutMs} ms` : ''}): ${out.trim()}`));
    });
  });
}

// Should the test process end without stop() (a crash, process.exit, Ctrl-C, the test runner's
// SIGTERM), take the servers with it: they are not in our process group's fate otherwise.
const liveKillers = new Set<() => void>();
let exitHookInstalled = false;
function onProcessExit(kill: () => void): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    const killAll = (): void => { for (const k of liveKillers) k(); };
    process.on('exit', killAll);
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.once(sig, () => {
        killAll();
        // Then die of the signal as we would have without this handler, unless someone else handles it.
        if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
      });
    }
  }
  liveKillers.add(kill);
  return () => liveKillers.delete(kill);
}

function mkPeerDir(kind: string): string {
  return mkdtempSync(join(tmpdir(), `rohrpost-${kind}-`));
}

function resolveSecure(o: PeerOptions): boolean {
  const secure = o.secure ?? Boolean(o.certs?.ca);
  if (secure && !o.certs?.ca) throw new Error(`${o.domain}: secure s2s needs certs with a ca to verify peers against`);
  return secure;
}

/** Copies the certificate files into the peer's directory (the peer may run as another user). */
function copyCerts(dir: string, certs: PeerCerts | undefined): PeerCerts | undefined {
  if (!certs) return undefined;
  const certDir = join(dir, 'certs');
  mkdirSync(certDir, { recursive: true });
  const out: PeerCerts = { cert: join(certDir, 'server.crt'), key: join(certDir, 'server.key') };
  copyFileSync(certs.cert, out.cert);
  copyFileSync(certs.key, out.key);
  if (certs.ca) {
    out.ca = join(certDir, 'ca.crt');
    copyFileSync(certs.ca, out.ca);
  }
  return out;
}

function checkDomain(name: string): string {
  // Everything goes into configuration files unquoted or in simple quotes.
  if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/i.test(name)) throw new Error(`peers harness: unusable domain ${JSON.stringify(name)}`);
  return name;
}

function checkUser(user: string, password: string): void {
  if (!/^[a-z0-9._-]+$/i.test(user)) throw new Error(`peers harness: unusable user name ${JSON.stringify(user)}`);
  if (password === '' || /[\s]/.test(password)) throw new Error('peers harness: passwords must be non-empty without white space');
}

const luaString = (s: string): string => JSON.stringify(s); // JSON string escapes are valid Lua for our inputs

/** A failed start; portInUse when a listener lost the race for its port (then worth another try). */
class PeerStartError extends Error {
  constructor(message: string, readonly portInUse: boolean) {
    super(message);
  }
}

/** Ports from freePort() may be taken by another process before the server binds them: retry with new ones. */
async function withFreshPorts(start: () => Promise<Peer>): Promise<Peer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (e) {
      if (attempt >= 3 || !(e instanceof PeerStartError) || !e.portInUse) throw e;
    }
  }
}

/** Runs set-up steps for a new peer directory; removes the directory if one fails. */
function prepare<T>(dir: string, steps: () => T): T {
  try {
    return steps();
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// Prosody

function prosodyConfig(o: {
  dir: string; domain: string; muc: string; c2sPort: number; s2sPort: number; dnsPort: number;
  certs?: PeerCerts; secure: boolean; logLevel: string;
}): string {
  const tls = o.certs !== undefined;
  const modules = [
    'roster', 'saslauth', 'dialback', 'disco', 'ping', 'version', 'time', 'private', 'vcard_legacy',
    'register', 'lastactivity', 'blocklist', 'carbons',
    ...(tls ? ['tls'] : []),
  ];
  const hostSsl = o.certs
    ? `  ssl = { certificate = ${luaString(o.certs.cert)}; key = ${luaString(o.certs.key)};${o.certs.ca ? ` cafile = ${luaString(o.certs.ca)};` : ''} }\n`
    : '';
  const lines = [
    '-- Generated by the Rohrpost test harness (test/harness/peers.ts).',
    ...(isRoot() ? ['run_as_root = true'] : []),
    `pidfile = ${luaString(join(o.dir, 'prosody.pid'))}`,
    `data_path = ${luaString(join(o.dir, 'data'))}`,
    `certificates = ${luaString(join(o.dir, 'certs'))}`,
    'interfaces = { "127.0.0.1" }',
    `c2s_ports = { ${o.c2sPort} }`,
    `s2s_ports = { ${o.s2sPort} }`,
    'c2s_direct_tls_ports = { }',
    's2s_direct_tls_ports = { }',
    'legacy_ssl_ports = { }',
    'component_ports = { }',
    'http_ports = { }',
    'https_ports = { }',
    `log = { { levels = { min = ${luaString(o.logLevel)} }, to = "console" } }`,
    'authentication = "internal_hashed"',
    'storage = "internal"',
    `modules_enabled = { ${modules.map(luaString).join('; ')} }`,
    // Everything listens on 127.0.0.1; do not try ::1 for names that also have it.
    'use_ipv6 = false',
    // Tests log in with PLAIN over a plaintext stream.
    'c2s_require_encryption = false',
    'allow_unencrypted_plain_auth = true',
    `s2s_require_encryption = ${o.secure}`,
    `s2s_secure_auth = ${o.secure}`,
    ...(o.certs?.ca ? [`ssl = { cafile = ${luaString(o.certs.ca)} }`] : []),
    'allow_registration = true',
    'registration_allowlist = { "127.0.0.1" }',
    'unbound = {',
    '  resolvconf = false; hoststxt = true;',
    `  forward = "127.0.0.1@${o.dnsPort}";`,
    // .test is one of the zones libunbound answers NXDOMAIN for by itself (RFC 6761).
    '  options = { ["local-zone:"] = "test. transparent" };',
    '}',
    '',
    `VirtualHost ${luaString(o.domain)}`,
    hostSsl,
    `Component ${luaString(o.muc)} "muc"`,
    '  restrict_room_creation = false',
    hostSsl,
  ];
  return lines.join('\n') + '\n';
}

export async function startProsody(o: PeerOptions): Promise<Peer> {
  return withFreshPorts(() => startProsodyOnce(o));
}

async function startProsodyOnce(o: PeerOptions): Promise<Peer> {
  const prosody = needBin('prosody', 'prosody');
  const prosodyctl = needBin('prosodyctl', 'prosody');
  const domain = checkDomain(o.domain);
  const muc = checkDomain(o.muc ?? `conference.${domain}`);
  const secure = resolveSecure(o);
  const timeoutMs = o.startTimeoutMs ?? 20_000;
  const [c2sPort, s2sPort] = await freePorts(2);
  const dir = mkPeerDir('prosody');
  const configFile = join(dir, 'prosody.cfg.lua');
  prepare(dir, () => {
    mkdirSync(join(dir, 'data'), { recursive: true });
    mkdirSync(join(dir, 'certs'), { recursive: true });
    const certs = copyCerts(dir, o.certs);
    writeFileSync(configFile, prosodyConfig({ dir, domain, muc, c2sPort, s2sPort, dnsPort: o.dnsPort, certs, secure, logLevel: o.logLevel ?? 'info' }));
  });

  const output = new OutputLog();
  const child = spawn(prosody, ['--config', configFile, '-F'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  output.attach(child);
  let spawnError: Error | null = null;
  child.once('error', (e) => { spawnError = e; });
  const unhook = onProcessExit(() => { if (!exited(child)) killQuietly(child.pid!, 'SIGKILL'); });

  const stop = async (): Promise<void> => {
    if (!exited(child)) {
      child.kill('SIGTERM');
      if (!(await waitForExit(child, STOP_GRACE_MS))) {
        child.kill('SIGKILL');
        await waitForExit(child, 5000);
      }
    }
    unhook();
  };

  // Prosody logs "portmanager info Activated service '<name>' on [127.0.0.1]:<port>" once per
  // listening service (in no fixed order), after loading the hosts; a port it cannot bind
  // gives "Failed to open server port" and it carries on without that listener.
  const ready = [/Activated service 'c2s' on \[127\.0\.0\.1\]:\d+/, /Activated service 's2s' on \[127\.0\.0\.1\]:\d+/];
  const fatal = /Failed to open server port/;
  try {
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (spawnError) return done(spawnError);
        if (ready.every((r) => r.test(output.text))) return done();
        if (fatal.test(output.text)) return done(new Error('Prosody reported a start-up error'));
        if (exited(child)) return done(new Error(`Prosody exited (${child.exitCode ?? child.signalCode})`));
      };
      const timer = setTimeout(() => done(new Error(`Prosody was not ready within ${timeoutMs} ms`)), timeoutMs);
      const off = output.onChange(check);
      child.once('exit', check);
      child.once('error', check);
      function done(err?: Error): void {
        clearTimeout(timer);
        off();
        child.off('exit', check);
        child.off('error', check);
        if (err) reject(err); else resolve();
      }
      check();
    });
  } catch (e) {
    await stop();
    const portInUse = fatal.test(output.text);
    if (portInUse) rmSync(dir, { recursive: true, force: true });
    throw new PeerStartError(`${(e as Error).message} (${domain}, config ${configFile}); last log lines:\n${tail(output.text)}`, portInUse);
  }

  return {
    kind: 'prosody',
    domain,
    muc,
    c2sPort,
    s2sPort,
    dir,
    pid: child.pid!,
    async register(user, password) {
      checkUser(user, password);
      await run(prosodyctl, ['--config', configFile, 'register', user, domain, password], REGISTER_TIMEOUT_MS, { cwd: dir });
    },
    log: () => output.text,
    stop,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

// ---------------------------------------------------------------------------------------------
// ejabberd

let ejabberdSerial = 0;

function ejabberdYaml(o: {
  dir: string; domain: string; muc: string; c2sPort: number; s2sPort: number;
  certs?: PeerCerts; secure: boolean; logLevel: string;
}): string {
  const q = (s: string): string => JSON.stringify(s); // a JSON string is a YAML double-quoted scalar
  const starttls = o.certs === undefined ? 'false' : o.secure ? 'required' : 'optional';
  const modules = [
    // Dialback is the only s2s authentication besides SASL EXTERNAL; without it ejabberd
    // accepts and uses nothing but verified certificates.
    ...(o.secure ? [] : ['  mod_s2s_dialback: {}']),
    '  mod_roster:',
    '    versioning: true',
    '  mod_disco: {}',
    '  mod_ping: {}',
    '  mod_register:',
    '    access: all',
    '    ip_access: all',
    '  mod_version:',
    '    show_os: false',
    '  mod_last: {}',
    '  mod_offline: {}',
    '  mod_caps: {}',
    '  mod_vcard: {}',
    '  mod_private: {}',
    '  mod_carboncopy: {}',
    '  mod_blocking: {}',
    '  mod_privacy: {}',
    '  mod_muc:',
    `    hosts: [${q(o.muc)}]`,
    '    access: all',
    '    access_create: all',
    '    access_persistent: all',
    '    default_room_options:',
    '      public: true',
    '      members_only: false',
    '      persistent: false',
  ];
  const lines = [
    '# Generated by the Rohrpost test harness (test/harness/peers.ts).',
    `loglevel: ${o.logLevel}`,
    'log_rotate_count: 0',
    `hosts: [${q(o.domain)}]`,
    'acme:',
    '  auto: false',
    ...(o.certs ? [`certfiles: [${q(o.certs.cert)}, ${q(o.certs.key)}]`] : []),
    `s2s_use_starttls: ${starttls}`,
    ...(o.certs?.ca ? [`s2s_cafile: ${q(o.certs.ca)}`, `ca_file: ${q(o.certs.ca)}`] : []),
    'outgoing_s2s_families: [ipv4]',
    'auth_method: internal',
    'auth_password_format: scram',
    'acl:',
    '  local:',
    '    user_regexp: ""',
    'access_rules:',
    '  local:',
    '    allow: local',
    '  c2s:',
    '    allow: all',
    'api_permissions:',
    '  "console commands":',
    '    from: [ejabberd_ctl]',
    '    who: all',
    '    what: "*"',
    'listen:',
    '  -',
    `    port: ${o.c2sPort}`,
    '    ip: "127.0.0.1"',
    '    module: ejabberd_c2s',
    '    max_stanza_size: 262144',
    '    shaper: none',
    '    access: c2s',
    '    starttls: false',
    '    backlog: 1024',
    '  -',
    `    port: ${o.s2sPort}`,
    '    ip: "127.0.0.1"',
    '    module: ejabberd_s2s_in',
    '    max_stanza_size: 524288',
    '    shaper: none',
    '    backlog: 1024',
    'modules:',
    ...modules,
  ];
  return lines.join('\n') + '\n';
}

export async function startEjabberd(o: PeerOptions): Promise<Peer> {
  return withFreshPorts(() => startEjabberdOnce(o));
}

async function startEjabberdOnce(o: PeerOptions): Promise<Peer> {
  const ctl = needBin('ejabberdctl', 'ejabberd');
  const domain = checkDomain(o.domain);
  const muc = checkDomain(o.muc ?? `conference.${domain}`);
  const secure = resolveSecure(o);
  const timeoutMs = o.startTimeoutMs ?? 60_000;
  const [c2sPort, s2sPort, distPort] = await freePorts(3);
  const node = `rohrpost-peer-${process.pid}-${++ejabberdSerial}@localhost`;
  const dir = mkPeerDir('ejabberd');
  const spool = join(dir, 'spool');
  const logs = join(dir, 'logs');
  const pidFile = join(dir, 'ejabberd.pid');
  const logFile = join(logs, 'ejabberd.log');
  prepare(dir, () => {
    mkdirSync(spool, { recursive: true });
    mkdirSync(logs, { recursive: true });
    const certs = copyCerts(dir, o.certs);
    writeFileSync(join(dir, 'ejabberd.yml'), ejabberdYaml({ dir, domain, muc, c2sPort, s2sPort, certs, secure, logLevel: o.logLevel ?? 'info' }));
    writeFileSync(join(dir, 'ejabberdctl.cfg'), [
      '# Generated by the Rohrpost test harness (test/harness/peers.ts).',
      `ERLANG_NODE=${node}`,
      // A fixed distribution port means no epmd; the ctl commands connect to it directly.
      `ERL_DIST_PORT=${distPort}`,
      // The interface as a kernel flag rather than INET_DIST_INTERFACE, which costs ejabberdctl
      // an extra Erlang VM start on every command.
      `ERL_OPTIONS="-setcookie ${randomBytes(12).toString('hex')} -kernel inet_dist_use_interface {127,0,0,1} -env ERL_CRASH_DUMP_BYTES 0"`,
      `SPOOL_DIR=${spool}`,
      `LOGS_DIR=${logs}`,
      `EJABBERD_PID_PATH=${pidFile}`,
      '',
    ].join('\n'));
    // Erlang's resolver settings. ejabberd 23.01 asks this name server for the SRV records only;
    // the address of an SRV target comes from the system resolver (see peerSrvRecords).
    writeFileSync(join(dir, 'inetrc'), [
      '{lookup, [file, dns]}.',
      '{resolv_conf, ""}.',
      '{hosts_file, "/etc/hosts"}.',
      `{nameserver, {127,0,0,1}, ${o.dnsPort}}.`,
      '',
    ].join('\n'));
    // As root, ejabberdctl runs everything as the 'ejabberd' user, which must own the directory.
    if (isRoot()) {
      chmodSync(dir, 0o755);
      execFileSync('chown', ['-R', 'ejabberd:', dir]);
    }
  });

  // Drop anything that would make ejabberdctl read other files than ours.
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) {
    if (/^(EJABBERD|ERL|ERLANG|CONTRIB|INET_DIST|SPOOL_DIR|LOGS_DIR|FIREWALL)/.test(k)) delete env[k];
  }
  const ctlArgs = ['--config-dir', dir];
  const ctlRun = (args: string[], ms = CTL_TIMEOUT_MS): Promise<string> => run(ctl, [...ctlArgs, ...args], ms, { env, cwd: dir });

  const output = new OutputLog();
  const child = spawn(ctl, [...ctlArgs, 'foreground'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  output.attach(child);
  let spawnError: Error | null = null;
  child.once('error', (e) => { spawnError = e; });

  /** The Erlang VM's PID: from ejabberd's pid file, else the beam among the wrapper's descendants. */
  const beamPids = (): number[] => {
    const pids = new Set<number>();
    try {
      const p = Number(readFileSync(pidFile, 'utf8').trim());
      if (p > 0) pids.add(p);
    } catch {
      // not written yet
    }
    for (const p of descendants(child.pid ?? -1)) pids.add(p);
    return [...pids];
  };
  const killAll = (): void => {
    for (const p of beamPids()) killQuietly(p, 'SIGKILL');
    if (!exited(child)) killQuietly(child.pid!, 'SIGKILL');
  };
  const unhook = onProcessExit(killAll);

  // In the foreground ejabberd writes its log both to the console (shorter lines) and to
  // its log file (with process and code location); the file is the better read once it exists.
  const fullLog = (): string => {
    let file = '';
    try { file = readFileSync(logFile, 'utf8'); } catch { /* not yet */ }
    return file.trim() ? file : output.text;
  };

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => (stopping ??= stopNow());
  const stopNow = async (): Promise<void> => {
    if (!exited(child)) {
      const vm = beamPids();
      try {
        await ctlRun(['stop'], STOP_GRACE_MS);
      } catch {
        // not running, or not answering: the kill below takes over
      }
      if (!(await waitForExit(child, STOP_GRACE_MS))) killAll();
      await waitForExit(child, 5000);
      // The VM may outlive the wrapper if it was killed: make sure it is gone.
      const deadline = Date.now() + 5000;
      while (vm.some(alive) && Date.now() < deadline) await sleep(50);
      for (const p of vm) if (alive(p)) killQuietly(p, 'SIGKILL');
    }
    unhook();
  };

  try {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      if (spawnError) throw spawnError;
      if (exited(child)) throw new Error(`ejabberd exited (${child.exitCode ?? child.signalCode})`);
      // ejabberd logs "ejabberd 23.01-1 is started in the node '<node>' in 0.80s" once its
      // listeners are up; `status` ("... is started with status: started") then shows that the
      // ctl commands (register, stop) reach the node.
      if (/ejabberd [\w.-]+ is started in the node/.test(fullLog())) {
        try {
          last = await ctlRun(['status'], Math.max(1000, Math.min(15_000, deadline - Date.now())));
          if (/is running in that node|started with status: started/.test(last)) break;
        } catch (e) {
          last = (e as Error).message;
        }
      }
      if (Date.now() >= deadline) throw new Error(`ejabberd was not ready within ${timeoutMs} ms (status: ${last.trim() || 'n/a'})`);
      await sleep(250);
    }
  } catch (e) {
    await stop();
    const consoleTail = tail(output.text, 15);
    const extra = consoleTail && !fullLog().includes(consoleTail) ? `\n--- console:\n${consoleTail}` : '';
    const message = `${(e as Error).message} (${domain}, config dir ${dir}); last log lines:\n${tail(fullLog())}${extra}`;
    const portInUse = /eaddrinuse/i.test(output.text + fullLog());
    if (portInUse) rmSync(dir, { recursive: true, force: true });
    throw new PeerStartError(message, portInUse);
  }

  return {
    kind: 'ejabberd',
    domain,
    muc,
    c2sPort,
    s2sPort,
    dir,
    pid: child.pid!,
    async register(user, password) {
      checkUser(user, password);
      await ctlRun(['register', user, domain, password], REGISTER_TIMEOUT_MS);
    },
    log: fullLog,
    stop,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

// ---------------------------------------------------------------------------------------------
// Certificates

const OID_SRV_NAME = '1.3.6.1.5.5.7.8.7';
const OID_XMPP_ADDR = '1.3.6.1.5.5.7.8.5';

function openssl(args: string[]): void {
  const r = spawnSync('openssl', args, { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.error?.message ?? ''}${r.stderr}`);
}

/** Which otherName entries a certificate gets besides its DNS names. */
export interface CertNameOptions {
  /** SRVName _xmpp-server.<first domain>; default true */
  srvName?: boolean;
  /**
   * XmppAddr <first domain>; default true. ejabberd 23.01 (p1_xmpp 1.6.1) crashes the s2s
   * connection (badarg in xmpp_stream_pkix:get_cert_domains/1) when it checks the names of a
   * certificate it has verified and that certificate has an XmppAddr: leave it out of every
   * certificate that a secure ejabberd peer gets to see.
   */
  xmppAddr?: boolean;
}

/** Extension section for an XMPP server certificate (RFC 6120 §13.7.1.2, RFC 6125). */
function serverExtensions(domains: string[], names: CertNameOptions = {}): string {
  if (domains.length === 0) throw new Error('certificates need at least one domain');
  domains.forEach(checkDomain);
  return [
    '[ext]',
    'basicConstraints = critical, CA:FALSE',
    'keyUsage = critical, digitalSignature, keyEncipherment',
    // s2s certificates are presented by both sides, as TLS server and as TLS client.
    'extendedKeyUsage = serverAuth, clientAuth',
    'subjectKeyIdentifier = hash',
    'subjectAltName = @alt',
    '[alt]',
    ...domains.map((d, i) => `DNS.${i + 1} = ${d}`),
    ...(names.srvName ?? true ? [`otherName.1 = ${OID_SRV_NAME};IA5STRING:_xmpp-server.${domains[0]}`] : []),
    ...(names.xmppAddr ?? true ? [`otherName.2 = ${OID_XMPP_ADDR};UTF8:${domains[0]}`] : []),
    '',
  ].join('\n');
}

function fileBase(domains: string[], name?: string): string {
  const base = name ?? domains[0]!;
  if (!/^[\w.-]+$/.test(base)) throw new Error(`unusable certificate file name ${JSON.stringify(base)}`);
  return base;
}

/** A throwaway CA made with the openssl CLI in dir: caCert path, and issue(domains) -> {cert, key} PEM paths
 *  with subjectAltName DNS:<each domain> plus otherName SRVName _xmpp-server.<first domain> (OID 1.3.6.1.5.5.7.8.7, IA5STRING) and XmppAddr (1.3.6.1.5.5.7.8.5, UTF8) */
export function makeTestCa(dir: string): { caCert: string; caKey: string; issue(domains: string[], name?: string, names?: CertNameOptions): { cert: string; key: string } } {
  mkdirSync(dir, { recursive: true });
  const id = randomBytes(4).toString('hex');
  const caCert = join(dir, `test-ca-${id}.crt`);
  const caKey = join(dir, `test-ca-${id}.key`);
  const caConf = join(dir, `test-ca-${id}.cnf`);
  writeFileSync(caConf, [
    '[req]', 'distinguished_name = dn', 'prompt = no', 'x509_extensions = ca_ext',
    '[dn]', `CN = Rohrpost test CA ${id}`,
    '[ca_ext]', 'basicConstraints = critical, CA:TRUE', 'keyUsage = critical, keyCertSign, cRLSign',
    'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid:always', '',
  ].join('\n'));
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '365', '-keyout', caKey, '-out', caCert, '-config', caConf]);

  return {
    caCert,
    caKey,
    issue(domains, name, names) {
      const base = fileBase(domains, name);
      const key = join(dir, `${base}.key`);
      const cert = join(dir, `${base}.crt`);
      const csr = join(dir, `${base}.csr`);
      const conf = join(dir, `${base}.cnf`);
      writeFileSync(conf, ['[req]', 'distinguished_name = dn', 'prompt = no', '[dn]', `CN = ${domains[0] ?? ''}`, serverExtensions(domains, names)].join('\n'));
      openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-config', conf]);
      openssl(['x509', '-req', '-in', csr, '-CA', caCert, '-CAkey', caKey, '-set_serial', `0x${randomBytes(8).toString('hex')}`,
        '-days', '365', '-extfile', conf, '-extensions', 'ext', '-out', cert]);
      rmSync(csr, { force: true });
      return { cert, key };
    },
  };
}

/** A self-signed certificate (not from the CA) for dialback-with-TLS tests. */
export function selfSigned(dir: string, domains: string[], names?: CertNameOptions): { cert: string; key: string } {
  mkdirSync(dir, { recursive: true });
  const base = `${fileBase(domains)}-selfsigned`;
  const key = join(dir, `${base}.key`);
  const cert = join(dir, `${base}.crt`);
  const conf = join(dir, `${base}.cnf`);
  writeFileSync(conf, ['[req]', 'distinguished_name = dn', 'prompt = no', 'x509_extensions = ext', '[dn]', `CN = ${domains[0] ?? ''}`, serverExtensions(domains, names)].join('\n'));
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '365', '-keyout', key, '-out', cert, '-config', conf]);
  return { cert, key };
}
