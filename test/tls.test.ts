import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createHash, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import forge from 'node-forge';
import { ConfigError } from '../src/errors.js';
import type { HostConfig } from '../src/config/types.js';
import { ensureCertificate, fingerprint, generateSelfSigned, loadPem } from '../src/tls/certificates.js';
import { TlsContexts, checkCertificates } from '../src/tls/contexts.js';

const root = mkdtempSync(join(tmpdir(), 'rohrpost-tls-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const scratch = (): string => { const dir = join(root, `case${n++}`); mkdirSync(dir); return dir; };
const FINGERPRINT = /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/;
const silent = { info() {} };

/** A test certificate signed with forge: any names, any validity, optionally by a CA. */
function makeCert(opts: { cn: string; dns?: string[]; notBefore?: Date; notAfter?: Date; ca?: { cert: string; key: string }; isCa?: boolean }):
  { cert: string; key: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey);
  cert.serialNumber = '4' + String(++n).padStart(7, '0');
  cert.validity.notBefore = opts.notBefore ?? new Date(Date.now() - 86400_000);
  cert.validity.notAfter = opts.notAfter ?? new Date(Date.now() + 365 * 86400_000);
  cert.setSubject([{ name: 'commonName', value: opts.cn }]);
  cert.setIssuer(opts.ca ? forge.pki.certificateFromPem(opts.ca.cert).subject.attributes : [{ name: 'commonName', value: opts.cn }]);
  cert.setExtensions(opts.isCa
    ? [{ name: 'basicConstraints', cA: true }, { name: 'keyUsage', keyCertSign: true, digitalSignature: true }]
    : [{ name: 'subjectAltName', altNames: (opts.dns ?? [opts.cn]).map((value) => ({ type: 2, value })) }]);
  cert.sign(forge.pki.privateKeyFromPem(opts.ca?.key ?? privateKey), forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: privateKey };
}

function writePair(dir: string, name: string, pair: { cert: string; key: string }): { certificate: string; key: string } {
  writeFileSync(join(dir, `${name}.crt`), pair.cert);
  writeFileSync(join(dir, `${name}.key`), pair.key, { mode: 0o600 });
  return { certificate: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

function configError(fn: () => unknown): ConfigError {
  try { fn(); } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a ConfigError');
}

/** A direct-TLS server on 127.0.0.1 with the contexts' options; answers nothing, closes on end. */
async function listen(options: tls.TlsOptions): Promise<{ port: number; close(): Promise<void> }> {
  const server = tls.createServer(options, (s) => { s.on('error', () => {}); s.end(); });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

interface Handshake { cn: string; fingerprint: string; protocol: string | null }
function handshake(port: number, opts: tls.ConnectionOptions = {}): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...opts }, () => {
      const peer = socket.getPeerCertificate();
      resolve({ cn: String(peer.subject.CN), fingerprint: peer.fingerprint256, protocol: socket.getProtocol() });
      socket.end();
    });
    socket.on('error', reject);
  });
}

