// PRECIS string classes — RFC 8264 §4 (IdentifierClass, FreeformClass), §8 (derived property
// calculation) and the contextual rules of RFC 5892 Appendix A that it reuses.
//
// APPROXIMATION. RFC 8264 computes each code point's derived property from the Unicode
// Character Database. We compute the same algorithm at run time from the Unicode tables
// built into the JavaScript engine (General_Category, Script, Join_Control,
// Default_Ignorable_Code_Point, Noncharacter_Code_Point via \p{...} regexes, and NFKC via
// String#normalize), so the result follows the engine's Unicode version rather than a
// frozen IANA table. Known gaps:
//   - CONTEXTJ (ZWJ/ZWNJ) needs Canonical_Combining_Class=Virama and Joining_Type, which
//     regexes cannot see: ZWJ is accepted after any combining mark (viramas are marks),
//     ZWNJ between two letters/marks. Slightly more permissive than the RFC.
//   - BackwardCompatible is empty in RFC 8264, as here.
// Everything else follows the algorithm of §8 step by step.

/** What the derived property allows, before the class decides about FREE_PVAL / ID_DIS. */
type DerivedProperty = 'PVALID' | 'CONTEXTJ' | 'CONTEXTO' | 'FREE_PVAL' | 'DISALLOWED';

export type StringClass = 'identifier' | 'freeform';

// RFC 5892 §2.6 Exceptions, reused by RFC 8264 §9 (Exceptions).
const EXCEPTIONS_PVALID = new Set([0x00df, 0x03c2, 0x06fd, 0x06fe, 0x0f0b, 0x3007]);
const EXCEPTIONS_CONTEXTO = new Set([0x00b7, 0x0375, 0x05f3, 0x05f4, 0x30fb]);
const EXCEPTIONS_DISALLOWED = new Set([0x0640, 0x07fa, 0x302e, 0x302f, 0x3031, 0x3032, 0x3033, 0x3034, 0x3035, 0x303b]);
const ARABIC_INDIC_DIGITS = { first: 0x0660, last: 0x0669 };
const EXTENDED_ARABIC_INDIC_DIGITS = { first: 0x06f0, last: 0x06f9 };

const MIDDLE_DOT = 0x00b7;
const GREEK_KERAIA = 0x0375;
const HEBREW_GERESH = 0x05f3;
const HEBREW_GERSHAYIM = 0x05f4;
const KATAKANA_MIDDLE_DOT = 0x30fb;
const ZWNJ = 0x200c;
const ZWJ = 0x200d;

const RE_UNASSIGNED = /^\p{Cn}$/u;
const RE_JOIN_CONTROL = /^\p{Join_Control}$/u;
// RFC 8264 §9 PrecisIgnorableProperties.
const RE_IGNORABLE = /^[\p{Default_Ignorable_Code_Point}\p{Noncharacter_Code_Point}]$/u;
const RE_CONTROL = /^\p{Cc}$/u;
// RFC 8264 §9 LetterDigits: Ll, Lu, Lo, Nd, Lm, Mn, Mc.
const RE_LETTER_DIGITS = /^[\p{Ll}\p{Lu}\p{Lo}\p{Nd}\p{Lm}\p{Mn}\p{Mc}]$/u;
// RFC 8264 §9 OtherLetterDigits: Lt, Nl, No, Me.
const RE_OTHER_LETTER_DIGITS = /^[\p{Lt}\p{Nl}\p{No}\p{Me}]$/u;
const RE_SPACES = /^\p{Zs}$/u;
const RE_SYMBOLS = /^\p{S}$/u;
const RE_PUNCTUATION = /^\p{P}$/u;
const RE_LETTER_OR_MARK = /^[\p{L}\p{M}]$/u;
const RE_MARK = /^\p{M}$/u;
const RE_GREEK = /^\p{Script=Greek}$/u;
const RE_HEBREW = /^\p{Script=Hebrew}$/u;
const RE_KANA_OR_HAN = /^[\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Han}]$/u;

function inRange(cp: number, r: { first: number; last: number }): boolean {
  return cp >= r.first && cp <= r.last;
}

/** RFC 8264 §9 OldHangulJamo: Hangul_Syllable_Type L, V or T. */
function isOldHangulJamo(cp: number): boolean {
  return (cp >= 0x1100 && cp <= 0x11ff) || (cp >= 0xa960 && cp <= 0xa97f) || (cp >= 0xd7b0 && cp <= 0xd7ff);
}

