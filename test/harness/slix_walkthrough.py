"""The "try it now" walkthrough with slixmpp (Debian's python3-slixmpp).

A new user registers in-band, gets the welcome message, adds a colleague as
"Helpdesk" in group "Testpersonen"; both approve, see each other online and chat;
the new user switches to Do Not Disturb; the colleague goes offline, gets three
messages while away, comes back and finds them (in order, with delay stamps),
together with the roster and the new user's presence.

Usage: /usr/bin/python3 slix_walkthrough.py '<json: host, port, domain, cafile, colleague, colleague_password>'
Prints one JSON line: what each step observed.
"""
import asyncio
import json
import logging
import sys

import slixmpp

TIMEOUT = 15


class Client(slixmpp.ClientXMPP):
    def __init__(self, jid, password, opts, register=False):
        super().__init__(jid, password)
        self.ca_certs = opts['cafile']
        for p in ('xep_0030', 'xep_0199', 'xep_0203', 'xep_0077'):
            self.register_plugin(p)
        self.messages = []
        self.presences = {}
        self.started = asyncio.get_running_loop().create_future()
        self.gone = asyncio.get_running_loop().create_future()
        self.add_event_handler('session_start', self.on_start)
        self.add_event_handler('message', self.on_message)
        self.add_event_handler('presence', self.on_presence)
        self.add_event_handler('failed_all_auth', lambda e: self.fail('auth failed'))
        self.add_event_handler('disconnected', lambda e: self.gone.done() or self.gone.set_result(True))
        if register:
            self['xep_0077'].force_registration = True
            # COMPAT: slixmpp 1.8.3 holds back every stanza until the session has
            # started, its own registration iqs included; let them through meanwhile.
            self._always_send_everything = True
            self.add_event_handler('register', self.on_register)

    def fail(self, why):
        if not self.started.done():
            self.started.set_exception(RuntimeError(why))

    async def on_register(self, _form):
        resp = self.Iq()
        resp['type'] = 'set'
        resp['register']['username'] = self.boundjid.user
        resp['register']['password'] = self.password
        try:
            await resp.send(timeout=TIMEOUT)
        except Exception as e:
            self.fail('registration failed: %s' % e)
            self.disconnect()
        finally:
            self._always_send_everything = False

    async def on_start(self, _event):
        await self.get_roster()
        self.send_presence()
        if not self.started.done():
            self.started.set_result(True)

    def on_message(self, msg):
        if msg['type'] in ('chat', 'normal', 'headline') and msg['body']:
            stamp = msg['delay']['stamp']
            self.messages.append({'from': str(msg['from']), 'body': msg['body'], 'type': msg['type'],
                                  'delay': stamp.isoformat() if stamp else None})

    def on_presence(self, pres):
        self.presences[str(pres['from'])] = {'type': pres['type'], 'show': pres['show'], 'status': pres['status']}

    async def wait_for(self, pred, what):
        for _ in range(TIMEOUT * 10):
            if pred():
                return
            await asyncio.sleep(0.1)
        raise RuntimeError('timed out waiting for ' + what)

    async def open(self, opts):
        self.connect((opts['host'], opts['port']))
        await asyncio.wait_for(self.started, TIMEOUT)


def roster_entry(client, jid):
    item = client.client_roster[jid]
    return {'name': item['name'], 'groups': sorted(item['groups']), 'subscription': item['subscription']}


async def run(opts):
    out = {'steps': []}
    domain = opts['domain']
    anna_jid = 'anna@%s' % domain
    colleague_jid = opts['colleague']
    step = lambda name: out['steps'].append(name)
    anna = Client(anna_jid + '/laptop', 'erstes-passwort', opts, register=True)
    colleague = Client(colleague_jid + '/desk', opts['colleague_password'], opts)
    try:
        await anna.open(opts)
        step('registered and logged in')
        await anna.wait_for(lambda: any('Welcome' in m['body'] for m in anna.messages), 'the welcome message')
        out['welcome'] = [m for m in anna.messages if 'Welcome' in m['body']][0]
        step('welcome message')

        await colleague.open(opts)
        step('colleague logged in')
        anna.update_roster(colleague_jid, name='Helpdesk', groups=['Testpersonen'])
        anna.send_presence_subscription(pto=colleague_jid)
        # slixmpp approves and subscribes back by default (auto_authorize, auto_subscribe).
        both = lambda c, j: c.client_roster[j]['subscription'] == 'both'
        await anna.wait_for(lambda: both(anna, colleague_jid) and both(colleague, anna_jid), 'subscription both ways')
        step('subscribed both ways')
        online = lambda c, j: len(c.client_roster[j].resources) > 0
        await anna.wait_for(lambda: online(anna, colleague_jid) and online(colleague, anna_jid), 'each to see the other online')
        out['anna_roster'] = roster_entry(anna, colleague_jid)
        step('both online')

        anna.send_message(mto=colleague_jid, mbody='Hallo Helpdesk, mein Drucker streikt.', mtype='chat')
        await colleague.wait_for(lambda: any('Drucker' in m['body'] for m in colleague.messages), 'chat to colleague')
        colleague.send_message(mto=anna_jid + '/laptop', mbody='Ich komme gleich vorbei.', mtype='chat')
        await anna.wait_for(lambda: any('vorbei' in m['body'] for m in anna.messages), 'chat to anna')
        out['chat'] = {'at_colleague': [m for m in colleague.messages if 'Drucker' in m['body']][0],
                       'at_anna': [m for m in anna.messages if 'vorbei' in m['body']][0]}
        step('chat both ways')

        anna.send_presence(pshow='dnd', pstatus='In einer Besprechung')
        key = anna_jid + '/laptop'
        await colleague.wait_for(lambda: colleague.presences.get(key, {}).get('show') == 'dnd', 'DND at the colleague')
        out['dnd_seen'] = colleague.presences[key]
        step('DND seen')

        colleague.disconnect()
        await asyncio.wait_for(colleague.gone, TIMEOUT)
        await anna.wait_for(lambda: anna.presences.get(colleague_jid + '/desk', {}).get('type') == 'unavailable', 'unavailable at anna')
        step('colleague offline')
        for i in range(1, 4):
            anna.send_message(mto=colleague_jid, mbody='Nachricht %d' % i, mtype='chat')
        await anna['xep_0199'].ping(jid=domain, timeout=TIMEOUT)  # the server has processed the three messages

        again = Client(colleague_jid + '/desk', opts['colleague_password'], opts)
        await again.open(opts)
        await again.wait_for(lambda: len([m for m in again.messages if m['body'].startswith('Nachricht')]) == 3, 'three offline messages')
        out['offline'] = [m for m in again.messages if m['body'].startswith('Nachricht')]
        await again.wait_for(lambda: again.presences.get(key, {}).get('show') == 'dnd', "anna's presence after reconnect")
        out['after_reconnect'] = {'roster': roster_entry(again, anna_jid), 'presence': again.presences[key]}
        step('back after reconnect')
        again.disconnect()
        await asyncio.wait_for(again.gone, TIMEOUT)
        out['ok'] = True
    except Exception as e:
        out['ok'] = False
        out['error'] = '%s: %s' % (type(e).__name__, e)
    finally:
        for c in (anna, colleague):
            c.disconnect()
    return out


def main():
    opts = json.loads(sys.argv[1])
    logging.basicConfig(level=logging.DEBUG if opts.get('debug') else logging.CRITICAL)
    print(json.dumps(asyncio.run(run(opts))), flush=True)


if __name__ == '__main__':
    main()
