import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { JidError } from '../src/errors.js';
import { jid, parseJid, prepDomain, prepLocal, prepResource, tryParseJid } from '../src/jid/index.js';

function parsesTo(input: string, expected: string): void {
  assert.equal(parseJid(input).toString(), expected, JSON.stringify(input));
}

function rejects(input: string): void {
  assert.throws(() => parseJid(input), JidError, JSON.stringify(input));
  assert.equal(tryParseJid(input), null);
}

describe('RFC 7622 §3.5 examples', () => {
  it('accepts the valid JIDs of Table 1', () => {
    const table: Array<[string, string]> = [
      ['juliet@example.com', 'juliet@example.com'],
      ['juliet@example.com/foo', 'juliet@example.com/foo'],
      ['juliet@example.com/foo bar', 'juliet@example.com/foo bar'],
      ['juliet@example.com/foo@bar', 'juliet@example.com/foo@bar'],
      ['foo\\20bar@example.com', 'foo\\20bar@example.com'],
      ['fussball@example.com', 'fussball@example.com'],
      ['fußball@example.com', 'fußball@example.com'],
      ['π@example.com', 'π@example.com'],
      ['Σ@example.com/foo', 'σ@example.com/foo'],
      ['σ@example.com/foo', 'σ@example.com/foo'],
      ['ς@example.com/foo', 'ς@example.com/foo'],
      ['king@example.com/♚', 'king@example.com/♚'],
      ['example.com', 'example.com'],
      ['example.com/foobar', 'example.com/foobar'],
      ['a.example.com/b@example.net', 'a.example.com/b@example.net'],
    ];
    for (const [input, expected] of table) parsesTo(input, expected);
  });

  it('rejects the invalid JIDs of Table 2', () => {
    for (const input of ['"juliet"@example.com', 'foo bar@example.com', '@example.com/', 'henry\u2163@example.com', '♚@example.com', 'juliet@', '/foobar']) {
      rejects(input);
    }
  });

  it('accepts a leading space in the resourcepart (RFC 7622 erratum 4560)', () => {
    parsesTo('juliet@example.com/ foo', 'juliet@example.com/ foo');
  });

  it('splits at the first slash, then at the first at-sign before it', () => {
    const j = parseJid('a@b.example/c@d/e');
    assert.deepEqual([j.local, j.domain, j.resource], ['a', 'b.example', 'c@d/e']);
    rejects('a@b@c.example');
  });
});

describe('localpart (UsernameCaseMapped)', () => {
  it('case-maps and keeps the resource as it is', () => {
    parsesTo('Jürgen@Example.COM/Büro', 'jürgen@example.com/Büro');
    parsesTo('JULIET@example.com/Balcony', 'juliet@example.com/Balcony');
  });

  it('maps fullwidth letters to their ASCII forms', () => {
    assert.equal(prepLocal('ＪＵＬＩＥＴ'), 'juliet');
    assert.equal(prepLocal('ｊｕｌｉｅｔ１２'), 'juliet12');
  });

  it('case-folds Greek and Cyrillic', () => {
    assert.equal(prepLocal('ΚΑΛΗΜΕΡΑ'), 'καλημερα');
    assert.equal(prepLocal('ΟΔΥΣΣΕΥΣ'), 'οδυσσευς'); // final sigma
    assert.equal(prepLocal('ИВАН'), 'иван');
  });

  it('keeps ß (no case folding to ss)', () => {
    assert.equal(prepLocal('ß'), 'ß');
    assert.notEqual(prepLocal('fußball'), prepLocal('fussball'));
  });

  it('normalises to NFC', () => {
    assert.equal(prepLocal('e\u0301'), '\u00e9');
    assert.ok(parseJid('e\u0301@x.example').equals(parseJid('\u00e9@x.example')));
  });

  it('rejects spaces, controls, symbols and compatibility characters', () => {
    for (const s of ['foo bar', 'foo\u00a0bar', 'foo\u3000bar', 'a\u0001', 'a\u007f', '☃', 'ﬁ', '²', 'a\u200b', '\ud800']) {
      assert.throws(() => prepLocal(s), JidError, JSON.stringify(s));
    }
  });

  it('rejects the eight characters RFC 7622 forbids in a localpart', () => {
    for (const c of ['"', '&', "'", '/', ':', '<', '>', '@']) {
      assert.throws(() => prepLocal(`a${c}b`), JidError, c);
    }
    assert.equal(prepLocal('a+b.c_d-e!#$%*=?^`{|}~'), 'a+b.c_d-e!#$%*=?^`{|}~');
  });

  it('applies the contextual rules', () => {
    assert.equal(prepLocal('col·lecció'), 'col·lecció'); // middle dot between two l
    assert.throws(() => prepLocal('a·b'), JidError);
    assert.equal(prepLocal('\u0915\u094d\u200d\u0937'), '\u0915\u094d\u200d\u0937'); // ZWJ after virama
    assert.throws(() => prepLocal('a\u200d'), JidError);
    assert.throws(() => prepLocal('\u0628\u0661\u06f1'), JidError); // mixed Arabic-Indic digit sets
    assert.equal(prepLocal('\u0375\u03b1'), '\u0375\u03b1'); // keraia before Greek
    assert.throws(() => prepLocal('\u0375a'), JidError);
    assert.equal(prepLocal('カ\u30fbタ'), 'カ\u30fbタ');
    assert.throws(() => prepLocal('a\u30fbb'), JidError);
  });

  it('applies the Bidi Rule to right-to-left names', () => {
    assert.equal(prepLocal('שלום'), 'שלום');
    assert.equal(prepLocal('علي1'), 'علي1');
    assert.throws(() => prepLocal('שלוםa'), JidError);
    assert.throws(() => prepLocal('1שלום'), JidError);
  });
});

