"""A scriptable slixmpp client (Debian's python3-slixmpp) for end-to-end tests.

Usage: /usr/bin/python3 slix_agent.py

One process is one user. It reads JSON commands from stdin, one per line, and
writes JSON events to stdout, one per line (flushed). Every command answers
with exactly one event; a command's optional "tag" is echoed in that event.
Commands:
  connect    {jid, password, host, port, starttls, unencrypted_plain, cafile, timeout}
             -> session_start {jid, tls, mechanism} | failed {error}
  presence   {to?, type?, status?, priority?, show?}      -> sent
  message    {to, body, type?, id?, subject?}             -> sent {id}
  iq_ping    {to, timeout?}                               -> ping {to, ok, error?}
  roster     {timeout?}                                   -> roster {items}
  join       {room, nick, timeout?, password?}            -> joined {room, nick, codes} | join_failed {room, error}
  groupchat  {room, body}                                 -> sent {id}
  raw        {xml}                                        -> sent
  disconnect {send_unavailable?}                          -> disconnected
  quit                                                    -> bye, then the process exits
Anything that arrives is reported unsolicited: message, presence, iq (every iq,
payload as '{ns}name', and its XML), roster_push, stream_error, and disconnected
(with "unsolicited": true) when the server closes the connection.
A command that goes wrong answers {"event": "error", "cmd", "error"}.
Set SLIX_AGENT_DEBUG=1 for slixmpp's debug log on stderr.
"""
import asyncio
import json
import logging
import os
import ssl
import sys
import threading
import xml.etree.ElementTree as ET

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

# slixmpp (and its plugins) may print; keep stdout for our JSON lines only.
OUT = sys.stdout
sys.stdout = sys.stderr

NS_CLIENT = 'jabber:client'
NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas'
NS_MUC = 'http://jabber.org/protocol/muc'
NS_MUC_USER = 'http://jabber.org/protocol/muc#user'
NS_MUC_OWNER = 'http://jabber.org/protocol/muc#owner'
NS_ROSTER = 'jabber:iq:roster'
NS_DELAY = 'urn:xmpp:delay'
NS_LEGACY_DELAY = 'jabber:x:delay'
NS_PING = 'urn:xmpp:ping'


def emit(obj):
    OUT.write(json.dumps(obj) + '\n')
    OUT.flush()


def q(ns, name):
    return '{%s}%s' % (ns, name)


def error_condition(xml):
    """The defined condition of a stanza's <error/>, or None."""
    err = xml.find(q(NS_CLIENT, 'error'))
    if err is None:
        return None
    for child in err:
        if child.tag.startswith('{%s}' % NS_STANZAS) and child.tag != q(NS_STANZAS, 'text'):
            return child.tag.split('}', 1)[1]
    return 'undefined-condition'


def muc_codes(xml):
    codes = []
    for x in xml.findall(q(NS_MUC_USER, 'x')):
        for st in x.findall(q(NS_MUC_USER, 'status')):
            try:
                codes.append(int(st.get('code')))
            except (TypeError, ValueError):
                pass
    return codes


def child_text(xml, name):
    el = xml.find(q(NS_CLIENT, name))
    return None if el is None else (el.text or '')


def roster_items(query):
    items = []
    if query is None:
        return items
    for item in query.findall(q(NS_ROSTER, 'item')):
        items.append({
            'jid': item.get('jid'),
            'subscription': item.get('subscription') or 'none',
            'ask': item.get('ask'),
            'name': item.get('name'),
            'groups': [g.text or '' for g in item.findall(q(NS_ROSTER, 'group'))],
        })
    return items


