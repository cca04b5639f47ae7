// Account management as modules (in-band registration) see it: passwords in,
// SCRAM keys stored. main.ts supplies the implementation from auth/.
export interface AccountEvent { host: string; user: string }

export interface AccountService {
  /** Creates the account; false if it exists. */
  create(host: string, user: string, password: string): Promise<boolean>;
  /** Replaces the password; false if there is no such account. */
  setPassword(host: string, user: string, password: string): Promise<boolean>;
  /** Removes the account with all its data; false if there was none. */
  remove(host: string, user: string): Promise<boolean>;
  exists(host: string, user: string): Promise<boolean>;
}
