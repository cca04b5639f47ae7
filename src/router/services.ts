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

/** What an administrator sets when creating a room (`rohrpost room create`, muc.rooms). */
export interface MucRoomOptions {
  /** Natural-language room name (muc#roomconfig_roomname). */
  name?: string;
  description?: string;
  /** A non-empty password makes the room password-protected. */
  password?: string;
  public?: boolean;
  membersOnly?: boolean;
  moderated?: boolean;
  /** Occupant limit; 0 or absent: the service's muc.max_users. */
  maxUsers?: number;
}

export interface MucRoomInfo {
  jid: string;
  name: string;
  occupants: number;
  persistent: boolean;
  public: boolean;
}

export { ServiceRefusal } from '../errors.js';

/** Offered by the MUC module as 'muc': room administration (admin socket, CLI). */
export interface MucAdmin {
  /** The MUC service domains, one per host. */
  services(): string[];
  /** Creates a persistent, unlocked room; returns its address. Refuses an existing room or an unknown service. */
  createRoom(service: string, name: string, options: MucRoomOptions): Promise<string>;
  /** Destroys a room (§10.9): occupants are told, with the reason if given; its file goes. */
  destroyRoom(service: string, name: string, reason?: string): Promise<void>;
  /** Every room of one service, or of all of them. */
  listRooms(service?: string): Promise<MucRoomInfo[]>;
}

export interface ServiceMap {
  roster: RosterService;
  muc: MucAdmin;
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
