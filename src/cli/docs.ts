// `rohrpost docs`: regenerates the README sections that come from the code — the
// supported XEPs (from the modules' declarations) and the configuration reference
// (from the config schema) — so the README cannot drift from what the server does.
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { MODULES } from '../main.js';
import { describeConfig } from '../config/loader.js';
import { die } from './common.js';

/** RFCs the core implements (not modules, so declared here). */
const CORE_SPECS: Array<[string, string, string]> = [
  ['RFC 6120', 'XMPP Core: client and server streams, STARTTLS, SASL, resource binding, stanza errors', 'complete'],
  ['RFC 6125', 'Server identity in certificates: DNS-ID, SRV-ID, XmppAddr (CN only without them)', 'complete'],
  ['RFC 7590', 'TLS in XMPP: TLS 1.2 minimum, SNI picks the host certificate', 'complete'],
  ['RFC 7622', 'XMPP addresses with PRECIS (UsernameCaseMapped, OpaqueString)', 'complete'],
  ['RFC 5802 / 7677', 'SCRAM-SHA-1, SCRAM-SHA-256 and -PLUS', 'complete'],
  ['RFC 9266 / 5929', 'Channel bindings tls-exporter, tls-server-end-point (and tls-unique)', 'complete'],
  ['RFC 3921 §3', 'Session establishment (advertised as optional)', 'complete'],
  ['XEP-0078', 'Non-SASL authentication (jabber:iq:auth) for 2002-era clients', 'plain text only (no stored plaintext, so no digest)'],
  ['XEP-0086', 'Legacy error codes on errors to pre-1.0 streams and jabber:iq:auth', 'complete'],
  ['XEP-0368', 'SRV records for XMPP over TLS: direct TLS on 5223 and 5270, _xmpps-server lookups', 'complete'],
  ['XEP-0220', 'Server dialback, with and without TLS, with errors and piggybacked domains', 'complete'],
  ['XEP-0185', 'Dialback key generation (HMAC-SHA256 over a secret kept in memory)', 'complete'],
  ['XEP-0178', 'SASL EXTERNAL with certificates between servers', 'complete'],
  ['XEP-0478', 'Stream limits advertisement: max-bytes and idle-seconds in the stream features', 'complete'],
];

export function specTable(): string {
  const rows = CORE_SPECS.map(([spec, what, status]) => `| ${spec} | ${what} | ${status} |`);
  for (const m of MODULES) {
    if (m.rfc) {
      const what = `RFC ${m.rfc.number}${m.rfc.section ? ` §${m.rfc.section}` : ''}`;
      rows.push(`| [${what}](https://www.rfc-editor.org/rfc/rfc${m.rfc.number}) | module \`${m.name}\`${m.rfc.note ? ` (${m.rfc.note})` : ''} | complete |`);
    }
    if (!m.xep) continue;
    const n = String(m.xep.number).padStart(4, '0');
    const link = `[XEP-${n}](https://xmpp.org/extensions/xep-${n}.html)`;
    rows.push(`| ${link} | module \`${m.name}\`, version ${m.xep.version}${m.xep.note ? ` (${m.xep.note})` : ''} | ${m.xep.status} |`);
  }
  return ['| Specification | What | Status |', '| --- | --- | --- |', ...rows].join('\n');
}

const SECTIONS: Record<string, () => string> = { specs: specTable, config: describeConfig };

/** Replaces each `<!-- generated:NAME -->` … `<!-- end generated:NAME -->` block. */
export function regenerate(readme: string): string {
  let out = readme;
  for (const [name, make] of Object.entries(SECTIONS)) {
    const begin = `<!-- generated:${name} -->`;
    const end = `<!-- end generated:${name} -->`;
    const i = out.indexOf(begin);
    const j = out.indexOf(end);
    if (i < 0 || j < i) throw new Error(`README has no ${begin} … ${end} block`);
    out = out.slice(0, i + begin.length) + '\n' + make().trim() + '\n' + out.slice(j);
  }
  return out;
}

export function registerDocs(program: Command): void {
  program.command('docs', { hidden: true })
    .description('regenerate the generated sections of README.md')
    .argument('[file]', 'the README to update', 'README.md')
    .action((file: string) => {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
        writeFileSync(file, regenerate(text));
      } catch (err) {
        die((err as Error).message);
      }
    });
}
