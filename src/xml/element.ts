// Element helpers: Rohrpost's stanzas are ltx Elements.
import { Element } from 'ltx';
export { Element, escapeXML, escapeXMLText } from 'ltx';

type Attrs = Record<string, string | number | undefined>;
type Child = Element | string | null | undefined | false;

/** Build an element: x('iq', {type: 'result'}, child, 'text'). Undefined attributes and falsy children are dropped. */
export function x(name: string, attrs?: Attrs | null, ...children: Child[]): Element {
  const clean: Record<string, string> = {};
  if (attrs) for (const [k, v] of Object.entries(attrs)) if (v !== undefined) clean[k] = String(v);
  const el = new Element(name, clean);
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}
