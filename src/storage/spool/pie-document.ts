// XEP-0227: Portable Import/Export Format for XMPP-IM Servers
// https://xmpp.org/extensions/xep-0227.html
//
// Each spool file is one complete XEP-0227 document holding one <host/> with one
// <user/>, so an admin can read it, and other servers can import it as it is.
import { parse } from 'ltx';
import { Element, escapeXML, escapeXMLText, x } from '../../xml/element.js';
import { StorageError } from '../../errors.js';

export const NS_PIE = 'urn:xmpp:pie:0';

const XML_DECLARATION = "<?xml version='1.0' encoding='UTF-8'?>";
/** Characters XML 1.0 cannot carry (§2.2 Char), with the u flag lone surrogates included. */
const NOT_XML_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF\uD800-\uDFFF]/u;

/** A fresh <user/> element with no data. */
export function newUserElement(user: string): Element {
  return x('user', { name: user });
}

function openTag(el: Element): string {
  let tag = '<' + el.name;
  for (const [k, v] of Object.entries(el.attrs)) {
    if (v !== undefined && v !== null) tag += ` ${k}='${escapeXML(String(v))}'`;
  }
  return tag + '>';
}

/**
 * The whole file for one user. The envelope is indented so the file reads well;
 * the data elements inside <user/> are written exactly as the codecs built them,
 * because whitespace inside them may be content.
 */
export function serialiseUserDocument(host: string, userEl: Element): string {
  const lines = [
    XML_DECLARATION,
    `<server-data xmlns='${NS_PIE}'>`,
    `  <host jid='${escapeXML(host)}'>`,
    `    ${openTag(userEl)}`,
  ];
  for (const child of userEl.children) {
    if (typeof child === 'string') {
      if (child.trim() !== '') lines.push('      ' + escapeXMLText(child));
    } else {
      lines.push('      ' + child.toString());
    }
  }
  lines.push('    </user>', '  </host>', '</server-data>', '');
  const text = lines.join('\n');
  // A character XML cannot hold would make the file unreadable, and with it the
  // whole account: refuse the write instead.
  if (NOT_XML_CHAR.test(text)) {
    throw new StorageError('EINVAL', 'data holds a character that XML cannot represent');
  }
  return text;
}

function dropIndentation(el: Element): void {
  el.children = el.children.filter((c) => typeof c !== 'string' || c.trim() !== '');
}

function corrupt(why: string, cause?: unknown): StorageError {
  return new StorageError('ECORRUPT', `spool file is corrupt: ${why}`, cause);
}

/** The only child element called `name`; throws if there is none or more than one. */
function onlyChild(parent: Element, name: string): Element {
  const found = parent.getChildElements().filter((c) => c.name === name);
  if (found.length !== 1) throw corrupt(`expected one <${name}/> in <${parent.name}/>, found ${found.length}`);
  return found[0];
}

/**
 * Parses a spool file and returns its <user/> element, detached from the envelope.
 * The file must be the document for exactly this host and user: anything else is
 * reported as corrupt rather than guessed at.
 */
export function parseUserDocument(text: string, host: string, user: string): Element {
  if (text.trim() === '') throw corrupt('empty file');
  let root: Element | null;
  try {
    root = parse(text);
  } catch (err) {
    throw corrupt('not well-formed XML', err);
  }
  if (!root) throw corrupt('incomplete document');
  if (root.name !== 'server-data' || root.attrs.xmlns !== NS_PIE) throw corrupt('root is not <server-data/>');
  const hostEl = onlyChild(root, 'host');
  if (hostEl.attrs.jid !== host) throw corrupt('host does not match the directory');
  const userEl = onlyChild(hostEl, 'user');
  if (userEl.attrs.name !== user) throw corrupt('user does not match the file name');
  dropIndentation(userEl);
  userEl.parent = null;
  return userEl;
}
