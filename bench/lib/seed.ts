// Mutual presence subscriptions ('both') created over the wire with the bench client,
// the way a client would, so that any server can be prepared the same way (Rohrpost,
// Prosody, ejabberd): no knowledge of its storage is needed.
//
// Every account taking part is logged in (with initial presence: subscription
// requests go to available resources) and reads its roster; pairs that are 'both' on
// both sides already are skipped. For each other pair (A, B), `concurrency` at a time:
//   A: roster set (item B), <presence type='subscribe' to=B/>
//   B: <presence type='subscribed' to=A/>, <presence type='subscribe' to=A/>
//   A: <presence type='subscribed' to=B/>
// The handshake is complete when each side has received the other's 'subscribed'.
// At the end every account reads its roster again; a pair counts as established only
// when both rosters list the other with subscription 'both'. Everything is bounded:
// each login by its own timeout, each roster read by queryTimeoutMs, the handshakes
// together by timeoutMs.
import { performance } from 'node:perf_hooks';
import { closeAll, runLogins } from '../client/runner.js';
import { attr } from '../client/scanner.js';
import { NS_ROSTER, escapeXml, iqResultFor } from '../client/stanzas.js';
import type { LoadSession, SessionOptions } from '../client/session.js';
import { sleep } from './proc.js';

export interface SeedOptions {
  /** How to reach the server (host, port, domain, password, tls, mechanism, timeoutMs, ...). */
  session: Omit<SessionOptions, 'username' | 'resource' | 'rosterGet' | 'presence' | 'onStanza'>;
  /** Local parts of the accounts; pairs refer to them by index. */
  users: readonly string[];
  /** Pairs of user indexes to make mutual contacts; order and duplicates do not matter. */
  pairs: ReadonlyArray<readonly [number, number]>;
  /** Handshakes in flight. */
  concurrency: number;
  /** Logins in flight while the accounts connect. */
  loginConcurrency: number;
  /** Limit of all handshakes together, in ms. */
  timeoutMs: number;
  /** Limit of one roster read, in ms. */
  queryTimeoutMs: number;
  /** Add the contact with a roster set before subscribing (what clients do); the server creates the item either way. */
  rosterSet: boolean;
  /** Resource of the seeding sessions. */
  resource: string;
  log(msg: string): void;
}

export interface SeedResult {
  /** Distinct pairs asked for. */
  pairs: number;
  /** Pairs that were 'both' on both sides before anything was sent. */
  already: number;
  /** Handshakes started, and completed (each side got the other's 'subscribed') in time. */
  started: number;
  completed: number;
  /** Pairs 'both' on both sides at the end, by the rosters read back. */
  established: number;
  /** Accounts whose roster could not be read (at the start or the end). */
  unreadRosters: number;
  logins: { ok: number; failed: number; errors: Record<string, number> };
  ms: number;
}

export const DEFAULT_SEED_OPTIONS: Pick<SeedOptions, 'concurrency' | 'loginConcurrency' | 'timeoutMs' | 'queryTimeoutMs' | 'rosterSet' | 'resource'> = {
  concurrency: 100, loginConcurrency: 50, timeoutMs: 300_000, queryTimeoutMs: 30_000, rosterSet: true, resource: 'seed',
};

interface Peer {
  session: LoadSession | null;
  /** Contacts this account asked to subscribe to during the seeding. */
  requested: Set<number>;
  /** Contacts whose 'subscribed' this account received. */
  approvedBy: Set<number>;
}

