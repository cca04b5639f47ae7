// RFC 6121 §2.1.6 roster pushes, and which resources get them.
// §2.2: "If a connected resource or available resource requests the roster, it is
// referred to as an 'interested resource'. The server MUST send roster pushes to all
// interested resources."
import { x } from '../../xml/element.js';
import type { Jid } from '../../jid/index.js';
import type { Session } from '../../router/session.js';
import type { SessionRegistry } from '../../router/sessions.js';
import { itemElement, NS_ROSTER, type RosterItem } from './roster-model.js';

/** A pushed change: the item as it now is, or the JID of a removed item. */
export type RosterChange = RosterItem | { jid: string; removed: true };

export class RosterPusher {
  /** Sessions that asked for the roster; a reconnect is a new session and must ask again. */
  private readonly interested = new WeakSet<Session>();
  private counter = 0;

  constructor(private readonly sessions: SessionRegistry) {}

  markInterested(session: Session): void {
    this.interested.add(session);
  }

  isInterested(session: Session): boolean {
    return this.interested.has(session);
  }

  /**
   * Sends one push per change to each interested resource of the user. The push has
   * no 'from': §2.1.6 has the client accept a push that "has no 'from' attribute
   * (i.e., implicitly from the bare JID of the user's account)".
   */
  push(user: Jid, changes: readonly RosterChange[], version: number): void {
    if (changes.length === 0) return;
    const targets = this.sessions.resources(user.bareString()).filter((s) => this.interested.has(s));
    for (const change of changes) {
      for (const s of targets) {
        const item = 'removed' in change ? x('item', { jid: change.jid, subscription: 'remove' }) : itemElement(change);
        s.send(x('iq', { type: 'set', id: `push${++this.counter}`, to: s.jid.toString() },
          x('query', { xmlns: NS_ROSTER, ver: String(version) }, item)));
      }
    }
  }
}
