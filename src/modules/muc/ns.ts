// Namespaces and status codes of XEP-0045 (Multi-User Chat), in one place for the muc/ files.
export const NS_MUC = 'http://jabber.org/protocol/muc';
export const NS_MUC_USER = 'http://jabber.org/protocol/muc#user';
export const NS_MUC_ADMIN = 'http://jabber.org/protocol/muc#admin';
export const NS_MUC_OWNER = 'http://jabber.org/protocol/muc#owner';
export const NS_MUC_ROOMCONFIG = 'http://jabber.org/protocol/muc#roomconfig';
export const NS_MUC_ROOMINFO = 'http://jabber.org/protocol/muc#roominfo';
export const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
export const NS_DISCO_ITEMS = 'http://jabber.org/protocol/disco#items';
export const NS_DATA = 'jabber:x:data';
export const NS_PING = 'urn:xmpp:ping';
/** XEP-0249 direct invitations travel user to user; the service never sees them. */
export const NS_CONFERENCE = 'jabber:x:conference';

/** XEP-0045 §15.6.2 status codes used here. */
export const STATUS = {
  NON_ANONYMOUS: 100,
  CONFIG_CHANGED: 104,
  SELF: 110,
  ROOM_CREATED: 201,
  BANNED: 301,
  NICK_CHANGED: 303,
  KICKED: 307,
  AFFILIATION_LOST: 321,
  SYSTEM_SHUTDOWN: 332,
} as const;
