// The admin socket's protocol: one JSON request per line, one JSON answer per line.
// Shared by the server side (socket.ts) and the CLI client (cli/remote.ts).
import type { MucRoomOptions } from '../router/services.js';

export type AdminRequest =
  | { cmd: 'sessions' }
  | { cmd: 's2s' }
  | { cmd: 'kick'; jid: string }
  | { cmd: 'send'; from?: string; to: string; body: string; type?: 'chat' | 'normal' | 'headline' }
  | { cmd: 'announce'; host: string; body: string }
  | { cmd: 'roster-add'; user: string; contact: string; name?: string; groups: string[] }
  /** room: ROOM@SERVICE. */
  | { cmd: 'room-create'; room: string; options: MucRoomOptions }
  | { cmd: 'room-destroy'; room: string; reason?: string }
  | { cmd: 'room-list'; service?: string };

export type AdminResponse =
  | { ok: true; result?: unknown }
  | { ok: false; error: string };

/** Longest request line accepted (a message body for `send` fits easily). */
export const MAX_REQUEST_BYTES = 1024 * 1024;