/** RFC 8264 §8, in its order: the first matching rule decides. */
function derivedProperty(cp: number, ch: string): DerivedProperty {
  if (EXCEPTIONS_PVALID.has(cp)) return 'PVALID';
  if (EXCEPTIONS_CONTEXTO.has(cp) || inRange(cp, ARABIC_INDIC_DIGITS) || inRange(cp, EXTENDED_ARABIC_INDIC_DIGITS)) return 'CONTEXTO';
  if (EXCEPTIONS_DISALLOWED.has(cp)) return 'DISALLOWED';
  if (RE_UNASSIGNED.test(ch)) return 'DISALLOWED';
  if (cp >= 0x21 && cp <= 0x7e) return 'PVALID'; // ASCII7
  if (RE_JOIN_CONTROL.test(ch)) return 'CONTEXTJ';
  if (isOldHangulJamo(cp)) return 'DISALLOWED';
  if (RE_IGNORABLE.test(ch)) return 'DISALLOWED';
  if (RE_CONTROL.test(ch)) return 'DISALLOWED';
  if (ch.normalize('NFKC') !== ch) return 'FREE_PVAL'; // HasCompat
  if (RE_LETTER_DIGITS.test(ch)) return 'PVALID';
  if (RE_OTHER_LETTER_DIGITS.test(ch) || RE_SPACES.test(ch) || RE_SYMBOLS.test(ch) || RE_PUNCTUATION.test(ch)) return 'FREE_PVAL';
  return 'DISALLOWED'; // surrogates, private use, format characters, ...
}

function hex(cp: number): string {
  return 'U+' + cp.toString(16).toUpperCase().padStart(4, '0');
}

/** RFC 5892 Appendix A: may the CONTEXTJ/CONTEXTO code point at index i stay here? */
function contextAllows(cps: readonly number[], i: number): boolean {
  const cp = cps[i]!;
  const before = i > 0 ? String.fromCodePoint(cps[i - 1]!) : '';
  const after = i + 1 < cps.length ? String.fromCodePoint(cps[i + 1]!) : '';
  switch (cp) {
    case ZWJ: // A.2: "If Canonical_Combining_Class(Before(cp)) .eq. Virama Then True"
      return RE_MARK.test(before);
    case ZWNJ: // A.1: after a virama, or inside a joining context (approximated)
      return RE_MARK.test(before) || (RE_LETTER_OR_MARK.test(before) && RE_LETTER_OR_MARK.test(after));
    case MIDDLE_DOT: // A.3: only between two 'l' (Catalan ela geminada)
      return cps[i - 1] === 0x6c && cps[i + 1] === 0x6c;
    case GREEK_KERAIA: // A.4: the following character must be Greek
      return RE_GREEK.test(after);
    case HEBREW_GERESH:
    case HEBREW_GERSHAYIM: // A.5, A.6: the preceding character must be Hebrew
      return RE_HEBREW.test(before);
    case KATAKANA_MIDDLE_DOT: // A.7: some Hiragana, Katakana or Han elsewhere in the string
      return cps.some((c) => c !== KATAKANA_MIDDLE_DOT && RE_KANA_OR_HAN.test(String.fromCodePoint(c)));
    default:
      // A.8, A.9: Arabic-Indic and Extended Arabic-Indic digits must not be mixed.
      if (inRange(cp, ARABIC_INDIC_DIGITS)) return !cps.some((c) => inRange(c, EXTENDED_ARABIC_INDIC_DIGITS));
      if (inRange(cp, EXTENDED_ARABIC_INDIC_DIGITS)) return !cps.some((c) => inRange(c, ARABIC_INDIC_DIGITS));
      return false;
  }
}

/**
 * Checks that every code point of s is allowed in the string class; returns why not, or
 * undefined when s is allowed. RFC 8264 §4.2 / §4.3: PVALID code points are valid,
 * CONTEXTJ/CONTEXTO ones only where their rule holds; FREE_PVAL only in FreeformClass.
 */
export function classViolation(s: string, cls: StringClass): string | undefined {
  const cps = Array.from(s, (c) => c.codePointAt(0)!);
  for (let i = 0; i < cps.length; i++) {
    const cp = cps[i]!;
    const property = derivedProperty(cp, String.fromCodePoint(cp));
    switch (property) {
      case 'PVALID':
        continue;
      case 'FREE_PVAL':
        if (cls === 'freeform') continue;
        return `${hex(cp)} is not allowed in an identifier`;
      case 'CONTEXTJ':
      case 'CONTEXTO':
        if (contextAllows(cps, i)) continue;
        return `${hex(cp)} is not allowed in this context`;
      case 'DISALLOWED':
        return `${hex(cp)} is not allowed`;
    }
  }
  return undefined;
}