/** Creates mutual 'both' subscriptions for the pairs; resolves with how many hold at the end. */
export async function seedSubscriptions(opts: SeedOptions): Promise<SeedResult> {
  const t0 = performance.now();
  const n = opts.users.length;
  const domain = opts.session.domain;
  const jidOf = (i: number) => `${opts.users[i]}@${domain}`;
  const indexOf = new Map<string, number>();
  opts.users.forEach((u, i) => indexOf.set(`${u}@${domain}`.toLowerCase(), i));
  const senderOf = (tag: string): number | undefined => {
    const from = attr(tag, 'from');
    if (!from) return undefined;
    const slash = from.indexOf('/');
    return indexOf.get((slash < 0 ? from : from.slice(0, slash)).toLowerCase());
  };

  // Distinct pairs, smaller index first; the key is a * n + b.
  const wanted = new Map<number, readonly [number, number]>();
  for (const [x, y] of opts.pairs) {
    if (x === y || x < 0 || y < 0 || x >= n || y >= n) continue;
    const a = Math.min(x, y);
    const b = Math.max(x, y);
    wanted.set(a * n + b, [a, b]);
  }
  const keyOf = (x: number, y: number) => Math.min(x, y) * n + Math.max(x, y);
  const involved = new Set<number>();
  for (const [a, b] of wanted.values()) { involved.add(a); involved.add(b); }
  const order = [...involved].sort((p, q) => p - q);

  const result: SeedResult = {
    pairs: wanted.size, already: 0, started: 0, completed: 0, established: 0, unreadRosters: 0,
    logins: { ok: 0, failed: 0, errors: {} }, ms: 0,
  };
  const peers = new Map<number, Peer>();
  for (const i of order) peers.set(i, { session: null, requested: new Set(), approvedBy: new Set() });
  /** Handshakes waiting for completion, by pair key. */
  const waiting = new Map<number, () => void>();
  /** Roster reads waiting for their answer, by iq id. */
  const queries = new Map<string, (xml: string | null) => void>();
  let queryCount = 0;
  let setCount = 0;

  const checkPair = (x: number, y: number) => {
    const key = keyOf(x, y);
    const done = waiting.get(key);
    if (done && peers.get(x)!.approvedBy.has(y) && peers.get(y)!.approvedBy.has(x)) done();
  };

  const onStanza = (self: number) => (name: string, tag: string, xml: string): void => {
    const me = peers.get(self)!;
    if (name === 'presence') {
      const type = attr(tag, 'type');
      if (type !== 'subscribe' && type !== 'subscribed') return;
      const other = senderOf(tag);
      // Only requests between accounts meant to be contacts are answered.
      if (other === undefined || !wanted.has(keyOf(self, other))) return;
      if (type === 'subscribe') {
        me.session?.send(`<presence type='subscribed' to='${escapeXml(jidOf(other))}'/>`);
        if (!me.requested.has(other)) {
          me.requested.add(other);
          me.session?.send(`<presence type='subscribe' to='${escapeXml(jidOf(other))}'/>`);
        }
      } else {
        me.approvedBy.add(other);
        checkPair(self, other);
      }
    } else if (name === 'iq') {
      const type = attr(tag, 'type');
      const id = attr(tag, 'id') ?? '';
      if (type === 'set') {
        // A roster push: acknowledge it (RFC 6121 §2.1.6).
        me.session?.send(iqResultFor(id, attr(tag, 'from')));
      } else if (type === 'result' || type === 'error') {
        queries.get(id)?.(type === 'result' ? xml : null);
      }
    }
  };

  /** The contacts listed with subscription 'both' in an account's roster; null when unread. */
  const readBoth = (i: number): Promise<Set<number> | null> => new Promise((resolve) => {
    const session = peers.get(i)?.session;
    if (!session || session.state !== 'ready') { resolve(null); return; }
    const id = `seed-q${queryCount++}`;
    const timer = setTimeout(() => { queries.delete(id); resolve(null); }, opts.queryTimeoutMs);
    queries.set(id, (xml) => {
      clearTimeout(timer);
      queries.delete(id);
      if (xml === null) { resolve(null); return; }
      const both = new Set<number>();
      for (const m of xml.matchAll(/<(?:[\w.-]+:)?item\b[^>]*>/g)) {
        if (attr(m[0], 'subscription') !== 'both') continue;
        const jid = attr(m[0], 'jid');
        const c = jid === undefined ? undefined : indexOf.get(jid.toLowerCase());
        if (c !== undefined) both.add(c);
      }
      resolve(both);
    });
    session.send(`<iq type='get' id='${id}'><query xmlns='${NS_ROSTER}'/></iq>`);
  });
  /** Reads every roster, `limit` at a time. */
  const readAll = async (limit: number): Promise<Map<number, Set<number> | null>> => {
    const out = new Map<number, Set<number> | null>();
    let next = 0;
    const slot = async () => {
      while (next < order.length) {
        const i = order[next++]!;
        out.set(i, await readBoth(i));
      }
    };
    await Promise.all(Array.from({ length: Math.min(limit, order.length) }, slot));
    return out;
  };
  const holds = (rosters: Map<number, Set<number> | null>, a: number, b: number) =>
    rosters.get(a)?.has(b) === true && rosters.get(b)?.has(a) === true;

  let sessions: LoadSession[] = [];
  try {
    const logins = await runLogins({
      count: order.length, concurrency: opts.loginConcurrency, deadlineMs: opts.timeoutMs, keepOpen: true,
      session: (k) => ({
        ...opts.session, username: opts.users[order[k]!]!, resource: opts.resource,
        rosterGet: false, presence: true, onStanza: onStanza(order[k]!),
      }),
    });
    sessions = logins.sessions;
    result.logins = { ok: logins.ok, failed: logins.failed, errors: logins.errors };
    for (const s of sessions) {
      const i = indexOf.get(s.jid.slice(0, s.jid.indexOf('/')).toLowerCase());
      if (i !== undefined && peers.has(i)) peers.get(i)!.session = s;
    }

    const before = await readAll(opts.loginConcurrency);
    for (const r of before.values()) if (r === null) result.unreadRosters++;
    const todo: Array<readonly [number, number]> = [];
    for (const [a, b] of wanted.values()) {
      if (holds(before, a, b)) result.already++;
      else if (peers.get(a)!.session && peers.get(b)!.session) todo.push([a, b]);
    }
    opts.log(`seeding: ${wanted.size} pairs, ${result.already} already mutual, ${todo.length} to subscribe`);

    const deadline = performance.now() + opts.timeoutMs;
    let next = 0;
    const slot = async () => {
      while (next < todo.length) {
        const left = deadline - performance.now();
        if (left <= 0) return;
        const [a, b] = todo[next++]!;
        const key = a * n + b;
        const A = peers.get(a)!;
        result.started++;
        let timer: NodeJS.Timeout | undefined;
        const done = await new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), left);
          waiting.set(key, () => resolve(true));
          A.requested.add(b);
          const to = escapeXml(jidOf(b));
          if (opts.rosterSet) {
            A.session!.send(`<iq type='set' id='seed-s${setCount++}'><query xmlns='${NS_ROSTER}'><item jid='${to}'/></query></iq>`);
          }
          A.session!.send(`<presence type='subscribe' to='${to}'/>`);
          // Answers that came early (a stale request answered before) count too.
          checkPair(a, b);
        });
        clearTimeout(timer);
        waiting.delete(key);
        if (done) result.completed++;
        if (result.started % 5000 === 0) opts.log(`  seeding: ${result.completed}/${todo.length} handshakes done`);
      }
    };
    await Promise.all(Array.from({ length: Math.min(opts.concurrency, todo.length) }, slot));

    // The last 'subscribed' may still be on its way into the other roster's store: a
    // pair not yet mutual is read once more after a moment.
    let after = await readAll(opts.loginConcurrency);
    if ([...wanted.values()].some(([a, b]) => !holds(after, a, b)) && result.completed > 0) {
      await sleep(500);
      after = await readAll(opts.loginConcurrency);
    }
    for (const r of after.values()) if (r === null) result.unreadRosters++;
    for (const [a, b] of wanted.values()) if (holds(after, a, b)) result.established++;
  } finally {
    for (const resolve of queries.values()) resolve(null);
    if (sessions.length > 0) {
      await closeAll(sessions);
      // The server answers </stream:stream> before it has finished with the session.
      await sleep(Math.min(5000, 300 + sessions.length / 5));
    }
    result.ms = performance.now() - t0;
  }
  return result;
}
