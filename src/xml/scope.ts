// Namespace bindings in scope while parsing (Namespaces in XML 1.0, third edition).
// A flat stack of (prefix, URI) pairs: elements push their declarations and truncate back to
// a mark when they close, so lookups walk only the few bindings a stream actually makes.
import { notWellFormed } from './violation.js';

export const NS_XML = 'http://www.w3.org/XML/1998/namespace';
export const NS_XMLNS = 'http://www.w3.org/2000/xmlns/';

const XML_PREFIX = 'xml';
const XMLNS_PREFIX = 'xmlns';
const DEFAULT = '';

export class NamespaceScope {
  private readonly prefixes: string[] = [];
  private readonly uris: string[] = [];
  private count = 0;

  /** Current depth of the binding stack, to truncate() back to. */
  get mark(): number {
    return this.count;
  }

  /** xmlns="uri": the empty string undeclares the default namespace, which is allowed. */
  declareDefault(uri: string): void {
    if (uri === NS_XML || uri === NS_XMLNS) throw notWellFormed(`'${uri}' cannot be the default namespace`);
    this.push(DEFAULT, uri);
  }

  /** xmlns:prefix="uri", with the reserved-name constraints of Namespaces in XML §3. */
  declarePrefix(prefix: string, uri: string): void {
    if (prefix === XMLNS_PREFIX) throw notWellFormed("the prefix 'xmlns' must not be declared");
    if (prefix === XML_PREFIX) {
      if (uri !== NS_XML) throw notWellFormed("the prefix 'xml' is bound to its own namespace");
    } else if (uri === NS_XML || uri === NS_XMLNS) {
      throw notWellFormed(`'${uri}' must not be bound to another prefix`);
    }
    // Namespaces in XML 1.0 §5 (Namespace constraint: No Prefix Undeclaring).
    if (uri === '') throw notWellFormed(`prefix '${prefix}' cannot be undeclared`);
    this.push(prefix, uri);
  }

  /** The URI bound to a prefix ('' = default namespace), or undefined if unbound. */
  lookup(prefix: string): string | undefined {
    for (let i = this.count - 1; i >= 0; i--) {
      if (this.prefixes[i] === prefix) return this.uris[i] === '' ? undefined : this.uris[i];
    }
    return prefix === XML_PREFIX ? NS_XML : undefined;
  }

  truncate(mark: number): void {
    // Drop the strings too: a URI is a slice of the input and would keep it alive.
    for (let i = mark; i < this.count; i++) {
      this.prefixes[i] = DEFAULT;
      this.uris[i] = DEFAULT;
    }
    this.count = mark;
  }

  clear(): void {
    this.count = 0;
    this.prefixes.length = 0;
    this.uris.length = 0;
  }

  private push(prefix: string, uri: string): void {
    this.prefixes[this.count] = prefix;
    this.uris[this.count] = uri;
    this.count++;
  }
}
