// Parser throughput: our strict StreamParser against sax, saxes and ltx's own parser on the same
// realistic client-to-server stream, fed in 16 KiB chunks. Run: node dist/bench/parser.js [MB]
//
// Every contender builds an ltx Element per stanza, as a server needs, so stanzas/s compare like
// with like. The others get strings from one StringDecoder (they do not take bytes); decoding is
// part of their time just as UTF-8 validation is part of ours.
import { Buffer } from 'node:buffer';
import { StringDecoder } from 'node:string_decoder';
import { fileURLToPath } from 'node:url';
import sax from 'sax';
import { SaxesParser } from 'saxes';
import { Element, Parser as LtxParser } from 'ltx';
import { StreamParser } from '../src/xml/parser.js';

const NS_CLIENT = 'jabber:client';
const NS_STREAM = 'http://etherx.jabber.org/streams';
const NS_CAPS = 'http://jabber.org/protocol/caps';
const NS_ROSTER = 'jabber:iq:roster';
const NS_PING = 'urn:xmpp:ping';
const NS_CHATSTATES = 'http://jabber.org/protocol/chatstates';
const NS_RECEIPTS = 'urn:xmpp:receipts';
const NS_DELAY = 'urn:xmpp:delay';

const CHUNK_SIZE = 16 * 1024;
const RUNS = 5;
const TIME_BUDGET_MS = 15_000; // per contender, so the whole run stays bounded

/** Small deterministic PRNG (mulberry32) so every run parses the same bytes. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ['hello', 'are', 'you', 'coming', 'tonight', 'the', 'meeting', 'moved', 'to', 'three', 'ok', 'thanks',
  'see', 'link', 'build', 'passed', 'lunch', 'Grüße', 'naïve', 'café', 'Привет', 'こんにちは', '你好', '👍', 'señor'];
const ESCAPED = ['&amp;', '&lt;3', '&gt;', '&quot;ok&quot;', '&apos;s', '&#x1F600;', '&#233;'];
const STATUS = ['Working from home', 'In a meeting', 'Bin gleich zurück', 'Away &amp; busy', 'En réunion', '忙しい'];
const GROUPS = ['Friends', 'Family', 'Work', 'Kollegen', 'Book club'];

/** Share of stanzas by kind: chat traffic dominates a live stream, roster results come at login. */
const MIX = { message: 0.55, presence: 0.33, roster: 0.02, ping: 0.1 };

export function generateStream(targetBytes: number): { bytes: Buffer; stanzas: number; bytesByKind: Record<string, number> } {
  const rnd = random(42);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)];
  const jid = (): string => `user${Math.floor(rnd() * 5000)}@example.${pick(['com', 'org', 'net'])}`;
  const sentence = (n: number): string => {
    const words: string[] = [];
    for (let i = 0; i < n; i++) words.push(rnd() < 0.05 ? pick(ESCAPED) : pick(WORDS));
    return words.join(' ');
  };
  const parts: string[] = [
    `<?xml version='1.0'?><stream:stream xmlns='${NS_CLIENT}' xmlns:stream='${NS_STREAM}' to='example.com' version='1.0' xml:lang='en'>`,
  ];
  let size = parts[0].length;
  let stanzas = 0;
  let id = 0;
  const bytesByKind: Record<string, number> = { message: 0, presence: 0, roster: 0, ping: 0 };
  while (size < targetBytes) {
    const r = rnd();
    let s: string;
    let kind: keyof typeof MIX;
    if (r < MIX.message) {
      kind = 'message';
      s = `<message to='${jid()}/phone' from='${jid()}/laptop' type='chat' id='m${id++}'>`
        + `<body>${sentence(3 + Math.floor(rnd() * 25))}</body><active xmlns='${NS_CHATSTATES}'/>`
        + (rnd() < 0.3 ? `<request xmlns='${NS_RECEIPTS}'/>` : '')
        + (rnd() < 0.1 ? `<delay xmlns='${NS_DELAY}' from='example.com' stamp='2024-05-01T12:00:00Z'/>` : '')
        + '</message>';
    } else if (r < MIX.message + MIX.presence) {
      kind = 'presence';
      s = `<presence from='${jid()}/laptop' id='p${id++}'>`
        + (rnd() < 0.5 ? `<show>${pick(['away', 'dnd', 'xa', 'chat'])}</show>` : '')
        + (rnd() < 0.6 ? `<status>${pick(STATUS)}</status>` : '')
        + `<priority>${Math.floor(rnd() * 10)}</priority>`
        + `<c xmlns='${NS_CAPS}' hash='sha-1' node='https://conversations.im' ver='PzQ1aPIlXaTVODs0lThYmLa5eNs='/>`
        + '</presence>';
    } else if (r < MIX.message + MIX.presence + MIX.roster) {
      kind = 'roster';
      const items: string[] = [];
      const n = 20 + Math.floor(rnd() * 80);
      for (let i = 0; i < n; i++) {
        items.push(`\n  <item jid='${jid()}' name='${pick(WORDS)} ${pick(WORDS)}' subscription='${pick(['both', 'to', 'from'])}'>`
          + `<group>${pick(GROUPS)}</group></item>`);
      }
      s = `<iq type='result' id='roster${id++}' to='${jid()}/laptop'><query xmlns='${NS_ROSTER}' ver='ver${id}'>${items.join('')}\n</query></iq>`;
    } else {
      kind = 'ping';
      s = `<iq type='get' id='ping${id++}' to='example.com'><ping xmlns='${NS_PING}'/></iq>`;
    }
    parts.push(s, rnd() < 0.2 ? '\n' : '');
    const n = Buffer.byteLength(s);
    size += n;
    bytesByKind[kind] += n;
    stanzas++;
  }
  parts.push('</stream:stream>');
  return { bytes: Buffer.from(parts.join('')), stanzas, bytesByKind };
}

