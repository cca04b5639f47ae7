// The open elements of the stanza being read: an explicit stack (never recursion), so nesting
// is bounded only by maxDepth and a deep stanza cannot overflow the call stack.
import type { Element } from './element.js';
import { CHAR_CLASS, SPACE } from './chars.js';

export class OpenElements {
  /** Open elements; 0 between stanzas, 1 when only the stanza itself is open. */
  depth = 0;
  private readonly elements: (Element | null)[] = [];
  private readonly rawNames: string[] = [];
  private readonly scopeMarks: number[] = [];

  /** Opens `el`: the stanza itself at depth 0, else a child of the current element. */
  open(el: Element, rawName: string, scopeMark: number): void {
    if (this.depth > 0) this.adopt(el);
    const d = this.depth++;
    this.elements[d] = el;
    this.rawNames[d] = rawName;
    this.scopeMarks[d] = scopeMark;
  }

  /** Adds an element that is already complete (an empty-element tag) to the current one. */
  adopt(el: Element): void {
    const parent = this.elements[this.depth - 1]!;
    el.parent = parent;
    parent.children.push(el);
  }

  /** Text goes into the last child if that is text already (text next to a CDATA section). */
  appendText(text: string): void {
    const children = this.elements[this.depth - 1]!.children;
    const last = children.length - 1;
    if (last >= 0 && typeof children[last] === 'string') children[last] += text;
    else children.push(text);
  }

  /** Whether '</' s[from, gt) '>' closes the current element: the same name as written, then S?. */
  closedBy(s: string, from: number, gt: number): boolean {
    const rawName = this.rawNames[this.depth - 1];
    const n = rawName.length;
    if (from + n > gt) return false;
    // A loop beats startsWith's call overhead for names this short.
    for (let k = 0; k < n; k++) if (s.charCodeAt(from + k) !== rawName.charCodeAt(k)) return false;
    let i = from + n;
    while (i < gt && (CHAR_CLASS[s.charCodeAt(i)] & SPACE) !== 0) i++;
    return i === gt;
  }

  /** The current element's name, for error messages. */
  get currentName(): string {
    return this.elements[this.depth - 1]!.name;
  }

  /** The namespace-scope mark to truncate to when the current element closes. */
  get currentScopeMark(): number {
    return this.scopeMarks[this.depth - 1];
  }

  /** Closes the current element and returns it. */
  close(): Element {
    const d = --this.depth;
    const el = this.elements[d]!;
    this.elements[d] = null;
    return el;
  }

  clear(): void {
    this.depth = 0;
    this.elements.length = 0;
  }
}