class Agent:
    def __init__(self):
        self.client = None
        self.session = None  # future: True on session_start, an error string otherwise
        self.auth_error = None
        self.closing = False  # a disconnect we asked for
        self.joins = {}  # room bare JID -> future for the self-presence (or error)

    # -- connection ---------------------------------------------------------------

    def make_client(self, o):
        plugin_config = {'feature_mechanisms': {'unencrypted_plain': bool(o.get('unencrypted_plain', True))}}
        if o.get('mechanism'):
            plugin_config['feature_mechanisms']['use_mech'] = o['mechanism']
        c = slixmpp.ClientXMPP(o['jid'], o['password'], plugin_config=plugin_config)
        for p in ('xep_0030', 'xep_0045', 'xep_0199', 'xep_0092'):
            c.register_plugin(p)
        # Subscriptions are what the test sends, nothing automatic.
        c.auto_authorize = None
        c.auto_subscribe = False
        if o.get('cafile'):
            c.ca_certs = o['cafile']
        else:
            # Tests use self-signed certificates: accept whatever the server shows.
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            c.ssl_context = ctx

        c.register_handler(Callback('agent message', MatchXPath(q(NS_CLIENT, 'message')), self.on_message))
        c.register_handler(Callback('agent presence', MatchXPath(q(NS_CLIENT, 'presence')), self.on_presence))
        # Every iq, in a filter: a catch-all handler would keep slixmpp from answering
        # requests it has no handler for (feature-not-implemented).
        c.add_filter('in', self.on_incoming)
        c.add_event_handler('roster_update', self.on_roster_push)
        c.add_event_handler('session_start', self.on_session_start)
        c.add_event_handler('failed_auth', self.on_failed_auth)
        c.add_event_handler('failed_all_auth', self.on_failed_all_auth)
        c.add_event_handler('connection_failed', self.on_connection_failed)
        c.add_event_handler('stream_error', self.on_stream_error)
        c.add_event_handler('disconnected', self.on_disconnected)
        return c

    def settle(self, value):
        if self.session is not None and not self.session.done():
            self.session.set_result(value)

    def on_session_start(self, _e):
        self.settle(True)

    def on_failed_auth(self, stanza):
        try:
            self.auth_error = 'auth: %s' % (stanza['condition'] or 'failure')
        except Exception:  # noqa: BLE001 - just a label
            self.auth_error = 'auth: failure'

    def on_failed_all_auth(self, _e):
        self.settle(self.auth_error or 'auth: no usable mechanism')

    def on_connection_failed(self, err):
        self.settle('connection failed: %s' % err)

    def on_stream_error(self, err):
        cond = err['condition'] if err is not None else None
        emit({'event': 'stream_error', 'condition': cond, 'text': err['text'] if err is not None else None})
        self.settle('stream error: %s' % cond)

    def on_disconnected(self, reason):
        if self.session is not None and not self.session.done():
            self.settle('disconnected before session start%s' % (': %s' % reason if reason else ''))
            return
        if not self.closing:
            emit({'event': 'disconnected', 'unsolicited': True, 'reason': str(reason) if reason else None})

    # -- incoming stanzas ---------------------------------------------------------

    def on_message(self, msg):
        x = msg.xml
        delay = x.find(q(NS_DELAY, 'delay')) is not None or x.find(q(NS_LEGACY_DELAY, 'x')) is not None
        ev = {
            'event': 'message', 'from': x.get('from'), 'to': x.get('to'),
            'type': x.get('type') or 'normal', 'body': child_text(x, 'body'), 'id': x.get('id'),
            'error': error_condition(x), 'delay': delay,
        }
        subject = child_text(x, 'subject')
        if subject is not None:
            ev['subject'] = subject
        thread = child_text(x, 'thread')
        if thread is not None:
            ev['thread'] = thread
        codes = muc_codes(x)
        if codes:
            ev['muc_codes'] = codes
        emit(ev)

    def on_presence(self, pres):
        x = pres.xml
        ptype = x.get('type') or 'available'
        prio = child_text(x, 'priority')
        ev = {
            'event': 'presence', 'from': x.get('from'), 'to': x.get('to'), 'type': ptype,
            'show': child_text(x, 'show'), 'status': child_text(x, 'status'),
            'priority': int(prio) if prio and prio.strip().lstrip('-').isdigit() else None,
            'error': error_condition(x), 'muc_codes': muc_codes(x),
        }
        item = x.find('%s/%s' % (q(NS_MUC_USER, 'x'), q(NS_MUC_USER, 'item')))
        if item is not None:
            ev['muc_item'] = {k: item.get(k) for k in ('affiliation', 'role', 'jid', 'nick') if item.get(k) is not None}
        emit(ev)
        frm = slixmpp.JID(x.get('from') or '')
        fut = self.joins.get(frm.bare)
        if fut is not None and not fut.done():
            if ptype == 'error':
                fut.set_result(('error', ev['error']))
            elif 110 in ev['muc_codes'] and ptype != 'unavailable':
                fut.set_result(('ok', ev['muc_codes'], frm.resource))

    def on_incoming(self, stanza):
        x = stanza.xml
        if x.tag == q(NS_CLIENT, 'iq'):
            payload = next((ch for ch in x if ch.tag != q(NS_CLIENT, 'error')), None)
            emit({'event': 'iq', 'from': x.get('from'), 'to': x.get('to'), 'type': x.get('type'), 'id': x.get('id'),
                  'payload': None if payload is None else payload.tag, 'error': error_condition(x),
                  'xml': str(stanza)})
        return stanza

    def on_roster_push(self, iq):
        emit({'event': 'roster_push', 'from': iq.xml.get('from'),
              'items': roster_items(iq.xml.find(q(NS_ROSTER, 'query')))})

    # -- commands -----------------------------------------------------------------

    def need_client(self):
        if self.client is None or not self.client.is_connected():
            raise RuntimeError('not connected')
        return self.client

    async def cmd_connect(self, o):
        if self.client is not None and self.client.is_connected():
            raise RuntimeError('already connected')
        self.client = c = self.make_client(o)
        self.session = asyncio.get_running_loop().create_future()
        self.auth_error = None
        self.closing = False
        starttls = bool(o.get('starttls', False))
        # force_starttls: refuse to go on in the clear when TLS was asked for.
        c.connect((o.get('host', '127.0.0.1'), int(o['port'])), use_ssl=bool(o.get('direct_tls', False)),
                  force_starttls=starttls, disable_starttls=not starttls)
        try:
            result = await asyncio.wait_for(asyncio.shield(self.session), float(o.get('timeout', 20)))
        except asyncio.TimeoutError:
            result = 'timeout'
        if result is True:
            mech = getattr(c['feature_mechanisms'], 'mech', None)
            return {'event': 'session_start', 'jid': str(c.boundjid),
                    'tls': 'starttls' in c.features or bool(o.get('direct_tls')),
                    'mechanism': mech.name if mech is not None else None}
        await self.drop(c)
        return {'event': 'failed', 'error': result}

    async def drop(self, c):
        """Gives up on a connection attempt: no reconnecting, no dangling socket."""
        self.closing = True
        c.cancel_connection_attempt()
        if c.is_connected():
            c.abort()
        await asyncio.sleep(0)

    async def cmd_presence(self, o):
        c = self.need_client()
        p = c.make_presence(pto=o.get('to'), pstatus=o.get('status'), pshow=o.get('show'),
                            ppriority=o.get('priority'))
        if o.get('type') and o['type'] != 'available':
            p['type'] = o['type']
        p.send()
        return {'event': 'sent'}

    async def cmd_message(self, o):
        c = self.need_client()
        m = c.make_message(mto=o['to'], mbody=o.get('body'), msubject=o.get('subject'), mtype=o.get('type', 'chat'))
        if o.get('id'):
            m['id'] = o['id']
        m.send()
        return {'event': 'sent', 'id': m['id'] or None}

    async def cmd_groupchat(self, o):
        c = self.need_client()
        m = c.make_message(mto=o['room'], mbody=o.get('body'), msubject=o.get('subject'), mtype='groupchat')
        if o.get('id'):
            m['id'] = o['id']
        m.send()
        return {'event': 'sent', 'id': m['id'] or None}

    async def cmd_raw(self, o):
        c = self.need_client()
        c.send_raw(o['xml'])
        return {'event': 'sent'}

    async def cmd_iq_ping(self, o):
        c = self.need_client()
        to = o['to']
        iq = c.make_iq_get(ito=to)
        iq.xml.append(ET.Element(q(NS_PING, 'ping')))
        try:
            await iq.send(timeout=float(o.get('timeout', 10)))
            return {'event': 'ping', 'to': to, 'ok': True}
        except IqError as e:
            return {'event': 'ping', 'to': to, 'ok': False, 'error': e.iq['error']['condition'] or 'error'}
        except IqTimeout:
            return {'event': 'ping', 'to': to, 'ok': False, 'error': 'timeout'}

    async def cmd_roster(self, o):
        c = self.need_client()
        iq = c.make_iq_get(queryxmlns=NS_ROSTER)
        try:
            resp = await iq.send(timeout=float(o.get('timeout', 10)))
        except IqError as e:
            return {'event': 'error', 'cmd': 'roster', 'error': e.iq['error']['condition'] or 'error'}
        except IqTimeout:
            return {'event': 'error', 'cmd': 'roster', 'error': 'timeout'}
        query = resp.xml.find(q(NS_ROSTER, 'query'))
        return {'event': 'roster', 'ver': None if query is None else query.get('ver'), 'items': roster_items(query)}

    async def cmd_join(self, o):
        c = self.need_client()
        room = slixmpp.JID(o['room']).bare
        nick = o['nick']
        timeout = float(o.get('timeout', 20))
        fut = asyncio.get_running_loop().create_future()
        self.joins[room] = fut
        try:
            pres = c.make_presence(pto='%s/%s' % (room, nick))
            x = ET.SubElement(pres.xml, q(NS_MUC, 'x'))
            if o.get('password'):
                ET.SubElement(x, q(NS_MUC, 'password')).text = o['password']
            ET.SubElement(x, q(NS_MUC, 'history'), {'maxstanzas': str(o.get('maxstanzas', 0))})
            pres.send()
            try:
                res = await asyncio.wait_for(fut, timeout)
            except asyncio.TimeoutError:
                return {'event': 'join_failed', 'room': room, 'error': 'timeout'}
        finally:
            if self.joins.get(room) is fut:
                del self.joins[room]
        if res[0] == 'error':
            return {'event': 'join_failed', 'room': room, 'error': res[1] or 'error'}
        codes = res[1]
        ev = {'event': 'joined', 'room': room, 'nick': res[2] or nick, 'codes': codes}
        if 201 in codes and o.get('unlock', True):
            iq = c.make_iq_set(ito=room)
            query = ET.SubElement(iq.xml, q(NS_MUC_OWNER, 'query'))
            ET.SubElement(query, '{jabber:x:data}x', {'type': 'submit'})
            try:
                await iq.send(timeout=timeout)
                ev['unlocked'] = True
            except IqError as e:
                ev['unlocked'] = False
                ev['unlock_error'] = e.iq['error']['condition'] or 'error'
            except IqTimeout:
                ev['unlocked'] = False
                ev['unlock_error'] = 'timeout'
        return ev

    async def cmd_disconnect(self, o):
        c = self.client
        if c is None or not c.is_connected():
            return {'event': 'disconnected', 'was_connected': False}
        if o.get('send_unavailable'):
            c.make_presence(ptype='unavailable').send()
        self.closing = True
        await self.close(c, float(o.get('wait', 2)))
        return {'event': 'disconnected', 'was_connected': True}

    async def close(self, c, wait=2.0):
        try:
            await asyncio.wait_for(c.disconnect(wait=wait), wait + 3)
        except Exception:  # noqa: BLE001 - make sure the socket is gone
            pass
        if c.is_connected():
            c.abort()

    async def shutdown(self):
        c = self.client
        if c is not None:
            self.closing = True
            c.cancel_connection_attempt()
            if c.is_connected():
                await self.close(c)

    async def run_command(self, o):
        name = o.get('cmd') if isinstance(o, dict) else None
        tag = o.get('tag') if isinstance(o, dict) else None
        try:
            handler = getattr(self, 'cmd_%s' % name, None) if isinstance(name, str) else None
            if handler is None:
                ev = {'event': 'error', 'cmd': name, 'error': 'unknown command'}
            else:
                ev = await handler(o)
        except asyncio.CancelledError:
            ev = {'event': 'error', 'cmd': name, 'error': 'cancelled (quit)'}
            if tag is not None:
                ev['tag'] = tag
            emit(ev)
            raise
        except Exception as e:  # noqa: BLE001 - every command answers
            ev = {'event': 'error', 'cmd': name, 'error': '%s: %s' % (type(e).__name__, e)}
        if tag is not None:
            ev['tag'] = tag
        emit(ev)


