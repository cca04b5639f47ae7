// The admin socket: a Unix socket (mode 0600, so only the server's user and root
// may use it) through which `rohrpost sessions|s2s|kick|send|announce|roster|room` act on the
// running server. It reaches sessions and modules only through the router (and server
// links through the list it is given).
import net from 'node:net';
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Router } from '../router/router.js';
import { parseJid, type Jid } from '../jid/index.js';
import { JidError } from '../errors.js';
import { x } from '../xml/element.js';
import { ServiceRefusal, type MucAdmin } from '../router/services.js';
import type { LinkInfo } from '../s2s/context.js';
import { MAX_REQUEST_BYTES, type AdminRequest, type AdminResponse } from './protocol.js';

class AdminError extends Error {}

export class AdminSocket {
  private server: net.Server | null = null;

  constructor(private readonly path: string, private readonly router: Router, private readonly hosts: readonly string[], private readonly log: Logger,
    private readonly s2sLinks: () => LinkInfo[] = () => []) {}

  async listen(): Promise<void> {
    // A socket file left by a server that was killed would block listen().
    if (existsSync(this.path)) unlinkSync(this.path);
    const server = net.createServer((c) => this.connection(c));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => { server.off('error', reject); resolve(); });
    });
    chmodSync(this.path, 0o600);
    server.on('error', (err) => this.log.error({ err }, 'admin socket error'));
    this.server = server;
    this.log.info({ socket: this.path }, 'admin socket listening');
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = null;
    await new Promise<void>((r) => s.close(() => r()));
  }

  private connection(c: net.Socket): void {
    let buf = '';
    c.setEncoding('utf8');
    c.on('error', () => {});
    c.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_REQUEST_BYTES) {
        c.end(JSON.stringify({ ok: false, error: 'request too large' }) + '\n');
        return;
      }
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        void this.answer(line).then((r) => c.write(JSON.stringify(r) + '\n'));
      }
    });
  }

  private async answer(line: string): Promise<AdminResponse> {
    let req: AdminRequest;
    try {
      req = JSON.parse(line) as AdminRequest;
    } catch {
      return { ok: false, error: 'not a JSON request' };
    }
    try {
      const result = await this.run(req);
      this.log.info({ cmd: req.cmd }, 'admin command');
      return { ok: true, result };
    } catch (err) {
      if (err instanceof AdminError || err instanceof JidError || err instanceof ServiceRefusal) return { ok: false, error: err.message };
      this.log.error({ err, cmd: req.cmd }, 'admin command failed');
      return { ok: false, error: 'internal error (see the server log)' };
    }
  }

  private async run(req: AdminRequest): Promise<unknown> {
    switch (req.cmd) {
      case 'sessions':
        return [...this.router.sessions.all()].map((s) => s.info());
      case 's2s':
        return this.s2sLinks();
      case 'kick': {
        const j = parseJid(req.jid);
        const targets = j.resource
          ? [this.router.sessions.get(j.bareString(), j.resource)].filter((s) => s !== undefined)
          : this.router.sessions.resources(j.bareString());
        if (targets.length === 0) throw new AdminError(`${j.toString()} is not online`);
        for (const s of targets) s.close('policy-violation', 'disconnected by an administrator');
        return targets.length;
      }
      case 'send': {
        const to = parseJid(req.to);
        const from = req.from ? this.localJid(req.from) : parseJid(this.localHost(to.domain));
        const type = req.type ?? 'chat';
        await this.router.route(x('message', { from: from.toString(), to: to.toString(), type, id: randomBytes(6).toString('hex') },
          x('body', null, req.body)), null);
        return null;
      }
      case 'announce': {
        const host = this.localHost(req.host);
        let n = 0;
        for (const s of this.router.sessions.all()) {
          if (s.jid.domain !== host) continue;
          s.send(x('message', { from: host, to: s.jid.toString(), type: 'headline' }, x('body', null, req.body)));
          n++;
        }
        return n;
      }
      case 'roster-add': {
        const roster = this.router.services.use('roster');
        if (!roster) throw new AdminError('the roster module is not loaded');
        const user = this.localJid(req.user);
        if (!(await this.router.userExists(user))) throw new AdminError(`${user.bareString()} does not exist`);
        await roster.setItem(user.bare, parseJid(req.contact).bare, req.name, req.groups);
        return null;
      }
      case 'room-create': {
        const room = this.roomJid(req.room);
        return this.muc().createRoom(room.domain, room.local, req.options);
      }
      case 'room-destroy': {
        const room = this.roomJid(req.room);
        await this.muc().destroyRoom(room.domain, room.local, req.reason);
        return null;
      }
      case 'room-list': {
        const muc = this.muc();
        return muc.listRooms(req.service === undefined ? undefined : parseJid(req.service).domain);
      }
      default:
        throw new AdminError(`unknown command ${(req as { cmd: string }).cmd}`);
    }
  }

  private muc(): MucAdmin {
    const muc = this.router.services.use('muc');
    if (!muc) throw new AdminError('the muc module is not loaded (muc.enabled is false)');
    return muc;
  }

  private roomJid(s: string): Jid {
    const j = parseJid(s);
    if (j.local === '' || j.resource !== '') throw new AdminError(`${s} is not a room address (ROOM@SERVICE)`);
    return j;
  }

  private localHost(domain: string): string {
    const d = parseJid(domain).domain;
    if (!this.hosts.includes(d)) throw new AdminError(`${d} is not a host of this server`);
    return d;
  }

  private localJid(s: string): Jid {
    const j = parseJid(s);
    this.localHost(j.domain);
    return j;
  }
}
