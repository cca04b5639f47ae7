// The README's generated sections (supported specifications, configuration
// reference) must match the code; `npm run docs` refreshes them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { regenerate } from '../src/cli/docs.js';
import { ROOT } from './harness/server.js';

test('README generated sections are up to date (run `npm run docs`)', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  assert.equal(regenerate(readme), readme);
});

test('README names every module with its XEP', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  for (const n of ['0030', '0092', '0199']) assert.match(readme, new RegExp(`XEP-${n}`));
});
