// XEP-0045 §5: affiliations (long-lived, per bare JID) and roles (per visit), and
// the privileges that follow from them.
export type Affiliation = 'owner' | 'admin' | 'member' | 'none' | 'outcast';
export type Role = 'moderator' | 'participant' | 'visitor' | 'none';

export const AFFILIATIONS: readonly Affiliation[] = ['owner', 'admin', 'member', 'none', 'outcast'];
export const ROLES: readonly Role[] = ['moderator', 'participant', 'visitor', 'none'];

const AFFILIATION_RANK: Record<Affiliation, number> = { owner: 4, admin: 3, member: 2, none: 1, outcast: 0 };
const ROLE_RANK: Record<Role, number> = { moderator: 3, participant: 2, visitor: 1, none: 0 };

export function affiliationRank(a: Affiliation): number {
  return AFFILIATION_RANK[a];
}

export function roleRank(r: Role): number {
  return ROLE_RANK[r];
}

export function isAffiliation(s: string | undefined): s is Affiliation {
  return s !== undefined && (AFFILIATIONS as readonly string[]).includes(s);
}

export function isRole(s: string | undefined): s is Role {
  return s !== undefined && (ROLES as readonly string[]).includes(s);
}

/**
 * §5.1.2 default roles: owners and admins enter as moderators; in a moderated room
 * an occupant without affiliation enters as a visitor.
 */
export function defaultRole(affiliation: Affiliation, moderated: boolean): Role {
  if (affiliation === 'owner' || affiliation === 'admin') return 'moderator';
  if (affiliation === 'member') return 'participant';
  if (affiliation === 'outcast') return 'none';
  return moderated ? 'visitor' : 'participant';
}
