import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { SaslError, type SaslFailureCondition } from '../src/errors.js';
import { deriveCredentials, saslprep, verifyPassword, verifyPasswordAsync } from '../src/auth/credentials.js';
import {
  createMechanism, offeredMechanisms, type ChannelBindings, type MechanismOptions, type SaslContext, type SaslMechanism,
} from '../src/auth/sasl.js';
import type { ScramHash, StoredCredentials } from '../src/storage/types.js';

const HOST = 'example.com';
const ITERATIONS = 4096;

interface TestContextOptions {
  secure?: boolean;
  allowUnencryptedPlain?: boolean;
  channelBindings?: ChannelBindings;
  users?: Record<string, StoredCredentials>;
  onLookup?: (username: string) => void;
}

/** A SaslContext over an in-memory account list; lookup lower-cases like a localpart would. */
function context(o: TestContextOptions = {}): SaslContext {
  const users = new Map(Object.entries(o.users ?? {}));
  return {
    host: HOST,
    secure: o.secure ?? false,
    allowUnencryptedPlain: o.allowUnencryptedPlain ?? false,
    channelBindings: o.channelBindings ?? {},
    scramIterations: ITERATIONS,
    async lookup(username) {
      o.onLookup?.(username);
      return users.get(username.toLowerCase()) ?? null;
    },
  };
}

function mechanism(name: string, ctx: SaslContext, options?: MechanismOptions): SaslMechanism {
  const m = createMechanism(name, ctx, options);
  assert.ok(m, `${name} should be offered`);
  return m;
}

async function challenge(m: SaslMechanism, msg: string | Buffer): Promise<string> {
  const r = await m.step(Buffer.from(msg));
  assert.ok('challenge' in r, 'expected a challenge');
  return r.challenge.toString('utf8');
}

async function failsWith(p: Promise<unknown>, condition: SaslFailureCondition): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof SaslError, `expected SaslError, got ${String(e)}`);
    assert.equal(e.condition, condition);
    return true;
  });
}

// ---- a SCRAM client, written from RFC 5802 §3 for these tests ----

const ALGORITHM: Record<ScramHash, { name: string; length: number }> = {
  'SCRAM-SHA-1': { name: 'sha1', length: 20 },
  'SCRAM-SHA-256': { name: 'sha256', length: 32 },
};

interface ClientOptions {
  hash: ScramHash;
  username: string;
  password: string;
  /** 'n', 'y' or 'p=<type>'. */
  flag?: string;
  authzid?: string;
  cbData?: Buffer;
  clientNonce?: string;
  /** Skip PBKDF2 with a salted password computed earlier (as clients cache it). */
  saltedPassword?: Buffer;
}

