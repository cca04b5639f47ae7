// Contracts between modules. A module that owns some data offers a service under a
// name; others use it through the API without importing the owner's internals
// (Prosody's shared module functions, with a typed interface).
import type { Jid } from '../jid/index.js';

export type Subscription = 'none' | 'to' | 'from' | 'both';

/** Offered by the roster module as 'roster'. */
export interface RosterService {
  /** The subscription `user` (an account's bare JID) has with `contact` (a bare JID). */
  subscription(user: Jid, contact: Jid): Promise<Subscription>;
  /**
   * Adds or updates an item as an admin does (`rohrpost roster add`): name and groups
   * set, subscription unchanged; pushed to the user's interested resources.
   */
  setItem(user: Jid, contact: Jid, name: string | undefined, groups: string[]): Promise<void>;
}

export interface ServiceMap {
  roster: RosterService;
}

export class ServiceRegistry {
  private readonly services = new Map<string, unknown>();

  provide<K extends keyof ServiceMap>(name: K, service: ServiceMap[K]): () => void {
    if (this.services.has(name)) throw new Error(`service ${name} is already provided`);
    this.services.set(name, service);
    return () => {
      if (this.services.get(name) === service) this.services.delete(name);
    };
  }

  use<K extends keyof ServiceMap>(name: K): ServiceMap[K] | undefined {
    return this.services.get(name) as ServiceMap[K] | undefined;
  }
}
