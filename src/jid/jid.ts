// XMPP addresses — RFC 7622: [ localpart "@" ] domainpart [ "/" resourcepart ].
// Every Jid holds prepared (normalised) parts, so comparing two JIDs is comparing strings.
import { JidError } from '../errors.js';
import { enforceDomainpart } from './domain.js';
import { enforceOpaqueString, enforceUsernameCaseMapped, type Prepared } from './precis.js';

// RFC 7622 §3.1: "Each allowable portion of a JID (localpart, domainpart, and
// resourcepart) MUST NOT be zero octets in length and MUST NOT be more than 1023 octets in
// length, resulting in a maximum total size ... of 3071 octets".
const MAX_PART_OCTETS = 1023;
// Cheap guard before any Unicode work: NFC composes at most four code points into one
// (e.g. U+1FA2), so a raw part longer than this can never prepare to 1023 octets.
const MAX_RAW_PART_LENGTH = 4 * MAX_PART_OCTETS;
// RFC 7622 §3.3.1 forbids eight ASCII characters in localparts that the PRECIS
// IdentifierClass would allow: " & ' / : < > @.
const RE_LOCALPART_FORBIDDEN = /["&'/:<>@]/;

type Part = 'localpart' | 'domainpart' | 'resourcepart';

function prepare(part: Part, raw: string, input: string, enforce: (s: string) => Prepared): string {
  if (raw === '') throw new JidError(input, `empty ${part}`);
  if (raw.length > MAX_RAW_PART_LENGTH) throw new JidError(input, `${part} longer than ${MAX_PART_OCTETS} octets`);
  const result = enforce(raw);
  if (!result.ok) throw new JidError(input, `${part}: ${result.reason}`);
  if (Buffer.byteLength(result.value, 'utf8') > MAX_PART_OCTETS) {
    throw new JidError(input, `${part} longer than ${MAX_PART_OCTETS} octets`);
  }
  return result.value;
}

function enforceLocalpart(s: string): Prepared {
  const result = enforceUsernameCaseMapped(s);
  if (result.ok && RE_LOCALPART_FORBIDDEN.test(result.value)) {
    return { ok: false, reason: 'contains one of " & \' / : < > @' };
  }
  return result;
}

/** Prepares a localpart (UsernameCaseMapped, RFC 7622 §3.3). Throws JidError. */
export function prepLocal(s: string): string {
  return prepare('localpart', s, s, enforceLocalpart);
}

/** Prepares a domainpart (RFC 7622 §3.2). Throws JidError. */
export function prepDomain(s: string): string {
  return prepare('domainpart', s, s, enforceDomainpart);
}

/** Prepares a resourcepart (OpaqueString, RFC 7622 §3.4). Throws JidError. */
export function prepResource(s: string): string {
  return prepare('resourcepart', s, s, enforceOpaqueString);
}

export class Jid {
  /** Parts are prepared already; create JIDs with jid() or parseJid(). */
  private constructor(
    readonly local: string,
    readonly domain: string,
    /** '' when absent. */
    readonly resource: string,
  ) {}

  /** Prepares the parts; '' means absent for local and resource. Throws JidError. */
  static of(local: string, domain: string, resource = '', input?: string): Jid {
    const shown = input ?? `${local}@${domain}/${resource}`;
    return new Jid(
      local === '' ? '' : prepare('localpart', local, shown, enforceLocalpart),
      prepare('domainpart', domain, shown, enforceDomainpart),
      resource === '' ? '' : prepare('resourcepart', resource, shown, enforceOpaqueString),
    );
  }

  /** RFC 7622 §3.1 — the first '/' ends the domainpart, then the first '@' before it
   *  ends the localpart. A separator with nothing after (or before) it is an error. */
  static parse(s: string): Jid {
    const slash = s.indexOf('/');
    const head = slash === -1 ? s : s.slice(0, slash);
    const at = head.indexOf('@');
    if (at === 0) throw new JidError(s, 'empty localpart');
    if (slash !== -1 && slash === s.length - 1) throw new JidError(s, 'empty resourcepart');
    return Jid.of(at === -1 ? '' : head.slice(0, at), head.slice(at + 1), slash === -1 ? '' : s.slice(slash + 1), s);
  }

  get bare(): Jid {
    return this.resource === '' ? this : new Jid(this.local, this.domain, '');
  }

  /** The same bare JID with another resource; '' gives the bare JID. Throws JidError. */
  withResource(r: string): Jid {
    return r === '' ? this.bare : new Jid(this.local, this.domain, prepResource(r));
  }

  isBare(): boolean {
    return this.resource === '';
  }

  bareString(): string {
    return this.local === '' ? this.domain : `${this.local}@${this.domain}`;
  }

  toString(): string {
    return this.resource === '' ? this.bareString() : `${this.bareString()}/${this.resource}`;
  }

  equals(o: Jid): boolean {
    return this.local === o.local && this.domain === o.domain && this.resource === o.resource;
  }
}

/** Parses and normalises a JID string. Throws JidError. */
export function parseJid(s: string): Jid {
  return Jid.parse(s);
}

/** parseJid, but null instead of an exception (for untrusted 'to'/'from' attributes). */
export function tryParseJid(s: string): Jid | null {
  try {
    return Jid.parse(s);
  } catch (e) {
    if (e instanceof JidError) return null;
    throw e;
  }
}

/** Builds a JID from separate parts, preparing each. Throws JidError. */
export function jid(local: string, domain: string, resource = ''): Jid {
  return Jid.of(local, domain, resource);
}
