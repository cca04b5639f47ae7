// What every client session of a listener shares.
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import type { Storage } from '../storage/types.js';
import type { FailureThrottle } from '../auth/throttle.js';
import type { TlsContexts } from '../tls/contexts.js';
import type { C2sSession } from './session.js';

export interface C2sContext {
  config: Config;
  log: Logger;
  storage: Storage;
  tls: TlsContexts;
  ipThrottle: FailureThrottle;
  accountThrottle: FailureThrottle;
  /** The connection is gone; `ended` settles once the modules have been told (if there was a session). */
  connectionClosed(session: C2sSession, ended?: Promise<void>): void;
}