function encodeName(s: string): string {
  return s.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

function scramClient(o: ClientOptions) {
  const alg = ALGORITHM[o.hash];
  const hmac = (key: Buffer, data: string) => createHmac(alg.name, key).update(data).digest();
  const gs2Header = `${o.flag ?? 'n'},${o.authzid === undefined ? '' : `a=${encodeName(o.authzid)}`},`;
  const clientNonce = o.clientNonce ?? randomBytes(18).toString('base64');
  const bare = `n=${encodeName(o.username)},r=${clientNonce}`;
  let serverSignature: Buffer | undefined;
  return {
    first: () => gs2Header + bare,
    final(serverFirst: string, tamper: { cbInput?: Buffer; nonce?: string } = {}): string {
      const attrs = Object.fromEntries(serverFirst.split(',').map((a) => [a[0], a.slice(2)]));
      const salt = Buffer.from(attrs.s!, 'base64');
      const iterations = Number(attrs.i);
      assert.ok(attrs.r!.startsWith(clientNonce), 'server nonce starts with the client nonce');
      const salted = o.saltedPassword ?? pbkdf2Sync(o.password, salt, iterations, alg.length, alg.name);
      const cbInput = tamper.cbInput ?? Buffer.concat([Buffer.from(gs2Header), o.cbData ?? Buffer.alloc(0)]);
      const withoutProof = `c=${cbInput.toString('base64')},r=${tamper.nonce ?? attrs.r}`;
      const authMessage = `${bare},${serverFirst},${withoutProof}`;
      const clientKey = hmac(salted, 'Client Key');
      const storedKey = createHash(alg.name).update(clientKey).digest();
      const signature = hmac(storedKey, authMessage);
      const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
      serverSignature = hmac(hmac(salted, 'Server Key'), authMessage);
      return `${withoutProof},p=${proof.toString('base64')}`;
    },
    serverFinalOk: (additional: Buffer | undefined) => additional?.toString('utf8') === `v=${serverSignature!.toString('base64')}`,
  };
}

/** Runs a whole SCRAM exchange; resolves with the server's result or rejects with its error. */
async function runScram(mechName: string, ctx: SaslContext, o: ClientOptions) {
  const m = mechanism(mechName, ctx);
  const client = scramClient(o);
  const serverFirst = await challenge(m, client.first());
  const r = await m.step(Buffer.from(client.final(serverFirst)));
  assert.ok('success' in r);
  assert.ok(client.serverFinalOk(r.success.additional), 'server signature verifies');
  return r.success;
}

// ---- tests ----

describe('RFC test vectors', () => {
  const sha1 = deriveCredentials('pencil', 4096, Buffer.from('QSXCR+Q6sek8bf92', 'base64'));
  const sha256 = deriveCredentials('pencil', 4096, Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'));
  const creds: StoredCredentials = { 'SCRAM-SHA-1': sha1['SCRAM-SHA-1'], 'SCRAM-SHA-256': sha256['SCRAM-SHA-256'] };
  const ctx = context({ users: { user: creds } });

  it('RFC 5802 §5 (SCRAM-SHA-1)', async () => {
    const m = mechanism('SCRAM-SHA-1', ctx, { serverNonce: () => '3rfcNHYJY1ZVvWVs7j' });
    assert.equal(await challenge(m, 'n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL'),
      'r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096');
    const r = await m.step(Buffer.from('c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts='));
    assert.ok('success' in r);
    assert.equal(r.success.username, 'user');
    assert.equal(r.success.additional?.toString(), 'v=rmF9pqV8S7suAoZWja4dJRkFsKQ=');
  });

  it('RFC 7677 §3 (SCRAM-SHA-256)', async () => {
    const m = mechanism('SCRAM-SHA-256', ctx, { serverNonce: () => '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0' });
    assert.equal(await challenge(m, 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO'),
      'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096');
    const r = await m.step(Buffer.from('c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ='));
    assert.ok('success' in r);
    assert.equal(r.success.additional?.toString(), 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
  });

  it('a wrong proof for the vector fails', async () => {
    const m = mechanism('SCRAM-SHA-1', ctx, { serverNonce: () => '3rfcNHYJY1ZVvWVs7j' });
    await challenge(m, 'n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL');
    await failsWith(m.step(Buffer.from('c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=w0X8v3Bz2T0CJGbJQyF0X+HI4Ts=')), 'not-authorized');
  });
});

describe('credentials', () => {
  it('derives both hashes with separate 16-byte salts', () => {
    const c = deriveCredentials('secret', 4096);
    assert.equal(c['SCRAM-SHA-1'].salt.length, 16);
    assert.equal(c['SCRAM-SHA-256'].salt.length, 16);
    assert.notDeepEqual(c['SCRAM-SHA-1'].salt, c['SCRAM-SHA-256'].salt);
    assert.equal(c['SCRAM-SHA-1'].storedKey.length, 20);
    assert.equal(c['SCRAM-SHA-256'].serverKey.length, 32);
    assert.equal(c['SCRAM-SHA-256'].iterations, 4096);
    assert.throws(() => deriveCredentials('secret', 0), RangeError);
  });

  it('verifies passwords for PLAIN, after SASLprep', async () => {
    const c = deriveCredentials('I\u00adX\u00a0y', 4096); // soft hyphen maps to nothing, NBSP to space
    assert.equal(verifyPassword(c, 'IX y'), true);
    assert.equal(verifyPassword(c, 'ix y'), false);
    assert.equal(verifyPassword(c, 'a\u0007'), false); // prohibited: never matches
    assert.equal(await verifyPasswordAsync(c, 'I\u00adX y'), true);
    assert.equal(await verifyPasswordAsync(c, 'IX'), false);
  });

  it('saslprep maps and rejects', () => {
    assert.equal(saslprep('user'), 'user');
    assert.equal(saslprep('\u00aa'), 'a');
    assert.throws(() => saslprep('a\u0007'), (e: unknown) => e instanceof SaslError && e.condition === 'malformed-request');
    assert.throws(() => deriveCredentials('\u0627\u0031', 4096), SaslError); // Bidi: RandALCat must end the string
  });
});

describe('SCRAM exchanges', () => {
  const password = randomBytes(12).toString('base64');
  const creds = deriveCredentials(password, ITERATIONS);
  const users = { juliet: creds, 'a,b=c': creds };
  const bindings: ChannelBindings = { 'tls-exporter': randomBytes(32), 'tls-server-end-point': randomBytes(32) };
  const tls = context({ users, secure: true, channelBindings: bindings });
  const plain = context({ users });

  it('completes all four mechanisms with random credentials', async () => {
    for (const hash of ['SCRAM-SHA-1', 'SCRAM-SHA-256'] as const) {
      assert.equal((await runScram(hash, plain, { hash, username: 'juliet', password })).username, 'juliet');
      assert.equal((await runScram(hash, tls, { hash, username: 'juliet', password })).username, 'juliet');
      for (const type of ['tls-exporter', 'tls-server-end-point'] as const) {
        const r = await runScram(`${hash}-PLUS`, tls, { hash, username: 'juliet', password, flag: `p=${type}`, cbData: bindings[type] });
        assert.equal(r.username, 'juliet');
      }
    }
  });

  it('decodes =2C and =3D in the user name and SASLpreps it', async () => {
    const r = await runScram('SCRAM-SHA-256', plain, { hash: 'SCRAM-SHA-256', username: 'a,b=c', password });
    assert.equal(r.username, 'a,b=c');
    const s = await runScram('SCRAM-SHA-256', plain, { hash: 'SCRAM-SHA-256', username: 'Jul\u00adiet', password });
    assert.equal(s.username, 'Juliet');
  });

  it('uses the stored keys only: no PBKDF2 during a login', async () => {
    const salt = randomBytes(16);
    const fast = deriveCredentials(password, 4096, salt);
    const salted = pbkdf2Sync(password, salt, 4096, 32, 'sha256');
    // The stored count claims 2^31-1 iterations; running PBKDF2 with it would take hours.
    const slow = { ...fast, 'SCRAM-SHA-256': { ...fast['SCRAM-SHA-256'], iterations: 2 ** 31 - 1 } };
    const ctx = context({ users: { romeo: slow } });
    const started = Date.now();
    await runScram('SCRAM-SHA-256', ctx, { hash: 'SCRAM-SHA-256', username: 'romeo', password, saltedPassword: salted });
    assert.ok(Date.now() - started < 1000);
  });

  it('fails a wrong password with not-authorized', async () => {
    await failsWith(runScram('SCRAM-SHA-256', plain, { hash: 'SCRAM-SHA-256', username: 'juliet', password: `${password}x` }), 'not-authorized');
    await failsWith(runScram('SCRAM-SHA-1', plain, { hash: 'SCRAM-SHA-1', username: 'juliet', password: '' }), 'not-authorized');
  });

  it('runs the same flow for an unknown user, then fails with not-authorized', async () => {
    const lookedUp: string[] = [];
    const ctx = context({ users, onLookup: (u) => lookedUp.push(u) });
    const first = async (username: string) => {
      const m = mechanism('SCRAM-SHA-256', ctx);
      const client = scramClient({ hash: 'SCRAM-SHA-256', username, password });
      const serverFirst = await challenge(m, client.first());
      return { m, client, serverFirst, attrs: Object.fromEntries(serverFirst.split(',').map((a) => [a[0], a.slice(2)])) };
    };
    const a = await first('nobody');
    const b = await first('nobody');
    const c = await first('somebody');
    const known = await first('juliet');
    assert.deepEqual(lookedUp, ['nobody', 'nobody', 'somebody', 'juliet']);
    // Same shape as a real account: a stable 16-byte salt per name and the configured count.
    assert.equal(a.attrs.s, b.attrs.s);
    assert.notEqual(a.attrs.s, c.attrs.s);
    assert.equal(Buffer.from(a.attrs.s!, 'base64').length, Buffer.from(known.attrs.s!, 'base64').length);
    assert.equal(a.attrs.i, String(ITERATIONS));
    assert.equal(a.attrs.r!.length, known.attrs.r!.length);
    await failsWith(a.m.step(Buffer.from(a.client.final(a.serverFirst))), 'not-authorized');
  });

  it('passes on errors of the account lookup', async () => {
    const ctx: SaslContext = { ...plain, lookup: async () => { throw new SaslError('temporary-auth-failure'); } };
    await failsWith(runScram('SCRAM-SHA-256', ctx, { hash: 'SCRAM-SHA-256', username: 'juliet', password }), 'temporary-auth-failure');
  });

  it('refuses another step once the exchange is over', async () => {
    const m = mechanism('SCRAM-SHA-256', plain);
    const client = scramClient({ hash: 'SCRAM-SHA-256', username: 'juliet', password });
    const final = client.final(await challenge(m, client.first()));
    await m.step(Buffer.from(final));
    await failsWith(m.step(Buffer.from(final)), 'malformed-request');
  });
});

describe('channel binding', () => {
  const password = 'correct horse';
  const creds = deriveCredentials(password, ITERATIONS);
  const bindings: ChannelBindings = { 'tls-exporter': randomBytes(32) };
  const tls = context({ users: { juliet: creds }, secure: true, channelBindings: bindings });
  const client = (o: Partial<ClientOptions>): ClientOptions => ({ hash: 'SCRAM-SHA-256', username: 'juliet', password, ...o });

  it('fails when the client sees other channel binding data (a man in the middle)', async () => {
    await failsWith(runScram('SCRAM-SHA-256-PLUS', tls, client({ flag: 'p=tls-exporter', cbData: randomBytes(32) })), 'not-authorized');
  });

  it("fails when c= does not repeat the GS2 header", async () => {
    const m = mechanism('SCRAM-SHA-256', tls);
    const c = scramClient(client({ flag: 'n' }));
    const serverFirst = await challenge(m, c.first());
    await failsWith(m.step(Buffer.from(c.final(serverFirst, { cbInput: Buffer.from('y,,') }))), 'not-authorized');
  });

  it("detects a downgrade: 'y' while -PLUS was offered", async () => {
    await failsWith(runScram('SCRAM-SHA-256', tls, client({ flag: 'y' })), 'not-authorized');
    await failsWith(runScram('SCRAM-SHA-1', tls, client({ hash: 'SCRAM-SHA-1', flag: 'y' })), 'not-authorized');
  });

  it("accepts 'y' when no -PLUS was offered", async () => {
    const noTls = context({ users: { juliet: creds }, channelBindings: bindings }); // data but no TLS: ignored
    assert.equal((await runScram('SCRAM-SHA-256', noTls, client({ flag: 'y' }))).username, 'juliet');
    const noData = context({ users: { juliet: creds }, secure: true });
    assert.equal((await runScram('SCRAM-SHA-256', noData, client({ flag: 'y' }))).username, 'juliet');
  });

  it("accepts 'y' with -PLUS offered only when downgrade protection is disabled", async () => {
    const lax: SaslContext = { ...tls, disableScramDowngradeProtection: true };
    assert.equal((await runScram('SCRAM-SHA-256', lax, client({ flag: 'y' }))).username, 'juliet');
    // c= must still repeat the header, and -PLUS still needs real channel binding.
    await failsWith(runScram('SCRAM-SHA-256-PLUS', lax, client({ flag: 'y' })), 'malformed-request');
  });

  it("accepts 'n' on a non-PLUS mechanism even when -PLUS was offered", async () => {
    assert.equal((await runScram('SCRAM-SHA-256', tls, client({ flag: 'n' }))).username, 'juliet');
  });

  it('rejects p= on a non-PLUS mechanism, n/y on -PLUS, and unavailable types', async () => {
    await failsWith(runScram('SCRAM-SHA-256', tls, client({ flag: 'p=tls-exporter', cbData: bindings['tls-exporter'] })), 'malformed-request');
    await failsWith(runScram('SCRAM-SHA-256-PLUS', tls, client({ flag: 'n' })), 'malformed-request');
    await failsWith(runScram('SCRAM-SHA-256-PLUS', tls, client({ flag: 'y' })), 'malformed-request');
    await failsWith(runScram('SCRAM-SHA-256-PLUS', tls, client({ flag: 'p=tls-server-end-point', cbData: randomBytes(32) })), 'malformed-request');
    await failsWith(runScram('SCRAM-SHA-256-PLUS', tls, client({ flag: 'p=tls-unique', cbData: randomBytes(12) })), 'malformed-request');
  });
});

describe('authzid', () => {
  const password = 'pw';
  const ctx = context({ users: { juliet: deriveCredentials(password, ITERATIONS) }, secure: true });
  const scram = (authzid: string) => runScram('SCRAM-SHA-256', ctx, { hash: 'SCRAM-SHA-256', username: 'juliet', password, authzid });
  const plain = (authzid: string) => mechanism('PLAIN', ctx).step(Buffer.from(`${authzid}\0juliet\0${password}`));

  it('accepts the user\'s own bare JID', async () => {
    assert.equal((await scram('juliet@example.com')).username, 'juliet');
    assert.equal((await scram('Juliet@EXAMPLE.com')).username, 'juliet');
    assert.ok('success' in (await plain('juliet@example.com')));
  });

  it('rejects any other identity with invalid-authzid', async () => {
    for (const authzid of ['romeo@example.com', 'juliet@example.net', 'juliet@example.com/balcony', 'juliet', 'example.com']) {
      await failsWith(scram(authzid), 'invalid-authzid');
      await failsWith(plain(authzid), 'invalid-authzid');
    }
  });
});

describe('PLAIN', () => {
  const password = 'pass word\u00a0';
  const ctx = context({ users: { juliet: deriveCredentials(password, ITERATIONS) }, secure: true });
  const step = (msg: string | Buffer) => mechanism('PLAIN', ctx).step(Buffer.from(msg));

  it('authenticates with a correct password, SASLprep applied to both', async () => {
    const r = await step('\0juliet\0pass word ');
    assert.ok('success' in r);
    assert.equal(r.success.username, 'juliet');
    assert.equal(r.success.additional, undefined);
    const s = await step('\0Jul\u00adiet\0pass\u00a0word\u2003');
    assert.ok('success' in s);
    assert.equal(s.success.username, 'Juliet');
  });

  it('fails a wrong password or an unknown user with not-authorized', async () => {
    await failsWith(step('\0juliet\0wrong'), 'not-authorized');
    await failsWith(step('\0nobody\0pass word '), 'not-authorized');
    await failsWith(step('\0juliet\0a\u0007'), 'not-authorized');
  });

  it('rejects malformed messages', async () => {
    for (const msg of ['', 'juliet', '\0juliet', '\0\0pw', '\0juliet\0', 'a\0b\0c\0d', '\0\u0007\0pw']) {
      await failsWith(step(msg), 'malformed-request');
    }
    await failsWith(step(Buffer.from([0, 0xff, 0xfe, 0, 0x61])), 'malformed-request');
  });

  it('is one step only', async () => {
    const m = mechanism('PLAIN', ctx);
    await m.step(Buffer.from('\0juliet\0pass word '));
    await failsWith(m.step(Buffer.from('\0juliet\0pass word ')), 'malformed-request');
  });
});

describe('malformed SCRAM messages', () => {
  const ctx = context({ users: { user: deriveCredentials('pencil', ITERATIONS) } });

  it('rejects bad client-first messages', async () => {
    const bad = [
      '', 'n', 'n,', 'n,,', 'x,,n=user,r=abc', 'n,,r=abc,n=user', 'n,,n=user', 'n,,n=,r=abc', 'n,,n=user,r=',
      'n,,m=ext,n=user,r=abc', 'n,,n=us=er,r=abc', 'n,,n=us=2c,r=abc', 'n,,n=user,r=a\u00e9', 'n,,n=user,r=abc,',
      'n,,n=user,r=abc,1=x', 'p=,,n=user,r=abc', 'p=tls exporter,,n=user,r=abc', 'n,a=,n=user,r=abc', 'n,b=x,n=user,r=abc',
      '\ufeffn,,n=user,r=abc', 'n,,n=user\u0007,r=abc', 'n,,n=us\0er,r=abc',
    ];
    for (const msg of bad) await failsWith(mechanism('SCRAM-SHA-1', ctx).step(Buffer.from(msg)), 'malformed-request');
    await failsWith(mechanism('SCRAM-SHA-1', ctx).step(Buffer.from([0x6e, 0x2c, 0x2c, 0x6e, 0x3d, 0xc3, 0x28])), 'malformed-request');
  });

  it('rejects bad client-final messages', async () => {
    const bad = (serverNonce: string) => [
      '', 'c=biws', `c=biws,r=abc${serverNonce}`, `c=biws,r=abc${serverNonce},p=`, `c=biws,r=abc${serverNonce},p=***`,
      `c=biws,r=abc${serverNonce},p=AAAA`, `r=abc${serverNonce},c=biws,p=${'A'.repeat(27)}=`, `c=b!ws,r=abc${serverNonce},p=${'A'.repeat(27)}=`,
      `c=biws,r=abcX${serverNonce},p=${'A'.repeat(27)}=`, `c=biws,r=abc${serverNonce},,p=${'A'.repeat(27)}=`,
    ];
    for (const msg of bad('srv')) {
      const m = mechanism('SCRAM-SHA-1', ctx, { serverNonce: () => 'srv' });
      await challenge(m, 'n,,n=user,r=abc');
      await failsWith(m.step(Buffer.from(msg)), 'malformed-request');
    }
  });

  it('throws nothing but SaslError for random input', async () => {
    const alphabet = fc.constantFrom('n', 'y', 'p', 'a', 'r', 'c', 'm', 's', 'i', '=', ',', '=2C', '=3D', 'user', 'AAAA', 'biws', '\0', 'é', '\ud800');
    const text = fc.oneof(fc.string({ unit: alphabet, maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 40 }));
    const input = fc.oneof(fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)), text.map((s) => Buffer.from(s)));
    const names = fc.constantFrom('SCRAM-SHA-1', 'SCRAM-SHA-256', 'SCRAM-SHA-256-PLUS', 'PLAIN');
    const tls = context({ users: { user: deriveCredentials('pencil', 1) }, secure: true, channelBindings: { 'tls-exporter': Buffer.alloc(32) } });
    await fc.assert(
      fc.asyncProperty(names, input, fc.boolean(), async (name, bytes, afterFirst) => {
        const m = mechanism(name, tls);
        try {
          if (afterFirst && name !== 'PLAIN') {
            await m.step(Buffer.from(name.endsWith('-PLUS') ? 'p=tls-exporter,,n=user,r=abc' : 'n,,n=user,r=abc'));
          }
          await m.step(bytes);
        } catch (e) {
          assert.ok(e instanceof SaslError, `unexpected ${String(e)}`);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('offeredMechanisms', () => {
  const cb = { 'tls-exporter': randomBytes(32) };
  const cases: Array<[TestContextOptions, string[]]> = [
    [{}, ['SCRAM-SHA-256', 'SCRAM-SHA-1']],
    [{ allowUnencryptedPlain: true }, ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN']],
    [{ channelBindings: cb }, ['SCRAM-SHA-256', 'SCRAM-SHA-1']],
    [{ secure: true }, ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN']],
    [{ secure: true, channelBindings: { 'tls-exporter': Buffer.alloc(0) } }, ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN']],
    [{ secure: true, channelBindings: cb }, ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS', 'SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN']],
    [{ secure: true, channelBindings: { 'tls-server-end-point': randomBytes(32) } }, ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS', 'SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN']],
  ];

  it('follows the matrix', () => {
    for (const [o, expected] of cases) assert.deepEqual(offeredMechanisms(context(o)), expected, JSON.stringify(Object.keys(o)));
  });

  it('creates exactly the offered mechanisms', () => {
    for (const [o, expected] of cases) {
      const ctx = context(o);
      for (const name of ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS', 'SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN', 'DIGEST-MD5', 'scram-sha-1', '']) {
        const m = createMechanism(name, ctx);
        assert.equal(m?.name ?? null, expected.includes(name) ? name : null, name);
      }
    }
  });
});
