// XEP-0045 §9 (admin use cases: kick, ban, voice, member lists) and §10 (owner use
// cases: configuration, destruction) for one room. Each call returns the iq result
// payload and the stanzas the change makes the room send.
import { StanzaError } from '../../errors.js';
import { tryParseJid, type Jid } from '../../jid/index.js';
import { x, type Element } from '../../xml/element.js';
import { applyConfigForm, configForm } from './forms.js';
import { NS_DATA, NS_MUC_ADMIN, NS_MUC_OWNER, STATUS } from './ns.js';
import { affiliationRank, defaultRole, isAffiliation, isRole, type Affiliation } from './roles.js';
import type { Occupant, Room } from './room.js';

export interface AdminOutcome {
  payload: Element | null;
  out: Element[];
}

function requireOwner(room: Room, from: Jid): void {
  if (room.affiliationOf(from) !== 'owner') throw new StanzaError('forbidden', 'only owners may do this');
}

/** §10.1–§10.2, §10.9: the muc#owner query. */
export function ownerQuery(room: Room, from: Jid, type: 'get' | 'set', query: Element): AdminOutcome {
  requireOwner(room, from);
  if (type === 'get') {
    return { payload: x('query', { xmlns: NS_MUC_OWNER }, configForm(room.config, `Configuration for ${room.address}`)), out: [] };
  }
  const destroy = query.getChild('destroy');
  if (destroy) return { payload: null, out: room.destroy(destroy) };
  const form = query.getChild('x', NS_DATA);
  if (!form) throw new StanzaError('bad-request', 'expected a data form or <destroy/>');
  if (form.attrs.type === 'cancel') {
    // §10.1.3: cancelling the initial configuration destroys the new room.
    return { payload: null, out: room.locked ? room.destroy(undefined) : [] };
  }
  room.config = applyConfigForm(room.config, form, room.limits.maxUsers);
  const wasLocked = room.locked;
  room.locked = false;
  const out: Element[] = [];
  if (!wasLocked) {
    // §10.2.1: occupants are told that the configuration changed.
    out.push(...room.toAll(x('message', { from: room.address, type: 'groupchat' },
      x('x', { xmlns: 'http://jabber.org/protocol/muc#user' }, x('status', { code: STATUS.CONFIG_CHANGED })))));
  }
  return { payload: null, out };
}

/** §9 and §8: the muc#admin query — lists (get) and role/affiliation changes (set). */
export function adminQuery(room: Room, from: Jid, type: 'get' | 'set', query: Element): AdminOutcome {
  const actor = room.occupantOf(from);
  const actorAffiliation = room.affiliationOf(from);
  const items = query.getChildren('item');
  if (items.length === 0) throw new StanzaError('bad-request', 'expected at least one <item/>');
  if (type === 'get') return { payload: adminList(room, actor, actorAffiliation, items[0]!), out: [] };
  // Check every item before changing anything, so a refused item changes nothing.
  const changes = items.map((item) => planChange(room, actor, actorAffiliation, item));
  const out: Element[] = [];
  for (const apply of changes) out.push(...apply());
  return { payload: null, out };
}

function adminList(room: Room, actor: Occupant | undefined, actorAffiliation: Affiliation, item: Element): Element {
  const q = x('query', { xmlns: NS_MUC_ADMIN });
  if (isAffiliation(item.attrs.affiliation)) {
    if (affiliationRank(actorAffiliation) < affiliationRank('admin')) throw new StanzaError('forbidden', 'only admins and owners may see affiliation lists');
    for (const [bare, a] of room.affiliations) if (a === item.attrs.affiliation) q.append(x('item', { affiliation: a, jid: bare }));
    return q;
  }
  if (isRole(item.attrs.role)) {
    if (actor?.role !== 'moderator') throw new StanzaError('forbidden', 'only moderators may see role lists');
    for (const o of room.occupants.values()) {
      if (o.role === item.attrs.role) q.append(x('item', { nick: o.nick, role: o.role, affiliation: room.affiliationOf(o.jid), jid: o.jid.toString() }));
    }
    return q;
  }
  throw new StanzaError('bad-request', 'an item needs a valid role or affiliation');
}

