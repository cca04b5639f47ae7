// A real DNS server for tests: dnsmasq (Debian's dnsmasq-base) on 127.0.0.1 and a free
// ephemeral port, answering for the reserved .test domain (RFC 6761 §6.2) from the records
// a test gives it and refusing everything else.
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { promises as dns } from 'node:dns';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface DnsRecords {
  hosts?: Array<{ name: string; address: string }>;
  srv?: Array<{ name: string; target: string; port: number; priority?: number; weight?: number }>;
}

export interface TestDns {
  port: number;
  /** '127.0.0.1:<port>' */
  address: string;
  /** Replaces all records: rewrites the configuration and restarts dnsmasq on the same port. */
  update(records: DnsRecords): Promise<void>;
  stop(): Promise<void>;
}

// dnsmasq lives in sbin, which is often not on an ordinary user's PATH.
const SBIN_DIRS = ['/usr/sbin', '/usr/local/sbin', '/sbin'];
// Every configuration answers this name, so a reply to it means dnsmasq is up.
const READY_NAME = 'dns-harness-ready.test';
const READY_ADDRESS = '127.0.0.1';
const START_TIMEOUT_MS = 5000;
const STOP_TIMEOUT_MS = 5000;
const MAX_STDERR = 16 * 1024;
// Commas separate fields of a dnsmasq option; a line break would start another option.
const RE_UNSAFE = /[,\s]/;

function findDnsmasq(): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...SBIN_DIRS];
  for (const dir of dirs) {
    const candidate = join(dir, 'dnsmasq');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

export function dnsmasqAvailable(): boolean {
  return findDnsmasq() !== null;
}

function field(value: string | number): string {
  const s = String(value);
  if (s === '' || RE_UNSAFE.test(s)) throw new Error(`dnsmasq harness: unusable value ${JSON.stringify(s)}`);
  return s;
}

function renderConfig(port: number, dir: string, records: DnsRecords): string {
  const lines = [
    `port=${port}`,
    'listen-address=127.0.0.1',
    'bind-interfaces',
    'no-resolv',
    'no-hosts',
    'local=/test/',
    `pid-file=${join(dir, 'dnsmasq.pid')}`,
    'log-facility=-',
    // As root dnsmasq drops to 'nobody' after start-up; staying root avoids depending on
    // that account existing (it has read the configuration by then either way).
    ...(process.getuid?.() === 0 ? ['user=root'] : []),
    `host-record=${READY_NAME},${READY_ADDRESS}`,
  ];
  for (const h of records.hosts ?? []) lines.push(`host-record=${field(h.name)},${field(h.address)}`);
  for (const s of records.srv ?? []) {
    // A target of '.' is written as such: dnsmasq then serves the "decidedly not available" record.
    lines.push(`srv-host=${field(s.name)},${field(s.target)},${field(s.port)},${field(s.priority ?? 0)},${field(s.weight ?? 0)}`);
  }
  return lines.join('\n') + '\n';
}

/** A port free for both UDP and TCP on 127.0.0.1 at the moment of asking. */
async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const udp = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(0, '127.0.0.1', () => resolve());
    });
    const port = udp.address().port;
    const tcpFree = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    await new Promise<void>((resolve) => udp.close(() => resolve()));
    if (tcpFree) return port;
  }
  throw new Error('dnsmasq harness: no free port for UDP and TCP');
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** One dnsmasq process; resolves once it answers queries, rejects (with its stderr) if it exits. */
async function launch(bin: string, confFile: string, port: number): Promise<ChildProcess> {
  const child = spawn(bin, ['--keep-in-foreground', `--conf-file=${confFile}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    if (stderr.length < MAX_STDERR) stderr += chunk;
  });
  let spawnError: Error | null = null;
  child.once('error', (e) => {
    spawnError = e;
  });
  const probe = new dns.Resolver({ timeout: 200, tries: 1 });
  probe.setServers([`127.0.0.1:${port}`]);
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (spawnError) throw spawnError;
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`dnsmasq exited (${child.exitCode ?? child.signalCode}) on port ${port}: ${stderr.trim()}`);
    }
    try {
      if ((await probe.resolve4(READY_NAME)).includes(READY_ADDRESS)) return child;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  child.kill('SIGKILL');
  await waitForExit(child, STOP_TIMEOUT_MS);
  throw new Error(`dnsmasq did not answer on port ${port} within ${START_TIMEOUT_MS} ms: ${stderr.trim()}`);
}

async function terminate(child: ChildProcess): Promise<void> {
  child.kill('SIGTERM');
  if (!(await waitForExit(child, STOP_TIMEOUT_MS))) {
    child.kill('SIGKILL');
    await waitForExit(child, STOP_TIMEOUT_MS);
  }
}

export async function startDns(records: DnsRecords): Promise<TestDns> {
  const bin = findDnsmasq();
  if (bin === null) throw new Error('dnsmasq is not installed (Debian/Ubuntu: apt-get install dnsmasq-base)');
  const dir = mkdtempSync(join(tmpdir(), 'rohrpost-dns-'));
  const confFile = join(dir, 'dnsmasq.conf');
  let child: ChildProcess | null = null;
  // Should the test process end without stop(), do not leave dnsmasq running.
  const onExit = (): void => {
    child?.kill('SIGKILL');
  };
  process.on('exit', onExit);

  let port = 0;
  try {
    // Another process may take the port between our probe and dnsmasq's bind: try a few.
    for (let attempt = 1; child === null; attempt++) {
      port = await freePort();
      writeFileSync(confFile, renderConfig(port, dir, records));
      try {
        child = await launch(bin, confFile, port);
      } catch (e) {
        if (attempt >= 3) throw e;
      }
    }
  } catch (e) {
    process.off('exit', onExit);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }

  // update() and stop() run one after another, never interleaved.
  let queue: Promise<void> = Promise.resolve();
  const serial = (op: () => Promise<void>): Promise<void> => {
    const next = queue.then(op);
    queue = next.catch(() => undefined);
    return next;
  };

  return {
    port,
    address: `127.0.0.1:${port}`,
    update: (next) =>
      serial(async () => {
        const config = renderConfig(port, dir, next);
        if (child) await terminate(child);
        child = null;
        writeFileSync(confFile, config);
        child = await launch(bin, confFile, port);
      }),
    stop: () =>
      serial(async () => {
        if (child) await terminate(child);
        child = null;
        process.off('exit', onExit);
        rmSync(dir, { recursive: true, force: true });
      }),
  };
}
