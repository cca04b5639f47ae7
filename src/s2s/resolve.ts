// Where to connect for a remote XMPP domain — RFC 6120 §3.2 (SRV lookup, fallback)
// https://www.rfc-editor.org/rfc/rfc6120#section-3.2, RFC 2782 (SRV ordering)
// https://www.rfc-editor.org/rfc/rfc2782, XEP-0368 (SRV records for direct TLS)
// https://xmpp.org/extensions/xep-0368.html. A pure helper: no logging, no caching.
import { promises as dns, type SrvRecord } from 'node:dns';
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { ConfigError } from '../errors.js';

/** One place to try, with the name it came from (for logs; certificates are checked against the domain). */
export interface S2sTarget {
  host: string;
  address: string;
  port: number;
  directTls: boolean;
}

export interface ResolverOptions {
  /** DNS server 'ip' or 'ip:port' (IPv6 '[::1]:53'); null: the system's resolver */
  resolver: string | null;
  /** static overrides: domain -> 'host:port' (host may be an IP or name; '[v6]:port'); a prefix 'tls://' means direct TLS */
  routes: Record<string, string>;
  /** per DNS query */
  timeoutMs: number;
  /** A number in [0, 1) for the weighted choice of RFC 2782; Math.random by default (tests pass their own). */
  random?: () => number;
}

// XEP-0368 §3 names the direct TLS service; RFC 6120 §3.2.1 the STARTTLS one.
const SERVICE_DIRECT_TLS = '_xmpps-server._tcp';
const SERVICE_STARTTLS = '_xmpp-server._tcp';
// RFC 6120 §3.2.2: the fallback uses "the "xmpp-server" port of 5269".
const DEFAULT_PORT = 5269;
const ROUTE_TLS_PREFIX = 'tls://';
const RE_ROUTE = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:/[\]]+)):([0-9]{1,5})$/;
// Two tries: a lost UDP packet should not cost a federation link. c-ares 1.34 backs off
// between tries: with timeout t and 2 tries it sends at 0 and 2t and gives up at 4t (older
// versions double per try and give up at 3t), so t = timeoutMs / 4 keeps both tries inside
// the caller's budget; our own deadline enforces it whatever the c-ares version.
const DNS_TRIES = 2;
const TRY_FRACTION = 4;

interface Service {
  host: string;
  port: number;
  directTls: boolean;
}

/** RFC 6761 §6.3: name resolution libraries "SHOULD always return the IP loopback address" for these. */
function isLocalhostName(name: string): boolean {
  return name === 'localhost' || name.endsWith('.localhost');
}

function toAsciiHost(name: string): string {
  const n = name.replace(/\.$/, '');
  return isIP(n) === 4 ? n : domainToASCII(n);
}

function parseRoute(domain: string, value: string): Service {
  const directTls = value.startsWith(ROUTE_TLS_PREFIX);
  const m = RE_ROUTE.exec(directTls ? value.slice(ROUTE_TLS_PREFIX.length) : value);
  const port = m ? Number(m[3]) : 0;
  // Names are looked up in A-labels; an IPv6 address only counts inside brackets.
  const host = !m ? '' : m[1] !== undefined ? (isIP(m[1]) === 6 ? m[1].toLowerCase() : '') : toAsciiHost(m[2]!);
  if (host === '' || port < 1 || port > 65535) {
    throw new ConfigError(`s2s.routes.${domain}`, value, 'host:port or tls://host:port, e.g. 10.0.0.5:5269');
  }
  return { host, port, directTls };
}

/**
 * RFC 2782: lowest priority first; within one priority a weighted random order, where
 * records of weight 0 go first in the list so they keep "a very small chance of being selected".
 */
function orderSrv(records: SrvRecord[], random: () => number): SrvRecord[] {
  const out: SrvRecord[] = [];
  const priorities = [...new Set(records.map((r) => r.priority))].sort((a, b) => a - b);
  for (const p of priorities) {
    const group = records.filter((r) => r.priority === p).sort((a, b) => Number(a.weight !== 0) - Number(b.weight !== 0));
    while (group.length > 0) {
      const total = group.reduce((sum, r) => sum + r.weight, 0);
      // "choose a uniform random number between 0 and the sum computed (inclusive), and
      // select the RR whose running sum value is the first in the selected order which is
      // greater than or equal to the random number selected".
      const pick = Math.floor(random() * (total + 1));
      let running = 0;
      const i = group.findIndex((r) => (running += r.weight) >= pick);
      out.push(...group.splice(i < 0 ? 0 : i, 1));
    }
  }
  return out;
}

export class S2sResolver {
  readonly #dns: dns.Resolver;
  readonly #custom: boolean;
  readonly #routes = new Map<string, Service>();
  readonly #random: () => number;
  readonly #timeoutMs: number;

  constructor(opts: ResolverOptions) {
    this.#timeoutMs = opts.timeoutMs;
    this.#dns = new dns.Resolver({ timeout: Math.max(1, Math.floor(opts.timeoutMs / TRY_FRACTION)), tries: DNS_TRIES });
    this.#custom = opts.resolver !== null;
    if (opts.resolver !== null) {
      try {
        this.#dns.setServers([opts.resolver]);
      } catch {
        throw new ConfigError('s2s.resolver', opts.resolver, "an IP address, optionally with a port ('ip:port', '[v6]:port')");
      }
    }
    for (const [domain, value] of Object.entries(opts.routes)) {
      this.#routes.set(domain.toLowerCase().replace(/\.$/, ''), parseRoute(domain, value));
    }
    this.#random = opts.random ?? Math.random;
  }