interface Contender {
  name: string;
  /** Parses all chunks and returns how many stanzas came out. */
  run(chunks: Buffer[]): number;
}

/** Builds one ltx Element per stanza from SAX-style events (what an adapter over sax/saxes does). */
class StanzaBuilder {
  depth = 0;
  count = 0;
  private current: Element | null = null;
  open(name: string, attrs: Record<string, string>): void {
    this.depth++;
    if (this.depth < 2) return;
    const el = new Element(name, attrs);
    if (this.current) this.current.cnode(el);
    this.current = el;
  }
  text(t: string): void {
    if (this.current) this.current.children.push(t);
  }
  close(): void {
    this.depth--;
    if (this.depth < 1 || !this.current) return;
    if (this.depth === 1) {
      this.count++;
      this.current = null;
    } else {
      this.current = this.current.parent;
    }
  }
}

const contenders: Contender[] = [
  {
    name: 'rohrpost StreamParser (strict)',
    run(chunks) {
      let count = 0;
      let failure: Error | null = null;
      const p = new StreamParser({
        streamStart() {},
        stanza() { count++; },
        streamEnd() {},
        error(e) { failure = e; },
      });
      for (const c of chunks) p.write(c);
      if (failure) throw failure;
      return count;
    },
  },
  {
    name: 'sax (strict, xmlns)',
    run(chunks) {
      const b = new StanzaBuilder();
      const p = sax.parser(true, { xmlns: true });
      p.onopentag = (node) => {
        const attrs: Record<string, string> = {};
        for (const [k, v] of Object.entries(node.attributes)) attrs[k] = typeof v === 'string' ? v : v.value;
        b.open(node.name, attrs);
      };
      p.ontext = (t) => b.text(t);
      p.oncdata = (t) => b.text(t);
      p.onclosetag = () => b.close();
      p.onerror = (e) => { throw e; };
      const d = new StringDecoder('utf8');
      for (const c of chunks) p.write(d.write(c));
      p.close();
      return b.count;
    },
  },
  {
    name: 'saxes (xmlns)',
    run(chunks) {
      const b = new StanzaBuilder();
      const p = new SaxesParser({ xmlns: true });
      p.on('opentag', (node) => {
        const attrs: Record<string, string> = {};
        for (const [k, v] of Object.entries(node.attributes)) attrs[k] = typeof v === 'string' ? v : v.value;
        b.open(node.name, attrs);
      });
      p.on('text', (t) => b.text(t));
      p.on('cdata', (t) => b.text(t));
      p.on('closetag', () => b.close());
      p.on('error', (e) => { throw e; });
      const d = new StringDecoder('utf8');
      for (const c of chunks) p.write(d.write(c));
      p.close();
      return b.count;
    },
  },
  {
    name: 'ltx Parser (default, lenient)',
    run(chunks) {
      const p = new LtxParser();
      // ltx builds one tree for the whole document; count stanzas from its underlying SAX events.
      const events = (p as unknown as { parser: { on(e: string, f: () => void): void } }).parser;
      let depth = 0;
      let count = 0;
      events.on('startElement', () => { depth++; });
      events.on('endElement', () => { if (--depth === 1) count++; });
      const d = new StringDecoder('utf8');
      for (const c of chunks) p.write(d.write(c));
      return count;
    },
  },
];

function main(): void {
  const megabytes = Number(process.argv[2] ?? 10);
  const { bytes, stanzas, bytesByKind } = generateStream(megabytes * 1e6);
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += CHUNK_SIZE) chunks.push(bytes.subarray(i, i + CHUNK_SIZE));
  const nonAscii = bytes.filter((b) => b >= 0x80).length;
  console.log(`input: ${(bytes.length / 1e6).toFixed(1)} MB, ${stanzas} stanzas, ${chunks.length} chunks of ${CHUNK_SIZE} bytes, `
    + `${((nonAscii / bytes.length) * 100).toFixed(1)}% non-ASCII bytes; best of ${RUNS} runs (node ${process.version})`);
  const shares = Object.entries(bytesByKind).map(([k, n]) => `${k} ${((n / bytes.length) * 100).toFixed(0)}%`);
  console.log(`bytes by kind: ${shares.join(', ')}`);
  const results: Array<{ name: string; seconds: number; count: number }> = [];
  for (const c of contenders) {
    let best = Infinity;
    let count = 0;
    const started = performance.now();
    for (let run = 0; run < RUNS && performance.now() - started < TIME_BUDGET_MS; run++) {
      const t0 = performance.now();
      count = c.run(chunks);
      best = Math.min(best, performance.now() - t0);
    }
    results.push({ name: c.name, seconds: best / 1000, count });
  }
  // Relative speed is the steadier number on a busy machine.
  const reference = results.find((r) => r.name.startsWith('ltx'))!.seconds;
  for (const { name, seconds, count } of results) {
    const mbps = (bytes.length / 1e6 / seconds).toFixed(1).padStart(7);
    const rate = Math.round(count / seconds).toString().padStart(9);
    const relative = (reference / seconds).toFixed(2).padStart(6);
    const check = count === stanzas ? '' : `  (counted ${count} stanzas!)`;
    console.log(`${name.padEnd(32)} ${mbps} MB/s ${rate} stanzas/s ${relative}x ltx${check}`);
  }
}

// Importable (for its generator) without running.
if (process.argv[1] === fileURLToPath(import.meta.url)) main();