describe('resourcepart (OpaqueString)', () => {
  it('allows spaces and maps non-ASCII spaces to U+0020', () => {
    assert.equal(prepResource('foo bar'), 'foo bar');
    assert.equal(prepResource('foo\u00a0bar\u3000'), 'foo bar ');
  });

  it('keeps case and width, allows symbols, normalises to NFC', () => {
    assert.equal(prepResource('Büro ♚ ＡＢ'), 'Büro ♚ ＡＢ');
    assert.equal(prepResource('e\u0301'), '\u00e9');
  });

  it('rejects controls and lone surrogates', () => {
    for (const s of ['a\u0000', 'a\n', 'a\u0085', '\udc00']) assert.throws(() => prepResource(s), JidError, JSON.stringify(s));
  });
});

describe('domainpart', () => {
  it('lower-cases, width-maps and strips one trailing dot', () => {
    parsesTo('user@Example.COM.', 'user@example.com');
    parsesTo('ＥＸＡＭＰＬＥ.com', 'example.com');
    rejects('user@example.com..');
  });

  it('converts A-labels to U-labels', () => {
    assert.equal(prepDomain('xn--mnchen-3ya.de'), 'münchen.de');
    assert.ok(parseJid('a@xn--mnchen-3ya.de').equals(parseJid('a@MÜNCHEN.de')));
  });

  it('accepts IP literals and IPv4 addresses', () => {
    parsesTo('user@[::1]/r', 'user@[::1]/r');
    parsesTo('user@[0:0:0:0::1]', 'user@[::1]');
    parsesTo('[2001:DB8::1]', '[2001:db8::1]');
    parsesTo('user@127.0.0.1', 'user@127.0.0.1');
  });

  it('treats plain ASCII names like their fullwidth spelling (fast and IDNA paths agree)', () => {
    const fullwidth = (s: string) => s.replace(/[!-~]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));
    const outcome = (s: string) => {
      try {
        return prepDomain(s);
      } catch (e) {
        assert.ok(e instanceof JidError);
        return null;
      }
    };
    const ldh = fc.string({ unit: fc.constantFrom('a', 'Z', '0', '9', '-', '_', '.', 'x', 'n', '--', 'xn--', '0x'), maxLength: 12 });
    fc.assert(
      fc.property(ldh, (s) => {
        assert.equal(outcome(fullwidth(s)), outcome(s), JSON.stringify(s));
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects what is not a host name', () => {
    for (const d of ['[::1', '[zz::1]', '[fe80::1%eth0]', '1.2.3', '0x7f.1', 'a..b', 'a b.com', 'xn--zz.com', '-a.com', 'a-.com',
      'ab--c.com', 'ex%41mple.com', 'a!b.com', `${'a'.repeat(64)}.com`]) {
      assert.throws(() => prepDomain(d), JidError, d);
    }
  });
});

describe('lengths and empty parts', () => {
  it('allows parts of up to 1023 octets after preparation', () => {
    assert.equal(prepLocal('a'.repeat(1023)).length, 1023);
    assert.throws(() => prepLocal('a'.repeat(1024)), JidError);
    assert.equal(prepLocal('ä'.repeat(511)).length, 511); // 1022 octets
    assert.throws(() => prepLocal('ä'.repeat(512)), JidError); // 1024 octets
    assert.equal(prepResource('r'.repeat(1023)).length, 1023);
    assert.throws(() => prepResource('€'.repeat(342)), JidError); // 1026 octets
    const label = 'a'.repeat(63);
    const domain = Array(16).fill(label).join('.'); // 16 * 63 + 15 = 1023
    assert.equal(prepDomain(domain), domain);
    assert.throws(() => prepDomain(`b.${domain}`), JidError);
  });

  it('rejects empty parts', () => {
    for (const s of ['', '@', '/', '@a.example', 'a@', 'a.example/', 'a@b.example/', '@/', 'a@/b']) rejects(s);
    assert.throws(() => prepLocal(''), JidError);
    assert.throws(() => prepDomain(''), JidError);
    assert.throws(() => prepDomain('.'), JidError);
    assert.throws(() => prepResource(''), JidError);
  });

  it('rejects huge input early', () => {
    assert.throws(() => parseJid(`${'a'.repeat(100_000)}@example.com`), JidError);
  });
});

describe('Jid', () => {
  it('builds, compares and derives JIDs', () => {
    const full = jid('Romeo', 'Example.NET', 'Orchard');
    assert.equal(full.toString(), 'romeo@example.net/Orchard');
    assert.equal(full.bareString(), 'romeo@example.net');
    assert.equal(full.isBare(), false);
    assert.ok(full.bare.isBare());
    assert.equal(full.bare.toString(), 'romeo@example.net');
    const bare = full.bare;
    assert.ok(bare.bare === bare, "bare of a bare JID is itself");
    assert.ok(full.equals(parseJid('ROMEO@example.net/Orchard')));
    assert.ok(!full.equals(parseJid('romeo@example.net/orchard')));
    assert.equal(full.withResource('Balcony').toString(), 'romeo@example.net/Balcony');
    assert.ok(full.withResource('').equals(full.bare));
    assert.throws(() => full.withResource('\u0000'), JidError);
    assert.equal(jid('', 'example.net').toString(), 'example.net');
    assert.equal(jid('', 'example.net', 'r').toString(), 'example.net/r');
    assert.throws(() => jid('a b', 'example.net'), JidError);
    assert.equal(parseJid('example.net').local, '');
    assert.equal(parseJid('example.net').resource, '');
  });

  it('tryParseJid returns null instead of throwing', () => {
    assert.equal(tryParseJid('@@'), null);
    assert.equal(tryParseJid('a@b.example')?.toString(), 'a@b.example');
  });
});

describe('properties', () => {
  const interesting = fc.constantFrom(
    'a', 'Z', '0', '.', '-', '_', '@', '/', ' ', '\u00a0', 'ß', 'Σ', 'ς', 'ä', 'e\u0301', 'Ａ', 'ｶ', 'ﾞ', '·', 'l',
    '\u200d', '\u094d', 'क', 'ש', '١', '۱', '♚', 'Ⅳ', '\u0000', '\ud800', '[', ']', ':', '1', 'İ', 'ǅ', '\u3002', 'xn--',
  );
  const piece = fc.oneof(fc.string({ unit: 'binary', maxLength: 6 }), fc.string({ unit: interesting, maxLength: 6 }));
  const structured = fc
    .tuple(
      fc.option(piece),
      fc.oneof({ arbitrary: piece, weight: 1 }, { arbitrary: fc.constantFrom('example.com', 'ÉXAMPLE.org.', '[::1]', '127.0.0.1', 'xn--mnchen-3ya.de'), weight: 3 }),
      fc.option(piece),
    )
    .map(([l, d, r]) => `${l === null ? '' : `${l}@`}${d}${r === null ? '' : `/${r}`}`);

  it('parse(toString(parse(x))) equals parse(x)', () => {
    fc.assert(
      fc.property(fc.oneof(structured, fc.string({ unit: 'binary' })), (s) => {
        const once = tryParseJid(s);
        if (once === null) return;
        const twice = parseJid(once.toString());
        assert.ok(twice.equals(once), `${JSON.stringify(s)} -> ${JSON.stringify(once.toString())}`);
        assert.equal(twice.toString(), once.toString());
      }),
      { numRuns: 3000 },
    );
  });

  it('preparation is idempotent and throws only JidError', () => {
    fc.assert(
      fc.property(fc.string({ unit: interesting, maxLength: 8 }), fc.constantFrom(prepLocal, prepDomain, prepResource), (s, prep) => {
        let once: string;
        try {
          once = prep(s);
        } catch (e) {
          assert.ok(e instanceof JidError);
          return;
        }
        assert.equal(prep(once), once);
      }),
      { numRuns: 3000 },
    );
  });
});
