// bench/compare.ts without servers: the name of the results files, and that every
// scenario a server did not run shows in the table with its reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRows, resultName, type ServerRun } from '../bench/compare.js';

test('results of a later run of the day get a new name; the earlier ones stay', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rohrpost-compare-'));
  try {
    assert.equal(resultName(dir, '2026-11-26'), '2026-11-26');
    writeFileSync(join(dir, '2026-11-26.md'), '');
    assert.equal(resultName(dir, '2026-11-26'), '2026-11-26b');
    writeFileSync(join(dir, '2026-11-26b.json'), '');
    assert.equal(resultName(dir, '2026-11-26'), '2026-11-26c');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('scenarios a server did not run are marked with the reason, not left out', () => {
  const runs: ServerRun[] = [
    { server: 'rohrpost', available: true, muc: { error: 'boom' } },
    { server: 'prosody', available: true, notRun: { muc: 'Rohrpost only: needs --spawn', 'offline-store': 'x', 'offline-login': 'y' } },
    { server: 'ejabberd', available: false, error: 'not available (no ejabberdctl on PATH)' },
  ];
  const rows = buildRows(runs, {
    scenarios: ['presence', 'muc', 'offline-store', 'offline-login'], rates: [1000], sessions: 10, logins: 10, messageSessions: 10,
    presenceCount: 40, presenceContacts: 6, mucOccupants: 30, mucRates: [5], offlineMessages: 100, scenarioTimeoutMs: 60_000,
  });
  const muc = rows.filter((r) => r.metric.startsWith('MUC'));
  assert.ok(muc.length > 0);
  for (const r of muc) {
    assert.match(r.cells.rohrpost.text, /^error: boom/);
    assert.match(r.cells.prosody.text, /^not run: Rohrpost only/);
    assert.equal(r.cells.ejabberd.text, 'not available');
  }
  for (const r of rows.filter((x) => x.metric.startsWith('Offline store') || x.metric.startsWith('Login with'))) {
    assert.match(r.cells.prosody.text, /^not run: Rohrpost only/);
    assert.equal(r.cells.rohrpost.text, 'not run');
  }
  assert.ok(rows.some((r) => r.metric.startsWith('Presence') && r.cells.prosody.text === 'not run'));
});
