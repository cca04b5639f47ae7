// Loads the configuration: built-in defaults <- YAML file <- --set overrides,
// each layer validated on its own so an error names where the bad value came from.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import YAML from 'yaml';
import { ConfigError } from '../errors.js';
import { defaultConfig } from './defaults.js';
import { CONFIG_SCHEMA, expectedOf, unknownKeyHint, validate, type SchemaNode, type ValueSource } from './schema.js';
import type { Config } from './types.js';

export interface LoadConfigOptions {
  /** Configuration file; must exist. Without it, config/rohrpost.yaml under cwd is used if present. */
  file?: string;
  /** Overrides as `key.path=value`, the value read as YAML (`--set hosts=[a.test,b.test]`). */
  sets?: string[];
  /** Directory for the default file and for relative paths when there is no file. */
  cwd?: string;
}

/** The file looked for when none is named. */
export const DEFAULT_CONFIG_FILE = join('config', 'rohrpost.yaml');

/** Where --set errors say the value came from. */
const SET_SOURCE = '--set';

export function loadConfig(opts: LoadConfigOptions = {}): Config {
  const cwd = resolve(opts.cwd ?? process.cwd());
  let file = opts.file === undefined ? undefined : resolve(cwd, opts.file);
  if (file === undefined && existsSync(join(cwd, DEFAULT_CONFIG_FILE))) file = join(cwd, DEFAULT_CONFIG_FILE);
  // Relative paths in the defaults and the file are relative to the file, as an
  // admin reading it expects; paths typed on the command line are relative to cwd.
  const baseDir = file ? dirname(file) : cwd;

  const config = validate(CONFIG_SCHEMA, defaultConfig(), '', { baseDir }) as Record<string, unknown>;
  if (file !== undefined) mergeInto(config, validate(CONFIG_SCHEMA, readYamlFile(file), '', { file, baseDir }));
  for (const arg of opts.sets ?? []) mergeInto(config, parseSet(arg, { file: SET_SOURCE, baseDir: cwd }));
  checkConsistency(config as unknown as Config, file);
  return config as unknown as Config;
}

function readYamlFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ConfigError('configuration file', file, `an existing, readable YAML file (${code})`, file);
  }
  const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const syntax = doc.errors[0];
  if (syntax) {
    const pos = syntax.linePos?.[0];
    const where = pos ? `line ${pos.line}, column ${pos.col}` : 'syntax';
    const lineText = pos ? (text.split(/\r?\n/)[pos.line - 1] ?? '') : '';
    const reason = syntax.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    throw new ConfigError(where, lineText, `valid YAML (${reason})`, file);
  }
  let value: unknown;
  try {
    value = doc.toJS();
  } catch (err) {
    throw new ConfigError('(top level)', null, `valid YAML (${(err as Error).message})`, file);
  }
  return value ?? {}; // an empty file (or only comments) means "all defaults"
}

/** `a.b.c=value` -> { a: { b: { c: value } } }, validated from the top so errors name the full key. */
function parseSet(arg: string, src: ValueSource): unknown {
  const eq = arg.indexOf('=');
  const key = eq > 0 ? arg.slice(0, eq).trim() : '';
  if (!key) throw new ConfigError('--set', arg, 'key.path=value, such as c2s.starttls.port=5222', SET_SOURCE);
  const raw = arg.slice(eq + 1);
  const path = key.split('.');
  let node: SchemaNode = CONFIG_SCHEMA;
  for (const [i, part] of path.entries()) {
    const child: SchemaNode | undefined = node.kind === 'section' ? node.fields[part] : undefined;
    if (!child) {
      const parent = path.slice(0, i).join('.');
      const expected = node.kind === 'section'
        ? unknownKeyHint(part, Object.keys(node.fields), parent)
        : `a whole value for ${parent} (${expectedOf(node)})`;
      throw new ConfigError(key, raw, expected, SET_SOURCE);
    }
    node = child;
  }
  let value: unknown;
  try {
    value = YAML.parse(raw);
  } catch (err) {
    throw new ConfigError(key, raw, `a YAML value (${(err as Error).message.split('\n')[0]})`, SET_SOURCE);
  }
  // `--set spool=2024` means the directory "2024", not the number.
  if ((node.kind === 'path' || node.kind === 'enum' || node.kind === 'address') && (typeof value === 'number' || typeof value === 'boolean')) value = raw.trim();
  const nested = path.reduceRight<unknown>((inner, part) => ({ [part]: inner }), value);
  return validate(CONFIG_SCHEMA, nested, '', src);
}

const isMapping = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Mappings merge key by key; lists and scalars replace. */
function mergeInto(target: Record<string, unknown>, layer: unknown): void {
  if (!isMapping(layer)) return;
  for (const [k, v] of Object.entries(layer)) {
    const old = target[k];
    if (isMapping(v) && isMapping(old)) mergeInto(old, v);
    else target[k] = v;
  }
}

/** Rules between keys, checked once all layers are merged. */
function checkConsistency(config: Config, file: string | undefined): void {
  const { starttls, direct_tls } = config.c2s;
  if (starttls.port !== null && starttls.port !== 0 && starttls.port === direct_tls.port && starttls.address === direct_tls.address) {
    throw new ConfigError('c2s.direct_tls.port', direct_tls.port, `a port other than c2s.starttls.port (${starttls.port}) on the same address`, file);
  }
}

/** A Markdown table of every key, its default and description (for the README). */
export function describeConfig(): string {
  const rows = ['| Key | Default | Description |', '| --- | --- | --- |'];
  const defaults = defaultConfig() as unknown as Record<string, unknown>;
  const walk = (node: SchemaNode, key: string, value: unknown): void => {
    if (node.kind === 'section') {
      for (const [k, child] of Object.entries(node.fields)) {
        walk(child, key ? `${key}.${k}` : k, isMapping(value) ? value[k] : undefined);
      }
      return;
    }
    const shown = node.kind === 'hosts' ? (value as Config['hosts']).map((h) => h.domain) : value;
    const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    rows.push(`| \`${key}\` | \`${cell(JSON.stringify(shown))}\` | ${cell(node.description)} Expected: ${cell(expectedOf(node))}. |`);
  };
  walk(CONFIG_SCHEMA, '', defaults);
  return rows.join('\n') + '\n';
}
