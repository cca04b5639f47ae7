// Smoke runs of the benchmarks against a Rohrpost they spawn themselves: 20
// logins and 20 idle sessions, in plaintext and over TLS. Only that every session
// succeeded and that numbers came out is checked — never how fast or how small.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_LOGIN_OPTIONS, runLoginBench } from '../bench/logins.js';
import { DEFAULT_MEMORY_OPTIONS, runMemoryBench } from '../bench/memory.js';

const N = 20;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const quiet = () => {};

function isNumber(n: unknown): n is number {
  return typeof n === 'number' && Number.isFinite(n);
}

describe('benchmark smoke runs', () => {
  test(`logins: ${N} per phase, SCRAM-SHA-1 and PLAIN, plaintext and STARTTLS`, async () => {
    const r = await runLoginBench({
      ...DEFAULT_LOGIN_OPTIONS, spawn: true, count: N, users: { prefix: 'smoke', count: N },
      tlsModes: ['none', 'starttls'], iterations: 4096, timeoutMs: 120_000, log: quiet,
    });
    assert.equal(r.rows.length, 2 * 2 * 2, 'a row per TLS mode, mechanism and concurrency');
    for (const row of r.rows) {
      const what = `${row.tls} ${row.mechanism} x${row.concurrency}`;
      assert.equal(row.ok, N, `${what}: ${JSON.stringify(row.errors)}`);
      assert.equal(row.failed, 0, what);
      assert.ok(isNumber(row.loginsPerSecond) && row.loginsPerSecond > 0, what);
      assert.ok(isNumber(row.latencyMs.p50) && isNumber(row.latencyMs.p99), what);
    }
    assert.equal(r.server.problems?.errors, 0, JSON.stringify(r.server.problems?.samples));
    assert.equal(r.server.problems?.exited, null);
    assert.ok(isNumber(r.server.idleRssKiB));
  });

  test(`memory: ${N} idle sessions, plaintext and direct TLS`, async () => {
    const r = await runMemoryBench({
      ...DEFAULT_MEMORY_OPTIONS, spawn: true, sessions: N, users: { prefix: 'idle', count: N },
      tlsModes: ['none', 'direct'], iterations: 4096, settleMs: 200, timeoutMs: 120_000, log: quiet,
    });
    assert.equal(r.rows.length, 2);
    for (const row of r.rows) {
      assert.equal(row.ok, N, `${row.tls}: ${JSON.stringify(row.errors)}`);
      assert.equal(row.alive, N, `${row.tls}: every session still open at the reading`);
      assert.ok(isNumber(row.rssBeforeKiB) && isNumber(row.rssAfterKiB) && isNumber(row.perSessionKiB), row.tls);
      assert.ok(isNumber(row.serverOpenFiles) && row.serverOpenFiles >= N, `${row.tls}: the server holds a socket per session`);
      assert.equal(row.problems?.errors, 0, JSON.stringify(row.problems?.samples));
    }
  });

  test('the command line prints a Markdown table and writes JSON', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rohrpost-bench-smoke-'));
    try {
      const out = join(dir, 'logins.json');
      const args = [join(ROOT, 'dist', 'bench', 'logins.js'), '--spawn', '--count', '5', '--tls', 'direct',
        '--mechanisms', 'SCRAM-SHA-1', '--concurrency', '2', '--iterations', '4096', '--out', out, '--timeout', '60'];
      const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
        const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
        let text = '';
        p.stdout.on('data', (d: Buffer) => { text += d.toString(); });
        p.stderr.resume();
        const t = setTimeout(() => p.kill('SIGKILL'), 90_000);
        p.on('exit', (c) => { clearTimeout(t); resolve({ code: c, stdout: text }); });
      });
      assert.equal(code, 0);
      assert.match(stdout, /^\| TLS \| mechanism \|/m);
      assert.match(stdout, /^\| direct \| SCRAM-SHA-1 \| 2 \| 5 \| 0 \|/m);
      const json = JSON.parse(readFileSync(out, 'utf8')) as { benchmark: string; rows: Array<{ ok: number }> };
      assert.equal(json.benchmark, 'logins');
      assert.equal(json.rows[0]!.ok, 5);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
