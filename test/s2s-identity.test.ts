// RFC 6125 / RFC 6120 §13.7 server identity checks, on hand-written names and on real
// certificates made with the openssl CLI and read by Node.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, createServer as createTlsServer, type PeerCertificate } from 'node:tls';
import { certificateIdentities, certificateMatchesDomain, namesOfX509, type CertificateNames } from '../src/s2s/identity.js';

const OID_SRV_NAME = '1.3.6.1.5.5.7.8.7';
const OID_XMPP_ADDR = '1.3.6.1.5.5.7.8.5';

function san(subjectaltname: string, cn?: string | string[]): CertificateNames {
  return { subjectaltname, subject: cn === undefined ? {} : { CN: cn } };
}

function matches(cert: CertificateNames, domains: string[]): void {
  for (const d of domains) assert.equal(certificateMatchesDomain(cert, d), true, `should match ${d}`);
}

function mismatches(cert: CertificateNames, domains: string[]): void {
  for (const d of domains) assert.equal(certificateMatchesDomain(cert, d), false, `should not match ${d}`);
}

describe('DNS-ID (RFC 6125 §6.4.1-§6.4.3)', () => {
  it('matches exactly, ignoring case and a trailing dot', () => {
    const cert = san('DNS:Example.TEST, DNS:other.test.');
    matches(cert, ['example.test', 'EXAMPLE.test', 'example.test.', 'other.test']);
    mismatches(cert, ['sub.example.test', 'xample.test', 'example.tes', 'test', '']);
  });

  it('lets a wildcard stand for exactly one whole left-most label', () => {
    const cert = san('DNS:*.example.test');
    matches(cert, ['a.example.test', 'xn--bcher-kva.example.test', 'bücher.example.test']);
    // §6.4.3: *.example.com matches foo.example.com "but not bar.foo.example.com or example.com".
    mismatches(cert, ['b.a.example.test', 'example.test', 'a.example.org']);
  });

  it('refuses partial-label, inner and repeated wildcards', () => {
    mismatches(san('DNS:a*.example.test'), ['ab.example.test', 'a.example.test']);
    mismatches(san('DNS:*a.example.test'), ['ba.example.test']);
    mismatches(san('DNS:x.*.example.test'), ['x.a.example.test']);
    mismatches(san('DNS:*.*.example.test'), ['a.b.example.test']);
    mismatches(san('DNS:**.example.test'), ['a.example.test']);
  });

  it('refuses a wildcard with fewer than two labels after it (*.test)', () => {
    // Allowed by the letter of §6.4.3, but it would vouch for every name in a top-level
    // domain; §7.2 warns against such wide wildcards and browsers refuse them.
    mismatches(san('DNS:*.test'), ['a.test']);
    mismatches(san('DNS:*'), ['test']);
  });

  it('compares internationalised names in A-labels', () => {
    matches(san('DNS:xn--bcher-kva.test'), ['bücher.test', 'xn--bcher-kva.test', 'BÜCHER.test']);
    // A DNS-ID is an IA5String: a U-label in it is malformed, not an alternative spelling.
    mismatches(san('DNS:"bücher.test"'), ['bücher.test']);
    mismatches(san('DNS:xn--bcher-kva.test'), ['bucher.test']);
  });
});

describe('SRV-ID (RFC 4985, RFC 6120 §13.7.1.2, XEP-0368)', () => {
  it('matches _xmpp-server and _xmpps-server for the domain', () => {
    matches(san('othername:SRVName:_xmpp-server.a.test'), ['a.test']);
    matches(san('othername:SRVName:_xmpps-server.b.test'), ['b.test']);
    matches(san('othername:SRVName:_XMPP-Server.A.Test'), ['a.test']);
    mismatches(san('othername:SRVName:_xmpp-server.a.test'), ['b.a.test', 'test', '_xmpp-server.a.test']);
  });

  it('does not match other services or wildcards', () => {
    mismatches(san('othername:SRVName:_xmpp-client.a.test'), ['a.test']);
    mismatches(san('othername:SRVName:_imap.a.test'), ['a.test']);
    mismatches(san('othername:SRVName:_xmpp-server.*.example.test'), ['a.example.test']);
    mismatches(san('othername:SRVName:xmpp-server.a.test'), ['a.test']);
  });
});

