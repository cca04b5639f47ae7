// Runs the slixmpp registration driver (slix_register.py) and returns what it reported.
import { pythonDriver } from './server.js';

export interface SlixMessage { from: string; body: string; type: string; delay_from?: string; delay_stamp?: string }

export interface SlixRegisterResult {
  ok: boolean;
  error?: string;
  jid?: string;
  registered?: boolean;
  register_error?: { condition: string; type: string; text: string } | string;
  form?: { instructions: boolean; fields: string[] };
  messages: SlixMessage[];
  password_changed?: boolean;
  password_error?: { condition: string; type: string; text: string };
  unregistered?: boolean;
  stream_error?: string;
}

export function slixRegister(options: Record<string, unknown>): Promise<SlixRegisterResult> {
  return pythonDriver<SlixRegisterResult>('slix_register.py', options);
}
