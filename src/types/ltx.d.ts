// Minimal typings for the parts of ltx that Rohrpost uses.
declare module 'ltx' {
  export type Node = Element | string;
  export class Element {
    constructor(name: string, attrs?: Record<string, string | number | undefined>);
    name: string;
    parent: Element | null;
    children: Node[];
    attrs: Record<string, string>;
    is(name: string, xmlns?: string): boolean;
    getName(): string;
    getNS(): string | undefined;
    findNS(prefix?: string): string | undefined;
    getAttr(name: string, xmlns?: string): string | undefined;
    getChild(name: string, xmlns?: string): Element | undefined;
    getChildren(name: string, xmlns?: string): Element[];
    getChildElements(): Element[];
    getText(): string;
    getChildText(name: string, xmlns?: string): string | null;
    root(): Element;
    up(): Element;
    c(name: string, attrs?: Record<string, string | number | undefined>): Element;
    cnode(child: Element): Element;
    append(...nodes: Node[]): Element;
    prepend(...nodes: Node[]): Element;
    t(text: string): Element;
    remove(el: Element | string, xmlns?: string): Element;
    text(val?: string): string;
    attr(name: string, val?: string): string | undefined;
    toString(): string;
    write(writer: (s: string) => void): void;
  }
  export function escapeXML(s: string): string;
  export function escapeXMLText(s: string): string;
  export function unescapeXML(s: string): string;
  export function unescapeXMLText(s: string): string;
  export function parse(s: string): Element;
  export function clone(el: Element): Element;
  export function createElement(name: string, attrs?: Record<string, string | undefined> | null, ...children: Node[]): Element;
  export class Parser {
    constructor(options?: unknown);
    write(data: string): void;
    end(data?: string): void;
    on(event: string, fn: (...args: any[]) => void): this;
  }
}
