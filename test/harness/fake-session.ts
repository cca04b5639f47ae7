// A session without a socket, for router and module tests (fastify's inject idea):
// feed stanzas in, read what the server sent out.
import pino from 'pino';
import { parse } from 'ltx';
import type { Element } from '../../src/xml/element.js';
import { parseJid, type Jid } from '../../src/jid/index.js';
import type { Session, SessionInfo } from '../../src/router/session.js';
import { Router } from '../../src/router/router.js';
import { ModuleHost } from '../../src/router/modules.js';
import { DiscoRegistry, type ModuleContext, type ModuleDefinition } from '../../src/router/module-api.js';
import { ScramAccounts } from '../../src/auth/accounts.js';
import { MemoryStorage } from '../../src/storage/index.js';
import { defaultConfig } from '../../src/config/defaults.js';
import type { Config } from '../../src/config/types.js';

export class FakeSession implements Session {
  readonly id = Math.random().toString(36).slice(2);
  readonly ip = '127.0.0.1';
  available = false;
  priority = 0;
  presence: Element | null = null;
  readonly sent: Element[] = [];
  closedWith: string | null = null;
  constructor(readonly jid: Jid, private readonly router: Router) {}
  send(stanza: Element): void { this.sent.push(stanza); }
  close(condition?: string): void { this.closedWith = condition ?? 'closed'; }
  info(): SessionInfo {
    return { jid: this.jid.toString(), ip: this.ip, tls: null, mechanism: null, since: '', available: this.available, priority: this.priority };
  }
  /** Sends a stanza as this client would: stamped, then routed. */
  async inject(xml: string): Promise<void> {
    const el = parse(xml);
    el.attrs.from = this.jid.toString();
    await this.router.route(el, this);
  }
  /** Takes everything sent so far. */
  take(): Element[] { return this.sent.splice(0); }
}

export interface TestWorld {
  router: Router;
  storage: MemoryStorage;
  config: Config;
  /** What a ModuleHost needs, to load more modules in a test. */
  context: ModuleContext;
  /** A bound session for a full JID (the account is created first). */
  connect(full: string): Promise<FakeSession>;
}

export async function world(modules: readonly ModuleDefinition[], hosts = ['example.org'],
  configure?: (config: Config) => void): Promise<TestWorld> {
  const config = defaultConfig();
  config.hosts = hosts.map((domain) => ({ domain, certificate: null, key: null }));
  configure?.(config);
  const log = pino({ level: 'silent' });
  const storage = new MemoryStorage();
  const router = new Router(new Set(hosts), storage.accounts, log);
  const context = { config, log, router, storage, disco: new DiscoRegistry(), accounts: new ScramAccounts(storage.accounts, 4096) };
  const host = new ModuleHost(context);
  for (const m of modules) await host.load(m);
  const creds = { 'SCRAM-SHA-1': { salt: Buffer.alloc(16), iterations: 4096, storedKey: Buffer.alloc(20), serverKey: Buffer.alloc(20) },
    'SCRAM-SHA-256': { salt: Buffer.alloc(16), iterations: 4096, storedKey: Buffer.alloc(32), serverKey: Buffer.alloc(32) } };
  return {
    router, storage, config, context,
    async connect(full) {
      const j = parseJid(full);
      await storage.accounts.createAccount(j.domain, j.local, creds);
      const s = new FakeSession(j, router);
      router.sessions.add(s);
      return s;
    },
  };
}
