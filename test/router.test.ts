// The router without sockets: addressing, default delivery rules, error replies,
// from-stamping consequences and the iq dispatcher.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { world } from './harness/fake-session.js';
import { MODULES } from '../src/main.js';
import { defineModule } from '../src/router/module-api.js';
import { StanzaError } from '../src/errors.js';
import { x } from '../src/xml/element.js';

const condition = (el: { getChild(n: string): { children: unknown[] } | undefined }) =>
  (el.getChild('error')?.children[0] as { name: string } | undefined)?.name;

describe('router', () => {
  test('a message to a full JID reaches exactly that resource', async () => {
    const w = await world(MODULES);
    const a = await w.connect('alice@example.org/a');
    const b1 = await w.connect('bob@example.org/one');
    const b2 = await w.connect('bob@example.org/two');
    await a.inject("<message to='bob@example.org/two' type='chat'><body>hi</body></message>");
    assert.equal(b1.sent.length, 0);
    assert.equal(b2.sent.length, 1);
    assert.equal(b2.sent[0]!.attrs.from, 'alice@example.org/a');
    assert.equal(b2.sent[0]!.getChildText('body'), 'hi');
  });

  test('a message to a bare JID goes to the highest-priority available resources', async () => {
    const w = await world(MODULES);
    const a = await w.connect('alice@example.org/a');
    const b1 = await w.connect('bob@example.org/one');
    const b2 = await w.connect('bob@example.org/two');
    await b1.inject('<presence><priority>5</priority></presence>');
    await b2.inject('<presence><priority>1</priority></presence>');
    const messages = (s: typeof b1) => s.take().filter((el) => el.name === 'message');
    messages(b1);
    messages(b2);
    await a.inject("<message to='bob@example.org'><body>normal</body></message>");
    assert.equal(messages(b1).length, 1);
    assert.equal(messages(b2).length, 0);
    // RFC 6121 §8.5.2.1.1: chat goes to all non-negative available resources.
    await a.inject("<message to='bob@example.org' type='chat'><body>chat</body></message>");
    assert.equal(messages(b1).length, 1);
    assert.equal(messages(b2).length, 1);
  });

  test('a message to an unknown user gets service-unavailable; an error is never answered with an error', async () => {
    const w = await world(MODULES);
    const a = await w.connect('alice@example.org/a');
    await a.inject("<message id='m1' to='nobody@example.org'><body>hi</body></message>");
    const [err] = a.take();
    assert.equal(err!.attrs.type, 'error');
    assert.equal(err!.attrs.id, 'm1');
    assert.equal(err!.attrs.from, 'nobody@example.org');
    assert.equal(condition(err!), 'service-unavailable');
    await a.inject("<message type='error' to='nobody@example.org'/>");
    assert.equal(a.take().length, 0);
  });

  test('a message to a missing resource of an offline user without offline storage is refused', async () => {
    const w = await world(MODULES.filter((m) => m.name !== 'offline'));
    const a = await w.connect('alice@example.org/a');
    await w.storage.accounts.createAccount('example.org', 'carol', (await w.storage.accounts.getCredentials('example.org', 'alice'))!);
    await a.inject("<message to='carol@example.org/gone' type='chat'><body>x</body></message>");
    assert.equal(condition(a.take()[0]!), 'service-unavailable');
  });

  test('an iq nobody handles gets service-unavailable; a remote domain gets remote-server-not-found', async () => {
    const w = await world(MODULES);
    const a = await w.connect('alice@example.org/a');
    await a.inject("<iq type='get' id='q1' to='example.org'><query xmlns='urn:example:unknown'/></iq>");
    const [r1] = a.take();
    assert.equal(r1!.attrs.id, 'q1');
    assert.equal(condition(r1!), 'service-unavailable');
    await a.inject("<iq type='get' id='q2' to='elsewhere.example'><ping xmlns='urn:xmpp:ping'/></iq>");
    assert.equal(condition(a.take()[0]!), 'remote-server-not-found');
  });

  test('an iq to another user\'s full JID is delivered; a result comes back', async () => {
    const w = await world(MODULES);
    const a = await w.connect('alice@example.org/a');
    const b = await w.connect('bob@example.org/b');
    await a.inject("<iq type='get' id='v1' to='bob@example.org/b'><query xmlns='jabber:iq:version'/></iq>");
    assert.equal(b.take()[0]!.attrs.id, 'v1');
    await b.inject("<iq type='result' id='v1' to='alice@example.org/a'/>");
    assert.equal(a.take()[0]!.attrs.type, 'result');
  });

  test('ping, version and disco answer from the server', async () => {
    const w = await world(MODULES);
    const a = await w.connect('alice@example.org/a');
    await a.inject("<iq type='get' id='p' to='example.org'><ping xmlns='urn:xmpp:ping'/></iq>");
    const [pong] = a.take();
    assert.equal(pong!.attrs.type, 'result');
    assert.equal(pong!.attrs.from, 'example.org');
    await a.inject("<iq type='get' id='p2'><ping xmlns='urn:xmpp:ping'/></iq>");
    const [pong2] = a.take();
    assert.equal(pong2!.attrs.type, 'result');
    assert.equal(pong2!.attrs.from, undefined, 'a reply to an iq without to has no from');
    await a.inject("<iq type='get' id='v' to='example.org'><query xmlns='jabber:iq:version'/></iq>");
    assert.equal(a.take()[0]!.getChild('query')!.getChildText('name'), 'Rohrpost');
    await a.inject("<iq type='get' id='d' to='example.org'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
    const feats = a.take()[0]!.getChild('query')!.getChildren('feature').map((f) => f.attrs.var);
    assert.ok(feats.includes('urn:xmpp:ping') && feats.includes('jabber:iq:version'));
    await a.inject("<iq type='get' id='d2' to='example.org'><query xmlns='http://jabber.org/protocol/disco#info' node='nope'/></iq>");
    assert.equal(condition(a.take()[0]!), 'item-not-found');
  });

  test('handler errors become error replies: StanzaError as given, a bug as internal-server-error', async () => {
    const boom = defineModule({
      name: 'boom',
      load(api) {
        api.iq('get', 'host', 'urn:test', 'bad', () => { throw new StanzaError('not-allowed', 'no'); });
        api.iq('get', 'host', 'urn:test', 'bug', async () => { throw new Error('oops'); });
        api.iq('set', 'host', 'urn:test', 'echo', (_ev, p) => x('echo', { xmlns: 'urn:test' }, p.getText()));
      },
    });
    const w = await world([...MODULES, boom]);
    const a = await w.connect('alice@example.org/a');
    await a.inject("<iq type='get' id='1' to='example.org'><bad xmlns='urn:test'/></iq>");
    assert.equal(condition(a.take()[0]!), 'not-allowed');
    await a.inject("<iq type='get' id='2' to='example.org'><bug xmlns='urn:test'/></iq>");
    assert.equal(condition(a.take()[0]!), 'internal-server-error');
    await a.inject("<iq type='set' id='3' to='example.org'><echo xmlns='urn:test'>ok</echo></iq>");
    assert.equal(a.take()[0]!.getChild('echo')!.getText(), 'ok');
  });

  test('a module that unloads leaves nothing behind', async () => {
    const { ModuleHost } = await import('../src/router/modules.js');
    const { DiscoRegistry } = await import('../src/router/module-api.js');
    const w = await world([]);
    const disco = new DiscoRegistry();
    const host = new ModuleHost({ ...w.context, disco });
    const ping = MODULES.find((m) => m.name === 'ping')!;
    await host.load(ping);
    assert.ok(disco.features.has('urn:xmpp:ping'));
    host.unload('ping');
    assert.equal(disco.features.size, 0);
    const a = await w.connect('alice@example.org/a');
    await a.inject("<iq type='get' id='p' to='example.org'><ping xmlns='urn:xmpp:ping'/></iq>");
    assert.equal(condition(a.take()[0]!), 'service-unavailable');
  });

  test('an invalid to address gets jid-malformed', async () => {
    const w = await world(MODULES);
    const a = await w.connect('alice@example.org/a');
    await a.inject("<message id='j' to='a@b@c'><body>x</body></message>");
    assert.equal(condition(a.take()[0]!), 'jid-malformed');
  });

  test('a component receives every stanza for its domain; its errors become error replies', async () => {
    const seen: string[] = [];
    const comp = defineModule({
      name: 'comp',
      load(api) {
        api.component('rooms.example.org', (ev) => {
          seen.push(`${ev.kind} ${ev.to.toString()}`);
          if (ev.kind === 'iq') throw new StanzaError('item-not-found');
          return true;
        });
      },
    });
    const w = await world([...MODULES, comp]);
    const a = await w.connect('alice@example.org/a');
    await a.inject("<presence to='lobby@rooms.example.org/Alice'/>");
    await a.inject("<iq type='get' id='c1' to='rooms.example.org'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
    assert.deepEqual(seen, ['presence lobby@rooms.example.org/Alice', 'iq rooms.example.org']);
    const [err] = a.take().filter((el) => el.name === 'iq');
    assert.equal(condition(err!), 'item-not-found');
    assert.equal(err!.attrs.from, 'rooms.example.org');
  });
});
