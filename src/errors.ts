// All error types and XMPP error conditions in one place.

/** RFC 6120 §4.9.3 stream error conditions. */
export type StreamErrorCondition =
  | 'bad-format' | 'bad-namespace-prefix' | 'conflict' | 'connection-timeout' | 'host-gone'
  | 'host-unknown' | 'improper-addressing' | 'internal-server-error' | 'invalid-from'
  | 'invalid-namespace' | 'invalid-xml' | 'not-authorized' | 'not-well-formed'
  | 'policy-violation' | 'remote-connection-failed' | 'reset' | 'resource-constraint'
  | 'restricted-xml' | 'see-other-host' | 'system-shutdown' | 'undefined-condition'
  | 'unsupported-encoding' | 'unsupported-feature' | 'unsupported-stanza-type'
  | 'unsupported-version';

/** RFC 6120 §8.3.3 stanza error conditions. */
export type StanzaErrorCondition =
  | 'bad-request' | 'conflict' | 'feature-not-implemented' | 'forbidden' | 'gone'
  | 'internal-server-error' | 'item-not-found' | 'jid-malformed' | 'not-acceptable'
  | 'not-allowed' | 'not-authorized' | 'policy-violation' | 'recipient-unavailable'
  | 'redirect' | 'registration-required' | 'remote-server-not-found'
  | 'remote-server-timeout' | 'resource-constraint' | 'service-unavailable'
  | 'subscription-required' | 'undefined-condition' | 'unexpected-request';

export type StanzaErrorType = 'auth' | 'cancel' | 'continue' | 'modify' | 'wait';

/** RFC 6120 §6.5 SASL failure conditions. */
export type SaslFailureCondition =
  | 'aborted' | 'account-disabled' | 'credentials-expired' | 'encryption-required'
  | 'incorrect-encoding' | 'invalid-authzid' | 'invalid-mechanism' | 'malformed-request'
  | 'mechanism-too-weak' | 'not-authorized' | 'temporary-auth-failure';

/** The default error type for each stanza condition (RFC 6120 §8.3.3). */
export const DEFAULT_ERROR_TYPE: Record<StanzaErrorCondition, StanzaErrorType> = {
  'bad-request': 'modify', 'conflict': 'cancel', 'feature-not-implemented': 'cancel',
  'forbidden': 'auth', 'gone': 'cancel', 'internal-server-error': 'cancel',
  'item-not-found': 'cancel', 'jid-malformed': 'modify', 'not-acceptable': 'modify',
  'not-allowed': 'cancel', 'not-authorized': 'auth', 'policy-violation': 'modify',
  'recipient-unavailable': 'wait', 'redirect': 'modify', 'registration-required': 'auth',
  'remote-server-not-found': 'cancel', 'remote-server-timeout': 'wait',
  'resource-constraint': 'wait', 'service-unavailable': 'cancel',
  'subscription-required': 'auth', 'undefined-condition': 'cancel', 'unexpected-request': 'wait',
};

/** Thrown by handlers; the router turns it into an error reply. */
export class StanzaError extends Error {
  readonly type: StanzaErrorType;
  constructor(readonly condition: StanzaErrorCondition, readonly text?: string, type?: StanzaErrorType) {
    super(text ?? condition);
    this.name = 'StanzaError';
    this.type = type ?? DEFAULT_ERROR_TYPE[condition];
  }
}

/** A violation that ends the whole stream (RFC 6120 §4.9). */
export class StreamError extends Error {
  constructor(readonly condition: StreamErrorCondition, readonly text?: string) {
    super(text ? `${condition}: ${text}` : condition);
    this.name = 'StreamError';
  }
}

/** Authentication failed or must be retried; carries the SASL condition to send. */
export class SaslError extends Error {
  constructor(readonly condition: SaslFailureCondition, readonly text?: string) {
    super(text ?? condition);
    this.name = 'SaslError';
  }
}

/** A JID that cannot be parsed or normalised. */
export class JidError extends Error {
  constructor(readonly input: string, reason: string) {
    super(`invalid JID '${input}': ${reason}`);
    this.name = 'JidError';
  }
}

/** A configuration problem: names the key, the value and what was expected. */
export class ConfigError extends Error {
  constructor(readonly key: string, readonly value: unknown, readonly expected: string, readonly file?: string) {
    super(`${file ? file + ': ' : ''}${key}: ${JSON.stringify(value)} is not valid; expected ${expected}`);
    this.name = 'ConfigError';
  }
}

/** A storage failure (disk error, corrupt file); the operation did not take effect. */
export class StorageError extends Error {
  constructor(readonly code: 'EIO' | 'ECORRUPT' | 'EEXIST' | 'ENOENT' | 'EINVAL', message: string, override readonly cause?: unknown) {
    super(message);
    this.name = 'StorageError';
  }
}

/**
 * A refusal a service gives on purpose (no such room, room exists): its message is
 * meant for the administrator, unlike an internal error.
 */
export class ServiceRefusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServiceRefusal';
  }
}
