// SCRAM server (RFC 5802) with SHA-1 and SHA-256 (RFC 7677), and the -PLUS variants bound
// to the TLS channel with tls-exporter (RFC 9266) or tls-server-end-point (RFC 5929).
// Only stored keys are used: no PBKDF2 runs during a login.
import { randomBytes } from 'node:crypto';
import { SaslError } from '../errors.js';
import type { ScramHash, ScramKeys } from '../storage/types.js';
import { SCRAM_DIGESTS, authzidAllowed, constantTimeEqual, digest, hmac, saslprep } from './credentials.js';
import type { ChannelBindings, SaslContext, SaslMechanism, SaslResult } from './sasl.js';

/** Channel binding types we can serve, in order of preference. */
const CHANNEL_BINDING_TYPES = ['tls-exporter', 'tls-server-end-point', 'tls-unique'] as const satisfies readonly (keyof ChannelBindings)[];
// RFC 5802 §5.1 r: random printable characters, different for every exchange.
const SERVER_NONCE_BYTES = 24;
const FAKE_SALT_BYTES = 16;
// RFC 7677 §4 recommends at least 4096 iterations.
const DEFAULT_ITERATIONS = 4096;
// RFC 5802 §7 grammar pieces.
const RE_PRINTABLE = /^[\x21-\x2b\x2d-\x7e]+$/; // printable = %x21-2B / %x2D-7E
const RE_SASLNAME = /^(?:[^=,\0]|=2C|=3D)+$/; // 1*(value-safe-char / "=2C" / "=3D")
const RE_CB_NAME = /^[A-Za-z0-9.-]+$/; // cb-name = 1*(ALPHA / DIGIT / "." / "-")
const RE_EXTENSION = /^[A-Za-z]=[^,\0]+$/; // attr-val = ALPHA "=" value
const RE_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
// gs2-header = gs2-cbind-flag "," [ authzid ] ","
const RE_GS2_HEADER = /^(n|y|p=[^,]*),(a=[^,]*)?,/;

// Key for the fake salts of unknown users. Fixed for the process so that asking twice for
// the same unknown name gives the same salt, as a real account would; never stored.
const PROCESS_FAKE_SALT_KEY = randomBytes(32);

/** Test hooks; production code passes nothing. */
export interface ScramOptions {
  /** The server's part of the nonce (printable ASCII without ','); random by default. */
  serverNonce?: () => string;
  /** Key for fake salts of unknown users; a per-process random key by default. */
  fakeSaltKey?: Buffer;
}

/** Channel binding types with data on this stream; none without TLS. */
export function availableChannelBindings(ctx: SaslContext): (keyof ChannelBindings)[] {
  if (!ctx.secure) return [];
  return CHANNEL_BINDING_TYPES.filter((t) => (ctx.channelBindings[t]?.length ?? 0) > 0);
}

type Gs2Binding = { flag: 'n' } | { flag: 'y' } | { flag: 'p'; type: string };

interface ClientFirst {
  /** The GS2 header exactly as sent; c= in the final message must repeat it. */
  gs2Header: string;
  binding: Gs2Binding;
  authzid: string | undefined;
  /** Decoded (=2C, =3D) but not yet SASLprep'd. */
  username: string;
  clientNonce: string;
  /** client-first-message-bare, part of the AuthMessage. */
  bare: string;
}

interface ClientFinal {
  channelBinding: Buffer;
  nonce: string;
  proof: Buffer;
  /** client-final-message-without-proof, part of the AuthMessage. */
  withoutProof: string;
}

function malformed(text: string): SaslError {
  return new SaslError('malformed-request', text);
}

/** RFC 5802 §5.1: "=2C" is ',' and "=3D" is '='; "If the server receives a username that
 *  contains '=' not followed by either '2C' or '3D', then the server MUST fail". */
function decodeSaslname(s: string): string {
  if (!RE_SASLNAME.test(s)) throw malformed('invalid saslname');
  return s.replace(/=2C|=3D/g, (m) => (m === '=2C' ? ',' : '='));
}

function decodeBase64(s: string, what: string): Buffer {
  if (!RE_BASE64.test(s)) throw malformed(`${what} is not base64`);
  return Buffer.from(s, 'base64');
}

/** Value of attribute `name` at attrs[i]; fails when it is missing or another one. */
function attribute(attrs: string[], i: number, name: string): string {
  const a = attrs[i];
  if (a === undefined || !a.startsWith(`${name}=`)) throw malformed(`expected attribute ${name}`);
  return a.slice(2);
}

