// RFC 6121 Appendix A: the subscription states and what each subscription stanza does
// to them, as the RFC's tables give it ("This appendix provides detailed information
// about subscription states and how they are handled by the user's server and the
// contact's server").
// https://www.rfc-editor.org/rfc/rfc6121#appendix-A
//
// Pure data and functions: the tables are walked by the tests row by row.
import type { Subscription } from '../../router/services.js';

/** A.1: the nine states a user can be in with respect to one contact. */
export type SubscriptionState =
  | 'None' | 'None + Pending Out' | 'None + Pending In' | 'None + Pending Out+In'
  | 'To' | 'To + Pending In'
  | 'From' | 'From + Pending Out'
  | 'Both';

export const STATES: readonly SubscriptionState[] = [
  'None', 'None + Pending Out', 'None + Pending In', 'None + Pending Out+In',
  'To', 'To + Pending In', 'From', 'From + Pending Out', 'Both',
];

export type SubscriptionType = 'subscribe' | 'subscribed' | 'unsubscribe' | 'unsubscribed';

export const SUBSCRIPTION_TYPES: ReadonlySet<string> = new Set<SubscriptionType>(['subscribe', 'subscribed', 'unsubscribe', 'unsubscribed']);

/**
 * One row: whether the stanza is passed on (routed to the contact for outbound
 * stanzas, delivered to the user's resources for inbound ones) and the new state
 * ('same' for "no state change").
 */
export interface Transition { pass: boolean; next: SubscriptionState | 'same' }

type Table = Record<SubscriptionState, Transition>;

const yes = (next: SubscriptionState | 'same'): Transition => ({ pass: true, next });
const no: Transition = { pass: false, next: 'same' };

/** A.2: the user's server processing the user's outbound subscription stanzas. */
export const OUTBOUND: Record<SubscriptionType, Table> = {
  // A.2.1 Outbound subscribe: always routed.
  subscribe: {
    'None': yes('None + Pending Out'), 'None + Pending Out': yes('same'),
    'None + Pending In': yes('None + Pending Out+In'), 'None + Pending Out+In': yes('same'),
    'To': yes('same'), 'To + Pending In': yes('same'),
    'From': yes('From + Pending Out'), 'From + Pending Out': yes('same'), 'Both': yes('same'),
  },
  // A.2.2 Outbound unsubscribe: always routed.
  unsubscribe: {
    'None': yes('same'), 'None + Pending Out': yes('None'),
    'None + Pending In': yes('same'), 'None + Pending Out+In': yes('None + Pending In'),
    'To': yes('None'), 'To + Pending In': yes('None + Pending In'),
    'From': yes('same'), 'From + Pending Out': yes('From'), 'Both': yes('From'),
  },
  // A.2.3 Outbound subscribed: routed only where a request is pending in. In None,
  // None + Pending Out and To it is a pre-approval (§3.4), handled beside the table.
  subscribed: {
    'None': no, 'None + Pending Out': no,
    'None + Pending In': yes('From'), 'None + Pending Out+In': yes('From + Pending Out'),
    'To': no, 'To + Pending In': yes('Both'),
    'From': no, 'From + Pending Out': no, 'Both': no,
  },
  // A.2.4 Outbound unsubscribed: routed where the contact has or asks for a subscription.
  unsubscribed: {
    'None': no, 'None + Pending Out': no,
    'None + Pending In': yes('None'), 'None + Pending Out+In': yes('None + Pending Out'),
    'To': no, 'To + Pending In': yes('To'),
    'From': yes('None'), 'From + Pending Out': yes('None + Pending Out'), 'Both': yes('To'),
  },
};

/** A.3: the contact's server processing inbound subscription stanzas (the user here is the recipient). */
export const INBOUND: Record<SubscriptionType, Table> = {
  // A.3.1 Inbound subscribe. In From, From + Pending Out and Both the server answers
  // 'subscribed' on the user's behalf (§3.1.3), handled beside the table.
  subscribe: {
    'None': yes('None + Pending In'), 'None + Pending Out': yes('None + Pending Out+In'),
    'None + Pending In': no, 'None + Pending Out+In': no,
    'To': yes('To + Pending In'), 'To + Pending In': no,
    'From': no, 'From + Pending Out': no, 'Both': no,
  },
  // A.3.2 Inbound unsubscribe.
  unsubscribe: {
    'None': no, 'None + Pending Out': no,
    'None + Pending In': yes('None'), 'None + Pending Out+In': yes('None + Pending Out'),
    'To': no, 'To + Pending In': yes('To'),
    'From': yes('None'), 'From + Pending Out': yes('None + Pending Out'), 'Both': yes('To'),
  },
  // A.3.3 Inbound subscribed: only an outstanding request is approved.
  subscribed: {
    'None': no, 'None + Pending Out': yes('To'),
    'None + Pending In': no, 'None + Pending Out+In': yes('To + Pending In'),
    'To': no, 'To + Pending In': no,
    'From': no, 'From + Pending Out': yes('Both'), 'Both': no,
  },
  // A.3.4 Inbound unsubscribed.
  unsubscribed: {
    'None': no, 'None + Pending Out': yes('None'),
    'None + Pending In': no, 'None + Pending Out+In': yes('None + Pending In'),
    'To': yes('None'), 'To + Pending In': yes('None + Pending In'),
    'From': no, 'From + Pending Out': yes('From'), 'Both': yes('From'),
  },
};

export interface StateParts { subscription: Subscription; pendingOut: boolean; pendingIn: boolean }

const PARTS: Record<SubscriptionState, StateParts> = {
  'None': { subscription: 'none', pendingOut: false, pendingIn: false },
  'None + Pending Out': { subscription: 'none', pendingOut: true, pendingIn: false },
  'None + Pending In': { subscription: 'none', pendingOut: false, pendingIn: true },
  'None + Pending Out+In': { subscription: 'none', pendingOut: true, pendingIn: true },
  'To': { subscription: 'to', pendingOut: false, pendingIn: false },
  'To + Pending In': { subscription: 'to', pendingOut: false, pendingIn: true },
  'From': { subscription: 'from', pendingOut: false, pendingIn: false },
  'From + Pending Out': { subscription: 'from', pendingOut: true, pendingIn: false },
  'Both': { subscription: 'both', pendingOut: false, pendingIn: false },
};

export function partsOf(state: SubscriptionState): StateParts {
  return PARTS[state];
}

/**
 * The state for a roster item's subscription and 'ask', and whether a request is
 * pending in. Combinations the states exclude (a pending request beside the
 * subscription it asks for) read as that subscription.
 */
export function stateOf(subscription: Subscription, pendingOut: boolean, pendingIn: boolean): SubscriptionState {
  switch (subscription) {
    case 'both': return 'Both';
    case 'from': return pendingOut ? 'From + Pending Out' : 'From';
    case 'to': return pendingIn ? 'To + Pending In' : 'To';
    default:
      if (pendingOut && pendingIn) return 'None + Pending Out+In';
      if (pendingOut) return 'None + Pending Out';
      return pendingIn ? 'None + Pending In' : 'None';
  }
}

/** Whether the contact is subscribed to the user's presence in this state. */
export function hasFrom(state: SubscriptionState): boolean {
  return state === 'From' || state === 'From + Pending Out' || state === 'Both';
}

/** States where an outbound 'subscribed' records a pre-approval (§3.4) instead of being routed. */
export const PRE_APPROVABLE: ReadonlySet<SubscriptionState> = new Set<SubscriptionState>(['None', 'None + Pending Out', 'To']);
