// The configuration schema: one declarative entry per key (type, allowed values,
// a one-line description reused for the docs) and a small validator over it.
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import { tryParseJid } from '../jid/index.js';
import type { ConfiguredRoom, HostConfig } from './types.js';

interface Leaf { description: string; nullable?: boolean }
export type SchemaNode =
  | { kind: 'section'; description: string; fields: Record<string, SchemaNode> }
  | (Leaf & { kind: 'integer'; min: number; max: number })
  | (Leaf & { kind: 'boolean' })
  | (Leaf & { kind: 'enum'; values: readonly string[] })
  | (Leaf & { kind: 'path' })
  | (Leaf & { kind: 'string'; maxLength: number })
  | (Leaf & { kind: 'address' })
  | (Leaf & { kind: 'hosts' })
  | (Leaf & { kind: 'rooms' })
  | (Leaf & { kind: 'domains' })
  | (Leaf & { kind: 'routes' });

/** Where a value came from: the file named in errors, and the base for relative paths. */
export interface ValueSource { file?: string; baseDir: string }

const int = (min: number, max: number, description: string, nullable = false): SchemaNode =>
  ({ kind: 'integer', min, max, description, nullable });

const listener = (what: string): SchemaNode => ({
  kind: 'section', description: what, fields: {
    address: { kind: 'address', description: 'IP address to bind; :: is all IPv6 and (dual-stack) IPv4 addresses, 0.0.0.0 all IPv4.' },
    port: int(0, 65535, 'TCP port; 0 picks a free port, null disables the listener.', true),
  },
});

const MIB = 1024 * 1024;

