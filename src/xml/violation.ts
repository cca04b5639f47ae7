// How the parser's helpers report a broken rule. A plain object rather than an Error: it is
// thrown at most once per stream and never escapes the parser, so a stack trace is wasted work.
import type { StreamErrorCondition } from '../errors.js';

export class Violation {
  constructor(readonly condition: StreamErrorCondition, readonly text: string) {}
}

export function notWellFormed(text: string): Violation {
  return new Violation('not-well-formed', text);
}

/** RFC 6120 §11.1: comments, PIs, DTDs and entity references other than the predefined ones. */
export function restrictedXml(text: string): Violation {
  return new Violation('restricted-xml', text);
}

export function policyViolation(text: string): Violation {
  return new Violation('policy-violation', text);
}
