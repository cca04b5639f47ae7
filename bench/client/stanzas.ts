// The load client's outgoing XML, serialised once per domain (or per user) and
// reused for every connection: the client should cost as little as possible.
export const NS_CLIENT = 'jabber:client';
export const NS_STREAMS = 'http://etherx.jabber.org/streams';
export const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';
export const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
export const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';
export const NS_ROSTER = 'jabber:iq:roster';

/** ids of the client's own iqs; the scanner finds the answers by them. */
export const BIND_ID = 'lb1';
export const ROSTER_ID = 'lr1';

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;').replace(/"/g, '&quot;');
}

export interface DomainStanzas {
  header: string;
  starttls: string;
  rosterGet: string;
  presence: string;
  close: string;
}

const byDomain = new Map<string, DomainStanzas>();

/** The fixed stanzas for one domain, built on first use. */
export function stanzasFor(domain: string): DomainStanzas {
  let s = byDomain.get(domain);
  if (!s) {
    s = {
      header: `<?xml version='1.0'?><stream:stream xmlns='${NS_CLIENT}' xmlns:stream='${NS_STREAMS}' ` +
        `to='${escapeXml(domain)}' version='1.0' xml:lang='en'>`,
      starttls: `<starttls xmlns='${NS_TLS}'/>`,
      rosterGet: `<iq type='get' id='${ROSTER_ID}'><query xmlns='${NS_ROSTER}'/></iq>`,
      presence: '<presence/>',
      close: '</stream:stream>',
    };
    byDomain.set(domain, s);
  }
  return s;
}

export function saslAuth(mechanism: string, initial: string): string {
  return `<auth xmlns='${NS_SASL}' mechanism='${mechanism}'>${Buffer.from(initial, 'utf8').toString('base64')}</auth>`;
}

export function saslResponse(message: string): string {
  return `<response xmlns='${NS_SASL}'>${Buffer.from(message, 'utf8').toString('base64')}</response>`;
}

/** RFC 4616: [authzid] NUL authcid NUL passwd. */
export function plainAuth(username: string, password: string): string {
  return saslAuth('PLAIN', `\0${username}\0${password}`);
}

export function bindRequest(resource: string): string {
  return `<iq type='set' id='${BIND_ID}'><bind xmlns='${NS_BIND}'><resource>${escapeXml(resource)}</resource></bind></iq>`;
}

/** The empty result a client owes for a server's iq get (e.g. an idle XEP-0199 ping). */
export function iqResultFor(id: string, to: string | undefined): string {
  return `<iq type='result' id='${escapeXml(id)}'${to ? ` to='${escapeXml(to)}'` : ''}/>`;
}

export const NS_PING = 'urn:xmpp:ping';

/** A chat message; id and body are the caller's (the body is escaped here). */
export function chatMessage(to: string, id: string, body: string): string {
  return `<message type='chat' to='${escapeXml(to)}' id='${escapeXml(id)}'><body>${escapeXml(body)}</body></message>`;
}

/** XEP-0199 ping to the server: its result proves that everything sent before it was handled. */
export function serverPing(domain: string, id: string): string {
  return `<iq type='get' to='${escapeXml(domain)}' id='${escapeXml(id)}'><ping xmlns='${NS_PING}'/></iq>`;
}
