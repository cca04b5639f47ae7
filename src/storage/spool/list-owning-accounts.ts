// An account's lists are its data too: AccountStore.deleteAccount promises to
// remove "the account and all its data", so deleting an account deletes its lists.
import type { AccountStore, StoredCredentials } from '../types.js';

export class ListOwningAccounts implements AccountStore {
  constructor(
    private readonly inner: AccountStore,
    /** Removes every list of the user, whatever its key. */
    private readonly removeLists: (host: string, user: string) => Promise<void>,
  ) {}

  getCredentials(host: string, user: string): Promise<StoredCredentials | null> {
    return this.inner.getCredentials(host, user);
  }

  createAccount(host: string, user: string, creds: StoredCredentials): Promise<boolean> {
    return this.inner.createAccount(host, user, creds);
  }

  setCredentials(host: string, user: string, creds: StoredCredentials): Promise<boolean> {
    return this.inner.setCredentials(host, user, creds);
  }

  async deleteAccount(host: string, user: string): Promise<boolean> {
    // Lists first: a crash in between leaves an account without its old messages,
    // never stale messages waiting for whoever registers the name next.
    await this.removeLists(host, user);
    return this.inner.deleteAccount(host, user);
  }

  listAccounts(host: string): Promise<string[]> {
    return this.inner.listAccounts(host);
  }

  exists(host: string, user: string): Promise<boolean> {
    return this.inner.exists(host, user);
  }
}