def read_stdin(loop, queue):
    """A thread: stdin lines into the loop's queue (works for pipes, files and ttys alike)."""
    try:
        for line in sys.stdin:
            loop.call_soon_threadsafe(queue.put_nowait, line)
    finally:
        loop.call_soon_threadsafe(queue.put_nowait, None)


async def main():
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()
    threading.Thread(target=read_stdin, args=(loop, queue), daemon=True).start()
    agent = Agent()
    tasks = set()
    emit({'event': 'ready', 'slixmpp': slixmpp.__version__})
    quit_tag = None
    quitting = False
    while True:
        line = await queue.get()
        if line is None:
            break
        line = line.strip()
        if not line:
            continue
        try:
            o = json.loads(line)
        except ValueError as e:
            emit({'event': 'error', 'cmd': None, 'error': 'bad JSON: %s' % e})
            continue
        if isinstance(o, dict) and o.get('cmd') == 'quit':
            quitting = True
            quit_tag = o.get('tag')
            break
        # Commands run concurrently (a join may wait while a message goes out); tasks
        # start in arrival order, so stanzas leave in the order the commands came.
        t = asyncio.ensure_future(agent.run_command(o))
        tasks.add(t)
        t.add_done_callback(tasks.discard)
    if tasks:
        if quitting:
            for t in list(tasks):
                t.cancel()
        # stdin closed: let the commands already given finish (each has its own timeout).
        await asyncio.wait(list(tasks), timeout=1 if quitting else 30)
    await agent.shutdown()
    if quitting:
        emit({'event': 'bye'} if quit_tag is None else {'event': 'bye', 'tag': quit_tag})


if __name__ == '__main__':
    logging.basicConfig(stream=sys.stderr,
                        level=logging.DEBUG if os.environ.get('SLIX_AGENT_DEBUG') else logging.WARNING,
                        format='%(asctime)s %(levelname)s %(name)s: %(message)s')
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    OUT.flush()