describe('XmppAddr (RFC 6120 §13.7.1.4)', () => {
  it('matches a bare domain, also in U-labels', () => {
    matches(san('othername:XmppAddr:a.test'), ['a.test']);
    matches(san('othername:XmppAddr:bücher.test'), ['bücher.test', 'xn--bcher-kva.test']);
  });

  it('does not take a user or full JID for a server', () => {
    mismatches(san('othername:XmppAddr:user@a.test'), ['a.test']);
    mismatches(san('othername:XmppAddr:a.test/resource'), ['a.test']);
    mismatches(san('othername:XmppAddr:*.a.test'), ['b.a.test']);
  });
});

describe('CN-ID (RFC 6125 §6.4.4)', () => {
  it('is used only when no DNS-ID, SRV-ID, URI-ID or XmppAddr is present', () => {
    matches({ subject: { CN: 'a.test' } }, ['a.test']);
    matches(san('', 'a.test'), ['a.test']);
    // IP addresses and e-mail addresses are not identifier types that shut out the CN.
    matches(san('IP Address:192.0.2.1, email:admin@a.test', 'a.test'), ['a.test']);
    mismatches(san('DNS:other.test', 'a.test'), ['a.test']);
    mismatches(san('othername:SRVName:_xmpp-client.a.test', 'a.test'), ['a.test']);
    mismatches(san('othername:XmppAddr:other.test', 'a.test'), ['a.test']);
    mismatches(san('URI:xmpp:a.test', 'a.test'), ['a.test']);
  });

  it('takes the most specific (last) CN and compares it like a DNS-ID', () => {
    matches({ subject: { CN: ['first.test', 'last.test'] } }, ['last.test']);
    mismatches({ subject: { CN: ['first.test', 'last.test'] } }, ['first.test']);
    matches({ subject: { CN: '*.example.test' } }, ['a.example.test']);
    mismatches({ subject: null }, ['a.test']);
    mismatches({}, ['a.test']);
  });
});

describe('what never matches', () => {
  it('IP addresses', () => {
    const cert = san('IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:127.0.0.1', '127.0.0.1');
    mismatches(cert, ['127.0.0.1', '[::1]', '::1']);
  });

  it('names smuggled into one quoted value', () => {
    const cert = san('DNS:"a.test\\u002c DNS:evil.test", othername:"XmppAddr:b.test\\u002c DNS:evil2.test"');
    mismatches(cert, ['evil.test', 'evil2.test', 'a.test', 'b.test']);
    assert.deepEqual(certificateIdentities(cert).dns, ['a.test, DNS:evil.test']);
  });

  it('a malformed extension, without falling back to the CN', () => {
    for (const text of ['DNS:a.test,DNS:b.test', 'DNS:"a.test', 'garbage', 'DNS:a.test, ']) {
      mismatches(san(text, 'a.test'), ['a.test', 'b.test']);
    }
  });

  it('another domain', () => {
    mismatches(san('DNS:a.test, othername:SRVName:_xmpp-server.a.test, othername:XmppAddr:a.test', 'a.test'), ['b.test', 'aa.test', 'test']);
  });
});

describe('certificateIdentities', () => {
  it('lists every identity as written, quoted values decoded', () => {
    const cert = san(
      'DNS:a.test, DNS:"x\\u002cy.test", othername:SRVName:_xmpp-client.a.test, othername:XmppAddr:bücher.test, ' +
        'othername:<unsupported>, IP Address:127.0.0.1, URI:xmpp:a.test',
      ['one.test', 'two.test'],
    );
    assert.deepEqual(certificateIdentities(cert), {
      dns: ['a.test', 'x,y.test'],
      srv: ['_xmpp-client.a.test'],
      xmppAddr: ['bücher.test'],
      cn: ['one.test', 'two.test'],
    });
    assert.deepEqual(certificateIdentities({}), { dns: [], srv: [], xmppAddr: [], cn: [] });
  });
});

const opensslMissing = spawnSync('openssl', ['version']).status !== 0;

