"""Drives slixmpp clients (Debian's python3-slixmpp) through XEP-0045 for the
end-to-end tests.

Usage: /usr/bin/python3 slix_muc.py '<json options>'
Options: host, port, room, password, timeout, users {name: {jid, password}}, and
scenario:
  'create'  alice creates the room (201), makes it persistent and password-protected;
            bob joins without the password (refused) and with it; they chat; alice
            sends bob a private message; carol joins late and gets the history;
            alice kicks carol (307), lets her back, then bans her (301).
  'restart' after a restart: the room's settings, its password and the ban hold.
  'bot'     alice, bob and carol join; bob says '!time'; everyone waits for the
            bot's answer (option bot_nick).
Prints one JSON line with what the clients saw, then exits 0.
"""
import asyncio
import json
import logging
import sys
import xml.etree.ElementTree as ET

import slixmpp
from slixmpp.exceptions import PresenceError

NS_MUC_OWNER = 'http://jabber.org/protocol/muc#owner'


def main():
    opts = json.loads(sys.argv[1])
    logging.basicConfig(level=logging.DEBUG if opts.get('debug') else logging.CRITICAL)
    out = {}
    try:
        asyncio.run(asyncio.wait_for(run(opts, out), opts.get('timeout', 40)))
    except Exception as e:  # report, do not hang
        out['error'] = '%s: %s' % (type(e).__name__, e)
    # slixmpp prints while joining; the JSON is the last line.
    print(json.dumps(out), flush=True)


class Client(slixmpp.ClientXMPP):
    def __init__(self, jid, password):
        super().__init__(jid, password)
        self.register_plugin('xep_0030')
        self.register_plugin('xep_0045')
        self.register_plugin('xep_0203')
        self.seen = []
        self.started = asyncio.get_running_loop().create_future()
        self.add_event_handler('session_start', self.on_start)
        self.add_event_handler('failed_all_auth', lambda _e: self.started.done() or self.started.set_exception(RuntimeError('auth failed')))
        self.add_event_handler('message', lambda m: self.seen.append(m))
        self.add_event_handler('presence', lambda p: self.seen.append(p))
        # slixmpp keeps room presences out of the roster and its 'presence' event.
        self.add_event_handler('groupchat_presence', lambda p: self.seen.append(p))

    async def on_start(self, _event):
        self.send_presence()
        if not self.started.done():
            self.started.set_result(True)


