// What the commands share: configuration options, loading, and exit codes.
import { Option, type Command } from 'commander';
import { loadConfig } from '../config/loader.js';
import type { Config } from '../config/types.js';
import { ConfigError, JidError } from '../errors.js';
import { parseJid, type Jid } from '../jid/index.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export interface ConfigFlags { config?: string; set?: string[] }

/** Options every command takes: where the configuration comes from. */
export function configOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'configuration file (default: config/rohrpost.yaml if present)')
    .addOption(new Option('--set <key=value>', 'override a configuration key (repeatable)')
      .argParser((v: string, prev: string[] = []) => [...prev, v]));
}

/** Prints the message and exits with a code. */
export function die(message: string, code: number = EXIT_FAILED): never {
  process.stderr.write(`rohrpost: ${message}\n`);
  process.exit(code);
}

export function loadConfigOrExit(flags: ConfigFlags): Config {
  try {
    return loadConfig({ file: flags.config, sets: flags.set ?? [] });
  } catch (err) {
    if (err instanceof ConfigError) die(err.message, EXIT_USAGE);
    throw err;
  }
}

/** Parses a user JID (user@host) served by this configuration. */
export function accountJid(config: Config, input: string): Jid {
  let j: Jid;
  try {
    j = parseJid(input);
  } catch (err) {
    die(err instanceof JidError ? err.message : String(err), EXIT_USAGE);
  }
  if (!j.local || j.resource) die(`'${input}' is not an account address (user@host)`, EXIT_USAGE);
  if (!config.hosts.some((h) => h.domain === j.domain)) die(`${j.domain} is not a host of this server`, EXIT_USAGE);
  return j;
}
