// Talks to the running server over its admin socket.
import net from 'node:net';
import { join } from 'node:path';
import type { Config } from '../config/types.js';
import type { AdminRequest, AdminResponse } from '../admin/protocol.js';
import { die, EXIT_FAILED } from './common.js';

export function adminSocketPath(config: Config): string {
  return config.admin.socket ?? join(config.spool, 'admin.sock');
}

/** Sends one request; exits with a clear message when the server is not running or refuses. */
export async function adminCall(config: Config, req: AdminRequest): Promise<unknown> {
  const path = adminSocketPath(config);
  const answer = await new Promise<AdminResponse>((resolve, reject) => {
    const c = net.connect(path);
    let buf = '';
    c.setEncoding('utf8');
    c.on('connect', () => c.write(JSON.stringify(req) + '\n'));
    c.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        c.end();
        try { resolve(JSON.parse(buf.slice(0, nl)) as AdminResponse); } catch (err) { reject(err); }
      }
    });
    c.on('error', reject);
    c.on('close', () => reject(new Error('the server closed the admin connection')));
  }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') die(`the server is not running (no admin socket at ${path})`, EXIT_FAILED);
    die(`admin socket ${path}: ${err.message}`, EXIT_FAILED);
  });
  if (!answer.ok) die(answer.error, EXIT_FAILED);
  return answer.result;
}