async def until(pred, timeout=10):
    """Polls pred() until it returns something true or the timeout passes."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = pred()
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.05)


async def join_error(client, room, nick, password=None):
    """Joins; returns None on success, else the error condition."""
    try:
        await client['xep_0045'].join_muc_wait(room, nick, password=password, maxstanzas=0, timeout=10)
        return None
    except PresenceError as e:
        return e.condition


def codes_of(pres):
    return sorted(int(c) for c in pres['muc']['status_codes'])


def unavailable_codes(client, room, nick):
    """Status codes of the last unavailable presence the client got for room/nick."""
    found = [s for s in client.seen if s.name == 'presence' and s['type'] == 'unavailable'
             and str(s['from']) == '%s/%s' % (room, nick)]
    return codes_of(found[-1]) if found else None


async def configure(client, room, fields):
    """Submits the owner form (muc#owner) with the given fields."""
    iq = client.make_iq_set(ito=room)
    form = ''.join("<field var='muc#roomconfig_%s'><value>%s</value></field>" % kv for kv in fields.items())
    iq.xml.append(ET.fromstring(
        "<query xmlns='%s'><x xmlns='jabber:x:data' type='submit'>"
        "<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>%s</x></query>"
        % (NS_MUC_OWNER, form)))
    return (await iq.send(timeout=10))['type']


async def run(opts, out):
    clients = {}
    for name, cred in opts['users'].items():
        c = Client(cred['jid'], cred['password'])
        c.connect((opts['host'], opts['port']), disable_starttls=True)
        clients[name] = c
    try:
        for c in clients.values():
            await asyncio.wait_for(c.started, 15)
        await SCENARIOS[opts['scenario']](opts, clients, out)
        out['ok'] = True
    finally:
        for c in clients.values():
            c.disconnect()
        await asyncio.sleep(0.3)


async def scenario_create(opts, c, out):
    room, pw = opts['room'], opts['password']
    alice, bob, carol = c['alice'], c['bob'], c['carol']
    muc = lambda cl: cl['xep_0045']
    own, _subject, _occupants, _history = await muc(alice).join_muc_wait(room, 'Alice', maxstanzas=0, timeout=10)
    out['created'] = 201 in codes_of(own)
    out['configured'] = await configure(alice, room, {
        'roomname': 'Secret room', 'persistentroom': '1', 'publicroom': '1',
        'passwordprotectedroom': '1', 'roomsecret': pw})
    out['join_without_password'] = await join_error(bob, room, 'Bob')
    out['join_with_password'] = await join_error(bob, room, 'Bob', pw)

    alice.send_message(mto=room, mbody='hello from alice', mtype='groupchat')
    out['bob_got_alice'] = bool(await until(lambda: any(
        s.name == 'message' and s['type'] == 'groupchat' and s['body'] == 'hello from alice' for s in bob.seen)))
    bob.send_message(mto=room, mbody='hi alice', mtype='groupchat')
    out['alice_got_bob'] = bool(await until(lambda: any(
        s.name == 'message' and s['type'] == 'groupchat' and s['body'] == 'hi alice'
        and str(s['from']) == room + '/Bob' for s in alice.seen)))

    alice.send_message(mto=room + '/Bob', mbody='just for you', mtype='chat')
    pm = await until(lambda: [s for s in bob.seen if s.name == 'message' and s['body'] == 'just for you'])
    out['private'] = {'from': str(pm[0]['from']), 'type': pm[0]['type']} if pm else None
    out['carol_got_private'] = False  # set below if she ever sees it

    _own, _s, _o, history = await muc(carol).join_muc_wait(room, 'Carol', password=pw, maxstanzas=10, timeout=10)
    out['history'] = [{'body': h['body'], 'from': str(h['from']), 'delay_from': str(h['delay']['from']),
                       'stamped': h['delay']['stamp'] is not None} for h in history]
    out['carol_got_private'] = any(s.name == 'message' and s['body'] == 'just for you' for s in carol.seen)

    await muc(alice).set_role(room, 'Carol', 'none', reason='take a break')
    out['kick_codes'] = await until(lambda: unavailable_codes(carol, room, 'Carol'))
    out['bob_saw_kick'] = await until(lambda: unavailable_codes(bob, room, 'Carol'))
    carol.seen.clear()
    bob.seen.clear()
    out['rejoin_after_kick'] = await join_error(carol, room, 'Carol', pw)
    await muc(alice).set_affiliation(room, 'outcast', jid=carol.boundjid.bare, reason='enough')
    out['ban_codes'] = await until(lambda: unavailable_codes(carol, room, 'Carol'))
    out['join_after_ban'] = await join_error(carol, room, 'Carol2', pw)


async def scenario_restart(opts, c, out):
    room, pw = opts['room'], opts['password']
    alice, bob, carol = c['alice'], c['bob'], c['carol']
    info = await alice['xep_0030'].get_info(jid=room, timeout=10)
    q = info['disco_info']
    out['name'] = [i[3] for i in q['identities']][0]
    out['features'] = sorted(f for f in q['features'] if f.startswith('muc_'))
    items = await bob['xep_0030'].get_items(jid=slixmpp.JID(room).domain, timeout=10)
    out['listed'] = [str(i[0]) for i in items['disco_items']['items']]
    out['join_without_password'] = await join_error(bob, room, 'Bob')
    out['join_with_password'] = await join_error(bob, room, 'Bob', pw)
    out['banned_join'] = await join_error(carol, room, 'Carol', pw)
    own, _s, _o, _h = await alice['xep_0045'].join_muc_wait(room, 'Alice', maxstanzas=0, timeout=10)
    out['alice_affiliation'] = own['muc']['affiliation']


async def scenario_bot(opts, c, out):
    room, bot = opts['room'], opts['bot_nick']
    for name, cl in c.items():
        await cl['xep_0045'].join_muc_wait(room, name.capitalize(), maxstanzas=0, timeout=10)
    greeted = await until(lambda: [s for s in c['carol'].seen if s.name == 'message' and str(s['from']) == room + '/' + bot
                                   and 'Carol' in (s['body'] or '')], 10)
    out['carol_greeted'] = bool(greeted)
    c['bob'].send_message(mto=room, mbody='!time', mtype='groupchat')
    answers = {}
    for name, cl in c.items():
        got = await until(lambda: [s for s in cl.seen if s.name == 'message' and s['type'] == 'groupchat'
                                   and str(s['from']) == room + '/' + bot and (s['body'] or '').startswith('Time')], 10)
        answers[name] = got[0]['body'] if got else None
    out['time_answers'] = answers
    c['alice'].send_message(mto=room, mbody='!help', mtype='groupchat')
    helped = await until(lambda: [s for s in c['alice'].seen if s.name == 'message' and str(s['from']) == room + '/' + bot
                                  and '!time' in (s['body'] or '') and '!help' in (s['body'] or '')], 10)
    out['help'] = bool(helped)


SCENARIOS = {'create': scenario_create, 'restart': scenario_restart, 'bot': scenario_bot}

if __name__ == '__main__':
    main()
