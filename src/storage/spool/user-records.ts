// The layer under the account and key-value stores: whole <user/> elements
// (XEP-0227) by host and user. The spool keeps them in files, the memory store in
// a map; both give the stores above the same semantics.
import type { Element } from '../../xml/element.js';

/** What a change to a user's record decided. */
export interface UserChange<R> {
  /** What the operation returns to its caller. */
  result: R;
  /** The new <user/> element; null removes the user; undefined (or absent) writes nothing. */
  next?: Element | null;
}

export interface UserRecords {
  /**
   * The user's <user/> element, or null if there is no such user. Callers must not modify it.
   * `revalidate` checks that a cached copy still matches the file, for data that an admin
   * command may change beside the running server (accounts and passwords).
   */
  read(host: string, user: string, revalidate?: boolean): Promise<Element | null>;
  /**
   * Runs `change` on a private copy of the user's element (null if there is no such
   * user) and stores what it returns. Changes to one user run one at a time, so each
   * sees the result of the one before; the promise resolves once the new state is
   * durable. If storing fails, the previous state stays.
   */
  update<R>(host: string, user: string, change: (current: Element | null) => UserChange<R>): Promise<R>;
  /** The users of a host, sorted. */
  list(host: string): Promise<string[]>;
  /** Waits for pending changes; later calls are refused. */
  close(): Promise<void>;
}
