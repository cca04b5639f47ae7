// The registry of bound client sessions: bare JID -> resource -> session.
import type { Session } from './session.js';

export class SessionRegistry {
  private readonly byBare = new Map<string, Map<string, Session>>();
  private total = 0;

  get count(): number {
    return this.total;
  }

  /** The session bound to this full JID's resource, if any. */
  get(bare: string, resource: string): Session | undefined {
    return this.byBare.get(bare)?.get(resource);
  }

  /** All sessions of an account (empty when offline). */
  resources(bare: string): Session[] {
    const m = this.byBare.get(bare);
    return m ? [...m.values()] : [];
  }

  isOnline(bare: string): boolean {
    return this.byBare.has(bare);
  }

  add(session: Session): void {
    const bare = session.jid.bareString();
    let m = this.byBare.get(bare);
    if (!m) this.byBare.set(bare, (m = new Map()));
    if (!m.has(session.jid.resource)) this.total++;
    m.set(session.jid.resource, session);
  }

  /** Removes the session if it is still the one bound to its resource. */
  remove(session: Session): boolean {
    const bare = session.jid.bareString();
    const m = this.byBare.get(bare);
    if (!m || m.get(session.jid.resource) !== session) return false;
    m.delete(session.jid.resource);
    this.total--;
    if (m.size === 0) this.byBare.delete(bare);
    return true;
  }

  *all(): IterableIterator<Session> {
    for (const m of this.byBare.values()) yield* m.values();
  }

  /**
   * The sessions a message to the bare JID goes to (RFC 6121 §8.5.2.1.1):
   * the available resources with the highest non-negative priority.
   */
  highestPriority(bare: string): Session[] {
    let best = -1;
    let out: Session[] = [];
    for (const s of this.resources(bare)) {
      if (!s.available || s.priority < 0) continue;
      if (s.priority > best) { best = s.priority; out = [s]; }
      else if (s.priority === best) out.push(s);
    }
    return out;
  }
}
