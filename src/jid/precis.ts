// PRECIS profiles used by XMPP addresses (RFC 7622 §3.3, §3.4):
//   UsernameCaseMapped (RFC 8265 §3.3) for localparts,
//   OpaqueString       (RFC 8265 §4.2) for resourceparts.
// Pure functions: they return the prepared string or the reason it is not allowed.
import { bidiViolation } from './bidi.js';
import { classViolation } from './precis-classes.js';

export type Prepared = { ok: true; value: string } | { ok: false; reason: string };

// RFC 8264 §7: "if the output string does not stabilize after reapplying the rules three
// (3) additional times, the implementation SHOULD terminate application of the rules and
// reject the input string as invalid."
const MAX_REAPPLICATIONS = 3;

// Halfwidth and Fullwidth Forms block plus U+3000 IDEOGRAPHIC SPACE: the code points whose
// decomposition mapping is <wide> or <narrow>.
const RE_WIDTH_VARIANT = /[\u3000\uFF01-\uFFEE]/gu;
// Zs other than U+0020; RFC 8265 §4.2 maps them to U+0020.
const RE_NON_ASCII_SPACE = /(?!\u0020)\p{Zs}/gu;
// Strings of printable ASCII need no mapping or class checks beyond these (fast path).
const RE_ASCII_IDENTIFIER = /^[\x21-\x7e]+$/;
const RE_ASCII_FREEFORM = /^[\x20-\x7e]+$/;

function ok(value: string): Prepared {
  return { ok: true, value };
}

function fail(reason: string): Prepared {
  return { ok: false, reason };
}

/** Applies one round of rules, checks, and repeats until the output is stable. */
function enforceStable(s: string, round: (s: string) => Prepared): Prepared {
  let result = round(s);
  for (let i = 0; i < MAX_REAPPLICATIONS; i++) {
    if (!result.ok) return result;
    const again = round(result.value);
    if (again.ok && again.value === result.value) return again;
    result = again;
  }
  return result.ok ? fail('preparation does not stabilise') : result;
}

function usernameCaseMappedRound(s: string): Prepared {
  // 1. Width Mapping Rule: "Map fullwidth and halfwidth code points to their
  //    decomposition mappings" (RFC 8265 §3.3).
  let t = s.replace(RE_WIDTH_VARIANT, (c) => c.normalize('NFKC'));
  // 2. Additional Mapping Rule: none.
  // 3. Case Mapping Rule: "Map uppercase and titlecase code points to their lowercase
  //    equivalents, preferably using the Unicode toLowerCase() operation".
  t = t.toLowerCase();
  // 4. Normalization Rule: NFC.
  t = t.normalize('NFC');
  if (t === '') return fail('empty');
  const bad = classViolation(t, 'identifier');
  if (bad) return fail(bad);
  // 5. Directionality Rule: "Applications MUST apply the "Bidi Rule" defined in [RFC5893]
  //    to strings that contain right-to-left code points".
  const bidi = bidiViolation(t);
  if (bidi) return fail(bidi);
  return ok(t);
}

/** RFC 8265 §3.3 UsernameCaseMapped profile (IdentifierClass). */
export function enforceUsernameCaseMapped(s: string): Prepared {
  if (RE_ASCII_IDENTIFIER.test(s)) return ok(s.toLowerCase());
  return enforceStable(s, usernameCaseMappedRound);
}

function opaqueStringRound(s: string): Prepared {
  // 1. Width Mapping Rule: "Fullwidth and halfwidth code points MUST NOT be mapped".
  // 2. Additional Mapping Rule: "Any instances of non-ASCII space MUST be mapped to ASCII
  //    space (U+0020)".
  // 3. Case Mapping Rule: "Uppercase and titlecase code points MUST NOT be mapped".
  // 4. Normalization Rule: NFC.
  const t = s.replace(RE_NON_ASCII_SPACE, ' ').normalize('NFC');
  // RFC 7622 §3.4: a resourcepart is 1 to 1023 octets; an empty one is not allowed.
  if (t === '') return fail('empty');
  const bad = classViolation(t, 'freeform');
  if (bad) return fail(bad);
  // 5. Directionality Rule: none.
  return ok(t);
}

/** RFC 8265 §4.2 OpaqueString profile (FreeformClass). */
export function enforceOpaqueString(s: string): Prepared {
  if (RE_ASCII_FREEFORM.test(s)) return ok(s);
  return enforceStable(s, opaqueStringRound);
}
