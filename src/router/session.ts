// What the router knows of a client session. c2s implements it; the router and
// modules reach sessions only through this interface (no sockets in features).
import type { Jid } from '../jid/index.js';
import type { Element } from '../xml/element.js';
import type { StreamErrorCondition } from '../errors.js';

export interface SessionInfo {
  jid: string;
  ip: string;
  tls: string | null;        // TLS protocol version, null when plaintext
  mechanism: string | null;  // SASL mechanism or 'jabber:iq:auth'
  since: string;             // ISO time the session was bound
  available: boolean;
  priority: number;
}

export interface Session {
  readonly id: string;
  /** The bound full JID. */
  readonly jid: Jid;
  readonly ip: string;
  /** Set by the presence logic: has sent available presence, with this priority. */
  available: boolean;
  priority: number;
  /** The last available presence the client sent (for probes), or null. */
  presence: Element | null;
  /** Writes a stanza to the client. Never throws; a dead session drops it. */
  send(stanza: Element): void;
  /** Ends the session with a stream error (or a clean close without a condition). */
  close(condition?: StreamErrorCondition, text?: string): void;
  info(): SessionInfo;
}
