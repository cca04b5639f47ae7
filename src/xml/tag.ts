// Reads one start tag (XML §3.1 STag / EmptyElemTag) from the latin1 view of the input into an
// ltx Element, checking attributes and namespace prefixes (Namespaces in XML 1.0).
import type { Buffer } from 'node:buffer';
import { Element } from './element.js';
import { CHAR_CLASS, SPACE, VALUE_STOP, isNameStartCodePoint } from './chars.js';
import { readAttributeValue } from './content.js';
import { NAME_HAS_COLON, NAME_IS_XMLNS, NameReader, type NameCache } from './names.js';
import type { NamespaceScope } from './scope.js';
import { notWellFormed, policyViolation, type Violation } from './violation.js';

const GT = 0x3e;
const SLASH = 0x2f;
const EQUALS = 0x3d;
const QUOT = 0x22;
const APOS = 0x27;
const XMLNS = 'xmlns';
const XMLNS_PREFIXED = 'xmlns:';
// An attribute of this name would set the prototype of the plain attrs object instead.
const PROTO = '__proto__';
// Up to this many attributes a linear scan finds duplicates faster than a hash lookup.
const LINEAR_DUPLICATE_SCAN = 16;

export class StartTagReader {
  /** Results of the last successful read(). */
  element: Element | null = null;
  rawName = '';
  selfClosing = false;
  /** Scope depth before this element's declarations, to truncate back to when it closes. */
  scopeMark = 0;

  private readonly names: NameReader;
  private readonly attributeNames: string[] = [];
  private readonly attributeFlags: number[] = [];

  constructor(private readonly scope: NamespaceScope, private readonly maxAttributes: number, names?: NameCache) {
    this.names = new NameReader(names);
  }

  /**
   * Reads the start tag whose name begins at p (just after '<'). Returns the index after its '>',
   * or -1 if the input ends first; nothing is changed then. `limit` is the index past which the
   * enclosing stanza would be too large; `source` holds the same bytes as `s`.
   */
  read(s: string, p: number, limit: number, source: Buffer): number {
    const len = s.length;
    const names = this.names;
    let i = names.read(s, p, source);
    if (i < 0) return -1;
    const name = names.name;
    const rawName = names.raw;
    const nameFlags = names.flags;
    const element = new Element(name);
    const attrs = element.attrs;
    const attributeNames = this.attributeNames;
    let count = 0;
    let allFlags = 0;
    let selfClosing = false;
    for (;;) {
      const afterValue = i;
      while (i < len && (CHAR_CLASS[s.charCodeAt(i)] & SPACE) !== 0) i++;
      if (i >= len) return -1;
      const c = s.charCodeAt(i);
      if (c === GT) {
        i++;
        break;
      }
      if (c === SLASH) {
        if (i + 1 >= len) return -1;
        if (s.charCodeAt(i + 1) !== GT) throw notWellFormed("expected '>' after '/'");
        i += 2;
        selfClosing = true;
        break;
      }
      if (i === afterValue) throw notWellFormed(`white space needed before attribute in <${name}>`);
      i = names.read(s, i, source);
      if (i < 0) return -1;
      const attrName = names.name;
      const attrFlags = names.flags;
      while (i < len && (CHAR_CLASS[s.charCodeAt(i)] & SPACE) !== 0) i++;
      if (i >= len) return -1;
      if (s.charCodeAt(i) !== EQUALS) throw notWellFormed(`expected '=' after attribute '${attrName}'`);
      i++;
      while (i < len && (CHAR_CLASS[s.charCodeAt(i)] & SPACE) !== 0) i++;
      if (i >= len) return -1;
      const quote = s.charCodeAt(i);
      if (quote !== QUOT && quote !== APOS) throw notWellFormed(`value of attribute '${attrName}' must be quoted`);
      // Most values are plain ASCII: find the closing quote and learn that in one pass.
      const valueStart = i + 1;
      let close = valueStart;
      let stop = 0;
      while (close < len && (CHAR_CLASS[stop = s.charCodeAt(close)] & VALUE_STOP) === 0) close++;
      const plain = close < len && stop === quote;
      if (!plain) {
        close = s.indexOf(quote === QUOT ? '"' : "'", close);
        if (close < 0) return -1;
      }
      if (close > limit) throw policyViolation('element exceeds the size limit');
      if (count === this.maxAttributes) throw policyViolation(`more than ${this.maxAttributes} attributes`);
      if (isDuplicate(attributeNames, count, attrs, attrName)) throw notWellFormed(`duplicate attribute '${attrName}'`);
      attributeNames[count] = attrName;
      this.attributeFlags[count] = attrFlags;
      count++;
      allFlags |= attrFlags;
      const value = plain ? s.slice(valueStart, close) : readAttributeValue(s, valueStart, close, source);
      if (attrName !== PROTO) attrs[attrName] = value;
      else Object.defineProperty(attrs, PROTO, { value, enumerable: true, writable: true, configurable: true });
      i = close + 1;
    }
    // The tag is complete: only now touch shared state.
    this.scopeMark = this.scope.mark;
    if ((allFlags & NAME_IS_XMLNS) !== 0) this.declareNamespaces(count, attrs);
    if ((nameFlags & NAME_HAS_COLON) !== 0) {
      const prefix = prefixOf(name);
      if (prefix === XMLNS) throw notWellFormed(`element <${name}> must not use the prefix 'xmlns'`);
      if (this.scope.lookup(prefix) === undefined) throw undeclared(prefix, name);
    }
    if ((allFlags & NAME_HAS_COLON) !== 0) this.checkAttributePrefixes(count, name);
    this.element = element;
    this.rawName = rawName;
    this.selfClosing = selfClosing;
    return i;
  }

