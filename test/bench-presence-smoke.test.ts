// Smoke runs of the presence benchmark (M4) against a Rohrpost it spawns itself: 20
// accounts with 5 contacts each (rosters written into the spool), 5 measured logins;
// and 10 accounts with 3 contacts each whose subscriptions are made over the wire
// first. Only that the runs completed, lost no presence and produced numbers is
// checked — never how fast. Also the roster ring and the wire seeding on their own.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_PRESENCE_OPTIONS, ringContacts, ringOffsets, runPresenceBench, sampleOf, type PresenceBenchResult } from '../bench/presence.js';

const quiet = () => {};

function isNumber(n: unknown): n is number {
  return typeof n === 'number' && Number.isFinite(n);
}

function checkRun(r: PresenceBenchResult, online: number, measured: number, onlineAreContacts: boolean): void {
  assert.equal(r.phase1.ok, online, JSON.stringify(r.phase1.errors));
  assert.equal(r.phase2.ok, measured, JSON.stringify(r.phase2.errors));
  assert.equal(r.phase2.rows.length, measured);
  assert.equal(r.lostPresences, 0, `phase 1 missing ${r.phase1.missingPresences}, probe answers missing ` +
    `${r.phase2.missingProbeAnswers}, broadcasts missing ${r.phase2.missingBroadcasts}/${r.phase2.missingUnavailable}`);
  assert.equal(r.phase2.rosterMismatches, 0, 'every measured login got its whole roster');
  assert.equal(r.alive, online, 'the online sessions stayed');
  if (onlineAreContacts) assert.ok(r.phase1.expectedPresences > 0, 'the online accounts are contacts of each other');
  assert.ok(r.phase2.expectedProbeAnswers > 0 && r.phase2.expectedBroadcasts > 0, 'something was expected');
  assert.equal(r.phase2.presenceStanzas.otherTypes, 0, 'no refused probe (unsubscribed)');
  // At least the probe answers and the available and unavailable broadcasts.
  assert.equal(r.phase2.expectedUnavailable, r.phase2.expectedBroadcasts);
  assert.ok(r.phase2.presenceStanzas.total >= r.phase2.expectedProbeAnswers + 2 * r.phase2.expectedBroadcasts);
  assert.ok(isNumber(r.phase2.presencesPerSecond) && r.phase2.presencesPerSecond > 0);
  for (const m of [r.phase2.summary.boundMs, r.phase2.summary.rosterMs, r.phase2.summary.presencesMs]) {
    assert.equal(m.count, measured);
    assert.ok(isNumber(m.p50) && m.p50 > 0 && isNumber(m.p99) && m.p99 > 0);
  }
  // CPU time comes in 10 ms ticks: at this size it may round to 0, but it is a number.
  assert.ok(isNumber(r.phase2.serverCpuMsPer1000Presences) && r.phase2.serverCpuMsPer1000Presences >= 0);
  assert.ok(isNumber(r.server.rssKiB.idle) && r.server.rssKiB.idle > 0);
  assert.ok(isNumber(r.server.rssKiB.afterPhase2) && r.server.rssKiB.afterPhase2 > 0);
  assert.equal(r.server.problems?.errors, 0, JSON.stringify(r.server.problems?.samples));
  assert.equal(r.server.problems?.exited, null);
}

describe('presence benchmark smoke runs', () => {
  test('the roster ring is symmetric, with exactly K distinct others', () => {
    for (const [n, k] of [[20, 5], [10, 3], [1000, 150], [7, 2], [8, 7], [12, 1]] as const) {
      const offsets = ringOffsets(n, k);
      const rosters = Array.from({ length: n }, (_, i) => new Set(ringContacts(i, n, offsets)));
      rosters.forEach((r, i) => {
        assert.equal(r.size, k, `n=${n} k=${k}: roster of ${i}`);
        assert.ok(!r.has(i), `n=${n} k=${k}: ${i} is not its own contact`);
        for (const c of r) assert.ok(rosters[c]!.has(i), `n=${n} k=${k}: ${c} has ${i} back`);
      });
    }
    assert.throws(() => ringOffsets(9, 3), /even/);
    assert.throws(() => ringOffsets(5, 5), /contacts/);
    assert.deepEqual(sampleOf(6, 20, 5), [6, 8, 11, 14, 17]);
    assert.deepEqual(sampleOf(3, 6, 0), [3, 4, 5]);
  });

  test('20 accounts, 5 contacts, rosters in the spool, 5 measured logins', async () => {
    const r = await runPresenceBench({
      ...DEFAULT_PRESENCE_OPTIONS, spawn: true, users: { prefix: 'pres', count: 20 }, count: 20, contacts: 5, sample: 5,
      measureConcurrency: 2, seed: 'spool', iterations: 4096, presenceTimeoutMs: 5000, timeoutMs: 60_000, log: quiet,
    });
    checkRun(r, 6, 5, true);
    assert.equal(r.seed.rosters, 20);
  });

  test('10 accounts, 3 contacts, subscriptions made over the wire', async () => {
    const r = await runPresenceBench({
      ...DEFAULT_PRESENCE_OPTIONS, spawn: true, users: { prefix: 'wire', count: 10 }, count: 10, contacts: 3, sample: 0,
      seed: 'wire', iterations: 4096, presenceTimeoutMs: 5000, timeoutMs: 60_000, log: quiet,
    });
    const wire = r.seed.wire!;
    assert.equal(wire.pairs, 15);
    assert.equal(wire.already, 0);
    assert.equal(wire.completed, 15, 'every handshake completed');
    assert.equal(wire.established, 15, 'both rosters list each pair as both');
    assert.equal(wire.logins.failed, 0, JSON.stringify(wire.logins.errors));
    // In this ring (offsets 4, 5, 6) the three online accounts are not contacts of each other.
    checkRun(r, 3, 7, false);
  });
});
