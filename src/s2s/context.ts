// What the inbound and outbound server streams share (made once by the S2sManager).
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import type { Router } from '../router/router.js';
import type { StreamOptions } from '../stream/xmpp-stream.js';
import type { DialbackKeys } from './dialback.js';
import type { FederationPolicy } from './policy.js';
import type { S2sResolver } from './resolve.js';
import type { S2sTls } from './tls.js';

export interface S2sContext {
  config: Config;
  log: Logger;
  router: Router;
  policy: FederationPolicy;
  tls: S2sTls;
  keys: DialbackKeys;
  resolver: S2sResolver;
  /** Options for a new stream over a socket (namespace, limits, dialback prefix). */
  streamOptions(): StreamOptions;
  /** XEP-0220 §2.3: asks the authoritative server for `remote`, over our link to it, whether the key it gave is its own. */
  verifyKey(local: string, remote: string, key: string, streamId: string): Promise<boolean>;
}

/** One line per link for `rohrpost s2s`. */
export interface LinkInfo {
  direction: 'in' | 'out';
  /** The remote domain(s) and our domain(s) the link is authenticated for. */
  remote: string[];
  local: string[];
  auth: string | null;
  tls: string | null;
  ip: string;
  since: string;
  state: string;
}