describe('tls: certificates', () => {
  it('generateSelfSigned makes a certificate for the domain and its subdomains', () => {
    const { cert, key } = generateSelfSigned('example.org');
    const x509 = new X509Certificate(cert);
    assert.equal(x509.checkHost('example.org'), 'example.org');
    assert.equal(x509.checkHost('conference.example.org'), '*.example.org');
    assert.equal(x509.checkHost('example.net'), undefined);
    assert.equal(x509.subject, 'CN=example.org');
    assert.match(x509.subjectAltName ?? '', /othername:XmppAddr:example\.org/i);
    assert.ok(x509.verify(x509.publicKey), 'self-signed');
    assert.ok(x509.checkPrivateKey(createPrivateKey(key)));
    const years = (Date.parse(x509.validTo) - Date.now()) / (365.25 * 86400_000);
    assert.ok(years > 9.9 && years < 10.1, `valid for ${years} years`);
    assert.match(key, /^-----BEGIN PRIVATE KEY-----/);
  });

  it('fingerprint is SHA-256 of the DER, colon hex', () => {
    const { cert } = generateSelfSigned('fp.test');
    const fp = fingerprint(cert);
    assert.match(fp, FINGERPRINT);
    const der = new X509Certificate(cert).raw;
    assert.equal(fp, createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)!.join(':'));
  });

  it('ensureCertificate writes the key mode 0600, atomically, once', () => {
    const dir = join(scratch(), 'certs');
    const logged: { obj: object; msg: string }[] = [];
    const first = ensureCertificate('a.test', dir, { info: (obj, msg) => logged.push({ obj, msg }) });
    assert.deepEqual(first, { cert: join(dir, 'a.test.crt'), key: join(dir, 'a.test.key'), created: true });
    assert.equal(statSync(first.key).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dir).sort(), ['a.test.crt', 'a.test.key']); // no temporary files left
    const pem = readFileSync(first.cert, 'utf8');
    assert.equal(new X509Certificate(pem).checkHost('a.test'), 'a.test');
    assert.equal(logged.length, 1);
    assert.equal((logged[0]!.obj as { fingerprint: string }).fingerprint, fingerprint(pem));
    const again = ensureCertificate('a.test', dir, silent);
    assert.equal(again.created, false);
    assert.equal(readFileSync(again.cert, 'utf8'), pem);
  });

  it('loadPem takes a certificate with its chain', () => {
    const dir = scratch();
    const ca = makeCert({ cn: 'Test CA', isCa: true });
    const leaf = makeCert({ cn: 'chain.test', ca });
    const files = writePair(dir, 'chain', { cert: leaf.cert + ca.cert, key: leaf.key });
    const loaded = loadPem(files.certificate, files.key);
    assert.equal(loaded.chain.length, 2);
    assert.equal(loaded.fingerprint, fingerprint(leaf.cert));
  });

  it('loadPem names the file that is missing, unreadable or mismatched', () => {
    const dir = scratch();
    const a = writePair(dir, 'a', generateSelfSigned('a.test'));
    const b = writePair(dir, 'b', generateSelfSigned('b.test'));
    let err = configError(() => loadPem(join(dir, 'none.crt'), a.key, 'hosts[0]'));
    assert.equal(err.key, 'hosts[0].certificate');
    assert.equal(err.file, join(dir, 'none.crt'));
    assert.match(err.message, /ENOENT/);
    err = configError(() => loadPem(a.certificate, join(dir, 'none.key')));
    assert.equal(err.key, 'key');
    assert.equal(err.file, join(dir, 'none.key'));
    err = configError(() => loadPem(a.certificate, b.key, 'hosts[1]'));
    assert.equal(err.key, 'hosts[1].key');
    assert.equal(err.file, b.key);
    assert.match(err.expected, new RegExp(`private key of the certificate in ${a.certificate.replace(/[.]/g, '\\.')}`));
    writeFileSync(join(dir, 'garbage.crt'), 'not a certificate\n');
    err = configError(() => loadPem(join(dir, 'garbage.crt'), a.key));
    assert.equal(err.file, join(dir, 'garbage.crt'));
    assert.match(err.expected, /BEGIN CERTIFICATE/);
    writeFileSync(join(dir, 'broken.crt'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    assert.match(configError(() => loadPem(join(dir, 'broken.crt'), a.key)).expected, /valid X\.509/);
    writeFileSync(join(dir, 'garbage.key'), 'not a key\n');
    assert.equal(configError(() => loadPem(a.certificate, join(dir, 'garbage.key'))).file, join(dir, 'garbage.key'));
  });

  it('loadPem takes an ECDSA key (made by node) with a certificate (made by the openssl CLI)', async (t) => {
    if (spawnSync('openssl', ['version']).status !== 0) {
      t.skip('openssl CLI not found: node-forge cannot sign with ECDSA, so no ECDSA certificate can be made');
      return;
    }
    const dir = scratch();
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256', privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    writeFileSync(join(dir, 'ec.key'), privateKey, { mode: 0o600 });
    execFileSync('openssl', ['req', '-x509', '-key', join(dir, 'ec.key'), '-out', join(dir, 'ec.crt'), '-days', '30',
      '-subj', '/CN=ec.test', '-addext', 'subjectAltName=DNS:ec.test', '-sha256'], { stdio: 'ignore' });
    const loaded = loadPem(join(dir, 'ec.crt'), join(dir, 'ec.key'));
    assert.equal(loaded.chain[0]!.publicKey.asymmetricKeyType, 'ec');
    const contexts = new TlsContexts({ hosts: [{ domain: 'ec.test', certificate: join(dir, 'ec.crt'), key: join(dir, 'ec.key') }], certs: dir });
    contexts.load();
    const server = await listen(contexts.serverOptions());
    try {
      const got = await handshake(server.port, { servername: 'ec.test' });
      assert.equal(got.cn, 'ec.test');
      assert.equal(got.fingerprint, loaded.fingerprint);
    } finally {
      await server.close();
    }
  });
});

