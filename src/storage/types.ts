// Store interfaces. Modules and auth see only these; the spool (file per user)
// and the memory store (tests) implement them, later SQL or LDAP backends too.
import type { Element } from '../xml/element.js';

export type ScramHash = 'SCRAM-SHA-1' | 'SCRAM-SHA-256';

/** What a SCRAM login needs; the password itself is never stored. */
export interface ScramKeys {
  salt: Buffer;
  iterations: number;
  storedKey: Buffer;
  serverKey: Buffer;
}

export type StoredCredentials = Record<ScramHash, ScramKeys>;

/** Accounts: existence and credentials. */
export interface AccountStore {
  /** Credentials of an account, or null if there is no such account. */
  getCredentials(host: string, user: string): Promise<StoredCredentials | null>;
  /** Creates the account; false if it exists already. */
  createAccount(host: string, user: string, creds: StoredCredentials): Promise<boolean>;
  /** Replaces the credentials; false if there is no such account. */
  setCredentials(host: string, user: string, creds: StoredCredentials): Promise<boolean>;
  /** Removes the account and all its data; false if there was none. */
  deleteAccount(host: string, user: string): Promise<boolean>;
  /** Local parts of all accounts of a host, sorted. Reads the directory, so only for admin use. */
  listAccounts(host: string): Promise<string[]>;
  exists(host: string, user: string): Promise<boolean>;
}

/**
 * Per-user data by key ('roster', 'vcard', 'private', ...). In the spool each key is
 * one child element of the user's <user/> element (XEP-0227); the codec maps
 * between the module's value and that element.
 */
export interface KeyValStore<T> {
  get(host: string, user: string): Promise<T | undefined>;
  /** undefined removes the key. Resolves once the change is durable (fsync'd). */
  set(host: string, user: string, value: T | undefined): Promise<void>;
}

export interface Codec<T> {
  encode(value: T): Element;
  decode(el: Element): T;
  /** Matches the element that holds this key's data under <user/>. */
  match(el: Element): boolean;
}

export interface Storage {
  accounts: AccountStore;
  keyval<T>(key: string, codec: Codec<T>): KeyValStore<T>;
  /** Waits for all queued writes, then releases resources. */
  close(): Promise<void>;
}
