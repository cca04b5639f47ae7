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

/**
 * Append-only lists of elements per user under one key ('offline', later message
 * archives). The spool keeps each list in its own file beside the user file
 * (spool/<domain>/<user>.<key>.list) and adds to it by appending, never by
 * rewriting. The account's data: deleting the account deletes its lists.
 */
export interface ListStore {
  /**
   * Appends `item` unless the list already holds `max` items. Resolves true once the
   * item is durable (fsync'd); false, with nothing written, when the list is full.
   */
  append(host: string, user: string, item: Element, max?: number): Promise<boolean>;
  /** The items in the order they were appended (empty when there is no list). */
  readAll(host: string, user: string): Promise<Element[]>;
  /**
   * Removes the oldest `n` items, the ones a reader got from readAll() and has
   * handled; items appended since stay. Resolves once the change is durable.
   */
  removeFirst(host: string, user: string, n: number): Promise<void>;
  /** Removes every item. Resolves once the change is durable. */
  clear(host: string, user: string): Promise<void>;
}

export interface Storage {
  accounts: AccountStore;
  keyval<T>(key: string, codec: Codec<T>): KeyValStore<T>;
  /** The list store for `key` (lower-case letters, digits and '-', starting with a letter). */
  list(key: string): ListStore;
  /** Waits for all queued writes, then releases resources. */
  close(): Promise<void>;
}
