// XMPP addresses (RFC 7622) with PRECIS preparation (RFC 8264, RFC 8265). Pure functions.
export { Jid, jid, parseJid, prepDomain, prepLocal, prepResource, tryParseJid } from './jid.js';
