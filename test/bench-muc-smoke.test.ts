// Smoke runs of the MUC benchmark against a Rohrpost it spawns itself: one room of
// 20 occupants with 2 fan-out steps, and 3 rooms of 5 with steady traffic. Only
// that the runs completed and every message reached every occupant is checked —
// never how fast.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_MUC_OPTIONS, runMucRoomBench, runMucRoomsBench, type MucScenarioResult } from '../bench/muc.js';

const quiet = () => {};
const base = {
  ...DEFAULT_MUC_OPTIONS, iterations: 4096, timeoutMs: 120_000, drainMs: 10_000, maxP99Ms: 60_000, log: quiet,
};

function assertDelivered(r: MucScenarioResult, steps: number): void {
  assert.equal(r.steps.length, steps, `every step ran (stopped by ${r.stoppedBy})`);
  for (const step of r.steps) {
    assert.ok(step.sent > 0, `${step.offeredPerSecond}/s: something was sent`);
    assert.equal(step.errors, 0, `${step.offeredPerSecond}/s: no error replies`);
    assert.equal(step.received, step.expected, `${step.offeredPerSecond}/s: every message reached every occupant`);
    assert.equal(step.lost, 0);
    assert.equal(step.duplicates, 0);
  }
  assert.equal(r.server.problems?.errors, 0, JSON.stringify(r.server.problems?.samples));
  assert.equal(r.server.problems?.exited, null);
}

describe('MUC benchmark smoke runs', () => {
  test('one room of 20: joins one by one and 5 at a time, 2 fan-out steps', async () => {
    const n = 20;
    const r = await runMucRoomBench({
      ...base, users: { prefix: 'mucs', count: n }, occupants: n, joinConcurrency: 5, senders: 3,
      rates: [10, 20], stepMs: 1000,
    });
    assert.equal(r.logins.ok, n, JSON.stringify(r.logins.errors));
    assert.equal(r.joins.length, 2);
    for (const p of r.joins) {
      assert.equal(p.joined, n, JSON.stringify(p.errors));
      assert.equal(p.failed, 0);
    }
    for (const s of r.steps) assert.equal(s.expected, s.sent * n);
    assertDelivered(r, 2);
  });

  test('3 rooms of 5 with steady traffic', async () => {
    const r = await runMucRoomsBench({
      ...base, users: { prefix: 'mucm', count: 15 }, rooms: 3, roomSize: 5, joinConcurrency: 4,
      roomRates: [4], roomStepMs: 1000,
    });
    assert.equal(r.logins.ok, 15, JSON.stringify(r.logins.errors));
    assert.equal(r.joins.reduce((a, p) => a + p.joined, 0), 15);
    assert.ok(r.joins.every((p) => p.failed === 0), JSON.stringify(r.joins.map((p) => p.errors)));
    for (const s of r.steps) assert.equal(s.expected, s.sent * 5);
    assertDelivered(r, 1);
  });
});
