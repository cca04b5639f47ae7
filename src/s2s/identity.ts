// Server identity in certificates — RFC 6120 §13.7.1.2 and §13.7.2.1 (XMPP server certificates),
// https://www.rfc-editor.org/rfc/rfc6120#section-13.7, checked by the rules of RFC 6125
// https://www.rfc-editor.org/rfc/rfc6125#section-6, with the SRV-ID of XEP-0368 (direct TLS)
// https://xmpp.org/extensions/xep-0368.html and RFC 7590 https://www.rfc-editor.org/rfc/rfc7590.
import type { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';

/** The parts of a peer certificate we read: Node's tls PeerCertificate / X509Certificate give these. */
export interface CertificateNames {
  subjectaltname?: string;
  /** Only CN is read; Node gives an array when the subject repeats it. */
  subject?: { readonly CN?: string | string[] } | null;
}

/** The identities a certificate presents, as written in it (for logs). */
export interface CertificateIdentities {
  dns: string[];
  /** SRVName values of every service, e.g. '_xmpp-server.example.org'. */
  srv: string[];
  xmppAddr: string[];
  /** Every subject CN, whether or not §6.4.4 would let us use it. */
  cn: string[];
}

// RFC 6120 §13.7.1.2 and XEP-0368 §3: the SRV-IDs a server certificate presents.
const SRV_SERVICES = ['_xmpp-server', '_xmpps-server'];
// Names Node gives the otherName forms (RFC 4985 SRVName, RFC 6120 id-on-xmppAddr).
const OTHERNAME_SRV = 'SRVName';
const OTHERNAME_XMPP = 'XmppAddr';
// Printable ASCII without space: what a presented DNS-ID (an IA5String) may contain.
const RE_PRESENTED_NAME = /^[\x21-\x7e]+$/;

interface AltName {
  type: string;
  value: string;
}

interface ParsedNames {
  altNames: AltName[];
  /** The certificate has a subjectAltName extension whose entries §6.4.4 counts. */
  blocksCn: boolean;
  cn: string[];
}

/** Index just past the closing quote of the JSON string starting at `start`, or -1. */
function endOfQuoted(s: string, start: number): number {
  for (let i = start + 1; i < s.length; i++) {
    if (s[i] === '\\') i++;
    else if (s[i] === '"') return i + 1;
  }
  return -1;
}

/**
 * Node prints the extension as `TYPE:value, TYPE:value`. Since the fix for CVE-2021-44532
 * it writes any value with a comma, quote, backslash or control character as a JSON string
 * (`DNS:"a\u002cb"`; for otherName the whole `XmppAddr:...` is quoted), so an unquoted
 * value ends at the next comma. Returns null for text that does not follow that form:
 * guessing there could turn one name into two.
 */
function parseSubjectAltName(s: string): AltName[] | null {
  const out: AltName[] = [];
  let i = 0;
  for (;;) {
    const colon = s.indexOf(':', i);
    if (colon < 0) return null;
    const type = s.slice(i, colon);
    let value: string;
    let next: number;
    if (s[colon + 1] === '"') {
      next = endOfQuoted(s, colon + 1);
      if (next < 0) return null;
      try {
        value = JSON.parse(s.slice(colon + 1, next)) as string;
      } catch {
        return null;
      }
    } else {
      const comma = s.indexOf(',', colon + 1);
      next = comma < 0 ? s.length : comma;
      value = s.slice(colon + 1, next);
    }
    out.push({ type, value });
    if (next === s.length) return out;
    if (!s.startsWith(', ', next)) return null;
    i = next + 2;
  }
}

function parseNames(cert: CertificateNames): ParsedNames {
  const raw = cert.subject?.CN;
  const cn = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  if (cert.subjectaltname === undefined || cert.subjectaltname === '') return { altNames: [], blocksCn: false, cn };
  const altNames = parseSubjectAltName(cert.subjectaltname);
  // An unreadable extension still names something: never fall back to the CN then.
  if (altNames === null) return { altNames: [], blocksCn: true, cn };
  return { altNames, blocksCn: altNames.some(shutsOutCn), cn };
}

/**
 * RFC 6125 §6.4.4: the CN is only a last resort "if and only if the presented identifiers
 * do not include a DNS-ID, SRV-ID, URI-ID, or any application-specific identifier types
 * supported by the client" — for us XmppAddr is one of those. IP addresses are not.
 */
function shutsOutCn(n: AltName): boolean {
  if (n.type === 'DNS' || n.type === 'URI') return true;
  return n.type === 'othername' && (n.value.startsWith(`${OTHERNAME_SRV}:`) || n.value.startsWith(`${OTHERNAME_XMPP}:`));
}

function othernames(altNames: AltName[], kind: string): string[] {
  const prefix = `${kind}:`;
  return altNames.filter((n) => n.type === 'othername' && n.value.startsWith(prefix)).map((n) => n.value.slice(prefix.length));
}

/** The identities found, for logs. */
export function certificateIdentities(cert: CertificateNames): CertificateIdentities {
  const { altNames, cn } = parseNames(cert);
  return {
    dns: altNames.filter((n) => n.type === 'DNS').map((n) => n.value),
    srv: othernames(altNames, OTHERNAME_SRV),
    xmppAddr: othernames(altNames, OTHERNAME_XMPP),
    cn: [...cn],
  };
}

/** A domain in A-labels, lower case, without the trailing dot; null if it is not a DNS name. */
function referenceName(domain: string): string | null {
  const d = domain.replace(/\.$/, '');
  if (d === '' || d.startsWith('[') || isIP(d) !== 0) return null;
  const ascii = domainToASCII(d);
  return ascii === '' ? null : ascii;
}

/** Labels of a presented DNS name, or null when it cannot be a valid one. */
function presentedLabels(name: string): string[] | null {
  const n = name.toLowerCase().replace(/\.$/, '');
  if (!RE_PRESENTED_NAME.test(n)) return null;
  const labels = n.split('.');
  return labels.includes('') ? null : labels;
}

/** RFC 6125 §6.4.1-§6.4.3: a DNS-ID (or a CN-ID, compared the same way) against the reference. */
function dnsIdMatches(presented: string, reference: string): boolean {
  const labels = presentedLabels(presented);
  if (labels === null) return false;
  if (!labels.some((l) => l.includes('*'))) return labels.join('.') === reference;
  const [first, ...rest] = labels;
  // §6.4.3: "The client SHOULD NOT attempt to match a presented identifier in which the
  // wildcard character comprises a label other than the left-most label", and we take the
  // MAY for partial-label wildcards ('b*z.example.net') as a no, as RFC 9525 §6.3 does.
  if (first !== '*' || rest.some((l) => l.includes('*'))) return false;
  // '*.test' would vouch for every name under a top-level domain. §6.4.3 does not forbid it,
  // but §7.2 warns about wildcards with wide scope; like browsers and Node's own
  // checkServerIdentity we require two labels after the wildcard.
  if (rest.length < 2) return false;
  // §6.4.3: the wildcard stands for exactly one label ('*.example.com' matches
  // 'foo.example.com' but neither 'bar.foo.example.com' nor 'example.com').
  const ref = reference.split('.');
  return ref.length === labels.length && ref.slice(1).join('.') === rest.join('.');
}

/** RFC 6125 §6.5.1 with RFC 4985: `_Service.Name`, service and name compared exactly (no wildcards). */
function srvIdMatches(presented: string, reference: string): boolean {
  const dot = presented.indexOf('.');
  if (dot < 0) return false;
  const service = presented.slice(0, dot).toLowerCase();
  if (!SRV_SERVICES.includes(service)) return false;
  const labels = presentedLabels(presented.slice(dot + 1));
  return labels !== null && !labels.some((l) => l.includes('*')) && labels.join('.') === reference;
}

/** RFC 6120 §13.7.1.4: an XmppAddr naming the bare domain (a UTF8String, so U-labels are fine). */
function xmppAddrMatches(presented: string, reference: string): boolean {
  // A JID with a localpart or resource identifies a user, not a server.
  if (presented.includes('@') || presented.includes('/')) return false;
  return referenceName(presented) === reference;
}

/**
 * Whether the certificate presents an identity for the XMPP domain (as a server).
 * The domain is the reference identifier (RFC 6120 §13.7.2.1): the peer's domain, never the
 * SRV target or address we connected to. IP-literal domains never match: RFC 6125 covers
 * DNS names only, and an iPAddress entry is not an identity for an XMPP domain.
 */
export function certificateMatchesDomain(cert: CertificateNames, domain: string): boolean {
  const reference = referenceName(domain);
  if (reference === null) return false;
  const { altNames, blocksCn, cn } = parseNames(cert);
  for (const n of altNames) {
    if (n.type === 'DNS' && dnsIdMatches(n.value, reference)) return true;
  }
  if (othernames(altNames, OTHERNAME_SRV).some((v) => srvIdMatches(v, reference))) return true;
  if (othernames(altNames, OTHERNAME_XMPP).some((v) => xmppAddrMatches(v, reference))) return true;
  if (blocksCn) return false;
  // RFC 6125 §6.4.4 leaves which CN open; RFC 2818 §3.1 takes "the (most specific) Common
  // Name", the last one, and §6.4.4 compares it by the DNS-ID rules.
  const last = cn[cn.length - 1];
  return last !== undefined && dnsIdMatches(last, reference);
}

/** The names of a certificate read with `new X509Certificate(pem)`. */
export function namesOfX509(cert: X509Certificate): CertificateNames {
  // The legacy object has the subject as fields (CN an array when repeated), so we need not
  // parse the escaped multi-line `cert.subject` string.
  const legacy = cert.toLegacyObject();
  return {
    subjectaltname: cert.subjectAltName,
    subject: legacy.subject,
  };
}
