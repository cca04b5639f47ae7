"""Drives in-band registration (XEP-0077) against Rohrpost with slixmpp.

Usage: /usr/bin/python3 slix_register.py '<json options>'
Options: jid, password, host, port, cafile, register (bool: register before
login), expect_messages (how many messages to wait for after login),
actions (list of 'change_password:<new>', 'unregister').
Prints one JSON line with what the client saw, then exits 0 (also on failure:
the test asserts on the reported outcome).
"""
import asyncio
import json
import logging
import sys

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout


def main():
    opts = json.loads(sys.argv[1])
    logging.basicConfig(level=logging.DEBUG if opts.get('debug') else logging.CRITICAL)
    result = asyncio.run(run(opts))
    print(json.dumps(result), flush=True)


def error_of(e):
    return {'condition': e.iq['error']['condition'], 'type': e.iq['error']['type'], 'text': e.iq['error']['text']}


async def run(opts):
    client = slixmpp.ClientXMPP(opts['jid'], opts['password'])
    for plugin in ('xep_0030', 'xep_0004', 'xep_0066', 'xep_0077', 'xep_0199', 'xep_0203'):
        client.register_plugin(plugin)
    client.ca_certs = opts.get('cafile')
    out = {'ok': False, 'messages': []}
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    got_messages = asyncio.Event()

    async def on_register(form):
        out['form'] = {
            'instructions': bool(form['register']['instructions']),
            'fields': sorted(f for f in ('username', 'password') if form['register'].xml.find('{jabber:iq:register}' + f) is not None),
        }
        resp = client.Iq()
        resp['type'] = 'set'
        resp['register']['username'] = client.boundjid.user
        resp['register']['password'] = client.password
        try:
            await resp.send(timeout=10)
            out['registered'] = True
        except IqError as e:
            out['registered'] = False
            out['register_error'] = error_of(e)
            client.disconnect()
        except IqTimeout:
            out['register_error'] = 'timeout'
            client.disconnect()
        finally:
            client._always_send_everything = False

    def on_message(msg):
        entry = {'from': str(msg['from']), 'body': msg['body'], 'type': msg['type']}
        delay = msg.xml.find('{urn:xmpp:delay}delay')
        if delay is not None:
            entry['delay_from'] = str(msg['delay']['from'])
            entry['delay_stamp'] = msg['delay']['stamp'].isoformat()
        out['messages'].append(entry)
        if len(out['messages']) >= opts.get('expect_messages', 0):
            got_messages.set()

    async def on_start(_event):
        try:
            out['jid'] = str(client.boundjid)
            client.send_presence()
            if opts.get('expect_messages', 0) > 0:
                await asyncio.wait_for(got_messages.wait(), 10)
            for action in opts.get('actions', []):
                if action.startswith('change_password:'):
                    try:
                        await client['xep_0077'].change_password(action.split(':', 1)[1], timeout=10)
                        out['password_changed'] = True
                    except IqError as e:
                        out['password_error'] = error_of(e)
                elif action == 'unregister':
                    await client['xep_0077'].cancel_registration(timeout=10)
                    out['unregistered'] = True
                    # The server ends the stream itself (not-authorized).
                    await asyncio.wait_for(asyncio.shield(done), 10)
            out['ok'] = True
        except Exception as e:  # report, do not hang
            out['error'] = '%s: %s' % (type(e).__name__, e)
        finally:
            client.disconnect()

    def on_failed_auth(_event):
        out.setdefault('error', 'failed_auth')
        client.disconnect()

    def on_stream_error(err):
        out['stream_error'] = err['condition']

    def on_disconnected(_event):
        if not done.done():
            done.set_result(True)

    if opts.get('register'):
        # COMPAT: slixmpp 1.8.3 queues every stanza until the session has started
        # (XMLStream.send), which holds back its own xep_0077 iqs before login; let
        # them through while registering, as its test harness does.
        client._always_send_everything = True
        client.add_event_handler('register', on_register)
    client.add_event_handler('session_start', on_start)
    client.add_event_handler('message', on_message)
    client.add_event_handler('failed_all_auth', on_failed_auth)
    client.add_event_handler('stream_error', on_stream_error)
    client.add_event_handler('disconnected', on_disconnected)
    client.add_event_handler('connection_failed', lambda e: out.setdefault('error', 'connection_failed: %s' % e))
    client.connect((opts['host'], opts['port']))
    try:
        await asyncio.wait_for(done, opts.get('timeout', 30))
    except asyncio.TimeoutError:
        out.setdefault('error', 'timeout')
        client.abort()
    return out


if __name__ == '__main__':
    main()
