// TLS for server-to-server streams: our certificate on both sides of a connection
// (a server is a TLS client when it connects out), the peer's certificate asked for
// and checked against the trusted authorities and RFC 6125 identities.
import { readFileSync } from 'node:fs';
import { createSecureContext, rootCertificates, type ConnectionOptions, type SecureContext, type TLSSocket, type TlsOptions } from 'node:tls';
import { domainToASCII } from 'node:url';
import { TLS_MIN_VERSION } from '../tls/certificates.js';
import { ConfigError } from '../errors.js';
import type { TlsContexts } from '../tls/contexts.js';
import { certificateMatchesDomain } from './identity.js';

/** What a peer's certificate proves about a domain. */
export type CertificateStatus = 'valid' | 'untrusted' | 'mismatch' | 'none';

export class S2sTls {
  /** The admin's authorities (a private CA for a LAN, say), read at start so a bad file is reported then. */
  private readonly extraCa: string | null;
  private ca: string[] | null = null;
  private contexts = new Map<string, SecureContext>();

  constructor(private readonly hosts: TlsContexts, caFile: string | null) {
    this.extraCa = caFile ? readCa(caFile) : null;
  }

  /**
   * The system's authorities plus the admin's. Made on first use: loading the root
   * store costs a few MB, which a server that never federates need not pay.
   */
  private trusted(): string[] {
    this.ca ??= this.extraCa ? [...rootCertificates, this.extraCa] : [...rootCertificates];
    return this.ca;
  }

  /** After a certificate reload: contexts are made again on next use. */
  refresh(): void {
    this.contexts = new Map();
  }

  private contextFor(domain: string): SecureContext {
    let ctx = this.contexts.get(domain);
    if (!ctx) {
      const { cert, key } = this.hosts.credentialsFor(domain);
      ctx = createSecureContext({ cert, key, ca: this.trusted(), minVersion: TLS_MIN_VERSION });
      this.contexts.set(domain, ctx);
    }
    return ctx;
  }

  /** For the listeners: the host's certificate by SNI, and the peer's certificate requested (not required: dialback may follow). */
  serverOptions(defaultDomain: string): TlsOptions {
    return {
      secureContext: this.contextFor(defaultDomain),
      SNICallback: (name, cb) => {
        try {
          cb(null, this.contextFor(name.toLowerCase()));
        } catch (err) {
          cb(err as Error);
        }
      },
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: TLS_MIN_VERSION,
      ALPNProtocols: ['xmpp-server'],
    };
  }

  /** For a connection out from `local` to `remote`: SNI names the remote domain; our certificate goes along for SASL EXTERNAL. */
  clientOptions(local: string, remote: string, directTls: boolean): ConnectionOptions {
    return {
      secureContext: this.contextFor(local),
      servername: domainToASCII(remote) || remote,
      rejectUnauthorized: false,
      minVersion: TLS_MIN_VERSION,
      // XEP-0368 §3: direct TLS names the protocol with ALPN.
      ...(directTls ? { ALPNProtocols: ['xmpp-server'] } : {}),
      // Identity is checked by us (RFC 6125 for XMPP), not by Node's HTTPS-style check.
      checkServerIdentity: () => undefined,
    };
  }

  /** RFC 6120 §13.7.2: is the peer's certificate trusted and issued to `domain`? */
  status(socket: TLSSocket, domain: string): CertificateStatus {
    const cert = socket.getPeerCertificate();
    if (!cert || Object.keys(cert).length === 0) return 'none';
    if (S2sTls.reason(socket) !== null) return 'untrusted';
    return certificateMatchesDomain(cert, domain) ? 'valid' : 'mismatch';
  }

  /** Why the peer's certificate chain is not trusted; null when it is. */
  static reason(socket: TLSSocket): string | null {
    if (socket.authorized) return null;
    const e = socket.authorizationError as unknown;
    if (e) return e instanceof Error ? e.message : String(e);
    // COMPAT: Node computes `authorized` only for sockets a tls.Server accepted; on
    // the server side of STARTTLS (a TLSSocket we made) it stays false. Ask the TLS
    // handle for OpenSSL's verdict, as Node itself does for its own sockets.
    const handle = (socket as unknown as { _handle?: { verifyError?(): (Error & { code?: string }) | null | undefined } })._handle;
    if (typeof handle?.verifyError !== 'function') return 'cannot tell whether the certificate is trusted';
    const err = handle.verifyError();
    return err ? err.code ?? err.message : null;
  }
}

/** The admin's CA file, with a clear error naming the key when it cannot be used. */
function readCa(file: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('s2s.ca_file', file, `a readable PEM file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError('s2s.ca_file', file, 'a PEM file with at least one certificate');
  return pem;
}
