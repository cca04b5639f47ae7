// Who this server federates with, and how strongly each peer must prove its name.
// Rules are per remote domain and cover its subdomains (conference.example.org
// follows example.org), since one organisation's services share its trust.
import type { Config } from '../config/types.js';

export class FederationPolicy {
  constructor(private readonly cfg: Config['s2s']) {}

  get enabled(): boolean {
    return this.cfg.enabled;
  }

  /** The allow and deny lists: deny wins; a non-empty allow list admits only its domains. */
  allows(domain: string): boolean {
    if (!this.cfg.enabled) return false;
    if (this.cfg.deny.some((d) => covers(d, domain))) return false;
    return this.cfg.allow.length === 0 || this.cfg.allow.some((d) => covers(d, domain));
  }

  /** s2s.secure with its per-domain exceptions: must this peer present a valid certificate? */
  requiresCertificate(domain: string): boolean {
    if (this.cfg.secure_domains.some((d) => covers(d, domain))) return true;
    if (this.cfg.insecure_domains.some((d) => covers(d, domain))) return false;
    return this.cfg.secure;
  }

  get requireEncryption(): boolean {
    return this.cfg.require_encryption;
  }
}

function covers(rule: string, domain: string): boolean {
  return domain === rule || domain.endsWith(`.${rule}`);
}
