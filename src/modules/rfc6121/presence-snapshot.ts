// A user's current presence, read from the sessions: what answers a probe (RFC 6121
// §4.3.2), what a contact gets when a subscription is approved (§3.1.5), and the
// unavailable presence a contact gets when it loses its subscription (§3.2.2, §3.3.3).
import { clone } from 'ltx';
import { x, type Element } from '../../xml/element.js';
import type { Session } from '../../router/session.js';
import type { SessionRegistry } from '../../router/sessions.js';
import { delay, NS_DELAY } from '../xep0203-delay.js';

/** The sessions of an account that have sent available presence. */
export function availableSessions(sessions: SessionRegistry, bare: string): Session[] {
  return sessions.resources(bare).filter((s) => s.available && s.presence);
}

/**
 * A copy of each available resource's last presence, from that resource, to `to`.
 * Children the client sent (show, status, priority, signatures, caps) are kept as
 * they were. With `stamp`, a XEP-0203 <delay/> says when the presence was sent.
 */
export function currentPresences(sessions: SessionRegistry, bare: string, to: string,
  stamp?: (s: Session) => Date | undefined): Element[] {
  return availableSessions(sessions, bare).map((s) => {
    const p = clone(s.presence!);
    p.attrs.from = s.jid.toString();
    p.attrs.to = to;
    delete p.attrs.id;
    const when = stamp?.(s);
    if (when) {
      // One stamp of ours; a client's own <delay/> children pass as they came.
      const ours = (c: Element | string) => typeof c !== 'string' && c.name === 'delay'
        && c.attrs.xmlns === NS_DELAY && c.attrs.from === s.jid.domain;
      p.children = p.children.filter((c) => !ours(c));
      p.append(delay(s.jid.domain, when));
    }
    return p;
  });
}

/** An unavailable presence from each available resource, to `to`. */
export function unavailablePresences(sessions: SessionRegistry, bare: string, to: string): Element[] {
  return availableSessions(sessions, bare).map((s) => x('presence', { from: s.jid.toString(), to, type: 'unavailable' }));
}

/** RFC 6121 §8.5.2.1.1: presence without type, or unavailable, goes to every available resource. */
export function deliverToAvailable(sessions: SessionRegistry, bare: string, stanza: Element): number {
  const targets = availableSessions(sessions, bare);
  for (const s of targets) s.send(stanza);
  return targets.length;
}
