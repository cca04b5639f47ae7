#!/usr/bin/env node
// The rohrpost command. Exit codes a script can rely on:
//   0 done, 1 the operation failed (no such user, user exists, bad certificate),
//   2 usage or configuration error.
import { Command } from 'commander';
import { VERSION } from '../version.js';
import { registerStart } from './start.js';
import { registerAccountCommands } from './accounts.js';
import { registerCheck, registerCert } from './admin.js';
import { registerDocs } from './docs.js';
import { registerOnlineCommands } from './online.js';

const program = new Command('rohrpost')
  .description('Rohrpost — a lean Jabber/XMPP server')
  .version(VERSION)
  .showHelpAfterError()
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

registerStart(program);
registerAccountCommands(program);
registerCheck(program);
registerCert(program);
registerOnlineCommands(program);
registerDocs(program);

await program.parseAsync(process.argv);
