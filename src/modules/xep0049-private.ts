// XEP-0049: Private XML Storage — https://xmpp.org/extensions/xep-0049.html
// A client keeps arbitrary XML fragments on its server, filed by the namespace of
// each fragment's root element (bookmarks, client preferences). Stored as
// <query xmlns='jabber:iq:private'>…fragments…</query>, the XEP-0227 form.
import { clone } from 'ltx';
import { defineModule } from '../router/module-api.js';
import { StanzaError } from '../errors.js';
import { x, type Element } from '../xml/element.js';
import type { Codec } from '../storage/types.js';

const NS_PRIVATE = 'jabber:iq:private';
const NS_VCARD = 'vcard-temp';
/** §2.3: "namespaces beginning with 'jabber:' or 'http://jabber.org/', as well as 'vcard-temp'" are reserved. */
const RESERVED_PREFIXES = ['jabber:', 'http://jabber.org/'];

/**
 * The most private XML one user may keep, in bytes of serialised XML, over all
 * namespaces. A fixed limit, not a config key (yet): each change rewrites the
 * user's spool file, and one stanza alone may carry 256 KiB (limits.max_stanza_size).
 */
export const MAX_PRIVATE_BYTES = 512 * 1024;

const privateCodec: Codec<Element[]> = {
  encode: (fragments) => x('query', { xmlns: NS_PRIVATE }, ...fragments.map((f) => clone(f))),
  decode: (query) => query.getChildElements(),
  match: (el) => el.name === 'query' && el.attrs.xmlns === NS_PRIVATE,
};

/** The namespace a fragment is filed under; not-acceptable if it may not be stored. */
function storageNamespace(fragment: Element): string {
  const ns = fragment.getNS();
  // §2.3: the root element of a fragment MUST be "scoped by its own namespace":
  // one that only inherits jabber:iq:private from <query/> is caught here too.
  if (!ns || ns === NS_VCARD || RESERVED_PREFIXES.some((p) => ns.startsWith(p))) {
    throw new StanzaError('not-acceptable', `'${ns ?? ''}' is a reserved namespace and cannot hold private data`);
  }
  return ns;
}

/**
 * A copy of the fragment that can live on its own in the spool: the namespace
 * declarations it inherited from <query/> or the iq are written onto it.
 */
function detach(fragment: Element): Element {
  const copy = clone(fragment);
  for (let p = fragment.parent; p; p = p.parent) {
    for (const [name, value] of Object.entries(p.attrs)) {
      if ((name === 'xmlns' || name.startsWith('xmlns:')) && !(name in copy.attrs)) copy.attrs[name] = value;
    }
  }
  return copy;
}

/** The fragments of a request; §2.3: "At least one child element ... MUST be included". */
function fragmentsOf(query: Element): Element[] {
  const fragments = query.getChildElements();
  // The spec also says a get without a child SHOULD get "Bad Format", which is no
  // RFC 6120 condition; the MUST above (not-acceptable) covers both cases.
  if (fragments.length === 0) throw new StanzaError('not-acceptable', 'name the namespace in a child element');
  return fragments;
}

export default defineModule({
  name: 'private',
  xep: { number: 49, version: '1.2', status: 'complete', note: `up to ${MAX_PRIVATE_BYTES / 1024} KiB per user` },
  load(api) {
    api.feature(NS_PRIVATE);
    const store = api.keyval<Element[]>('private', privateCodec);
    // Reads and writes of one user's data run one after another, so two resources
    // saving different namespaces at once do not lose either change.
    const queues = new Map<string, Promise<unknown>>();
    const serialised = <T>(user: string, task: () => Promise<T>): Promise<T> => {
      const run = (queues.get(user) ?? Promise.resolve()).then(task, task);
      const settled = run.catch(() => undefined);
      queues.set(user, settled);
      void settled.then(() => { if (queues.get(user) === settled) queues.delete(user); });
      return run;
    };

    api.iq('get', 'self', NS_PRIVATE, 'query', async (ev, query) => {
      const requested = fragmentsOf(query);
      const namespaces = new Set(requested.map(storageNamespace));
      // §2.3: "A client MUST NOT query for more than one namespace in a single IQ get request."
      if (namespaces.size > 1) throw new StanzaError('bad-request', 'ask for one namespace at a time');
      const [ns] = namespaces;
      const stored = await serialised(ev.to.toString(), () => store.get(ev.to.domain, ev.to.local));
      const found = (stored ?? []).filter((f) => f.getNS() === ns);
      // Nothing stored: the empty request element comes back, as clients expect.
      return x('query', { xmlns: NS_PRIVATE }, ...(found.length > 0 ? found : requested.map(detach)));
    });

    api.iq('set', 'self', NS_PRIVATE, 'query', (ev, query) => {
      const incoming = fragmentsOf(query).map((f) => ({ ns: storageNamespace(f), fragment: detach(f) }));
      const replaced = new Set(incoming.map((i) => i.ns));
      return serialised(ev.to.toString(), async () => {
        const kept = ((await store.get(ev.to.domain, ev.to.local)) ?? []).filter((f) => !replaced.has(f.getNS() ?? ''));
        // An iq set "MAY contain multiple elements qualified by the same namespace":
        // together they replace what was stored under that namespace.
        const next = [...kept, ...incoming.map((i) => i.fragment)];
        const size = next.reduce((n, f) => n + Buffer.byteLength(f.toString(), 'utf8'), 0);
        if (size > MAX_PRIVATE_BYTES) {
          // not-acceptable (with the limit in the text), as for oversized vCards.
          throw new StanzaError('not-acceptable', `private data would take ${size} bytes; at most ${MAX_PRIVATE_BYTES} are stored`);
        }
        await store.set(ev.to.domain, ev.to.local, next);
        return null;
      });
    });

    // §2.3: getting or setting another user's data "MUST return a Forbidden or Service
    // Unavailable error ... the former is preferable". The server holds none of its own.
    const forbidden = () => { throw new StanzaError('forbidden', 'private data belongs to its owner only'); };
    for (const type of ['get', 'set'] as const) {
      api.iq(type, 'bare', NS_PRIVATE, 'query', forbidden);
      api.iq(type, 'host', NS_PRIVATE, 'query', forbidden);
    }
  },
});
