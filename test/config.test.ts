import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { ConfigError } from '../src/errors.js';
import { defaultConfig } from '../src/config/defaults.js';
import { describeConfig, loadConfig } from '../src/config/loader.js';
import { CONFIG_SCHEMA, type SchemaNode } from '../src/config/schema.js';

const EXAMPLE = fileURLToPath(new URL('../../config/rohrpost.example.yaml', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'rohrpost-config-'));
after(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
/** A fresh directory, optionally with a config file in it; returns [dir, file]. */
function scratch(yaml?: string, name = 'rohrpost.yaml'): [string, string] {
  const dir = join(root, `case${n++}`);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, name);
  if (yaml !== undefined) writeFileSync(file, yaml);
  return [dir, file];
}

/** Runs fn, expects one ConfigError and returns it. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a ConfigError');
}

function leafKeys(node: SchemaNode, key = ''): string[] {
  if (node.kind !== 'section') return [key];
  return Object.entries(node.fields).flatMap(([k, child]) => leafKeys(child, key ? `${key}.${k}` : k));
}

describe('config: defaults', () => {
  it('loads the built-in defaults when there is no file, paths relative to cwd', () => {
    const [dir] = scratch();
    const config = loadConfig({ cwd: dir });
    const expected = defaultConfig();
    expected.spool = join(dir, 'spool');
    expected.certs = join(dir, 'certs');
    assert.deepEqual(config, expected);
    assert.equal(config.c2s.starttls.port, 5222);
    assert.equal(config.c2s.direct_tls.port, 5223);
    assert.equal(config.limits.max_stanza_size, 262144);
  });

  it('returns a fresh object each time', () => {
    const [dir] = scratch();
    const a = loadConfig({ cwd: dir });
    a.limits.max_depth = 3;
    assert.equal(loadConfig({ cwd: dir }).limits.max_depth, 64);
  });

  it('uses config/rohrpost.yaml under cwd when no file is named', () => {
    const [dir] = scratch();
    mkdirSync(join(dir, 'config'));
    writeFileSync(join(dir, 'config', 'rohrpost.yaml'), 'log:\n  level: warn\nspool: data\n');
    const config = loadConfig({ cwd: dir });
    assert.equal(config.log.level, 'warn');
    assert.equal(config.spool, join(dir, 'config', 'data'));
    assert.equal(config.certs, join(dir, 'config', 'certs'));
  });

  it('treats an empty file as all defaults', () => {
    const [dir, file] = scratch('# nothing here\n');
    assert.deepEqual(loadConfig({ file }), loadConfig({ cwd: dir }));
  });

  it('the example file names every key, each with a comment, and equals the defaults', () => {
    const text = readFileSync(EXAMPLE, 'utf8');
    const [dir, file] = scratch(text);
    assert.deepEqual(loadConfig({ file }), loadConfig({ cwd: dir }));
    const keys = (v: unknown, key = ''): string[] =>
      typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length > 0
        ? Object.entries(v).flatMap(([k, c]) => keys(c, key ? `${key}.${k}` : k))
        : [key];
    assert.deepEqual(keys(YAML.parse(text)).sort(), leafKeys(CONFIG_SCHEMA).sort());
    const lines = text.split('\n');
    lines.forEach((line, i) => {
      if (/^\s*[a-z_]+:/.test(line)) assert.match(lines[i - 1] ?? '', /^\s*#/, `key on line ${i + 1} has no comment above it`);
    });
  });

  it('describeConfig lists every key with its default', () => {
    const table = describeConfig();
    for (const key of leafKeys(CONFIG_SCHEMA)) assert.ok(table.includes(`| \`${key}\` |`), `row for ${key}`);
    assert.match(table, /\| `limits.max_stanza_size` \| `262144` \| Largest stanza/);
    assert.match(table, /\| `hosts` \| `\["localhost"\]` \|/);
    assert.match(table, /\| `log.file` \| `null` \|/);
  });
});

describe('config: file and --set', () => {
  it('--set wins over the file, the file over the defaults', () => {
    const [, file] = scratch('log:\n  level: warn\n  format: json\nc2s:\n  starttls:\n    port: 6222\n');
    const config = loadConfig({ file, sets: ['log.level=debug', 'c2s.direct_tls.port=0', 'c2s.direct_tls.port=7223'] });
    assert.equal(config.log.level, 'debug');         // --set
    assert.equal(config.log.format, 'json');         // file
    assert.equal(config.c2s.starttls.port, 6222);    // file
    assert.equal(config.c2s.starttls.address, '::'); // default beside a file value
    assert.equal(config.c2s.direct_tls.port, 7223);  // last --set wins
    assert.equal(config.auth.scram_iterations, 10000);
  });

  it('--set reads YAML values: lists, null, 0, flow mappings', () => {
    const [dir] = scratch();
    const config = loadConfig({
      cwd: dir,
      sets: ['hosts=[A.Test, b.test.]', 'c2s.starttls.port=0', 'c2s.direct_tls.port=null', 'log={level: error}'],
    });
    assert.deepEqual(config.hosts, [
      { domain: 'a.test', certificate: null, key: null, registration: null, muc: null },
      { domain: 'b.test', certificate: null, key: null, registration: null, muc: null },
    ]);
    assert.equal(config.c2s.starttls.port, 0);
    assert.equal(config.c2s.direct_tls.port, null);
    assert.equal(config.log.level, 'error');
    assert.equal(config.log.format, 'pretty');
  });

  it('hosts take strings or mappings; paths resolve against the file, --set paths against cwd', () => {
    const [dir, file] = scratch([
      'hosts:',
      '  - Example.ORG',
      '  - domain: example.net',
      '    certificate: tls/net.crt',
      '    key: /abs/net.key',
      '    registration: open',
      'log:',
      '  file: logs/rohrpost.log',
    ].join('\n'));
    const cwd = join(root, 'elsewhere');
    const config = loadConfig({ file, cwd, sets: ['certs=mycerts', 'spool=2024'] });
    assert.deepEqual(config.hosts, [
      { domain: 'example.org', certificate: null, key: null, registration: null, muc: null },
      { domain: 'example.net', certificate: join(dir, 'tls/net.crt'), key: '/abs/net.key', registration: 'open', muc: null },
    ]);
    assert.equal(config.log.file, join(dir, 'logs/rohrpost.log'));
    assert.equal(config.certs, join(cwd, 'mycerts'));
    assert.equal(config.spool, join(cwd, '2024'));
  });
});

describe('config: errors name the key, the value and what is expected', () => {
  it('a named file that does not exist', () => {
    const [, file] = scratch();
    const err = configError(() => loadConfig({ file }));
    assert.equal(err.file, file);
    assert.match(err.message, /ENOENT/);
    assert.ok(err.message.startsWith(`${file}: `));
  });

  it('an unknown key, with a suggestion', () => {
    const [, file] = scratch('c2s:\n  startls:\n    port: 5222\n');
    const err = configError(() => loadConfig({ file }));
    assert.equal(err.key, 'c2s.startls');
    assert.deepEqual(err.value, { port: 5222 });
    assert.match(err.expected, /known key under c2s \(starttls, direct_tls, .*did you mean starttls\?/);
    assert.equal(err.file, file);
    assert.equal(err.message, `${file}: c2s.startls: {"port":5222} is not valid; expected ${err.expected}`);
  });

  it('an unknown top-level key', () => {
    const [, file] = scratch('hostz: [a.test]\n');
    const err = configError(() => loadConfig({ file }));
    assert.equal(err.key, 'hostz');
    assert.match(err.expected, /at the top level .*did you mean hosts\?/);
  });

  it('a wrong type', () => {
    const [, file] = scratch('c2s:\n  starttls:\n    port: "5222"\n');
    const err = configError(() => loadConfig({ file }));
    assert.equal(err.key, 'c2s.starttls.port');
    assert.equal(err.value, '5222');
    assert.equal(err.expected, 'an integer from 0 to 65535 or null');
    assert.equal(err.file, file);
  });

  it('a value out of range, from --set', () => {
    const [dir] = scratch();
    const err = configError(() => loadConfig({ cwd: dir, sets: ['c2s.starttls.port=70000'] }));
    assert.equal(err.message, '--set: c2s.starttls.port: 70000 is not valid; expected an integer from 0 to 65535 or null');
  });

  it('a value not among the allowed ones', () => {
    const [, file] = scratch('log:\n  level: verbose\n');
    const err = configError(() => loadConfig({ file }));
    assert.equal(err.key, 'log.level');
    assert.equal(err.value, 'verbose');
    assert.equal(err.expected, 'one of trace, debug, info, warn, error, fatal, silent');
  });

  it('a limit below its safe minimum', () => {
    const [, file] = scratch('limits:\n  max_stanza_size: 500\n');
    const err = configError(() => loadConfig({ file }));
    assert.equal(err.key, 'limits.max_stanza_size');
    assert.equal(err.expected, 'an integer from 10000 to 67108864');
  });

  it('null where null is not allowed, and a bad address', () => {
    const [dir] = scratch();
    assert.equal(configError(() => loadConfig({ cwd: dir, sets: ['spool=null'] })).key, 'spool');
    const err = configError(() => loadConfig({ cwd: dir, sets: ['c2s.starttls.address=localhost'] }));
    assert.equal(err.key, 'c2s.starttls.address');
    assert.match(err.expected, /IP address/);
  });

  it('bad --set arguments', () => {
    const [dir] = scratch();
    let err = configError(() => loadConfig({ cwd: dir, sets: ['log.level'] }));
    assert.equal(err.key, '--set');
    assert.match(err.expected, /key\.path=value/);
    err = configError(() => loadConfig({ cwd: dir, sets: ['limits.max_stanzas=1'] }));
    assert.equal(err.key, 'limits.max_stanzas');
    assert.match(err.expected, /did you mean max_stanza_size\?/);
    err = configError(() => loadConfig({ cwd: dir, sets: ['hosts.0.domain=x'] }));
    assert.match(err.expected, /a whole value for hosts/);
    err = configError(() => loadConfig({ cwd: dir, sets: ['hosts=[a.test'] }));
    assert.equal(err.key, 'hosts');
    assert.match(err.expected, /^a YAML value/);
  });

  it('bad hosts lists', () => {
    const [dir] = scratch();
    const cases: [string, string, RegExp][] = [
      ['hosts=[]', 'hosts', /non-empty list/],
      ['hosts=a.test', 'hosts', /non-empty list/],
      ['hosts=[a.test, A.TEST]', 'hosts[1].domain', /not already listed/],
      ['hosts=["a b"]', 'hosts[0].domain', /domain name/],
      ['hosts=[user@a.test]', 'hosts[0].domain', /domain name/],
      ['hosts=[{domain: a.test, certificate: a.crt}]', 'hosts[0].key', /both certificate and key/],
      ['hosts=[{domain: a.test, cert: a.crt}]', 'hosts[0].cert', /did you mean/],
      ['hosts=[{certificate: a.crt}]', 'hosts[0]', /domain key/],
      ['hosts=[42]', 'hosts[0]', /a domain name, or a mapping/],
    ];
    for (const [set, key, expected] of cases) {
      const err = configError(() => loadConfig({ cwd: dir, sets: [set] }));
      assert.equal(err.key, key, set);
      assert.match(err.expected, expected, set);
    }
  });

  it('two listeners on one port', () => {
    const [dir] = scratch();
    const err = configError(() => loadConfig({ cwd: dir, sets: ['c2s.direct_tls.port=5222'] }));
    assert.equal(err.key, 'c2s.direct_tls.port');
    assert.match(err.expected, /other than c2s.starttls.port/);
  });

  it('a YAML syntax error names the file and the line', () => {
    const [, file] = scratch('log:\n  level: info\n hosts: [a.test\nspool: x\n');
    const err = configError(() => loadConfig({ file }));
    assert.equal(err.file, file);
    assert.match(err.key, /^line \d+, column \d+$/);
    assert.match(err.expected, /^valid YAML \(/);
    assert.ok(err.message.startsWith(`${file}: line `), err.message);
  });

  it('a duplicate key is a syntax error on its line', () => {
    const [, file] = scratch('spool: a\ncerts: b\nspool: c\n');
    const err = configError(() => loadConfig({ file }));
    assert.equal(err.key, 'line 3, column 1');
    assert.equal(err.value, 'spool: c');
    assert.match(err.expected, /unique/);
  });

  it('a file that is not a mapping', () => {
    const [, file] = scratch('- a\n- b\n');
    const err = configError(() => loadConfig({ file }));
    assert.equal(err.key, '(top level)');
    assert.deepEqual(err.value, ['a', 'b']);
  });

  it('the example file can be copied and used as is', () => {
    const [, file] = scratch();
    copyFileSync(EXAMPLE, file);
    assert.equal(loadConfig({ file }).hosts[0]!.domain, 'localhost');
  });
});
