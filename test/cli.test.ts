// The admin commands as a script uses them: passwords on stdin, exit codes, output.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from './harness/server.js';

describe('rohrpost CLI', () => {
  let dir: string;
  const run = (args: string[], input?: string) => spawnSync(process.execPath, [CLI, ...args,
    '--set', `spool=${join(dir, 'spool')}`, '--set', `certs=${join(dir, 'certs')}`, '--set', 'hosts=[example.org, другой.example]'],
  { input: input ?? '', encoding: 'utf8' });

  before(() => { dir = mkdtempSync(join(tmpdir(), 'rohrpost-cli-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('adduser reads the password from stdin and stores only SCRAM keys, mode 0600', () => {
    const r = run(['adduser', 'Alice@Example.org'], 'correct horse\n');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'created alice@example.org');
    const file = join(dir, 'spool', 'example.org', 'alice.xml');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const xml = readFileSync(file, 'utf8');
    assert.doesNotMatch(xml, /correct horse/);
    assert.match(xml, /SCRAM-SHA-256/);
    assert.match(xml, /<iter-count>10000<\/iter-count>/);
  });

  test('adduser of an existing account fails with exit code 1', () => {
    const r = run(['adduser', 'alice@example.org'], 'again\n');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /already exists/);
  });

  test('adduser with an empty password, a bad JID or a foreign host is a usage error (2)', () => {
    assert.equal(run(['adduser', 'bob@example.org'], '\n').status, 2);
    assert.equal(run(['adduser', 'bad user@example.org'], 'pw\n').status, 2);
    assert.equal(run(['adduser', 'bob@elsewhere.example'], 'pw\n').status, 2);
    assert.equal(run(['adduser', 'example.org'], 'pw\n').status, 2);
  });

  test('users lists accounts per host, including non-ASCII names and hosts', () => {
    assert.equal(run(['adduser', 'Jürgen@другой.example'], 'pw\n').status, 0);
    assert.equal(run(['users']).stdout, 'alice@example.org\njürgen@другой.example\n');
    assert.equal(run(['users', 'example.org']).stdout, 'alice@example.org\n');
    assert.equal(run(['users', 'unknown.example']).status, 2);
  });

  test('passwd changes the stored keys; deluser removes the account', () => {
    const file = join(dir, 'spool', 'example.org', 'alice.xml');
    const before = readFileSync(file, 'utf8');
    assert.equal(run(['passwd', 'alice@example.org'], 'new secret\n').status, 0);
    assert.notEqual(readFileSync(file, 'utf8'), before);
    assert.equal(run(['passwd', 'nobody@example.org'], 'x\n').status, 1);
    assert.equal(run(['deluser', 'alice@example.org']).status, 0);
    assert.equal(existsSync(file), false);
    assert.equal(run(['deluser', 'alice@example.org']).status, 1);
  });

  test('a wrong configuration key stops with one message naming key, value and expectation', () => {
    const r = spawnSync(process.execPath, [CLI, 'check', '--set', 'limits.max_stanza_size=12'], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /limits\.max_stanza_size/);
    assert.match(r.stderr, /12/);
    const cfg = join(dir, 'bad.yaml');
    writeFileSync(cfg, 'c2s:\n  requre_encryption: true\n');
    const r2 = spawnSync(process.execPath, [CLI, 'check', '--config', cfg], { encoding: 'utf8' });
    assert.equal(r2.status, 2);
    assert.match(r2.stderr, /requre_encryption/);
    assert.match(r2.stderr, /bad\.yaml/);
  });

  test('cert generate writes a certificate and a 0600 key; check reports its fingerprint', () => {
    const r = run(['cert', 'generate', 'example.org']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /fingerprint ([0-9A-F]{2}:){31}[0-9A-F]{2}/);
    assert.equal(statSync(join(dir, 'certs', 'example.org.key')).mode & 0o777, 0o600);
    assert.equal(run(['cert', 'generate', 'example.org']).status, 1, 'does not overwrite without --force');
    const c = run(['check']);
    assert.match(c.stdout, /example\.org: .* SHA-256 ([0-9A-F]{2}:){31}/);
  });
});