  private declareNamespaces(count: number, attrs: Record<string, string>): void {
    for (let k = 0; k < count; k++) {
      if ((this.attributeFlags[k] & NAME_IS_XMLNS) === 0) continue;
      const attr = this.attributeNames[k];
      if (attr === XMLNS) {
        this.scope.declareDefault(attrs[attr]);
        continue;
      }
      if (attr.length === XMLNS_PREFIXED.length || attr.indexOf(':', XMLNS_PREFIXED.length) >= 0) {
        throw notWellFormed(`'${attr}' is not a valid namespace declaration`);
      }
      checkNcNameStart(attr, XMLNS_PREFIXED.length);
      this.scope.declarePrefix(attr.slice(XMLNS_PREFIXED.length), attrs[attr]);
    }
  }

  /** Prefixes must be declared, and no two attributes may share an expanded name (NS §6.3). */
  private checkAttributePrefixes(count: number, elementName: string): void {
    let seen: Set<string> | null = null;
    let firstExpanded = '';
    for (let k = 0; k < count; k++) {
      const flags = this.attributeFlags[k];
      if ((flags & NAME_HAS_COLON) === 0 || (flags & NAME_IS_XMLNS) !== 0) continue;
      const attr = this.attributeNames[k];
      const prefix = prefixOf(attr);
      if (prefix === XMLNS) throw notWellFormed(`attribute '${attr}' must not use the prefix 'xmlns'`);
      const uri = this.scope.lookup(prefix);
      if (uri === undefined) throw undeclared(prefix, `${elementName} ${attr}=...`);
      const expanded = `${uri} ${attr.slice(prefix.length + 1)}`;
      if (firstExpanded === '') {
        firstExpanded = expanded;
        continue;
      }
      seen ??= new Set([firstExpanded]);
      if (seen.has(expanded)) throw notWellFormed(`attribute '${attr}' repeats an expanded name in <${elementName}>`);
      seen.add(expanded);
    }
  }
}

function undeclared(prefix: string, where: string): Violation {
  return notWellFormed(`undeclared namespace prefix '${prefix}' in <${where}>`);
}

function isDuplicate(names: string[], before: number, attrs: Record<string, string>, name: string): boolean {
  if (before > LINEAR_DUPLICATE_SCAN) return Object.hasOwn(attrs, name);
  for (let k = 0; k < before; k++) if (names[k] === name) return true;
  return false;
}

/** The prefix of a QName (NS §4), after checking it has exactly one colon with a name on each side. */
function prefixOf(name: string): string {
  const colon = name.indexOf(':');
  if (colon === 0 || colon === name.length - 1 || name.indexOf(':', colon + 1) >= 0) {
    throw notWellFormed(`'${name}' is not a valid qualified name`);
  }
  checkNcNameStart(name, colon + 1);
  return name.slice(0, colon);
}

/** The local part of a QName must start with a NameStartChar (no digit, '-' or '.'). */
function checkNcNameStart(name: string, at: number): void {
  const cp = name.codePointAt(at) ?? 0;
  if (!isNameStartCodePoint(cp)) throw notWellFormed(`'${name}' is not a valid qualified name`);
}
