// End to end: offline messages survive SIGKILL and a graceful restart of a real
// Rohrpost process. The sender's ping result proves the server processed (and so
// stored, fsync'd) its messages before the kill; the recipient then logs in to the
// restarted server and gets all of them, in order, with XEP-0203 delay stamps.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'ltx';
import type { Element } from '../src/xml/element.js';
import { startServer, type TestServer } from './harness/server.js';
import { rawLogin, type RawSession } from './harness/raw.js';

const PLAINTEXT = ['c2s.require_encryption=false', 'c2s.allow_unencrypted_plain=true'];
const NS_DELAY = 'urn:xmpp:delay';
const BODIES = ['first', 'second line one\nline two', 'dritte Nachricht: Grüße 😀 <&>'];

function escapeText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Sends the messages and then a ping; resolves once the ping's result arrived. */
async function sendAndConfirm(sender: RawSession, to: string, bodies: string[]): Promise<void> {
  bodies.forEach((b, i) => sender.socket.write(`<message id='m${i}' to='${to}' type='chat'><body>${escapeText(b)}</body></message>`));
  sender.socket.write("<iq type='get' id='confirm' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
  const answer = await sender.waitFor(/<iq[^>]*id=['"]confirm['"][^>]*>/);
  assert.match(answer, /type=['"]result['"]/);
  assert.doesNotMatch(sender.data(), /type=['"]error['"]/, 'no message was refused');
}

function messagesIn(data: string): Element[] {
  return [...data.matchAll(/<message[\s\S]*?<\/message>/g)].map((m) => parse(m[0]));
}

/** Logs in as bob, sends initial presence and collects `count` messages. */
async function receive(server: TestServer, count: number): Promise<{ session: RawSession; messages: Element[] }> {
  const session = await rawLogin(server.starttlsPort, 'bob', 'builder', 'desk');
  session.socket.write('<presence/>');
  if (count > 0) await session.waitFor(new RegExp(`(<message[\\s\\S]*?</message>[\\s\\S]*?){${count}}`));
  return { session, messages: messagesIn(session.data()) };
}

function checkDelivered(messages: Element[], sentAfter: number, sentBefore: number): void {
  assert.deepEqual(messages.map((m) => m.getChildText('body')), BODIES);
  for (const m of messages) {
    assert.equal(m.attrs.from, 'alice@localhost/phone');
    assert.equal(m.attrs.type, 'chat');
    const delay = m.getChild('delay', NS_DELAY);
    assert.ok(delay, 'stamped with XEP-0203 delay');
    assert.equal(delay.attrs.from, 'localhost');
    const stamp = Date.parse(delay.attrs.stamp!);
    assert.ok(stamp >= sentAfter - 1000 && stamp <= sentBefore + 1000, `stamp ${delay.attrs.stamp} is when it was stored`);
  }
}

/** Nothing more arrives: a ping answered after presence proves delivery had its chance. */
async function assertNothingMore(server: TestServer): Promise<void> {
  const { session: again } = await receive(server, 0);
  again.socket.write("<iq type='get' id='after' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
  await again.waitFor(/id=['"]after['"]/);
  assert.deepEqual(messagesIn(again.data()), [], 'delivered messages were removed');
  again.socket.destroy();
}

async function restartTest(restart: (s: TestServer) => Promise<unknown>): Promise<void> {
  const first = await startServer({ sets: PLAINTEXT });
  let second: TestServer | undefined;
  try {
    first.adduser('alice@localhost', 'wonderland');
    first.adduser('bob@localhost', 'builder');
    const alice = await rawLogin(first.starttlsPort, 'alice', 'wonderland', 'phone');
    const sentAfter = Date.now();
    await sendAndConfirm(alice, 'bob@localhost', BODIES);
    const sentBefore = Date.now();
    await restart(first);
    alice.socket.destroy();

    second = await startServer({ dir: first.dir, sets: PLAINTEXT });
    const { session, messages } = await receive(second, BODIES.length);
    checkDelivered(messages, sentAfter, sentBefore);
    session.socket.destroy();
    await assertNothingMore(second);
  } finally {
    await second?.stop();
    await first.stop();
    first.cleanup();
  }
}

describe('offline messages across restarts', () => {
  test('kill -9 right after the sender\'s ping result: the recipient gets every message, in order, stamped', async () => {
    await restartTest((s) => s.kill9());
  });

  test('graceful restart (SIGTERM): the recipient gets every message, in order, stamped', async () => {
    await restartTest(async (s) => assert.equal(await s.stop(), 0));
  });

  test('a full store refuses the sender with service-unavailable; nothing beyond the limit is stored', async () => {
    const server = await startServer({ sets: [...PLAINTEXT, 'offline.max_messages=2'] });
    try {
      server.adduser('alice@localhost', 'wonderland');
      server.adduser('bob@localhost', 'builder');
      const alice = await rawLogin(server.starttlsPort, 'alice', 'wonderland', 'phone');
      for (const n of [1, 2, 3]) alice.socket.write(`<message id='f${n}' to='bob@localhost'><body>${n}</body></message>`);
      const err = await alice.waitFor(/<message[^>]*type=['"]error['"][\s\S]*?<\/message>/);
      assert.match(err, /id=['"]f3['"]/);
      assert.match(err, /<service-unavailable/);
      const { session, messages } = await receive(server, 2);
      assert.deepEqual(messages.map((m) => m.getChildText('body')), ['1', '2']);
      session.socket.destroy();
      alice.socket.destroy();
    } finally {
      await server.stop();
      server.cleanup();
    }
  });
});
