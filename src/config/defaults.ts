// Built-in defaults: what Rohrpost runs with when no configuration file exists.
// Every limit has a safe value here; the schema (schema.ts) says what each key means.
import type { Config } from './types.js';

/**
 * Bind address of the default listeners. '::' accepts IPv4 and IPv6 on dual-stack
 * hosts (Linux default net.ipv6.bindv6only=0); set '0.0.0.0' where IPv6 is disabled.
 */
const ANY_ADDRESS = '::';

/** A fresh copy of the defaults each call, so callers may change what they get. */
export function defaultConfig(): Config {
  return {
    hosts: [{ domain: 'localhost', certificate: null, key: null, registration: null, muc: null }],
    spool: './spool',
    certs: './certs',
    log: { level: 'info', format: 'pretty', file: null },
    c2s: {
      starttls: { address: ANY_ADDRESS, port: 5222 },
      direct_tls: { address: ANY_ADDRESS, port: 5223 },
      require_encryption: true,
      allow_unencrypted_plain: false,
      resource_conflict: 'replace',
      legacy_auth: true,
    },
    s2s: {
      enabled: true,
      starttls: { address: ANY_ADDRESS, port: 5269 },
      direct_tls: { address: ANY_ADDRESS, port: 5270 },
      require_encryption: true,
      secure: false,
      secure_domains: [],
      insecure_domains: [],
      allow: [],
      deny: [],
      ca_file: null,
      resolver: null,
      routes: {},
      connect_timeout: 20,
      idle_timeout: 600,
      max_queue: 1000,
    },
    registration: {
      policy: 'closed',
      max_per_ip: 5,
      window: 3600,
      welcome_message: 'Welcome, {jid}! Your new Jabber account on Rohrpost is ready.',
    },
    roster: { max_items: 1000 },
    offline: { max_messages: 1000 },
    muc: {
      enabled: true,
      domain_prefix: 'conference',
      creation: 'local',
      max_users: 200,
      history_limit: 50,
      history_default: 20,
      max_rooms_per_user: 20,
      message_rate: 50,
      rooms: [],
    },
    admin: { socket: null },
    auth: {
      scram_iterations: 10000,
      max_failures_per_ip: 10,
      max_failures_per_account: 5,
      throttle_window: 60,
    },
    limits: {
      max_stanza_size: 262144,
      max_depth: 64,
      max_attributes: 64,
      max_connections_per_ip: 500,
      max_connections: 100000,
      auth_timeout: 30,
      idle_timeout: 300,
      max_send_buffer: 1048576,
    },
  };
}