function planChange(room: Room, actor: Occupant | undefined, actorAffiliation: Affiliation, item: Element): () => Element[] {
  const reason = item.getChildText('reason');
  const itemChildren = [
    actor ? x('actor', { nick: actor.nick }) : null,
    reason !== null ? x('reason', null, reason) : null,
  ].filter((c): c is Element => c !== null);
  const { role, affiliation } = item.attrs;
  if (role !== undefined && affiliation === undefined) {
    if (!isRole(role)) throw new StanzaError('bad-request', 'unknown role');
    if (actor?.role !== 'moderator') throw new StanzaError('forbidden', 'only moderators may change roles');
    const target = item.attrs.nick !== undefined ? room.occupants.get(item.attrs.nick) : undefined;
    if (!target) throw new StanzaError('item-not-found', 'no occupant with that nickname');
    const targetAffiliation = room.affiliationOf(target.jid);
    if (role === 'moderator' && affiliationRank(actorAffiliation) < affiliationRank('admin')) {
      throw new StanzaError('forbidden', 'only admins and owners may grant moderation');
    }
    // §8.2/§9.6: a moderator cannot lower an occupant whose affiliation is admin or higher
    // (nor one at or above their own).
    if (role !== 'moderator' && (affiliationRank(targetAffiliation) >= affiliationRank('admin') ||
        (target !== actor && affiliationRank(targetAffiliation) > affiliationRank(actorAffiliation)))) {
      throw new StanzaError('not-allowed', 'that occupant outranks you');
    }
    if (role === 'none') return () => room.removeOccupant(target, { codes: [STATUS.KICKED], itemChildren });
    return () => {
      target.role = role;
      return room.broadcastPresence(target, { itemChildren });
    };
  }
  if (affiliation !== undefined && role === undefined) {
    if (!isAffiliation(affiliation)) throw new StanzaError('bad-request', 'unknown affiliation');
    const target = tryParseJid(item.attrs.jid ?? '') ?? (item.attrs.nick !== undefined ? room.occupants.get(item.attrs.nick)?.jid : undefined);
    if (!target) throw new StanzaError('bad-request', 'an affiliation change needs a jid');
    const bare = target.bareString();
    const current = room.affiliations.get(bare) ?? 'none';
    const isOwner = actorAffiliation === 'owner';
    if (!isOwner) {
      // §9: admins manage members and outcasts only, never owners or other admins.
      if (actorAffiliation !== 'admin') throw new StanzaError('forbidden', 'only admins and owners may change affiliations');
      if (affiliationRank(current) >= affiliationRank('admin') || affiliationRank(affiliation) >= affiliationRank('admin')) {
        throw new StanzaError('not-allowed', 'admins cannot change owners or admins');
      }
    }
    if (current === 'owner' && affiliation !== 'owner' && [...room.affiliations.values()].filter((a) => a === 'owner').length === 1) {
      throw new StanzaError('conflict', 'a room must keep at least one owner');
    }
    return () => {
      room.setAffiliation(bare, affiliation);
      const out: Element[] = [];
      for (const occ of [...room.occupants.values()]) {
        if (occ.jid.bareString() !== bare) continue;
        if (affiliation === 'outcast') out.push(...room.removeOccupant(occ, { codes: [STATUS.BANNED], itemChildren }));
        else if (room.config.membersOnly && affiliation === 'none') out.push(...room.removeOccupant(occ, { codes: [STATUS.AFFILIATION_LOST], itemChildren }));
        else {
          occ.role = defaultRole(affiliation, room.config.moderated);
          out.push(...room.broadcastPresence(occ, { itemChildren }));
        }
      }
      return out;
    };
  }
  throw new StanzaError('bad-request', 'an item changes either a role or an affiliation');
}
