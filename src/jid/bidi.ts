// The "Bidi Rule" of RFC 5893 §2, which RFC 8265 §3.3 (localparts) and IDNA2008
// (domain labels) apply to strings that contain right-to-left characters.
//
// APPROXIMATION. The rule is stated in terms of the Unicode Bidi_Class property, which
// JavaScript regexes cannot query. We derive a stand-in from Script and General_Category:
//   R/AL  — any character of a right-to-left script (Hebrew, Arabic, Syriac, ...)
//   AN    — Arabic-Indic digits and separators (U+0660..U+0669, U+066B, U+066C)
//   EN    — ASCII digits and Extended Arabic-Indic digits
//   NSM   — non-spacing and enclosing marks
//   L     — letters, spacing marks and digits of all other scripts
//   other — punctuation and symbols, treated as the neutral classes ON/ES/CS/ET
// This agrees with Bidi_Class for the letters and digits that make up real names.

type BidiClass = 'R' | 'AN' | 'EN' | 'NSM' | 'L' | 'ON';

const RE_RTL_SCRIPT = new RegExp(
  '^[' +
    [
      'Hebrew', 'Arabic', 'Syriac', 'Thaana', 'Nko', 'Samaritan', 'Mandaic', 'Adlam',
      'Hanifi_Rohingya', 'Mende_Kikakui', 'Imperial_Aramaic', 'Phoenician', 'Kharoshthi',
      'Old_South_Arabian', 'Old_North_Arabian', 'Avestan', 'Inscriptional_Parthian',
      'Inscriptional_Pahlavi', 'Psalter_Pahlavi', 'Old_Turkic', 'Old_Hungarian', 'Nabataean',
      'Palmyrene', 'Hatran', 'Manichaean', 'Cypriot', 'Lydian', 'Meroitic_Cursive',
      'Meroitic_Hieroglyphs', 'Sogdian', 'Old_Sogdian', 'Elymaic', 'Chorasmian', 'Yezidi',
    ].map((s) => `\\p{Script=${s}}`).join('') +
    ']$',
  'u',
);
const RE_NSM = /^[\p{Mn}\p{Me}]$/u;
const RE_AN = /^[\u0660-\u0669\u066B\u066C]$/u;
const RE_EN = /^[0-9\u06F0-\u06F9]$/u;
const RE_L = /^[\p{L}\p{Mc}\p{Nd}\p{Nl}]$/u;

function bidiClass(ch: string): BidiClass {
  if (RE_NSM.test(ch)) return 'NSM';
  if (RE_AN.test(ch)) return 'AN';
  if (RE_EN.test(ch)) return 'EN';
  if (RE_RTL_SCRIPT.test(ch)) return 'R';
  if (RE_L.test(ch)) return 'L';
  return 'ON';
}

/**
 * Returns why s breaks the Bidi Rule, or undefined. Strings without R, AL or AN
 * characters are left-to-right and not checked, as RFC 8265 applies the rule only "to
 * strings that contain right-to-left code points".
 */
export function bidiViolation(s: string): string | undefined {
  const classes = Array.from(s, bidiClass);
  if (!classes.some((c) => c === 'R' || c === 'AN')) return undefined;
  // Rule 1: "The first character must be a character with Bidi property L, R, or AL";
  // an RTL string must start with R or AL.
  if (classes[0] !== 'R') return 'a right-to-left string must start with a right-to-left letter';
  // Rule 2: only R, AL, AN, EN, ES, CS, ET, ON, BN and NSM — no L.
  if (classes.includes('L')) return 'left-to-right letters in a right-to-left string';
  // Rule 3: "the end of the label must be a character with Bidi property R, AL, EN, or
  // AN, followed by zero or more characters with Bidi property NSM".
  let last = classes.length - 1;
  while (last > 0 && classes[last] === 'NSM') last--;
  const end = classes[last];
  if (end !== 'R' && end !== 'EN' && end !== 'AN') return 'a right-to-left string must end with a letter or digit';
  // Rule 4: "If an EN is present, no AN may be present, and vice versa."
  if (classes.includes('EN') && classes.includes('AN')) return 'mixed European and Arabic-Indic digits';
  return undefined;
}
