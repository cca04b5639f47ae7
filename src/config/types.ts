// The validated configuration shape. The loader (loader.ts) produces this from
// built-in defaults, the YAML file and --set overrides, in that order.

export type RegistrationPolicy = 'open' | 'closed';

export interface HostConfig {
  /** The domain served, normalised (lower case). */
  domain: string;
  /** PEM certificate (with chain) and key; null = certs/<domain>.crt/.key, generated on first start. */
  certificate: string | null;
  key: string | null;
  /** Overrides registration.policy for this host; null: the global policy applies. */
  registration?: RegistrationPolicy | null;
  /** Overrides muc.enabled for this host; null: the global setting applies. */
  muc?: boolean | null;
}

export interface ListenerConfig {
  /** Addresses to bind; an empty port (0) picks an ephemeral port (tests). null disables the listener. */
  address: string;
  port: number | null;
}

/** A room muc.rooms makes at start if it does not exist (never overwritten). */
export interface ConfiguredRoom {
  /** A room name (made on every host's service), or ROOM@SERVICE for one service. */
  name: string;
  /** Natural-language room name. */
  title?: string;
  description?: string;
  /** A password makes the room password-protected. */
  password?: string;
  public?: boolean;
  members_only?: boolean;
  moderated?: boolean;
  /** 0: muc.max_users. */
  max_users?: number;
}

export interface Config {
  hosts: HostConfig[];
  /** Directory of the per-user spool (spool/<domain>/<user>.xml). */
  spool: string;
  /** Directory for generated certificates. */
  certs: string;
  log: { level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent'; format: 'pretty' | 'json'; file: string | null };
  c2s: {
    /** STARTTLS listener (5222). */
    starttls: ListenerConfig;
    /** Direct TLS listener (5223, XEP-0368). */
    direct_tls: ListenerConfig;
    /** Refuse to authenticate before TLS is up. */
    require_encryption: boolean;
    /** Allow SASL PLAIN / jabber:iq:auth on a stream that is not encrypted. */
    allow_unencrypted_plain: boolean;
    /** On a resource conflict: replace the old session, or refuse the new bind. */
    resource_conflict: 'replace' | 'refuse';
    /** Offer XEP-0078 jabber:iq:auth to pre-1.0 streams. */
    legacy_auth: boolean;
  };
  s2s: {
    /** Federation at all; false: an internal-only server. */
    enabled: boolean;
    /** STARTTLS listener (5269). */
    starttls: ListenerConfig;
    /** Direct TLS listener (5270, XEP-0368). */
    direct_tls: ListenerConfig;
    require_encryption: boolean;
    /** Require valid certificates (RFC 6125); false: dialback is accepted. */
    secure: boolean;
    secure_domains: string[];
    insecure_domains: string[];
    /** When not empty, the only remote domains we talk to. */
    allow: string[];
    deny: string[];
    /** Trusted CAs for server certificates; null: the system's. */
    ca_file: string | null;
    /** DNS server 'ip' or 'ip:port' for SRV lookups; null: the system's. */
    resolver: string | null;
    /** domain -> 'host:port' or 'tls://host:port'. */
    routes: Record<string, string>;
    connect_timeout: number;
    idle_timeout: number;
    max_queue: number;
  };
  registration: {
    policy: RegistrationPolicy;
    max_per_ip: number;
    window: number;
    /** {jid} is replaced by the new account's address. */
    welcome_message: string | null;
  };
  roster: { max_items: number };
  offline: { max_messages: number };
  muc: {
    /** Serve a multi-user chat service (XEP-0045) for every host. */
    enabled: boolean;
    /** The service lives at <domain_prefix>.<host>. */
    domain_prefix: string;
    /** Who may create rooms: any user, users of this server's hosts, or nobody. */
    creation: 'anyone' | 'local' | 'nobody';
    /** Default and largest occupant count per room; 0: no limit. */
    max_users: number;
    /** Messages a room keeps for history. */
    history_limit: number;
    /** Messages sent on join when the joiner does not say how many. */
    history_default: number;
    /** Rooms one user may own; 0: no limit. */
    max_rooms_per_user: number;
    /** Messages one occupant may send to a room within 10 seconds; 0: no limit. */
    message_rate: number;
    /** Persistent rooms created at start when they do not exist yet. */
    rooms: ConfiguredRoom[];
  };
  admin: { socket: string | null };
  auth: {
    /** PBKDF2 iteration count for newly stored SCRAM credentials. */
    scram_iterations: number;
    /** Failed attempts allowed per IP / per account within auth.throttle_window seconds. */
    max_failures_per_ip: number;
    max_failures_per_account: number;
    throttle_window: number;
  };
  limits: {
    /** Largest stanza in bytes (RFC 6120 §13.12: at least 10000). */
    max_stanza_size: number;
    max_depth: number;
    max_attributes: number;
    /** Concurrent connections from one IP address; 0 = no limit. */
    max_connections_per_ip: number;
    /** Concurrent connections in all. */
    max_connections: number;
    /** Seconds a connection may take to authenticate. */
    auth_timeout: number;
    /** Seconds of silence before the server pings / closes a session. */
    idle_timeout: number;
    /** Bytes buffered for a slow reader before the session is closed. */
    max_send_buffer: number;
  };
}
