"""Drives two slixmpp clients (Debian's python3-slixmpp) through RFC 6121 for the
end-to-end tests: both fetch the roster and go online, alice asks bob for a
subscription (slixmpp approves and asks back on its own, as it does by default),
alice changes her status, then her connection drops without a goodbye.

Usage: /usr/bin/python3 slix_presence.py '<json options>'
Options: host, port, alice {jid, password}, bob {jid, password}, timeout.
Prints one JSON line with what the clients saw, then exits 0.
"""
import asyncio
import json
import logging
import sys

import slixmpp


def main():
    opts = json.loads(sys.argv[1])
    logging.basicConfig(level=logging.DEBUG if opts.get('debug') else logging.CRITICAL)
    print(json.dumps(asyncio.run(run(opts))), flush=True)


def make(who, opts):
    client = slixmpp.ClientXMPP(opts[who]['jid'], opts[who]['password'])
    client.started = asyncio.get_running_loop().create_future()

    async def on_start(_event):
        await client.get_roster()
        client.send_presence(pstatus='%s here' % who)
        if not client.started.done():
            client.started.set_result(True)

    client.add_event_handler('session_start', on_start)
    client.add_event_handler('failed_all_auth', lambda _e: client.started.done() or client.started.set_exception(RuntimeError('auth failed')))
    client.connect((opts['host'], opts['port']), disable_starttls=True)
    return client


async def until(pred, timeout):
    """Polls pred() until true or the timeout; returns its last value."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = pred()
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.05)


async def run(opts):
    out = {'ok': False}
    timeout = opts.get('timeout', 10)
    bob = make('bob', opts)
    alice = None
    try:
        await asyncio.wait_for(bob.started, timeout)
        alice = make('alice', opts)
        await asyncio.wait_for(alice.started, timeout)
        a_bare = alice.boundjid.bare
        b_bare = bob.boundjid.bare
        out['roster_ver'] = alice.client_roster.version if hasattr(alice.client_roster, 'version') else None

        alice.send_presence(pto=b_bare, ptype='subscribe')
        out['alice_sub'] = await until(lambda: alice.client_roster[b_bare]['subscription'] == 'both' and 'both', timeout) or \
            alice.client_roster[b_bare]['subscription']
        out['bob_sub'] = await until(lambda: bob.client_roster[a_bare]['subscription'] == 'both' and 'both', timeout) or \
            bob.client_roster[a_bare]['subscription']
        out['bob_sees_alice'] = bool(await until(lambda: alice.boundjid.resource in bob.client_roster[a_bare].resources, timeout))
        out['alice_sees_bob'] = bool(await until(lambda: bob.boundjid.resource in alice.client_roster[b_bare].resources, timeout))

        alice.send_presence(pshow='away', pstatus='gone fishing')

        def bob_status():
            r = bob.client_roster[a_bare].resources.get(alice.boundjid.resource)
            return r and r.get('status') == 'gone fishing' and r.get('show') == 'away'
        out['bob_saw_status'] = bool(await until(bob_status, timeout))

        # The connection drops: no unavailable from the client, the server sends it.
        alice.abort()
        out['bob_saw_alice_leave'] = bool(await until(lambda: alice.boundjid.resource not in bob.client_roster[a_bare].resources, timeout))
        out['ok'] = True
    except Exception as e:  # report, do not hang
        out['error'] = '%s: %s' % (type(e).__name__, e)
    finally:
        for c in (alice, bob):
            if c is not None:
                c.abort()
    return out


if __name__ == '__main__':
    main()
