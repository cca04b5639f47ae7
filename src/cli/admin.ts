// `rohrpost check` and `rohrpost cert generate`.
import type { Command } from 'commander';
import { checkCertificates } from '../tls/contexts.js';
import { existsSync, unlinkSync } from 'node:fs';
import { certificatePaths, ensureCertificate } from '../tls/certificates.js';
import { prepDomain } from '../jid/index.js';
import { configOptions, die, loadConfigOrExit, EXIT_FAILED, EXIT_USAGE, type ConfigFlags } from './common.js';

export function registerCheck(program: Command): void {
  configOptions(program.command('check').description('validate the configuration and the certificates without starting'))
    .action((flags: ConfigFlags) => {
      const config = loadConfigOrExit(flags);
      const report = checkCertificates(config);
      for (const c of report.certificates) process.stdout.write(`${c.domain}: ${c.file} SHA-256 ${c.fingerprint}, valid to ${c.validTo}\n`);
      let errors = 0;
      for (const p of report.problems) {
        if (p.severity === 'error') errors++;
        process.stderr.write(`${p.severity}: ${p.domain}: ${p.file}: ${p.message}\n`);
      }
      if (errors > 0) process.exit(EXIT_FAILED);
      process.stdout.write(`configuration OK: ${config.hosts.map((h) => h.domain).join(', ')}\n`);
    });
}

export function registerCert(program: Command): void {
  const cert = program.command('cert').description('certificate tools');
  configOptions(cert.command('generate <host>').description('make a self-signed certificate in the certs directory'))
    .option('-f, --force', 'replace an existing certificate')
    .action((host: string, flags: ConfigFlags & { force?: boolean }) => {
      const config = loadConfigOrExit(flags);
      let domain: string;
      try {
        domain = prepDomain(host);
      } catch {
        die(`'${host}' is not a domain`, EXIT_USAGE);
      }
      const generated = certificatePaths({ domain, certificate: null, key: null }, config.certs);
      const paths = [generated.cert, generated.key];
      if (paths.every((p) => existsSync(p))) {
        if (!flags.force) die(`a certificate for ${domain} exists already (use --force to replace it)`);
        for (const p of paths) unlinkSync(p);
      }
      const out = ensureCertificate(domain, config.certs, { info: (o) => process.stdout.write(`fingerprint ${(o as { fingerprint: string }).fingerprint}\n`) });
      process.stdout.write(`wrote ${out.cert} and ${out.key}\n`);
    });
}
