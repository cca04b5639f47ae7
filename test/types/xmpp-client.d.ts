// @xmpp/client ships no typings; the tests use a small part of it.
declare module '@xmpp/client' {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  export function client(options: Record<string, unknown>): any;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  export function xml(name: string, attrs?: Record<string, string> | string, ...children: any[]): any;
}