describe('tls: contexts over real sockets', () => {
  let dir: string;
  let hosts: HostConfig[];
  let contexts: TlsContexts;
  let server: { port: number; close(): Promise<void> };

  before(async () => {
    dir = scratch();
    hosts = [
      { domain: 'a.test', certificate: null, key: null },
      { domain: 'b.test', certificate: null, key: null },
    ];
    contexts = new TlsContexts({ hosts, certs: join(dir, 'certs') }, { log: silent });
    const loaded = contexts.load();
    assert.deepEqual(loaded.map((h) => h.domain), ['a.test', 'b.test']);
    for (const h of loaded) assert.match(h.fingerprint, FINGERPRINT);
    server = await listen(contexts.serverOptions());
  });
  after(() => server.close());

  it('SNI picks the host certificate, case-insensitively; others get the first host', async () => {
    assert.equal((await handshake(server.port, { servername: 'b.test' })).cn, 'b.test');
    assert.equal((await handshake(server.port, { servername: 'a.test' })).cn, 'a.test');
    assert.equal((await handshake(server.port, { servername: 'B.Test' })).cn, 'b.test');
    assert.equal((await handshake(server.port, { servername: 'conference.b.test' })).cn, 'b.test');
    assert.equal((await handshake(server.port, { servername: 'unknown.example' })).cn, 'a.test');
    assert.equal((await handshake(server.port)).cn, 'a.test'); // no SNI at all
  });

  it('STARTTLS: a plain socket upgraded with new TLSSocket picks by SNI too', async () => {
    const plain = net.createServer((socket) => {
      socket.once('data', () => {
        socket.write('proceed\n');
        const secure = new tls.TLSSocket(socket, { isServer: true, ...contexts.serverOptions() });
        secure.on('error', () => {});
        secure.on('secure', () => secure.end());
      });
    });
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    try {
      const port = (plain.address() as net.AddressInfo).port;
      const cn = await new Promise<string>((resolve, reject) => {
        const raw = net.connect(port, '127.0.0.1', () => raw.write('starttls\n'));
        raw.on('error', reject);
        raw.once('data', () => {
          const secure = tls.connect({ socket: raw, servername: 'b.test', rejectUnauthorized: false }, () => {
            resolve(String(secure.getPeerCertificate().subject.CN));
            secure.end();
          });
          secure.on('error', reject);
        });
      });
      assert.equal(cn, 'b.test');
    } finally {
      await new Promise((resolve) => plain.close(resolve));
    }
  });

  it('refuses TLS 1.1 (and the same client does get TLS 1.1 from a lax server)', async () => {
    const old: tls.ConnectionOptions = { servername: 'a.test', minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' };
    await assert.rejects(handshake(server.port, old), (err: NodeJS.ErrnoException) => {
      assert.equal(err.code, 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION'); // the server's alert, not a client-side refusal
      return true;
    });
    const lax = await listen({ ...contexts.serverOptions(), minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' });
    try {
      assert.equal((await handshake(lax.port, old)).protocol, 'TLSv1.1');
    } finally {
      await lax.close();
    }
    assert.match((await handshake(server.port, { servername: 'a.test' })).protocol ?? '', /^TLSv1\.[23]$/);
  });

  it('reload keeps the old contexts when a file is broken, and takes new ones when fixed', async () => {
    const certFile = join(dir, 'certs', 'b.test.crt');
    const before = await handshake(server.port, { servername: 'b.test' });
    writeFileSync(certFile, 'oops\n');
    const err = configError(() => contexts.reload());
    assert.equal(err.key, 'hosts[1].certificate');
    assert.equal(err.file, certFile);
    assert.equal((await handshake(server.port, { servername: 'b.test' })).fingerprint, before.fingerprint);

    const fresh = generateSelfSigned('b.test');
    writeFileSync(certFile, fresh.cert);
    writeFileSync(join(dir, 'certs', 'b.test.key'), fresh.key);
    contexts.reload();
    const after = await handshake(server.port, { servername: 'b.test' });
    assert.equal(after.fingerprint, fingerprint(fresh.cert));
    assert.notEqual(after.fingerprint, before.fingerprint);
  });

  it('a client that trusts the CA verifies a chained certificate', async () => {
    const d = scratch();
    const ca = makeCert({ cn: 'Test CA', isCa: true });
    const leaf = makeCert({ cn: 'chain.test', ca });
    const files = writePair(d, 'chain', { cert: leaf.cert + ca.cert, key: leaf.key });
    const chained = new TlsContexts({ hosts: [{ domain: 'chain.test', ...files }], certs: d });
    chained.load();
    const s = await listen(chained.serverOptions());
    try {
      const got = await handshake(s.port, { servername: 'chain.test', ca: ca.cert, rejectUnauthorized: true });
      assert.equal(got.cn, 'chain.test');
    } finally {
      await s.close();
    }
  });

  it('is unusable before load()', () => {
    const fresh = new TlsContexts({ hosts, certs: join(dir, 'certs') });
    assert.throws(() => fresh.defaultContext(), /not loaded/);
  });
});

describe('tls: rohrpost check', () => {
  it('reports missing, expired, mismatched and wrong-domain certificates, and fingerprints', () => {
    const dir = scratch();
    const good = writePair(dir, 'good', makeCert({ cn: 'good.test' }));
    const expired = writePair(dir, 'expired', makeCert({ cn: 'old.test', notBefore: new Date(Date.now() - 400 * 86400_000), notAfter: new Date(Date.now() - 86400_000) }));
    const soon = writePair(dir, 'soon', makeCert({ cn: 'soon.test', notAfter: new Date(Date.now() + 5 * 86400_000) }));
    const other = writePair(dir, 'other', makeCert({ cn: 'other.test' }));
    const report = checkCertificates({
      certs: join(dir, 'certs'),
      hosts: [
        { domain: 'good.test', ...good },
        { domain: 'new.test', certificate: null, key: null },
        { domain: 'old.test', ...expired },
        { domain: 'soon.test', ...soon },
        { domain: 'wrong.test', ...other },
        { domain: 'mixed.test', certificate: good.certificate, key: other.key },
        { domain: 'gone.test', certificate: join(dir, 'gone.crt'), key: join(dir, 'gone.key') },
      ],
    });
    const byDomain = (d: string) => report.problems.filter((p) => p.domain === d).map((p) => `${p.severity}: ${p.message}`);
    assert.deepEqual(byDomain('good.test'), []);
    assert.match(byDomain('new.test').join(), /^warning: missing; a self-signed certificate will be generated/);
    assert.match(byDomain('old.test').join(), /^error: expired on /);
    assert.match(byDomain('soon.test').join(), /^warning: expires on /);
    assert.match(byDomain('wrong.test').join(), /^error: does not cover wrong\.test \(subject alt names: DNS:other\.test\)/);
    assert.match(byDomain('mixed.test').join(), /^error: .*private key of the certificate/);
    assert.equal(report.problems.find((p) => p.domain === 'mixed.test')!.file, other.key);
    assert.match(byDomain('gone.test').join(), /^error: .*ENOENT/);
    assert.deepEqual(report.certificates.map((c) => c.domain), ['good.test', 'old.test', 'soon.test', 'wrong.test']);
    for (const c of report.certificates) assert.match(c.fingerprint, FINGERPRINT);
  });
});

