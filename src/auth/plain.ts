// SASL PLAIN (RFC 4616): message = [authzid] NUL authcid NUL passwd. Only offered over TLS
// unless configured otherwise (see offeredMechanisms).
import { randomBytes } from 'node:crypto';
import { SaslError } from '../errors.js';
import type { ScramKeys } from '../storage/types.js';
import { authzidAllowed, saslprep, verifyPasswordAsync, type PlainVerifier } from './credentials.js';
import type { SaslContext, SaslMechanism, SaslResult } from './sasl.js';

const NUL = '\0';
const FAKE_SALT_BYTES = 16;
// RFC 7677 §4 recommends at least 4096 iterations.
const DEFAULT_ITERATIONS = 4096;

interface PlainMessage {
  authzid: string;
  authcid: string;
  password: string;
}

function parsePlain(input: Buffer): PlainMessage {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(input);
  } catch {
    throw new SaslError('malformed-request', 'not UTF-8');
  }
  const parts = text.split(NUL);
  if (parts.length !== 3) throw new SaslError('malformed-request', 'expected authzid NUL authcid NUL password');
  const [authzid, authcid, password] = parts as [string, string, string];
  // authcid = 1*SAFE; passwd = 1*SAFE
  if (authcid === '' || password === '') throw new SaslError('malformed-request', 'empty user name or password');
  return { authzid, authcid, password };
}

/**
 * Keys no password matches, for unknown users: checking against them costs the same
 * PBKDF2 as a real check, so the response time does not tell whether the account exists.
 */
function unmatchableVerifier(iterations: number): PlainVerifier {
  const keys: ScramKeys = {
    salt: randomBytes(FAKE_SALT_BYTES),
    iterations,
    storedKey: randomBytes(32),
    serverKey: randomBytes(32),
  };
  return { 'SCRAM-SHA-256': keys };
}

class PlainMechanism implements SaslMechanism {
  readonly name = 'PLAIN';
  private finished = false;

  constructor(private readonly ctx: SaslContext) {}

  async step(input: Buffer): Promise<{ success: SaslResult }> {
    if (this.finished) throw new SaslError('malformed-request', 'the exchange is over');
    this.finished = true;
    const msg = parsePlain(input);
    // RFC 4616 §2: the server verifies authcid and password, and that these credentials
    // permit acting as the authzid; we only permit users to act as themselves.
    const username = saslprep(msg.authcid);
    if (msg.authzid !== '' && !authzidAllowed(msg.authzid, username, this.ctx.host)) {
      throw new SaslError('invalid-authzid');
    }
    const creds = await this.ctx.lookup(username);
    const verifier = creds ?? unmatchableVerifier(this.ctx.scramIterations ?? DEFAULT_ITERATIONS);
    const ok = await verifyPasswordAsync(verifier, msg.password);
    if (!ok || creds === null) throw new SaslError('not-authorized');
    return { success: { username } };
  }
}

/** A PLAIN server for one exchange. */
export function createPlainMechanism(ctx: SaslContext): SaslMechanism {
  return new PlainMechanism(ctx);
}
