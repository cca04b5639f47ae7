// SASL mechanism registry (RFC 4422, RFC 6120 §6). The stream code speaks the XML of the
// exchange; the mechanisms here see only the decoded bytes of each message.
import type { StoredCredentials } from '../storage/types.js';
import { createPlainMechanism } from './plain.js';
import { availableChannelBindings, createScramMechanism, type ScramOptions } from './scram.js';

export const MECH_SCRAM_SHA_256_PLUS = 'SCRAM-SHA-256-PLUS';
export const MECH_SCRAM_SHA_1_PLUS = 'SCRAM-SHA-1-PLUS';
export const MECH_SCRAM_SHA_256 = 'SCRAM-SHA-256';
export const MECH_SCRAM_SHA_1 = 'SCRAM-SHA-1';
export const MECH_PLAIN = 'PLAIN';

/** Channel binding data of the TLS connection, by RFC 5056 channel binding type. */
export interface ChannelBindings {
  /** RFC 9266, TLS 1.3 only. */
  'tls-exporter'?: Buffer;
  /** RFC 5929 §4: hash of the server certificate. */
  'tls-server-end-point'?: Buffer;
  /**
   * RFC 5929 §3: the first Finished message of the handshake. COMPAT: RFC 9266 retires it
   * for TLS 1.3, but slixmpp 1.8 binds with nothing else, also on TLS 1.3, where OpenSSL
   * still reports the client's Finished. A binding to this session beats none.
   */
  'tls-unique'?: Buffer;
}

export interface SaslContext {
  host: string;
  /** The stream is TLS-protected. */
  secure: boolean;
  allowUnencryptedPlain: boolean;
  /** Empty when there is no TLS. */
  channelBindings: ChannelBindings;
  /**
   * Credentials of the account named by a SASLprep'd user name; null when the name is not
   * a valid localpart or there is no such account. May throw a SaslError (for example
   * temporary-auth-failure when throttled); other errors propagate unchanged.
   */
  lookup(username: string): Promise<StoredCredentials | null>;
  /**
   * Iteration count that stored credentials get (the configured value). The answer to an
   * unknown user uses it so it looks like a real account's; RFC 7677's 4096 otherwise.
   */
  scramIterations?: number;
  /**
   * COMPAT: accept SCRAM's 'y' flag even though -PLUS was offered. Some clients (slixmpp,
   * which only knows tls-unique) send 'y' whenever they pick a non-PLUS mechanism, and
   * then fail the downgrade check of RFC 5802 §6. Turning this on gives up detecting a man
   * in the middle who strips -PLUS; off by default.
   */
  disableScramDowngradeProtection?: boolean;
}

export interface SaslResult {
  /** The authentication identity as the client gave it, SASLprep'd (not yet a localpart). */
  username: string;
  /** Additional data with success (SCRAM's server-final-message). */
  additional?: Buffer;
}

export interface SaslMechanism {
  readonly name: string;
  /** One client message in, a challenge or success out; throws SaslError on failure. */
  step(input: Buffer): Promise<{ challenge: Buffer } | { success: SaslResult }>;
}

/** Test hooks; production code passes nothing. */
export type MechanismOptions = ScramOptions;

/**
 * Mechanisms for this stream, strongest first. -PLUS only with TLS and some channel
 * binding data. PLAIN sends the password itself; RFC 4616 §6 says it should not be used
 * without external protection such as TLS, so only over TLS unless the admin allows it.
 */
export function offeredMechanisms(ctx: SaslContext): string[] {
  const mechs: string[] = [];
  if (availableChannelBindings(ctx).length > 0) mechs.push(MECH_SCRAM_SHA_256_PLUS, MECH_SCRAM_SHA_1_PLUS);
  mechs.push(MECH_SCRAM_SHA_256, MECH_SCRAM_SHA_1);
  if (ctx.secure || ctx.allowUnencryptedPlain) mechs.push(MECH_PLAIN);
  return mechs;
}

/** A fresh mechanism instance for one exchange, or null when name is not offered here. */
export function createMechanism(name: string, ctx: SaslContext, options: MechanismOptions = {}): SaslMechanism | null {
  if (!offeredMechanisms(ctx).includes(name)) return null;
  switch (name) {
    case MECH_SCRAM_SHA_256_PLUS: return createScramMechanism('SCRAM-SHA-256', true, ctx, options);
    case MECH_SCRAM_SHA_1_PLUS: return createScramMechanism('SCRAM-SHA-1', true, ctx, options);
    case MECH_SCRAM_SHA_256: return createScramMechanism('SCRAM-SHA-256', false, ctx, options);
    case MECH_SCRAM_SHA_1: return createScramMechanism('SCRAM-SHA-1', false, ctx, options);
    case MECH_PLAIN: return createPlainMechanism(ctx);
    default: return null;
  }
}
