"""Drives Rohrpost's user-data modules with slixmpp for the end-to-end tests:
vCards (XEP-0054), private XML (XEP-0049), last activity (XEP-0012), entity time
(XEP-0202) and raw iqs for the legacy namespaces.

Usage: /usr/bin/python3 slix_userdata.py '<json options>'
Options: host, port, cafile, jid, password, steps (a list of {op, ...}), timeout.
Prints one JSON line: {'ok', 'jid', 'results': [one entry per step], 'error'?,
'stream_error'?}. Each step reports {'error': condition, 'text': ...} when the
server answered with an error, so the test asserts on what came back.
"""
import asyncio
import json
import logging
import sys
import xml.etree.ElementTree as ET

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout

STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas'


def main():
    opts = json.loads(sys.argv[1])
    logging.basicConfig(level=logging.DEBUG if opts.get('debug') else logging.CRITICAL)
    print(json.dumps(asyncio.run(run(opts))), flush=True)


def error_of(exc):
    # The condition is read from the XML: slixmpp only knows RFC 3920's conditions.
    err = exc.iq['error']
    names = [c.tag.split('}')[1] for c in err.xml if c.tag.startswith('{%s}' % STANZAS) and not c.tag.endswith('}text')]
    return {'error': names[0] if names else None, 'text': err['text'], 'type': err['type']}


async def step(client, s):
    op = s['op']
    if op == 'publish_vcard':
        vcard = client['xep_0054'].make_vcard()
        for field, value in s['fields'].items():
            vcard[field] = value
        await client['xep_0054'].publish_vcard(vcard, timeout=10)
        return {'ok': True}
    if op == 'get_vcard':
        # local=False: always ask the server, also for our own vCard (an iq without 'to').
        iq = await client['xep_0054'].get_vcard(s.get('jid'), local=False, timeout=10)
        vcard = iq['vcard_temp']
        return {'from': str(iq['from']), 'FN': vcard['FN'], 'NICKNAME': vcard['NICKNAME']}
    if op == 'private_store':
        await client['xep_0049'].store(ET.fromstring(s['xml']), timeout=10)
        return {'ok': True}
    if op == 'entity_time':
        iq = await client['xep_0202'].get_entity_time(s['jid'], timeout=10)
        t = iq['entity_time']
        # slixmpp 1.8.3's getters cannot parse conforming values (the utc one appends
        # another 'Z', the tzo one parses a time as a datetime): read the texts.
        def text(name):
            el = t.xml.find('{urn:xmpp:time}%s' % name)
            return el.text if el is not None else None
        return {'utc': text('utc'), 'tzo': text('tzo')}
    if op == 'last':
        iq = await client['xep_0012'].get_last_activity(s['jid'], timeout=10)
        return {'seconds': iq['last_activity']['seconds'], 'status': iq['last_activity']['status']}
    if op == 'iq':
        iq = client.make_iq(itype=s['type'], ito=s.get('to'))
        xml = s['xml']
        if 'fill' in s:  # large payloads are built here: command lines are limited
            text, count = s['fill']
            xml = xml.replace('{fill}', text * count)
        iq.append(ET.fromstring(xml))
        reply = await iq.send(timeout=s.get('timeout', 10))
        return {'xml': str(reply)}
    if op == 'presence':
        client.send_presence(ptype=s.get('type'), pstatus=s.get('status'))
        return {'ok': True}
    if op == 'sleep':
        await asyncio.sleep(s['seconds'])
        return {'ok': True}
    raise ValueError('unknown op %s' % op)


async def run(opts):
    client = slixmpp.ClientXMPP(opts['jid'], opts['password'])
    for plugin in ('xep_0030', 'xep_0054', 'xep_0049', 'xep_0012', 'xep_0202'):
        client.register_plugin(plugin)
    if opts.get('cafile'):
        client.ca_certs = opts['cafile']
    out = {'ok': False, 'results': []}
    done = asyncio.get_running_loop().create_future()

    async def on_start(_event):
        try:
            out['jid'] = str(client.boundjid)
            for s in opts['steps']:
                try:
                    out['results'].append(await step(client, s))
                except IqError as e:
                    out['results'].append(error_of(e))
                except IqTimeout:
                    out['results'].append({'error': 'timeout'})
                if done.done():  # the server closed the stream
                    break
            out['ok'] = True
        except Exception as e:  # report, do not hang
            out['error'] = '%s: %s' % (type(e).__name__, e)
        finally:
            client.disconnect()

    def on_stream_error(err):
        out['stream_error'] = err['condition']

    def on_disconnected(_event):
        if not done.done():
            done.set_result(True)

    client.add_event_handler('session_start', on_start)
    client.add_event_handler('stream_error', on_stream_error)
    client.add_event_handler('failed_all_auth', lambda e: out.setdefault('error', 'failed_auth'))
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