export const CONFIG_SCHEMA: SchemaNode = {
  kind: 'section', description: 'Rohrpost configuration', fields: {
    hosts: { kind: 'hosts', description: 'Domains served: a list of names, or of {domain, certificate, key}; without a certificate, certs/<domain>.crt/.key is generated on first start.' },
    spool: { kind: 'path', description: 'Directory of the user spool (spool/<domain>/<user>.xml).' },
    certs: { kind: 'path', description: 'Directory of generated certificates (<domain>.crt, <domain>.key).' },
    log: {
      kind: 'section', description: 'Logging', fields: {
        level: { kind: 'enum', values: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], description: 'Least severe level written.' },
        format: { kind: 'enum', values: ['pretty', 'json'], description: 'pretty: readable lines; json: one JSON object a line.' },
        file: { kind: 'path', nullable: true, description: 'Log file (reopened on SIGHUP for rotation); null writes to standard output.' },
      },
    },
    c2s: {
      kind: 'section', description: 'Client connections', fields: {
        starttls: listener('STARTTLS listener (RFC 6120).'),
        direct_tls: listener('Direct TLS listener (XEP-0368).'),
        require_encryption: { kind: 'boolean', description: 'Refuse to authenticate a client before TLS is up.' },
        allow_unencrypted_plain: { kind: 'boolean', description: 'Allow SASL PLAIN on a stream that is not encrypted (matters only when require_encryption is false).' },
        resource_conflict: { kind: 'enum', values: ['replace', 'refuse'], description: 'When a resource is already bound: replace the old session, or refuse the new bind.' },
        legacy_auth: { kind: 'boolean', description: 'Offer XEP-0078 jabber:iq:auth (plain text, TLS rules as for PLAIN) to pre-1.0 clients.' },
      },
    },
    s2s: {
      kind: 'section', description: 'Server-to-server connections (federation)', fields: {
        enabled: { kind: 'boolean', description: 'Talk to other servers at all; false makes an internal-only server that neither sends to nor accepts from other domains.' },
        starttls: listener('STARTTLS listener for other servers (RFC 6120).'),
        direct_tls: listener('Direct TLS listener for other servers (XEP-0368).'),
        require_encryption: { kind: 'boolean', description: 'Refuse server streams without TLS (in both directions).' },
        secure: { kind: 'boolean', description: 'Require a valid certificate (RFC 6125) from every other server; false accepts dialback (XEP-0220) where the certificate is missing, self-signed or for another name.' },
        secure_domains: { kind: 'domains', description: 'Remote domains that must present a valid certificate even when secure is false.' },
        insecure_domains: { kind: 'domains', description: 'Remote domains allowed to use dialback without a valid certificate even when secure is true.' },
        allow: { kind: 'domains', description: 'If not empty, the only remote domains we talk to.' },
        deny: { kind: 'domains', description: 'Remote domains we never talk to.' },
        ca_file: { kind: 'path', nullable: true, description: 'PEM file of the certificate authorities trusted for server certificates; null: the system\'s.' },
        resolver: { kind: 'string', maxLength: 100, nullable: true, description: 'DNS server for SRV lookups, as ip or ip:port; null: the system\'s resolver.' },
        routes: { kind: 'routes', description: 'Static routes that replace DNS: a mapping domain: host:port (tls://host:port for direct TLS).' },
        connect_timeout: int(1, 3600, 'Seconds to set up a connection to another server (all addresses tried) before queued stanzas bounce with remote-server-timeout.'),
        idle_timeout: int(1, 86400, 'Seconds an unused server connection stays open.'),
        max_queue: int(1, 1_000_000, 'Stanzas queued for one remote domain while its connection is being set up; more bounce.'),
      },
    },
    registration: {
      kind: 'section', description: 'In-band registration (XEP-0077)', fields: {
        policy: { kind: 'enum', values: ['open', 'closed'], description: 'Whether clients may create accounts themselves; a host entry may override it with its own registration key.' },
        max_per_ip: int(1, 1_000_000, 'Accounts one IP address may register within registration.window.'),
        window: int(1, 30 * 86400, 'Seconds over which registrations per IP are counted.'),
        welcome_message: { kind: 'string', maxLength: 10000, nullable: true, description: 'Message sent from the server to each new account; {jid} is replaced by its address; null sends none.' },
      },
    },
    roster: {
      kind: 'section', description: 'Rosters (RFC 6121)', fields: {
        max_items: int(1, 1_000_000, 'Most contacts in one roster.'),
      },
    },
    offline: {
      kind: 'section', description: 'Offline messages (XEP-0160)', fields: {
        max_messages: int(0, 1_000_000, 'Most messages stored for one offline user; 0 stores none.'),
      },
    },
    muc: {
      kind: 'section', description: 'Multi-user chat (XEP-0045)', fields: {
        enabled: { kind: 'boolean', description: 'Serve a chat room service for every host; a host entry may override it with its own muc key (true or false).' },
        domain_prefix: { kind: 'string', maxLength: 63, description: 'The service lives at <domain_prefix>.<host>.' },
        creation: { kind: 'enum', values: ['anyone', 'local', 'nobody'], description: "Who may create rooms: anyone, users of this server's hosts (local), or nobody." },
        max_users: int(0, 1_000_000, 'Default and largest number of occupants in one room; 0 means no limit.'),
        history_limit: int(0, 10_000, 'Messages a room keeps for its history.'),
        history_default: int(0, 10_000, 'Messages of history sent on joining when the client does not ask for an amount.'),
        max_rooms_per_user: int(0, 1_000_000, 'Rooms one user may create and own; 0 means no limit.'),
        message_rate: int(0, 1_000_000, 'Messages one occupant may send to a room within 10 seconds; 0 means no limit.'),
        rooms: { kind: 'rooms', description: 'Persistent rooms created at start if they do not exist yet (on every host\'s service, or on one with ROOM@SERVICE); a stored room is never overwritten, so changes its owners or users made stay.' },
      },
    },
    admin: {
      kind: 'section', description: 'Administration', fields: {
        socket: { kind: 'path', nullable: true, description: 'Unix socket (mode 0600) the admin commands (sessions, s2s, kick, send, announce, roster, room) use to reach the running server; null: admin.sock in the spool directory.' },
      },
    },
    auth: {
      kind: 'section', description: 'Authentication', fields: {
        scram_iterations: int(4096, 10_000_000, 'PBKDF2 iterations for newly stored SCRAM credentials (RFC 7677: at least 4096).'),
        max_failures_per_ip: int(1, 1_000_000, 'Failed logins allowed from one IP address within auth.throttle_window.'),
        max_failures_per_account: int(1, 1_000_000, 'Failed logins allowed for one account within auth.throttle_window.'),
        throttle_window: int(1, 86400, 'Seconds over which failed logins are counted.'),
      },
    },
    limits: {
      kind: 'section', description: 'Resource limits', fields: {
        max_stanza_size: int(10000, 64 * MIB, 'Largest stanza in bytes (RFC 6120 §13.12: at least 10000).'),
        max_depth: int(2, 1024, 'Deepest element nesting in a stanza.'),
        max_attributes: int(8, 4096, 'Most attributes on one element.'),
        max_connections_per_ip: int(0, 10_000_000, 'Concurrent connections from one IP address; 0 means no limit.'),
        max_connections: int(1, 10_000_000, 'Concurrent connections in all.'),
        auth_timeout: int(1, 3600, 'Seconds a new connection may take to authenticate.'),
        idle_timeout: int(1, 86400, 'Seconds of silence before a session is pinged, then closed.'),
        max_send_buffer: int(1024, 1024 * MIB, 'Bytes buffered for a slow reader before its session is closed.'),
      },
    },
  },
};

