// XEP-0078: Non-SASL Authentication — https://xmpp.org/extensions/xep-0078.html
// For 2002-era clients that open a stream without version='1.0'. Plain text only:
// we store no plaintext password, so the digest method (a hash over the stream id
// and the password) cannot be checked. Over TLS only, unless the admin allows
// unencrypted PLAIN — the same rule as for SASL PLAIN.
import { x, type Element } from '../xml/element.js';
import { StanzaError } from '../errors.js';
import { verifyPasswordAsync } from '../auth/credentials.js';
import { prepLocal, prepResource } from '../jid/index.js';
import type { StoredCredentials } from '../storage/types.js';

export const NS_AUTH = 'jabber:iq:auth';

export interface LegacyAuthContext {
  secure: boolean;
  allowUnencrypted: boolean;
  /** Throttling as for SASL: true when this address or account may not try now. */
  throttled(user: string | null): boolean;
  failed(user: string | null): void;
  lookup(user: string): Promise<StoredCredentials | null>;
  /** Binds the resource and completes the login; false when the resource is taken and the policy refuses. */
  complete(user: string, resource: string): boolean;
}

/** §3.1: the fields the client must fill in. No <digest/>: see above. */
export function authFields(): Element {
  return x('query', { xmlns: NS_AUTH }, x('username'), x('password'), x('resource'));
}

/** §3.2: checks the plain-text password and logs in; throws StanzaError as the XEP says. */
export async function authenticate(ctx: LegacyAuthContext, query: Element): Promise<void> {
  if (!ctx.secure && !ctx.allowUnencrypted) {
    throw new StanzaError('not-acceptable', 'plain-text authentication needs TLS: use the SSL port');
  }
  const username = query.getChildText('username') ?? '';
  const password = query.getChildText('password');
  const resourceText = query.getChildText('resource') ?? '';
  // §3.2.1 (Example 6): missing fields are not-acceptable.
  if (!username || password === null || !resourceText) {
    throw new StanzaError('not-acceptable', 'username, password and resource are required');
  }
  if (query.getChild('digest')) throw new StanzaError('not-acceptable', 'digest authentication is not supported; send the password');
  let user: string;
  let resource: string;
  try {
    user = prepLocal(username);
    resource = prepResource(resourceText);
  } catch {
    throw new StanzaError('not-acceptable', 'invalid username or resource');
  }
  if (ctx.throttled(user)) throw new StanzaError('not-authorized', 'too many failed attempts; try again later');
  const creds = await ctx.lookup(user);
  // An unknown user costs the same PBKDF2 as a wrong password, so timing does not tell them apart.
  const ok = await verifyPasswordAsync(creds ?? UNKNOWN_USER, password);
  if (!creds || !ok) {
    ctx.failed(user);
    throw new StanzaError('not-authorized');
  }
  if (!ctx.complete(user, resource)) throw new StanzaError('conflict', 'that resource is in use');
}

const UNKNOWN_USER = {
  'SCRAM-SHA-256': { salt: Buffer.alloc(16), iterations: 10000, storedKey: Buffer.alloc(32), serverKey: Buffer.alloc(32) },
};

/** XEP-0086 legacy error codes, which 2002-era clients read instead of the condition. */
const LEGACY_CODES: Record<string, string> = {
  'bad-request': '400', 'conflict': '409', 'feature-not-implemented': '501', 'forbidden': '403',
  'gone': '302', 'internal-server-error': '500', 'item-not-found': '404', 'jid-malformed': '400',
  'not-acceptable': '406', 'not-allowed': '405', 'not-authorized': '401', 'payment-required': '402',
  'policy-violation': '406', 'recipient-unavailable': '404', 'redirect': '302',
  'registration-required': '407', 'remote-server-not-found': '404', 'remote-server-timeout': '504',
  'resource-constraint': '500', 'service-unavailable': '503', 'subscription-required': '407',
  'undefined-condition': '500', 'unexpected-request': '400',
};

/** COMPAT: adds the XEP-0086 code attribute to an error stanza for a pre-1.0 client. */
export function addLegacyErrorCode(stanza: Element): void {
  if (stanza.attrs.type !== 'error') return;
  const error = stanza.getChild('error');
  if (!error || error.attrs.code) return;
  const condition = error.children.find((c): c is Element => typeof c !== 'string' && c.name !== 'text');
  const code = condition && LEGACY_CODES[condition.name];
  if (code) error.attrs.code = code;
}