/** Extensions follow the known attributes; unknown ones are ignored. */
function checkExtensions(attrs: string[]): void {
  if (!attrs.every((a) => RE_EXTENSION.test(a))) throw malformed('invalid attribute');
}

/** client-first-message = gs2-header client-first-message-bare */
function parseClientFirst(text: string): ClientFirst {
  const header = RE_GS2_HEADER.exec(text);
  if (!header) throw malformed('invalid GS2 header');
  const gs2Header = header[0];
  const flag = header[1]!;
  const authz: string | undefined = header[2];
  let binding: Gs2Binding;
  if (flag === 'n' || flag === 'y') binding = { flag };
  else if (RE_CB_NAME.test(flag.slice(2))) binding = { flag: 'p', type: flag.slice(2) };
  else throw malformed('invalid channel binding name');
  const authzid = authz === undefined ? undefined : decodeSaslname(authz.slice(2));

  const bare = text.slice(gs2Header.length);
  const attrs = bare.split(',');
  // RFC 5802 §5.1 m: "its presence in a client or a server message MUST cause
  // authentication failure" (no such extensions are defined yet).
  if (attrs[0]?.startsWith('m=')) throw malformed('mandatory extensions are not supported');
  const username = decodeSaslname(attribute(attrs, 0, 'n'));
  const clientNonce = attribute(attrs, 1, 'r');
  if (!RE_PRINTABLE.test(clientNonce)) throw malformed('invalid nonce');
  checkExtensions(attrs.slice(2));
  return { gs2Header, binding, authzid, username, clientNonce, bare };
}

/** client-final-message = client-final-message-without-proof "," proof */
function parseClientFinal(text: string): ClientFinal {
  const p = text.lastIndexOf(',p=');
  if (p === -1) throw malformed('missing proof');
  const withoutProof = text.slice(0, p);
  const attrs = withoutProof.split(',');
  const channelBinding = decodeBase64(attribute(attrs, 0, 'c'), 'channel binding');
  const nonce = attribute(attrs, 1, 'r');
  checkExtensions(attrs.slice(2));
  const proof = decodeBase64(text.slice(p + 3), 'proof');
  return { channelBinding, nonce, proof, withoutProof };
}

function decodeUtf8(input: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(input);
  } catch {
    throw new SaslError('malformed-request', 'not UTF-8');
  }
}

type ScramState =
  | { name: 'expect-client-first' }
  | {
      name: 'expect-client-final';
      first: ClientFirst;
      username: string;
      keys: ScramKeys;
      known: boolean;
      nonce: string;
      serverFirst: string;
      cbData: Buffer;
    }
  | { name: 'finished' };

class ScramMechanism implements SaslMechanism {
  readonly name: string;
  private state: ScramState = { name: 'expect-client-first' };

  constructor(
    private readonly hash: ScramHash,
    private readonly plus: boolean,
    private readonly ctx: SaslContext,
    private readonly options: ScramOptions,
  ) {
    this.name = plus ? `${hash}-PLUS` : hash;
  }

  async step(input: Buffer): Promise<{ challenge: Buffer } | { success: SaslResult }> {
    const state = this.state;
    this.state = { name: 'finished' }; // any exception ends the exchange
    switch (state.name) {
      case 'expect-client-first':
        return { challenge: await this.onClientFirst(decodeUtf8(input)) };
      case 'expect-client-final':
        return { success: this.onClientFinal(state, decodeUtf8(input)) };
      case 'finished':
        throw new SaslError('malformed-request', 'the exchange is over');
    }
  }

  /** Checks the GS2 header against what we offered; returns the channel binding data. */
  private channelBindingData(first: ClientFirst): Buffer {
    const available = availableChannelBindings(this.ctx);
    const { binding } = first;
    if (this.plus) {
      // RFC 5802 §6: a -PLUS mechanism is channel binding; 'n' or 'y' make no sense.
      if (binding.flag !== 'p') throw new SaslError('malformed-request', `${this.name} needs channel binding`);
      const type = available.find((t) => t === binding.type);
      if (!type) throw new SaslError('malformed-request', `unsupported channel binding type '${binding.type}'`);
      return this.ctx.channelBindings[type]!;
    }
    if (binding.flag === 'p') throw new SaslError('malformed-request', `channel binding needs ${this.name}-PLUS`);
    // RFC 5802 §6: "If the flag is set to "y" and the server supports channel binding, the
    // server MUST fail authentication" — a man in the middle stripped -PLUS from our list.
    if (binding.flag === 'y' && available.length > 0 && !this.ctx.disableScramDowngradeProtection) {
      throw new SaslError('not-authorized', 'channel binding downgrade');
    }
    return Buffer.alloc(0);
  }