/** What a value for this node must look like, as said in error messages and docs. */
export function expectedOf(node: SchemaNode): string {
  const orNull = 'nullable' in node && node.nullable ? ' or null' : '';
  switch (node.kind) {
    case 'section': return `a mapping with keys ${Object.keys(node.fields).join(', ')}`;
    case 'integer': return `an integer from ${node.min} to ${node.max}${orNull}`;
    case 'boolean': return 'true or false';
    case 'enum': return `one of ${node.values.join(', ')}${orNull}`;
    case 'path': return `a path (absolute, or relative to the configuration file)${orNull}`;
    case 'string': return `a text of at most ${node.maxLength} characters${orNull}`;
    case 'address': return 'an IP address such as :: or 0.0.0.0 or 127.0.0.1';
    case 'hosts': return 'a non-empty list of domain names, or of {domain, certificate, key, registration, muc}';
    case 'rooms': return `a list of mappings {${ROOM_KEYS.join(', ')}}; name is required`;
    case 'domains': return 'a list of domain names';
    case 'routes': return 'a mapping of domain names to host:port (or tls://host:port)';
  }
}

const isMapping = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Check `value` against `node` and return it normalised (domains lower-cased,
 * paths resolved against src.baseDir). Sections may be partial: the loader
 * merges the result over the defaults. Throws ConfigError naming the dotted key.
 */
export function validate(node: SchemaNode, value: unknown, key: string, src: ValueSource): unknown {
  const fail = (expected = expectedOf(node), k = key, v = value): never => {
    throw new ConfigError(k || '(top level)', v, expected, src.file);
  };
  if (value === null && node.kind !== 'section' && node.nullable) return null;
  switch (node.kind) {
    case 'section': {
      if (!isMapping(value)) return fail();
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        const child = node.fields[k];
        const dotted = key ? `${key}.${k}` : k;
        if (!child) return fail(unknownKeyHint(k, Object.keys(node.fields), key), dotted, v);
        out[k] = validate(child, v, dotted, src);
      }
      return out;
    }
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value) && value >= node.min && value <= node.max ? value : fail();
    case 'boolean':
      return typeof value === 'boolean' ? value : fail();
    case 'enum':
      return typeof value === 'string' && node.values.includes(value) ? value : fail();
    case 'path':
      return typeof value === 'string' && value.trim() !== '' ? resolve(src.baseDir, value) : fail();
    case 'string':
      return typeof value === 'string' && value.length <= node.maxLength ? value : fail();
    case 'address':
      return typeof value === 'string' && isIP(value) !== 0 ? value : fail();
    case 'hosts':
      return validateHosts(value, key, src);
    case 'rooms':
      return validateRooms(value, key, src);
    case 'domains': {
      if (!Array.isArray(value)) return fail();
      return value.map((d: unknown, i) => normaliseDomain(d) ?? fail('a domain name such as example.org', `${key}[${i}]`, d));
    }
    case 'routes': {
      if (!isMapping(value)) return fail();
      const out: Record<string, string> = {};
      for (const [d, target] of Object.entries(value)) {
        const domain = normaliseDomain(d) ?? fail('a domain name such as example.org', `${key}.${d}`, d);
        if (typeof target !== 'string' || !ROUTE.test(target)) fail('host:port or tls://host:port, e.g. 10.0.0.5:5269', `${key}.${d}`, target);
        out[domain] = target as string;
      }
      return out;
    }
  }
}

/** host:port with an optional tls:// prefix; IPv6 addresses in brackets. */
const ROUTE = /^(tls:\/\/)?(\[[0-9a-fA-F:.]+\]|[^\s:/\[\]]+):([0-9]{1,5})$/;

const ROOM_KEYS = ['name', 'title', 'description', 'password', 'public', 'members_only', 'moderated', 'max_users'] as const;
const ROOM_FIELDS: Record<Exclude<(typeof ROOM_KEYS)[number], 'name'>, SchemaNode> = {
  title: { kind: 'string', maxLength: 1000, description: '' },
  description: { kind: 'string', maxLength: 10000, description: '' },
  password: { kind: 'string', maxLength: 1000, description: '' },
  public: { kind: 'boolean', description: '' },
  members_only: { kind: 'boolean', description: '' },
  moderated: { kind: 'boolean', description: '' },
  max_users: int(0, 1_000_000, ''),
};

