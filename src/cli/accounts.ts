// Account commands: adduser, passwd, deluser, users. They work on the spool
// directly, so they also work while the server is down.
import type { Command } from 'commander';
import { saslprep } from '../auth/credentials.js';
import { ScramAccounts } from '../auth/accounts.js';
import { openStorage } from '../storage/index.js';
import type { Config } from '../config/types.js';
import { prepDomain } from '../jid/index.js';
import { readPassword } from './password.js';
import { accountJid, configOptions, die, loadConfigOrExit, EXIT_USAGE, type ConfigFlags } from './common.js';

function spool(config: Config) {
  return openStorage('spool', config.spool);
}

/** The account service over the spool, and a way to close it. */
function accounts(config: Config) {
  const store = spool(config);
  return { accounts: new ScramAccounts(store.accounts, config.auth.scram_iterations), close: () => store.close() };
}

async function newPassword(confirm: boolean): Promise<string> {
  let password: string;
  try {
    password = await readPassword('Password: ', confirm);
  } catch (err) {
    die((err as Error).message, EXIT_USAGE);
  }
  if (password.length === 0) die('the password is empty', EXIT_USAGE);
  try {
    saslprep(password);
  } catch {
    die('the password contains characters SASLprep does not allow', EXIT_USAGE);
  }
  return password;
}

export function registerAccountCommands(program: Command): void {
  configOptions(program.command('adduser <jid>')
    .description('create an account; the password is read from a prompt or from stdin'))
    .action(async (input: string, flags: ConfigFlags) => {
      const config = loadConfigOrExit(flags);
      const j = accountJid(config, input);
      const a = accounts(config);
      if (await a.accounts.exists(j.domain, j.local)) die(`${j.bareString()} already exists`);
      const created = await a.accounts.create(j.domain, j.local, await newPassword(true));
      await a.close();
      if (!created) die(`${j.bareString()} already exists`);
      process.stdout.write(`created ${j.bareString()}\n`);
    });

  configOptions(program.command('passwd <jid>')
    .description("change an account's password; read from a prompt or from stdin"))
    .action(async (input: string, flags: ConfigFlags) => {
      const config = loadConfigOrExit(flags);
      const j = accountJid(config, input);
      const a = accounts(config);
      if (!(await a.accounts.exists(j.domain, j.local))) die(`${j.bareString()} does not exist`);
      const changed = await a.accounts.setPassword(j.domain, j.local, await newPassword(true));
      await a.close();
      if (!changed) die(`${j.bareString()} does not exist`);
      process.stdout.write(`password changed for ${j.bareString()}\n`);
    });

  configOptions(program.command('deluser <jid>').description('delete an account and all its data'))
    .action(async (input: string, flags: ConfigFlags) => {
      const config = loadConfigOrExit(flags);
      const j = accountJid(config, input);
      const a = accounts(config);
      const deleted = await a.accounts.remove(j.domain, j.local);
      await a.close();
      if (!deleted) die(`${j.bareString()} does not exist`);
      process.stdout.write(`deleted ${j.bareString()}\n`);
    });

  configOptions(program.command('users [host]').description('list the accounts of one host or of all hosts'))
    .action(async (host: string | undefined, flags: ConfigFlags) => {
      const config = loadConfigOrExit(flags);
      let hosts = config.hosts.map((h) => h.domain);
      if (host !== undefined) {
        let d: string;
        try {
          d = prepDomain(host);
        } catch {
          die(`'${host}' is not a domain`, EXIT_USAGE);
        }
        if (!hosts.includes(d)) die(`${d} is not a host of this server`, EXIT_USAGE);
        hosts = [d];
      }
      const store = spool(config);
      for (const h of hosts) {
        for (const u of await store.accounts.listAccounts(h)) process.stdout.write(`${u}@${h}\n`);
      }
      await store.close();
    });
}
