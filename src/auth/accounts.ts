// The account service: derives SCRAM keys from a password (once, at creation or
// change — never at login) and stores only those. Used by the CLI and, through the
// module API, by in-band registration.
import type { AccountStore } from '../storage/types.js';
import { deriveCredentials } from './credentials.js';

export class ScramAccounts {
  constructor(private readonly store: AccountStore, private readonly iterations: number) {}

  create(host: string, user: string, password: string): Promise<boolean> {
    return this.store.createAccount(host, user, deriveCredentials(password, this.iterations));
  }

  setPassword(host: string, user: string, password: string): Promise<boolean> {
    return this.store.setCredentials(host, user, deriveCredentials(password, this.iterations));
  }

  remove(host: string, user: string): Promise<boolean> {
    return this.store.deleteAccount(host, user);
  }

  exists(host: string, user: string): Promise<boolean> {
    return this.store.exists(host, user);
  }
}
