// Domainparts — RFC 7622 §3.2: an IP literal, an IPv4 address, or a fully qualified
// domain name made of NR-LDH labels and U-labels (IDNA2008).
import { isIPv4, isIPv6 } from 'node:net';
import { domainToASCII, domainToUnicode } from 'node:url';
import { bidiViolation } from './bidi.js';
import type { Prepared } from './precis.js';

// RFC 3490 §3.1 label separators; UTS #46 maps the other three to '.'.
const RE_TRAILING_SEPARATOR = /[.\u3002\uFF0E\uFF61]$/u;
// '%' the WHATWG host parser would silently percent-decode, and lone surrogates
// that it would replace with U+FFFD; we reject them instead of guessing.
const RE_SUSPICIOUS = /[%\p{Cs}]/u;
// NR-LDH labels after IDNA conversion. COMPAT: '_' is not LDH but shows up in internal
// host names of real deployments, and DNS itself carries it (SRV owner names).
const RE_ASCII_LABEL = /^[a-z0-9_-]{1,63}$/;
// RFC 5890 §2.3.1: LDH labels do not start or end with '-', and those with '--' in the
// third and fourth positions are reserved (R-LDH) — only valid A-labels ('xn--') may use it.
const RE_BAD_HYPHENS = /^-|-$|^(?!xn--)..--/;
// What URL parsers take for a number (and so the name for an IPv4 address).
const RE_NUMERIC_LABEL = /^(?:[0-9]+|0x[0-9a-f]*)$/;
const RE_PLAIN_ASCII_NAME = /^[A-Za-z0-9_.-]+$/;
const RE_A_LABEL = /(?:^|\.)xn--/i;

function ok(value: string): Prepared {
  return { ok: true, value };
}

function fail(reason: string): Prepared {
  return { ok: false, reason };
}

/** `[IPv6]` → canonical lower-case, compressed form, so equal addresses compare equal. */
function prepareIpLiteral(s: string): Prepared {
  const inner = s.slice(1, -1);
  if (!s.endsWith(']') || inner.includes('%') || !isIPv6(inner)) return fail('invalid IP literal');
  try {
    return ok(new URL(`http://[${inner}]/`).hostname);
  } catch {
    return fail('invalid IP literal');
  }
}

/** Labels in A-label (ASCII) form, or why they are not acceptable. */
function labelViolation(labels: readonly string[]): string | undefined {
  if (!labels.every((l) => RE_ASCII_LABEL.test(l))) return 'invalid or empty label';
  if (labels.some((l) => RE_BAD_HYPHENS.test(l))) return 'misplaced hyphen in a label';
  // A name ending in a number is parsed as an IPv4 address by URL parsers ('1.2.3',
  // '0x7f.1'); only a real dotted quad (handled earlier) is an address in a JID.
  if (RE_NUMERIC_LABEL.test(labels[labels.length - 1]!)) return 'not a valid IPv4 address';
  return undefined;
}

/** Non-ASCII names and A-labels: UTS #46 mapping and IDNA validation, then U-labels. */
function prepareIdn(s: string): Prepared {
  if (RE_SUSPICIOUS.test(s)) return fail('invalid character');
  const ascii = domainToASCII(s.toLowerCase().normalize('NFC'));
  // Node returns '' for anything UTS #46 / IDNA rejects (bad punycode, disallowed code
  // points, forbidden host characters).
  if (ascii === '') return fail('not a valid domain name');
  const bad = labelViolation(ascii.split('.'));
  if (bad) return fail(bad);
  const unicode = domainToUnicode(ascii);
  for (const label of unicode.split('.')) {
    // RFC 5893 applies to each label of a domain name containing RTL labels.
    const bidi = bidiViolation(label);
    if (bidi) return fail(bidi);
  }
  return ok(unicode);
}

/**
 * RFC 7622 §3.2.2: lower-case and NFC (RFC 5895 mappings, also width mapping via UTS #46),
 * IDNA2008 validation of each label, A-labels converted to U-labels.
 */
export function enforceDomainpart(input: string): Prepared {
  // RFC 7622 §3.2: "If the domainpart includes a final character considered to be a label
  // separator (dot) by [RFC1034], this character MUST be stripped from the domainpart".
  const s = input.replace(RE_TRAILING_SEPARATOR, '');
  if (s === '') return fail('empty');
  if (s.startsWith('[')) return prepareIpLiteral(s);
  if (isIPv4(s)) return ok(s);
  if (!RE_PLAIN_ASCII_NAME.test(s) || RE_A_LABEL.test(s)) return prepareIdn(s);
  // Fast path for the common case: plain ASCII names need only lower-casing.
  const lower = s.toLowerCase();
  const bad = labelViolation(lower.split('.'));
  return bad ? fail(bad) : ok(lower);
}
