// Runs the slixmpp registration driver (slix_register.py) and returns what it reported.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './server.js';

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
  const script = join(ROOT, 'test', 'harness', 'slix_register.py');
  return new Promise((resolve, reject) => {
    const p = spawn('/usr/bin/python3', [script, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const t = setTimeout(() => p.kill('SIGKILL'), 60000);
    p.on('exit', () => {
      clearTimeout(t);
      const line = out.trim().split('\n').pop() ?? '';
      try { resolve(JSON.parse(line) as SlixRegisterResult); } catch { reject(new Error(`slixmpp driver failed: ${err || out}`)); }
    });
  });
}
