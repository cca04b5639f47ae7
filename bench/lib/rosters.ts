// Rosters for benchmark accounts, written straight into the spool through the
// storage API (XEP-0227 form, as the roster module keeps it) before the server
// starts, so the server reads them like any other stored roster.
import { openStorage } from '../../src/storage/index.js';
import { Roster, rosterCodec, type RosterItem } from '../../src/modules/rfc6121/roster-model.js';

export interface RosterSpec {
  /** The account's local part. */
  user: string;
  /** Contacts' local parts (same domain), all with subscription 'both'. */
  contacts: readonly string[];
}

/** Writes the rosters, `concurrency` at a time; each replaces what the account had. */
export async function writeRosters(spoolDir: string, domain: string, specs: readonly RosterSpec[],
  concurrency = 32): Promise<{ written: number; ms: number }> {
  const t0 = Date.now();
  const storage = openStorage('spool', spoolDir, { cacheSize: 0 });
  const rosters = storage.keyval('roster', rosterCodec());
  let next = 0;
  const slot = async () => {
    while (next < specs.length) {
      const spec = specs[next++]!;
      const items = new Map<string, RosterItem>();
      for (const c of spec.contacts) {
        const jid = `${c}@${domain}`;
        items.set(jid, { jid, name: c, subscription: 'both', ask: false, approved: false, groups: [] });
      }
      await rosters.set(domain, spec.user, new Roster(1, items));
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, specs.length) }, slot));
  } finally {
    await storage.close();
  }
  return { written: specs.length, ms: Date.now() - t0 };
}