describe('real certificates made by openssl', { skip: opensslMissing ? 'the openssl CLI is not installed' : false }, () => {
  let dir = '';
  let serial = 0;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'rohrpost-identity-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A self-signed certificate with these subject fields and subjectAltName entries (openssl config syntax); PEM key and certificate. */
  function makeFiles(subject: string[], altNames: string[]): { key: Buffer; cert: Buffer } {
    const name = `c${++serial}`;
    const conf = [
      '[req]', 'distinguished_name = dn', 'prompt = no', 'utf8 = yes',
      ...(altNames.length ? ['x509_extensions = ext', '[ext]', 'subjectAltName = @alt', '[alt]', ...altNames] : []),
      '[dn]', ...subject, '',
    ].join('\n');
    writeFileSync(join(dir, `${name}.cnf`), conf);
    const r = spawnSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.pem`), '-config', join(dir, `${name}.cnf`),
    ], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return { key: readFileSync(join(dir, `${name}.key`)), cert: readFileSync(join(dir, `${name}.pem`)) };
  }

  function makeCert(subject: string[], altNames: string[]): CertificateNames {
    return namesOfX509(new X509Certificate(makeFiles(subject, altNames).cert));
  }

  it('reads DNS-IDs, SRV-IDs, XmppAddrs and IP addresses', () => {
    const cert = makeCert(['CN = cn.test'], [
      'DNS.1 = a.test', 'DNS.2 = *.wild.test',
      `otherName.1 = ${OID_SRV_NAME};IA5STRING:_xmpp-server.srv.test`,
      `otherName.2 = ${OID_SRV_NAME};IA5STRING:_xmpps-server.direct.test`,
      `otherName.3 = ${OID_XMPP_ADDR};UTF8:addr.test`,
      'IP.1 = 127.0.0.1',
    ]);
    assert.deepEqual(certificateIdentities(cert), {
      dns: ['a.test', '*.wild.test'],
      srv: ['_xmpp-server.srv.test', '_xmpps-server.direct.test'],
      xmppAddr: ['addr.test'],
      cn: ['cn.test'],
    });
    matches(cert, ['a.test', 'x.wild.test', 'srv.test', 'direct.test', 'addr.test']);
    mismatches(cert, ['cn.test', 'y.x.wild.test', 'wild.test', '127.0.0.1', 'other.test']);
  });

  it('falls back to the CN only without such names', () => {
    matches(makeCert(['CN = legacy.test'], []), ['legacy.test']);
    matches(makeCert(['O = Example', 'CN = legacy.test'], ['IP.1 = 192.0.2.7']), ['legacy.test']);
    // A certificate for the client service says nothing about the server, and shuts out the CN.
    mismatches(makeCert(['CN = client.test'], [`otherName.1 = ${OID_SRV_NAME};IA5STRING:_xmpp-client.client.test`]), ['client.test']);
  });

  it('uses the last of several CNs', () => {
    const cert = makeCert(['0.CN = first.test', '1.CN = last.test'], []);
    assert.deepEqual(certificateIdentities(cert).cn, ['first.test', 'last.test']);
    matches(cert, ['last.test']);
    mismatches(cert, ['first.test']);
  });

  it('compares internationalised names', () => {
    // FORMAT:UTF8 makes openssl read the value as UTF-8; without it the bytes are taken
    // as Latin-1 and encoded twice.
    const cert = makeCert(['CN = bücher.test'], ['DNS.1 = xn--caf-dma.test', `otherName.1 = ${OID_XMPP_ADDR};FORMAT:UTF8,UTF8:bücher.test`]);
    assert.deepEqual(certificateIdentities(cert).xmppAddr, ['bücher.test']);
    matches(cert, ['café.test', 'xn--caf-dma.test', 'bücher.test', 'xn--bcher-kva.test']);
  });

  it('does not split a value with a comma into two names', () => {
    const cert = makeCert(['CN = a.test'], [
      'DNS.1 = x.test, DNS:evil.test',
      `otherName.1 = ${OID_XMPP_ADDR};UTF8:y.test, DNS:evil2.test`,
    ]);
    assert.deepEqual(certificateIdentities(cert).dns, ['x.test, DNS:evil.test']);
    assert.deepEqual(certificateIdentities(cert).xmppAddr, ['y.test, DNS:evil2.test']);
    mismatches(cert, ['evil.test', 'evil2.test', 'x.test', 'y.test', 'a.test']);
  });

  it('reads the peer certificate of a TLS connection the same way', async () => {
    const files = makeFiles(['CN = cn.test'], [
      'DNS.1 = x.test, DNS:evil.test', `otherName.1 = ${OID_SRV_NAME};IA5STRING:_xmpps-server.peer.test`,
      `otherName.2 = ${OID_XMPP_ADDR};FORMAT:UTF8,UTF8:bücher.test`,
    ]);
    const server = createTlsServer(files, (socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    try {
      const { port } = server.address() as AddressInfo;
      const peer = await new Promise<PeerCertificate>((resolve, reject) => {
        const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
          resolve(socket.getPeerCertificate());
          socket.end();
        });
        socket.on('error', reject);
      });
      assert.deepEqual(certificateIdentities(peer), certificateIdentities(namesOfX509(new X509Certificate(files.cert))));
      matches(peer, ['peer.test', 'bücher.test']);
      mismatches(peer, ['evil.test', 'cn.test']);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
