// The composition root: config -> log -> storage -> TLS -> router -> modules -> listeners.
// Only this file and the module loader know the list of modules.
import type { Logger } from 'pino';
import type { Config } from './config/types.js';
import { openStorage } from './storage/index.js';
import type { Storage } from './storage/types.js';
import { TlsContexts } from './tls/contexts.js';
import { Router } from './router/router.js';
import { ModuleHost } from './router/modules.js';
import { DiscoRegistry, type ModuleDefinition } from './router/module-api.js';
import { ScramAccounts } from './auth/accounts.js';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { AdminSocket } from './admin/socket.js';
import { C2sListeners, type C2sAddresses } from './c2s/listener.js';
import { S2sManager, type S2sAddresses } from './s2s/manager.js';
import disco from './modules/xep0030-disco.js';
import ping from './modules/xep0199-ping.js';
import version from './modules/xep0092-version.js';
import roster from './modules/rfc6121-roster.js';
import presence from './modules/rfc6121-presence.js';
import offline from './modules/xep0160-offline.js';
import delay from './modules/xep0203-delay.js';
import register from './modules/xep0077-register.js';
import vcard from './modules/xep0054-vcard.js';
import privateStorage from './modules/xep0049-private.js';
import last from './modules/xep0012-last.js';
import time from './modules/xep0202-time.js';
import legacyTime from './modules/xep0090-legacy-time.js';
import agents from './modules/xep0094-agents.js';
import browse from './modules/xep0011-browse.js';
import muc from './modules/xep0045-muc.js';

/** Every feature module, in load order (disco first: it lists what the others register). */
export const MODULES: readonly ModuleDefinition[] = [
  disco, ping, version, roster, presence, offline, delay, register,
  vcard, privateStorage, last, time, legacyTime, agents, browse, muc,
];

export interface RunningServer {
  c2s: C2sAddresses;
  /** Null when federation is off (s2s.enabled: false). */
  s2s: S2sAddresses | null;
  router: Router;
  storage: Storage;
  tls: TlsContexts;
  /** SIGHUP: re-read certificates; the old ones stay on error. */
  reloadCertificates(): void;
  /** SIGTERM: close every stream with system-shutdown, flush the spool. */
  stop(): Promise<void>;
}

export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  const storage = openStorage('spool', config.spool, { log });
  const tls = new TlsContexts(config, { log });
  for (const h of tls.load()) log.info({ host: h.domain, certificate: h.certPath, fingerprint: h.fingerprint, validTo: h.validTo }, 'certificate loaded');

  const router = new Router(new Set(config.hosts.map((h) => h.domain)), storage.accounts, log);
  const accounts = new ScramAccounts(storage.accounts, config.auth.scram_iterations);
  const modules = new ModuleHost({ config, log, router, storage, disco: new DiscoRegistry(), accounts });
  for (const m of MODULES) await modules.load(m);

  // Federation is one setting away from an internal-only server: without it there is
  // no listener and no route out, and stanzas for other domains bounce.
  const s2s = config.s2s.enabled ? new S2sManager(config, log, router, tls) : null;
  const c2s = new C2sListeners(config, log, storage, tls, router);
  const addresses = await c2s.listen();
  const s2sAddresses = s2s ? await s2s.listen() : null;
  if (s2s) router.setRemoteRoute(s2s);
  mkdirSync(config.spool, { recursive: true, mode: 0o700 });
  const admin = new AdminSocket(config.admin.socket ?? join(config.spool, 'admin.sock'), router, config.hosts.map((h) => h.domain), log,
    () => s2s?.list() ?? []);
  await admin.listen();
  log.info({ hosts: config.hosts.map((h) => h.domain), modules: modules.names() }, 'Rohrpost started');

  return {
    c2s: addresses,
    s2s: s2sAddresses,
    router,
    storage,
    tls,
    reloadCertificates() {
      tls.reload();
      c2s.refreshTls();
      s2s?.refreshTls();
    },
    async stop() {
      await admin.close();
      // Modules tell the clients first (conference rooms: status 332), then streams close.
      await router.shutdown();
      await c2s.shutdown();
      await s2s?.shutdown();
      await storage.close();
      log.info('Rohrpost stopped');
    },
  };
}
