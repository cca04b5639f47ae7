// Smoke runs of the IM benchmarks against a Rohrpost they spawn themselves: 20
// sessions exchanging messages in 2 steps, and 2 logins with a 10-contact roster
// and 10 offline messages. Only that the runs completed, lost nothing at this tiny
// size and produced numbers is checked — never how fast.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_MESSAGE_OPTIONS, runMessageBench } from '../bench/messages.js';
import { DEFAULT_OFFLINE_LOGIN_OPTIONS, runOfflineLoginBench } from '../bench/offline-login.js';

const N = 20;
const quiet = () => {};

function isNumber(n: unknown): n is number {
  return typeof n === 'number' && Number.isFinite(n);
}

describe('IM benchmark smoke runs', () => {
  test(`messages: ${N} sessions in pairs, 2 steps`, async () => {
    const r = await runMessageBench({
      ...DEFAULT_MESSAGE_OPTIONS, spawn: true, sessions: N, users: { prefix: 'msg', count: N },
      rates: [100, 200], stepMs: 500, drainMs: 5000, maxP99Ms: 60_000, iterations: 4096, timeoutMs: 120_000, log: quiet,
    });
    assert.equal(r.logins.ok, N, JSON.stringify(r.logins.errors));
    assert.equal(r.steps.length, 2, `both steps ran (stopped by ${r.stoppedBy})`);
    for (const step of r.steps) {
      assert.ok(step.sent > 0, `${step.offeredPerSecond}/s: something was sent`);
      assert.equal(step.received, step.sent, `${step.offeredPerSecond}/s: every message sent was received`);
      assert.equal(step.lost, 0);
      assert.equal(step.alive, N);
      assert.ok(isNumber(step.deliveredPerSecond) && step.deliveredPerSecond > 0);
      assert.ok(isNumber(step.latencyMs.p50) && isNumber(step.latencyMs.p99));
      assert.ok(isNumber(step.serverCpuMsPer1000));
    }
    assert.ok(r.best !== null);
    assert.equal(r.server.problems?.errors, 0, JSON.stringify(r.server.problems?.samples));
    assert.equal(r.server.problems?.exited, null);
  });

  test('offline login: 10 contacts, 10 offline messages, 2 rounds', async () => {
    const r = await runOfflineLoginBench({
      ...DEFAULT_OFFLINE_LOGIN_OPTIONS, contacts: 10, messages: 10, rounds: 2, iterations: 4096, timeoutMs: 120_000, log: quiet,
    });
    assert.equal(r.rounds.length, 2);
    for (const round of r.rounds) {
      assert.equal(round.received, 10, `round ${round.round}: every stored message arrived`);
      assert.equal(round.rosterItems, 10, `round ${round.round}: the whole roster arrived`);
      assert.ok(isNumber(round.rosterMs) && isNumber(round.lastOfflineMs), `round ${round.round}`);
    }
    for (const m of [r.summary.rosterMs, r.summary.lastOfflineMs]) assert.ok(isNumber(m.p50) && isNumber(m.p99));
    assert.equal(r.server.problems?.errors, 0, JSON.stringify(r.server.problems?.samples));
    assert.equal(r.server.problems?.exited, null);
  });
});
