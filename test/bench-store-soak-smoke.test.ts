// Smoke runs of the offline-store and soak benchmarks against a Rohrpost they spawn
// themselves: 5 senders storing 100 messages for 20 offline accounts (the spool is
// checked by the benchmark), and a 5-second soak of 10 sessions at 50 msgs/s with a
// row per second. Only that the runs completed, lost nothing at this tiny size and
// produced numbers is checked — never how fast.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_OFFLINE_STORE_OPTIONS, runOfflineStoreBench } from '../bench/offline-store.js';
import { DEFAULT_SOAK_OPTIONS, runSoak } from '../bench/soak.js';

const quiet = () => {};

function isNumber(n: unknown): n is number {
  return typeof n === 'number' && Number.isFinite(n);
}

describe('store and soak benchmark smoke runs', () => {
  test('offline store: 5 senders, 20 recipients, 100 messages', async () => {
    const r = await runOfflineStoreBench({
      ...DEFAULT_OFFLINE_STORE_OPTIONS, senders: 5, recipients: 20, messages: 100, batch: 10,
      iterations: 4096, timeoutMs: 60_000, log: quiet,
    });
    assert.equal(r.logins.ok, 5, JSON.stringify(r.logins.errors));
    assert.equal(r.stoppedBy, 'done');
    assert.equal(r.sent, 100);
    assert.equal(r.acknowledged, 100);
    assert.equal(r.bounced, 0);
    assert.deepEqual({ ...r.verify, ms: 0 }, { stored: 100, lost: 0, duplicates: 0, unexpected: 0, outOfOrder: 0, files: 20, ms: 0 });
    assert.ok(isNumber(r.storedPerSecond) && r.storedPerSecond > 0);
    assert.ok(isNumber(r.batchLatencyMs.p50) && isNumber(r.batchLatencyMs.p99));
    assert.equal(r.batchLatencyMs.count, 10);
    assert.ok(isNumber(r.serverCpuMsPer1000));
    assert.ok(isNumber(r.bytesPerMessage) && r.bytesPerMessage > 0);
    assert.match(r.durability, /fsync/);
    assert.equal(r.server.problems?.errors, 0, JSON.stringify(r.server.problems?.samples));
    assert.equal(r.server.problems?.exited, null);
  });

  test('soak: 10 sessions, 5 s at half of a given maximum of 100/s, a row per second', async () => {
    const r = await runSoak({
      ...DEFAULT_SOAK_OPTIONS, spawn: true, sessions: 10, users: { prefix: 'soak', count: 10 }, maxRate: 100,
      durationMs: 5000, sampleMs: 1000, lossDeadlineMs: 5000, iterations: 4096, timeoutMs: 60_000, log: quiet,
    });
    assert.equal(r.logins.ok, 10, JSON.stringify(r.logins.errors));
    assert.equal(r.rate, 50);
    assert.equal(r.stoppedBy, 'done');
    assert.equal(r.rows.length, 5);
    for (const row of r.rows) {
      assert.ok(row.sent > 0, `${row.minute} min: something was sent`);
      assert.equal(row.received, row.sent, `${row.minute} min: every message sent was received`);
      assert.equal(row.lost, 0);
      assert.equal(row.alive, 10);
      assert.ok(isNumber(row.rssKiB) && row.rssKiB > 0);
      assert.ok(isNumber(row.deliveredPerSecond) && isNumber(row.latencyMs.p50) && isNumber(row.latencyMs.p99));
    }
    assert.equal(r.totals.sent, 250);
    assert.equal(r.totals.lost, 0);
    assert.equal(r.totals.late, 0);
    assert.ok(isNumber(r.server.rssBeforeKiB) && isNumber(r.server.peakRssKiB));
    assert.equal(r.server.problems?.errors, 0, JSON.stringify(r.server.problems?.samples));
    assert.equal(r.server.problems?.exited, null);
  });
});