  /**
   * Candidates in the order to try. [] means the domain does not resolve / service explicitly unavailable. Never throws for DNS errors (NXDOMAIN, timeout...).
   * Without answers it takes about 2 × timeoutMs (SRV queries, then address queries, each
   * round in parallel), plus the system's own lookup when no resolver is configured.
   */
  async resolve(domain: string): Promise<S2sTarget[]> {
    const name = domain.replace(/\.$/, '');
    // A configured route replaces DNS for the domain entirely; if its host does not resolve,
    // the admin's choice still stands and we do not go looking elsewhere.
    const route = this.#routes.get(name);
    if (route) return this.#addresses([route]);
    // An IP-literal domain (RFC 7622 §3.2) is its own address; there is nothing to look up.
    const literal = name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name;
    if (isIP(literal) !== 0) return [{ host: literal, address: literal, port: DEFAULT_PORT, directTls: false }];
    const ascii = domainToASCII(name);
    if (ascii === '') return [];

    const [direct, starttls] = await Promise.all([this.#srv(`${SERVICE_DIRECT_TLS}.${ascii}`), this.#srv(`${SERVICE_STARTTLS}.${ascii}`)]);
    if (direct.length === 0 && starttls.length === 0) {
      // RFC 6120 §3.2.2: without SRV records, "a normal "A" or "AAAA" address record
      // resolution" of the domain itself. A domain that does not exist fails here too.
      return this.#addresses([{ host: ascii, port: DEFAULT_PORT, directTls: false }]);
    }
    // RFC 2782: a Target of "." means "the service is decidedly not available at this
    // domain", and RFC 6120 §3.2.1 says the initiating entity "MUST abort SRV processing";
    // falling back to the domain's address would overrule the operator, so we do not. Such
    // a record only removes its own service: a '.' for direct TLS leaves STARTTLS usable.
    const usable = (r: SrvRecord): boolean => r.name !== '' && r.name !== '.';
    // XEP-0368 §3 would mix both services by priority and weight, "However, clients MAY
    // choose to prefer one type of connection over the other": we prefer direct TLS, which
    // saves a round trip and never shows a stream header in the clear.
    const services: Service[] = [
      ...orderSrv(direct.filter(usable), this.#random).map((r) => ({ host: r.name, port: r.port, directTls: true })),
      ...orderSrv(starttls.filter(usable), this.#random).map((r) => ({ host: r.name, port: r.port, directTls: false })),
    ];
    return this.#addresses(services);
  }

  /** The query's answer; [] for no records, any DNS error, or no answer within timeoutMs. */
  async #query<T>(run: () => Promise<T[]>): Promise<T[]> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<T[]>((resolve) => {
      timer = setTimeout(() => resolve([]), this.#timeoutMs);
    });
    try {
      // c-ares keeps going after we stop waiting, but gives up by itself within the budget.
      return await Promise.race([run().catch((): T[] => []), deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SRV records of a name; [] for none and for any failure (RFC 6120 §3.2.2 falls back then). */
  #srv(name: string): Promise<SrvRecord[]> {
    return this.#query(() => this.#dns.resolveSrv(name));
  }

  /** Every service with each of its addresses, in order, without repeating one place. */
  async #addresses(services: Service[]): Promise<S2sTarget[]> {
    const hosts = [...new Set(services.map((s) => s.host))];
    const found = await Promise.all(hosts.map((h) => this.#hostAddresses(h)));
    const byHost = new Map(hosts.map((h, i) => [h, found[i]!]));
    const seen = new Set<string>();
    const out: S2sTarget[] = [];
    for (const s of services) {
      for (const address of byHost.get(s.host)!) {
        const key = `${s.directTls ? 'tls' : 'tcp'}|${address}|${s.port}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({ host: s.host, address, port: s.port, directTls: s.directTls });
      }
    }
    return out;
  }

  /** IPv4 then IPv6 addresses of a host name; [] when it has none or DNS fails. */
  async #hostAddresses(host: string): Promise<string[]> {
    if (isIP(host) !== 0) return [host];
    if (isLocalhostName(host)) return this.#lookup(host);
    const [v4, v6] = await Promise.all([this.#query(() => this.#dns.resolve4(host)), this.#query(() => this.#dns.resolve6(host))]);
    const addresses = [...v4, ...v6];
    // The system's resolver library also reads the hosts file, which c-ares queries do not;
    // a configured resolver is meant to be the only source, so we do not ask the system then.
    if (addresses.length === 0 && !this.#custom) return this.#lookup(host);
    return addresses;
  }

  async #lookup(host: string): Promise<string[]> {
    try {
      const all = await dns.lookup(host, { all: true });
      return [...all.filter((a) => a.family === 4), ...all.filter((a) => a.family === 6)].map((a) => a.address);
    } catch {
      return [];
    }
  }
}
