// Rosters in storage: reads, and changes serialised per user so that a roster set
// and a subscription answer arriving together cannot overwrite each other (the store
// itself offers only get and set).
import type { Jid } from '../../jid/index.js';
import type { KeyValStore } from '../../storage/types.js';
import { Roster } from './roster-model.js';

export class RosterStore {
  /** The tail of each user's queue of changes. */
  private readonly queues = new Map<string, Promise<void>>();

  /** `maxItems` is read at each use, so a changed configuration applies at once. */
  constructor(private readonly kv: KeyValStore<Roster>, private readonly maxItems: () => number) {}

  /** The user's roster; an empty one when nothing is stored. */
  async read(user: Jid): Promise<Roster> {
    const roster = (await this.kv.get(user.domain, user.local)) ?? new Roster();
    roster.limit = this.maxItems();
    return roster;
  }

  /**
   * Runs `change` on the freshest roster after every earlier change for the same user
   * has been written, and writes the roster if it changed. Resolves with what `change`
   * returned once the change is durable; rejects (writing nothing) if `change` throws.
   */
  update<R>(user: Jid, change: (roster: Roster) => R): Promise<{ result: R; roster: Roster }> {
    const key = user.bareString();
    const previous = this.queues.get(key) ?? Promise.resolve();
    const run = previous.then(async () => {
      const roster = await this.read(user);
      const result = change(roster);
      if (roster.changed) await this.kv.set(user.domain, user.local, roster);
      return { result, roster };
    });
    const tail = run.then(() => undefined, () => undefined);
    this.queues.set(key, tail);
    void tail.then(() => {
      if (this.queues.get(key) === tail) this.queues.delete(key);
    });
    return run;
  }
}
