// One TLS secure context per served domain, chosen by SNI; reloadable on SIGHUP.
import { existsSync } from 'node:fs';
import type { SecureContext, TlsOptions } from 'node:tls';
import { domainToASCII } from 'node:url';
import { ConfigError } from '../errors.js';
import type { Config } from '../config/types.js';
import { TLS_MIN_VERSION, certificatePaths, ensureCertificate, loadPem, type CertificateLog, type LoadedCertificate } from './certificates.js';

export type TlsHostsConfig = Pick<Config, 'hosts' | 'certs'>;

/** Days before expiry at which `rohrpost check` starts to warn. */
export const EXPIRY_WARNING_DAYS = 30;

const NO_LOG: CertificateLog = { info() {} };

/** What was loaded for one host (for logging at start and on reload). */
export interface LoadedHost { domain: string; certPath: string; fingerprint: string; validTo: string }

export class TlsContexts {
  #config: TlsHostsConfig;
  #log: CertificateLog;
  #byDomain = new Map<string, LoadedCertificate>();
  #first: LoadedCertificate | null = null;

  constructor(config: TlsHostsConfig, options: { log?: CertificateLog } = {}) {
    this.#config = config;
    this.#log = options.log ?? NO_LOG;
  }

  /**
   * (Re)reads every host's certificate, generating certs/<domain>.crt/.key for hosts
   * without one. All or nothing: on any error the contexts in use stay and it throws.
   */
  load(config: TlsHostsConfig = this.#config): LoadedHost[] {
    const byDomain = new Map<string, LoadedCertificate>();
    config.hosts.forEach((host, i) => {
      const paths = certificatePaths(host, config.certs);
      if (paths.generated) ensureCertificate(host.domain, config.certs, this.#log);
      const loaded = loadPem(paths.cert, paths.key, `hosts[${i}]`);
      byDomain.set(host.domain.toLowerCase(), loaded);
      // SNI carries A-labels (RFC 6066 §3); an internationalised host is found by both forms.
      const ascii = domainToASCII(host.domain);
      if (ascii && !byDomain.has(ascii)) byDomain.set(ascii, loaded);
    });
    const first = byDomain.values().next().value;
    if (!first) throw new ConfigError('hosts', [], 'at least one host');
    this.#byDomain = byDomain;
    this.#first = first;
    this.#config = config;
    return config.hosts.map(({ domain }) => {
      const c = byDomain.get(domain.toLowerCase())!;
      return { domain, certPath: c.certPath, fingerprint: c.fingerprint, validTo: c.chain[0]!.validTo };
    });
  }

  /**
   * For SIGHUP: as load(). Existing tls.Servers keep their no-SNI default until given
   * server.setSecureContext(contexts.serverOptions()); SNI lookups see the new set at once.
   */
  reload(config?: TlsHostsConfig): LoadedHost[] {
    return this.load(config);
  }

  /** The context for a TLS server name: exact, else the parent domain's, else the first host's. */
  contextFor(servername: string | undefined): SecureContext {
    return this.#certificateFor(servername).context;
  }

  /** For tls.createServer / new TLSSocket: picks the host by SNI (case-insensitive). */
  readonly sniCallback = (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void => {
    let ctx: SecureContext;
    try {
      ctx = this.contextFor(servername);
    } catch (err) {
      cb(err as Error);
      return;
    }
    cb(null, ctx);
  };

  /** A served domain's certificate and key (PEM): s2s presents them as a TLS client too. */
  credentialsFor(domain: string): { cert: string; key: string } {
    const c = this.#certificateFor(domain);
    return { cert: c.certPem, key: c.keyPem };
  }

  /** The first host's context, for clients that send no server name. */
  defaultContext(): SecureContext {
    return this.#certificateFor(undefined).context;
  }

  /** Options for tls.createServer(...) and new TLSSocket(socket, { isServer: true, ...}). */
  serverOptions(): TlsOptions {
    const first = this.#certificateFor(undefined);
    return {
      cert: first.certPem,
      key: first.keyPem,
      secureContext: first.context,
      SNICallback: this.sniCallback,
      minVersion: TLS_MIN_VERSION,
    };
  }

  #certificateFor(servername: string | undefined): LoadedCertificate {
    if (!this.#first) throw new Error('TLS certificates are not loaded; call load() first');
    let name = servername?.toLowerCase().replace(/\.$/, '');
    while (name) {
      const found = this.#byDomain.get(name);
      if (found) return found;
      // A subdomain (conference.example.org) is covered by the host's *.example.org.
      const dot = name.indexOf('.');
      name = dot < 0 ? undefined : name.slice(dot + 1);
    }
    return this.#first;
  }
}

export interface CertificateProblem { domain: string; severity: 'error' | 'warning'; file: string; message: string }
export interface CertificateReport {
  problems: CertificateProblem[];
  certificates: { domain: string; file: string; fingerprint: string; validTo: string }[];
}

/** For `rohrpost check`: every host's certificate, what is wrong with it, and its fingerprint. */
export function checkCertificates(config: TlsHostsConfig, now: Date = new Date()): CertificateReport {
  const report: CertificateReport = { problems: [], certificates: [] };
  config.hosts.forEach((host, i) => {
    const paths = certificatePaths(host, config.certs);
    const problem = (severity: CertificateProblem['severity'], message: string, file = paths.cert): void => {
      report.problems.push({ domain: host.domain, severity, file, message });
    };
    if (paths.generated && !existsSync(paths.cert) && !existsSync(paths.key)) {
      problem('warning', 'missing; a self-signed certificate will be generated on first start');
      return;
    }
    let loaded: LoadedCertificate;
    try {
      loaded = loadPem(paths.cert, paths.key, `hosts[${i}]`);
    } catch (err) {
      problem('error', (err as Error).message, err instanceof ConfigError && err.file ? err.file : paths.cert);
      return;
    }
    const leaf = loaded.chain[0]!;
    report.certificates.push({ domain: host.domain, file: paths.cert, fingerprint: loaded.fingerprint, validTo: leaf.validTo });
    const validFrom = Date.parse(leaf.validFrom);
    const validTo = Date.parse(leaf.validTo);
    if (validTo < now.getTime()) problem('error', `expired on ${leaf.validTo}`);
    else if (validTo < now.getTime() + EXPIRY_WARNING_DAYS * 86400_000) problem('warning', `expires on ${leaf.validTo}`);
    if (validFrom > now.getTime()) problem('error', `not valid before ${leaf.validFrom}`);
    if (leaf.checkHost(host.domain) === undefined) {
      problem('error', `does not cover ${host.domain} (subject alt names: ${leaf.subjectAltName ?? 'none'})`);
    }
    for (let j = 0; j + 1 < loaded.chain.length; j++) {
      if (!loaded.chain[j]!.checkIssued(loaded.chain[j + 1]!)) problem('warning', `chain certificate ${j + 2} did not issue certificate ${j + 1}; is the chain in order?`);
    }
  });
  return report;
}
