// AccountStore over user records: an account is a <user/> element, its password
// the SCRAM credentials inside it.
import type { AccountStore, StoredCredentials } from '../types.js';
import type { UserRecords } from './user-records.js';
import { newUserElement } from './pie-document.js';
import { checkCredentials, readCredentials, replaceCredentials } from './pie-scram.js';

export class RecordAccountStore implements AccountStore {
  constructor(private readonly records: UserRecords) {}

  async getCredentials(host: string, user: string): Promise<StoredCredentials | null> {
    // `rohrpost passwd` may have changed the file beside the running server.
    const userEl = await this.records.read(host, user, true);
    return userEl ? readCredentials(userEl) : null;
  }

  async createAccount(host: string, user: string, creds: StoredCredentials): Promise<boolean> {
    checkCredentials(creds);
    // The check and the write run in the user's queue, so of concurrent
    // creations of one name exactly one sees no account and wins.
    return this.records.update(host, user, (current) => {
      if (current) return { result: false };
      const userEl = newUserElement(user);
      replaceCredentials(userEl, creds);
      return { result: true, next: userEl };
    });
  }

  async setCredentials(host: string, user: string, creds: StoredCredentials): Promise<boolean> {
    checkCredentials(creds);
    return this.records.update(host, user, (current) => {
      if (!current) return { result: false };
      replaceCredentials(current, creds);
      return { result: true, next: current };
    });
  }

  async deleteAccount(host: string, user: string): Promise<boolean> {
    return this.records.update(host, user, (current) => (current ? { result: true, next: null } : { result: false }));
  }

  async listAccounts(host: string): Promise<string[]> {
    return this.records.list(host);
  }

  async exists(host: string, user: string): Promise<boolean> {
    return (await this.records.read(host, user, true)) !== null;
  }
}
