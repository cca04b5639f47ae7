// Commands that act on the running server through its admin socket:
// sessions, s2s, kick, send, announce, roster add, room create|destroy|list.
import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import type { SessionInfo } from '../router/session.js';
import { adminCall } from './remote.js';
import type { MucRoomInfo } from '../router/services.js';
import type { LinkInfo } from '../s2s/context.js';
import { configOptions, loadConfigOrExit, type ConfigFlags } from './common.js';

function count(v: string): number {
  if (!/^\d{1,9}$/.test(v)) throw new InvalidArgumentError('expected a whole number (0: the service default)');
  return Number(v);
}

interface RoomFlags extends ConfigFlags {
  name?: string; description?: string; password?: string;
  membersOnly?: boolean; moderated?: boolean; hidden?: boolean; maxUsers?: number;
}

/** A message body from --body, or else from stdin (for scripts and monitoring pipes). */
async function bodyFrom(flag: string | undefined): Promise<string> {
  if (flag !== undefined) return flag;
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

export function registerOnlineCommands(program: Command): void {
  configOptions(program.command('sessions').description('list who is online: JID, IP, TLS, authentication, since'))
    .option('--json', 'print JSON')
    .action(async (flags: ConfigFlags & { json?: boolean }) => {
      const sessions = (await adminCall(loadConfigOrExit(flags), { cmd: 'sessions' })) as SessionInfo[];
      if (flags.json) return void process.stdout.write(JSON.stringify(sessions, null, 2) + '\n');
      for (const s of sessions) {
        process.stdout.write(`${s.jid}\t${s.ip}\t${s.tls ?? 'plaintext'}\t${s.mechanism ?? ''}\t${s.since}\t${s.available ? `available (${s.priority})` : 'not available'}\n`);
      }
    });

  configOptions(program.command('s2s').description('list the links to other servers: direction, domains, authentication, TLS, since'))
    .option('--json', 'print JSON')
    .action(async (flags: ConfigFlags & { json?: boolean }) => {
      const links = (await adminCall(loadConfigOrExit(flags), { cmd: 's2s' })) as LinkInfo[];
      if (flags.json) return void process.stdout.write(JSON.stringify(links, null, 2) + '\n');
      for (const l of links) {
        const pair = l.direction === 'out' ? `${l.local.join(',')} -> ${l.remote.join(',')}` : `${l.remote.join(',') || '?'} -> ${l.local.join(',') || '?'}`;
        process.stdout.write(`${l.direction}\t${pair}\t${l.state}\t${l.auth ?? '-'}\t${l.tls ?? 'plaintext'}\t${l.ip}\t${l.since}\n`);
      }
    });

  configOptions(program.command('kick <jid>').description('disconnect a session (full JID) or all sessions of an account (bare JID)'))
    .action(async (jid: string, flags: ConfigFlags) => {
      const n = await adminCall(loadConfigOrExit(flags), { cmd: 'kick', jid });
      process.stdout.write(`disconnected ${String(n)} session(s)\n`);
    });

  configOptions(program.command('send').description('send a message as the server or a local user; the body is read from stdin without --body'))
    .requiredOption('--to <jid>', 'recipient')
    .option('--from <jid>', 'sender: a local user, or a host (default: the recipient\'s host, if local, else the first host)')
    .option('--body <text>', 'message text')
    .addOption(new Option('--type <type>', 'message type').choices(['chat', 'normal', 'headline']).default('chat'))
    .action(async (flags: ConfigFlags & { to: string; from?: string; body?: string; type: 'chat' | 'normal' | 'headline' }) => {
      const config = loadConfigOrExit(flags);
      const body = await bodyFrom(flags.body);
      const local = config.hosts.map((h) => h.domain);
      const toDomain = flags.to.replace(/^[^@/]*@/, '').replace(/\/.*$/, '').toLowerCase();
      const from = flags.from ?? (local.includes(toDomain) ? toDomain : local[0]!);
      await adminCall(config, { cmd: 'send', from, to: flags.to, body, type: flags.type });
    });

  configOptions(program.command('announce <host>').description('send a headline message to everyone online on a host'))
    .option('--body <text>', 'message text (default: stdin)')
    .action(async (host: string, flags: ConfigFlags & { body?: string }) => {
      const n = await adminCall(loadConfigOrExit(flags), { cmd: 'announce', host, body: await bodyFrom(flags.body) });
      process.stdout.write(`sent to ${String(n)} session(s)\n`);
    });

  const roster = program.command('roster').description('roster administration');
  configOptions(roster.command('add <user> <contact>').description("add CONTACT to USER's roster (name, groups); pushed to USER's clients"))
    .option('--name <name>', 'display name')
    .addOption(new Option('--group <group>', 'group (repeatable)').argParser((v: string, prev: string[] = []) => [...prev, v]))
    .action(async (user: string, contact: string, flags: ConfigFlags & { name?: string; group?: string[] }) => {
      await adminCall(loadConfigOrExit(flags), { cmd: 'roster-add', user, contact, name: flags.name, groups: flags.group ?? [] });
      process.stdout.write(`added ${contact} to ${user}'s roster\n`);
    });

  const room = program.command('room').description('chat room administration (XEP-0045)');
  configOptions(room.command('create <room>').description('create a persistent room ROOM@SERVICE, open at once, without an owner'))
    .option('--name <name>', 'natural-language room name')
    .option('--description <text>', 'short description')
    .option('--password <password>', 'password to enter')
    .option('--members-only', 'only members may enter')
    .option('--moderated', 'only participants with voice may speak')
    .option('--hidden', 'not listed in service discovery')
    .option('--max-users <n>', 'most occupants (default: muc.max_users)', count)
    .action(async (jid: string, flags: RoomFlags) => {
      const address = await adminCall(loadConfigOrExit(flags), {
        cmd: 'room-create', room: jid, options: {
          name: flags.name, description: flags.description, password: flags.password, public: !flags.hidden,
          membersOnly: flags.membersOnly ?? false, moderated: flags.moderated ?? false, maxUsers: flags.maxUsers,
        },
      });
      process.stdout.write(`created ${String(address)}\n`);
    });
  configOptions(room.command('destroy <room>').description('destroy a room ROOM@SERVICE; its occupants are told'))
    .option('--reason <text>', 'reason given to the occupants')
    .action(async (jid: string, flags: ConfigFlags & { reason?: string }) => {
      await adminCall(loadConfigOrExit(flags), { cmd: 'room-destroy', room: jid, reason: flags.reason });
      process.stdout.write(`destroyed ${jid}\n`);
    });
  configOptions(room.command('list [service]').description('list the rooms of every MUC service, or of one: JID, occupants, persistent or temporary, public or hidden, name'))
    .option('--json', 'print JSON')
    .action(async (service: string | undefined, flags: ConfigFlags & { json?: boolean }) => {
      const rooms = (await adminCall(loadConfigOrExit(flags), { cmd: 'room-list', service })) as MucRoomInfo[];
      if (flags.json) return void process.stdout.write(JSON.stringify(rooms, null, 2) + '\n');
      for (const r of rooms) {
        process.stdout.write(`${r.jid}\t${r.occupants}\t${r.persistent ? 'persistent' : 'temporary'}\t${r.public ? 'public' : 'hidden'}\t${r.name}\n`);
      }
    });
}
