"""Drives Rohrpost with slixmpp (Debian's python3-slixmpp) for the end-to-end tests.

Usage: /usr/bin/python3 slix_client.py '<json options>'
Prints one JSON line with what the client saw, then exits 0 (also on a failed
login: the test asserts on the reported outcome).
"""
import asyncio
import json
import logging
import sys

import slixmpp


def main():
    opts = json.loads(sys.argv[1])
    logging.basicConfig(level=logging.DEBUG if opts.get('debug') else logging.CRITICAL)
    result = asyncio.run(run(opts))
    print(json.dumps(result), flush=True)


async def run(opts):
    mech = opts.get('mechanism')
    plugin_config = {'feature_mechanisms': {'unencrypted_plain': bool(opts.get('unencrypted_plain'))}}
    if mech:
        plugin_config['feature_mechanisms']['use_mech'] = mech
    client = slixmpp.ClientXMPP(opts['jid'], opts['password'], plugin_config=plugin_config)
    client.register_plugin('xep_0030')
    client.register_plugin('xep_0199')
    client.register_plugin('xep_0092')
    if opts.get('cafile'):
        client.ca_certs = opts['cafile']
    out = {'ok': False}
    done = asyncio.get_running_loop().create_future()

    async def on_start(_event):
        try:
            out['jid'] = str(client.boundjid)
            out['mechanism'] = getattr(client['feature_mechanisms'], 'mech', None) and client['feature_mechanisms'].mech.name
            domain = client.boundjid.domain
            if 'ping' in opts.get('actions', []):
                rtt = await client['xep_0199'].ping(jid=domain, timeout=10)
                out['ping'] = rtt is not None
            if 'disco' in opts.get('actions', []):
                info = await client['xep_0030'].get_info(jid=domain, timeout=10)
                q = info['disco_info']
                out['features'] = sorted(q['features'])
                out['identities'] = [list(i[:3]) for i in q['identities']]
            if 'version' in opts.get('actions', []):
                v = await client['xep_0092'].get_version(domain, timeout=10)
                out['version'] = v['software_version']['name']
            out['ok'] = True
        except Exception as e:  # report, do not hang
            out['error'] = '%s: %s' % (type(e).__name__, e)
        finally:
            client.disconnect()

    def on_failed_auth(_event):
        out['error'] = 'failed_auth'
        client.disconnect()

    def on_disconnected(_event):
        if not done.done():
            done.set_result(True)

    client.add_event_handler('session_start', on_start)
    client.add_event_handler('failed_all_auth', on_failed_auth)
    client.add_event_handler('disconnected', on_disconnected)
    client.add_event_handler('connection_failed', lambda e: out.setdefault('error', 'connection_failed: %s' % e))
    client.connect((opts['host'], opts['port']), use_ssl=bool(opts.get('direct_tls')),
                   disable_starttls=bool(opts.get('disable_starttls')))
    try:
        await asyncio.wait_for(done, opts.get('timeout', 20))
    except asyncio.TimeoutError:
        out.setdefault('error', 'timeout')
        client.abort()
    return out


if __name__ == '__main__':
    main()
