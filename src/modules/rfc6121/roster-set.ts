// RFC 6121 §2.1.5, §2.3.3, §2.5: what a client's roster set may contain, and the
// errors for what it may not.
import type { Element } from '../../xml/element.js';
import { tryParseJid, type Jid } from '../../jid/index.js';
import { StanzaError } from '../../errors.js';

/**
 * Longest item name and group name, in UTF-8 bytes. §2.3.3 lets the server refuse
 * longer ones with not-acceptable ("greater than a server-configured limit"); 1023
 * is what a JID part may hold, room enough for any name a person types.
 * TODO: make these config keys (roster.max_name_bytes) when the schema is opened up.
 */
export const MAX_NAME_BYTES = 1023;
export const MAX_GROUP_BYTES = 1023;

export type RosterSetRequest =
  | { remove: true; jid: string }
  | { remove: false; jid: string; name: string | undefined; groups: string[] };

/** Checks a contact's JID as a roster item needs it: bare, valid, not the user (unless removing). */
export function rosterItemJid(raw: string | undefined, user: Jid, removing = false): string {
  const contact = tryParseJid(raw ?? '');
  if (!contact) throw new StanzaError('jid-malformed', 'the item needs a valid jid');
  // Subscriptions are between bare JIDs (§3), so items are too; Prosody refuses others alike.
  if (!contact.isBare()) throw new StanzaError('bad-request', 'a roster item is a bare JID');
  // A user always sees its own resources' presence; an item for itself would only
  // confuse the subscription states (Prosody answers not-allowed as well).
  if (!removing && contact.equals(user.bare)) throw new StanzaError('not-allowed', 'the roster cannot hold its own account');
  return contact.toString();
}

export function checkName(name: string | undefined): string | undefined {
  if (name === undefined || name === '') return undefined;
  // §2.3.3: not-acceptable if "The length of the 'name' attribute is greater than a server-configured limit."
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) {
    throw new StanzaError('not-acceptable', `the name is longer than ${MAX_NAME_BYTES} bytes`);
  }
  return name;
}

export function checkGroups(groups: readonly string[]): string[] {
  const seen = new Set<string>();
  for (const g of groups) {
    // §2.3.3: not-acceptable if "The XML character data of the <group/> element is of
    // zero length (to remove an item from all groups, the client instead needs to
    // exclude any <group/> element from the roster set)."
    if (g === '') throw new StanzaError('not-acceptable', 'a group name cannot be empty');
    if (Buffer.byteLength(g, 'utf8') > MAX_GROUP_BYTES) {
      throw new StanzaError('not-acceptable', `a group name is longer than ${MAX_GROUP_BYTES} bytes`);
    }
    // §2.3.3: bad-request if "The <item/> element contains more than one <group/>
    // element, but there are duplicate groups".
    if (seen.has(g)) throw new StanzaError('bad-request', `the group '${g}' is given twice`);
    seen.add(g);
  }
  return [...seen];
}

/** Reads a roster set's <query/>; throws the error §2.3.3 names for each violation. */
export function parseRosterSet(query: Element, user: Jid): RosterSetRequest {
  const items = query.getChildElements().filter((c) => c.name === 'item');
  // §2.1.5: "The <query/> element MUST contain one and only one <item/> element."
  if (items.length !== 1) throw new StanzaError('bad-request', 'a roster set holds exactly one item');
  const item = items[0]!;
  const removing = item.attrs.subscription === 'remove';
  const jid = rosterItemJid(item.attrs.jid, user, removing);
  // §2.1.2.5: "in a roster set the server MUST ignore all values of the 'subscription'
  // attribute other than 'remove'". 'ask' and 'approved' are the server's to set
  // (subscriptions change through presence stanzas), so they are ignored too.
  if (removing) return { remove: true, jid };
  const groups = item.getChildElements().filter((c) => c.name === 'group').map((g) => g.getText());
  return { remove: false, jid, name: checkName(item.attrs.name), groups: checkGroups(groups) };
}
