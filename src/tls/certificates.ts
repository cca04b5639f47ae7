// Certificates: self-signed generation for first start, loading and checking
// admin-provided PEM files. Node's crypto makes keys and parses X.509; node-forge
// only builds and signs new certificates, which crypto cannot.
import { X509Certificate, createPrivateKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { closeSync, existsSync, fchmodSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { domainToASCII } from 'node:url';
import { createSecureContext, type SecureContext } from 'node:tls';
import { createRequire } from 'node:module';
import type forgeModule from 'node-forge';

// node-forge is only needed to make a certificate (first start, `cert generate`); loaded
// on demand, a server whose certificates exist saves its ~10 MB of memory.
const requireCjs = createRequire(import.meta.url);
function loadForge(): typeof forgeModule {
  return requireCjs('node-forge') as typeof forgeModule;
}
import { ConfigError } from '../errors.js';

/** Oldest protocol accepted; TLS 1.0 and 1.1 are deprecated (RFC 8996). */
export const TLS_MIN_VERSION = 'TLSv1.2';
/** Lifetime of a generated self-signed certificate. */
export const SELF_SIGNED_VALIDITY_YEARS = 10;
const RSA_BITS = 2048;
/** RFC 6120 §13.7.1.4: id-on-xmppAddr, an otherName carrying the JID (here the domain). */
const OID_XMPP_ADDR = '1.3.6.1.5.5.7.8.5';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';

/** The subset of a pino logger used here. */
export interface CertificateLog { info(obj: object, msg: string): void }

/** A self-signed certificate and its key, both PEM. */
export function generateSelfSigned(domain: string): { cert: string; key: string } {
  const forge = loadForge();
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: RSA_BITS,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey);
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x40; // positive, and minimal in DER
  cert.serialNumber = serial.toString('hex');
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 60 * 60 * 1000); // an hour back, for clock skew
  cert.validity.notAfter = new Date(now);
  cert.validity.notAfter.setUTCFullYear(cert.validity.notAfter.getUTCFullYear() + SELF_SIGNED_VALIDITY_YEARS);
  const name = [{ name: 'commonName', value: domain }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', critical: true, digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true }, // clientAuth: s2s presents it outbound
    { name: 'subjectKeyIdentifier' },
    { id: OID_SUBJECT_ALT_NAME, name: 'subjectAltName', value: subjectAltName(forge, domain) },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(privateKey), forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: privateKey };
}

/** dNSName domain and *.domain (components, MUC), plus the domain as id-on-xmppAddr. */
function subjectAltName(forge: typeof forgeModule, domain: string): forgeModule.asn1.Asn1 {
  const { asn1 } = forge;
  const dnsName = domainToASCII(domain) || domain;
  const dns = (n: string) => asn1.create(asn1.Class.CONTEXT_SPECIFIC, 2, false, n);
  const xmppAddr = asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(OID_XMPP_ADDR).getBytes()),
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTF8, false, forge.util.encodeUtf8(domain)),
    ]),
  ]);
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [dns(dnsName), dns(`*.${dnsName}`), xmppAddr]);
}

/** SHA-256 fingerprint of the first certificate in a PEM, as colon-separated upper-case hex. */
export function fingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

/** Where a host's certificate lives: the configured files, or certs/<domain>.crt/.key. */
export function certificatePaths(host: { domain: string; certificate: string | null; key: string | null }, certsDir: string):
  { cert: string; key: string; generated: boolean } {
  if (host.certificate !== null && host.key !== null) return { cert: host.certificate, key: host.key, generated: false };
  if (/[/\\]|^\.|^$/.test(host.domain)) throw new ConfigError('hosts', host.domain, 'a domain name usable as a file name');
  return { cert: join(certsDir, `${host.domain}.crt`), key: join(certsDir, `${host.domain}.key`), generated: true };
}

/**
 * Makes certs/<domain>.crt and .key unless both exist; the key is written mode 0600.
 * Logs the new certificate's fingerprint, which users compare when their client asks.
 */
export function ensureCertificate(domain: string, certsDir: string, log: CertificateLog): { cert: string; key: string; created: boolean } {
  const paths = certificatePaths({ domain, certificate: null, key: null }, certsDir);
  if (existsSync(paths.cert) && existsSync(paths.key)) return { cert: paths.cert, key: paths.key, created: false };
  mkdirSync(certsDir, { recursive: true, mode: 0o700 });
  const made = generateSelfSigned(domain);
  writeFileAtomic(paths.key, made.key, 0o600);
  writeFileAtomic(paths.cert, made.cert, 0o644);
  log.info({ domain, certificate: paths.cert, fingerprint: fingerprint(made.cert) }, 'generated a self-signed certificate');
  return { cert: paths.cert, key: paths.key, created: true };
}

/** Write to a temporary file, fsync, then rename: readers see the old file or the whole new one. */
function writeFileAtomic(path: string, data: string, mode: number): void {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', mode);
  try {
    fchmodSync(fd, mode); // the umask may have narrowed or (if odd) widened it
    writeSync(fd, data);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

/** A certificate (chain) and key read from PEM files, checked and ready for TLS. */
export interface LoadedCertificate {
  certPath: string;
  keyPath: string;
  certPem: string;
  keyPem: string;
  /** The leaf first, then the rest of the chain as given. */
  chain: X509Certificate[];
  fingerprint: string;
  context: SecureContext;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Reads and checks a certificate (RSA or ECDSA, leaf first, chain after) and its key.
 * `label` prefixes the key in errors (e.g. 'hosts[0]' -> 'hosts[0].certificate').
 */
export function loadPem(certPath: string, keyPath: string, label?: string): LoadedCertificate {
  const certKey = label ? `${label}.certificate` : 'certificate';
  const keyKey = label ? `${label}.key` : 'key';
  const certPem = readPem(certPath, certKey, 'certificate');
  const keyPem = readPem(keyPath, keyKey, 'private key');
  const blocks = certPem.match(PEM_CERT);
  if (!blocks) throw new ConfigError(certKey, certPath, 'a PEM file with -----BEGIN CERTIFICATE-----', certPath);
  let chain: X509Certificate[];
  try {
    chain = blocks.map((b) => new X509Certificate(b));
  } catch (err) {
    throw new ConfigError(certKey, certPath, `a valid X.509 certificate (${(err as Error).message})`, certPath);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(keyPem);
  } catch (err) {
    throw new ConfigError(keyKey, keyPath, `an unencrypted PEM private key (${(err as Error).message})`, keyPath);
  }
  if (!chain[0]!.checkPrivateKey(privateKey)) {
    throw new ConfigError(keyKey, keyPath, `the private key of the certificate in ${certPath}`, keyPath);
  }
  let context: SecureContext;
  try {
    context = createSecureContext({ cert: certPem, key: keyPem, minVersion: TLS_MIN_VERSION });
  } catch (err) {
    throw new ConfigError(certKey, certPath, `a certificate and key usable for TLS (${(err as Error).message})`, certPath);
  }
  return { certPath, keyPath, certPem, keyPem, chain, fingerprint: chain[0]!.fingerprint256, context };
}

function readPem(path: string, key: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ConfigError(key, path, `a readable PEM ${what} file (${code})`, path);
  }
}
