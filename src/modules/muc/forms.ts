// XEP-0045 §10.2 and §16.5.3: the muc#roomconfig data form (XEP-0004) — building the
// form an owner fills in, and applying a submitted one to a room's configuration.
import { StanzaError } from '../../errors.js';
import { x, type Element } from '../../xml/element.js';
import { NS_DATA, NS_MUC_ROOMCONFIG } from './ns.js';

export type Whois = 'anyone' | 'moderators';
export type AllowPm = 'anyone' | 'moderators' | 'none';

export interface RoomConfig {
  name: string;
  description: string;
  persistent: boolean;
  public: boolean;
  passwordProtected: boolean;
  password: string;
  membersOnly: boolean;
  moderated: boolean;
  /** 0 means no limit. */
  maxUsers: number;
  whois: Whois;
  allowPm: AllowPm;
}

export function defaultRoomConfig(maxUsers: number): RoomConfig {
  return {
    name: '', description: '', persistent: false, public: true, passwordProtected: false, password: '',
    membersOnly: false, moderated: false, maxUsers, whois: 'moderators', allowPm: 'anyone',
  };
}

const F = (name: string) => `muc#roomconfig_${name}`;

function field(v: string, type: string, label: string, value: string, options?: Array<[string, string]>): Element {
  return x('field', { var: v, type, label },
    x('value', null, value),
    ...(options ?? []).map(([val, lab]) => x('option', { label: lab }, x('value', null, val))));
}

const bool = (b: boolean) => (b ? '1' : '0');

/** The form sent in answer to an owner's configuration request (§10.2). */
export function configForm(c: RoomConfig, title: string): Element {
  return x('x', { xmlns: NS_DATA, type: 'form' },
    x('title', null, title),
    x('field', { var: 'FORM_TYPE', type: 'hidden' }, x('value', null, NS_MUC_ROOMCONFIG)),
    field(F('roomname'), 'text-single', 'Natural-language room name', c.name),
    field(F('roomdesc'), 'text-single', 'Short description of the room', c.description),
    field(F('persistentroom'), 'boolean', 'Make room persistent', bool(c.persistent)),
    field(F('publicroom'), 'boolean', 'Make room publicly searchable', bool(c.public)),
    field(F('passwordprotectedroom'), 'boolean', 'Password required to enter', bool(c.passwordProtected)),
    field(F('roomsecret'), 'text-private', 'Password', c.password),
    field(F('membersonly'), 'boolean', 'Make room members-only', bool(c.membersOnly)),
    field(F('moderatedroom'), 'boolean', 'Make room moderated', bool(c.moderated)),
    field(F('maxusers'), 'text-single', 'Maximum number of occupants (0: no limit)', String(c.maxUsers)),
    field(F('whois'), 'list-single', 'Who may discover real JIDs', c.whois,
      [['moderators', 'Moderators only'], ['anyone', 'Anyone']]),
    field(F('allowpm'), 'list-single', 'Who may send private messages', c.allowPm,
      [['anyone', 'Anyone'], ['moderators', 'Moderators only'], ['none', 'Nobody']]));
}

/** XEP-0004 §3.3: boolean values are "0"/"false" or "1"/"true". */
function parseBool(v: string, name: string): boolean {
  if (v === '1' || v === 'true') return true;
  if (v === '0' || v === 'false') return false;
  throw new StanzaError('not-acceptable', `${name} must be a boolean`);
}

function oneOf<T extends string>(v: string, allowed: readonly T[], name: string): T {
  if ((allowed as readonly string[]).includes(v)) return v as T;
  throw new StanzaError('not-acceptable', `${name} must be one of ${allowed.join(', ')}`);
}

/**
 * Applies a submitted form to a copy of the configuration. Unknown fields are
 * ignored (XEP-0004 lets a form carry more than the service understands); a value of
 * the wrong type is not-acceptable; a form that is not a submission is bad-request.
 */
export function applyConfigForm(current: RoomConfig, form: Element, maxUsersLimit: number): RoomConfig {
  if (form.attrs.type !== 'submit') throw new StanzaError('bad-request', 'expected a submitted form');
  const c = { ...current };
  for (const f of form.getChildren('field')) {
    const name = f.attrs.var;
    const values = f.getChildren('value').map((v) => v.getText());
    if (values.length > 1) throw new StanzaError('bad-request', `${name} takes one value`);
    const v = values[0] ?? '';
    switch (name) {
      case 'FORM_TYPE':
        if (v !== NS_MUC_ROOMCONFIG) throw new StanzaError('bad-request', 'wrong FORM_TYPE');
        break;
      case F('roomname'): c.name = v; break;
      case F('roomdesc'): c.description = v; break;
      case F('persistentroom'): c.persistent = parseBool(v, name); break;
      case F('publicroom'): c.public = parseBool(v, name); break;
      case F('passwordprotectedroom'): c.passwordProtected = parseBool(v, name); break;
      case F('roomsecret'): c.password = v; break;
      case F('membersonly'): c.membersOnly = parseBool(v, name); break;
      case F('moderatedroom'): c.moderated = parseBool(v, name); break;
      case F('maxusers'): {
        if (!/^\d{1,9}$/.test(v)) throw new StanzaError('not-acceptable', `${name} must be a number`);
        const n = Number(v);
        if (maxUsersLimit > 0 && (n === 0 || n > maxUsersLimit)) {
          throw new StanzaError('not-acceptable', `${name} must be between 1 and ${maxUsersLimit}`);
        }
        c.maxUsers = n;
        break;
      }
      case F('whois'): c.whois = oneOf(v, ['anyone', 'moderators'] as const, name); break;
      case F('allowpm'): c.allowPm = oneOf(v, ['anyone', 'moderators', 'none'] as const, name); break;
      default: break;
    }
  }
  if (c.passwordProtected && c.password === '') {
    throw new StanzaError('not-acceptable', 'a password-protected room needs a roomsecret');
  }
  return c;
}