  private async onClientFirst(text: string): Promise<Buffer> {
    const first = parseClientFirst(text);
    const cbData = this.channelBindingData(first);
    const username = saslprep(first.username);
    if (first.authzid !== undefined && !authzidAllowed(first.authzid, username, this.ctx.host)) {
      throw new SaslError('invalid-authzid');
    }
    const creds = await this.ctx.lookup(username);
    const keys = creds?.[this.hash] ?? this.fakeKeys(username);
    const serverNonce = (this.options.serverNonce ?? randomNonce)();
    if (!RE_PRINTABLE.test(serverNonce)) throw new RangeError('server nonce must be printable ASCII without commas');
    const nonce = first.clientNonce + serverNonce;
    const serverFirst = `r=${nonce},s=${keys.salt.toString('base64')},i=${keys.iterations}`;
    this.state = { name: 'expect-client-final', first, username, keys, known: creds !== null, nonce, serverFirst, cbData };
    return Buffer.from(serverFirst, 'utf8');
  }

  private onClientFinal(state: Extract<ScramState, { name: 'expect-client-final' }>, text: string): SaslResult {
    const final = parseClientFinal(text);
    if (final.nonce !== state.nonce) throw new SaslError('malformed-request', 'nonce mismatch');
    // RFC 5802 §7: c= carries "base64 encoding of cbind-input", cbind-input = gs2-header
    // [ cbind-data ]; it must match what this server sees on its side of the channel.
    const expected = Buffer.concat([Buffer.from(state.first.gs2Header, 'utf8'), state.cbData]);
    if (!constantTimeEqual(final.channelBinding, expected)) throw new SaslError('not-authorized', 'channel binding mismatch');
    const { length } = SCRAM_DIGESTS[this.hash];
    if (final.proof.length !== length) throw new SaslError('malformed-request', 'proof has the wrong length');

    // AuthMessage := client-first-message-bare + "," + server-first-message + "," +
    //                client-final-message-without-proof
    const authMessage = `${state.first.bare},${state.serverFirst},${final.withoutProof}`;
    const clientSignature = hmac(this.hash, state.keys.storedKey, authMessage);
    const clientKey = Buffer.alloc(length);
    for (let i = 0; i < length; i++) clientKey[i] = final.proof[i]! ^ clientSignature[i]!;
    // RFC 5802 §3: the server recovers ClientKey = ClientProof XOR ClientSignature and
    // compares H(ClientKey) with StoredKey.
    const proofOk = constantTimeEqual(digest(this.hash, clientKey), state.keys.storedKey);
    if (!proofOk || !state.known) throw new SaslError('not-authorized');

    const serverSignature = hmac(this.hash, state.keys.serverKey, authMessage);
    return { username: state.username, additional: Buffer.from(`v=${serverSignature.toString('base64')}`, 'utf8') };
  }

  /**
   * Answering an unknown user differently would let anyone probe which accounts exist. It
   * gets a salt derived from its name (stable across attempts, like a real one), the
   * configured iteration count and throwaway keys; the proof then fails at the end with
   * the same not-authorized as a wrong password.
   */
  private fakeKeys(username: string): ScramKeys {
    const key = this.options.fakeSaltKey ?? PROCESS_FAKE_SALT_KEY;
    const { length } = SCRAM_DIGESTS[this.hash];
    return {
      salt: hmac('SCRAM-SHA-256', key, `${this.hash}\0${username}`).subarray(0, FAKE_SALT_BYTES),
      iterations: this.ctx.scramIterations ?? DEFAULT_ITERATIONS,
      storedKey: randomBytes(length),
      serverKey: randomBytes(length),
    };
  }
}

function randomNonce(): string {
  return randomBytes(SERVER_NONCE_BYTES).toString('base64');
}

/** A SCRAM server for one exchange; plus selects the channel-binding (-PLUS) variant. */
export function createScramMechanism(hash: ScramHash, plus: boolean, ctx: SaslContext, options: ScramOptions = {}): SaslMechanism {
  return new ScramMechanism(hash, plus, ctx, options);
}