/** muc.rooms: each entry a mapping with a room name (or ROOM@SERVICE) and optional settings. */
function validateRooms(value: unknown, key: string, src: ValueSource): ConfiguredRoom[] {
  const fail = (k: string, v: unknown, expected: string): never => { throw new ConfigError(k, v, expected, src.file); };
  if (!Array.isArray(value)) return fail(key, value, expectedOf({ kind: 'rooms', description: '' }));
  const seen = new Set<string>();
  return value.map((item: unknown, i) => {
    const at = `${key}[${i}]`;
    if (!isMapping(item)) return fail(at, item, `a mapping {${ROOM_KEYS.join(', ')}}`);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(item)) {
      if (k === 'name') continue;
      const node = ROOM_FIELDS[k as keyof typeof ROOM_FIELDS];
      if (!node) return fail(`${at}.${k}`, v, unknownKeyHint(k, [...ROOM_KEYS], at));
      out[k] = validate(node, v, `${at}.${k}`, src);
    }
    const name = item.name;
    const jid = typeof name === 'string' ? tryParseJid(name.includes('@') ? name : `${name}@muc.invalid`) : null;
    if (!jid || jid.local === '' || jid.resource !== '') {
      return fail(`${at}.name`, name, 'a room name such as help, or ROOM@SERVICE such as help@conference.example.org');
    }
    const normal = (name as string).includes('@') ? jid.bareString() : jid.local;
    if (seen.has(normal)) fail(`${at}.name`, name, 'a room not already listed');
    seen.add(normal);
    return { ...out, name: normal } as unknown as ConfiguredRoom;
  });
}

function validateHosts(value: unknown, key: string, src: ValueSource): HostConfig[] {
  const fail = (k: string, v: unknown, expected: string): never => { throw new ConfigError(k, v, expected, src.file); };
  if (!Array.isArray(value) || value.length === 0) return fail(key, value, expectedOf({ kind: 'hosts', description: '' }));
  const seen = new Set<string>();
  return value.map((item: unknown, i) => {
    const at = `${key}[${i}]`;
    const entry = typeof item === 'string' ? { domain: item } : item;
    if (!isMapping(entry)) return fail(at, item, 'a domain name, or a mapping {domain, certificate, key}');
    const keys = ['domain', 'certificate', 'key', 'registration', 'muc'];
    for (const k of Object.keys(entry)) {
      if (!keys.includes(k)) fail(`${at}.${k}`, entry[k], unknownKeyHint(k, keys, at));
    }
    const registration = entry.registration ?? null;
    if (registration !== null && registration !== 'open' && registration !== 'closed') {
      fail(`${at}.registration`, registration, 'open, closed or null (null: registration.policy applies)');
    }
    const muc = entry.muc ?? null;
    if (muc !== null && typeof muc !== 'boolean') fail(`${at}.muc`, muc, 'true, false or null (null: muc.enabled applies)');
    if (entry.domain === undefined) return fail(at, item, 'a mapping with a domain key');
    const domain = normaliseDomain(entry.domain);
    if (domain === null) return fail(`${at}.domain`, entry.domain, 'a domain name such as example.org');
    if (seen.has(domain)) return fail(`${at}.domain`, entry.domain, 'a domain not already listed');
    seen.add(domain);
    const pathOf = (k: 'certificate' | 'key'): string | null => {
      const v = entry[k] ?? null;
      return v === null ? null : validate({ kind: 'path', description: '' }, v, `${at}.${k}`, src) as string;
    };
    const certificate = pathOf('certificate');
    const keyPath = pathOf('key');
    if ((certificate === null) !== (keyPath === null)) {
      const missing = certificate === null ? 'certificate' : 'key';
      fail(`${at}.${missing}`, null, 'both certificate and key, or neither (to use a generated certificate)');
    }
    return { domain, certificate, key: keyPath, registration: registration as HostConfig['registration'], muc: muc as boolean | null };
  });
}

/** Lower-cased domain, or null when it cannot be a domain part of a JID. */
export function normaliseDomain(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const domain = value.trim().toLowerCase().replace(/\.$/, '');
  if (domain.length === 0 || domain.length > 253) return null;
  if (/[\s@/\\:"'<>&]/u.test(domain)) return null;
  return domain.split('.').every((label) => label.length > 0 && label.length <= 63) ? domain : null;
}

/** What to say about an unknown key: the keys allowed there, and the nearest one. */
export function unknownKeyHint(key: string, known: string[], parent: string): string {
  // Near: a typo (two edits) or a cut-short / over-long form of a known key.
  const score = (k: string): number => {
    const d = editDistance(k, key);
    if (d <= 2) return d;
    let common = 0;
    while (common < k.length && k[common] === key[common]) common++;
    return common >= 3 && common >= 0.6 * Math.min(k.length, key.length) ? 3 : Infinity;
  };
  const near = known.map((k) => ({ k, s: score(k) })).filter((c) => c.s < Infinity).sort((a, b) => a.s - b.s)[0]?.k;
  const where = parent ? `under ${parent}` : 'at the top level';
  return `a known key ${where} (${known.join(', ')})${near ? `; did you mean ${near}?` : ''}`;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}
