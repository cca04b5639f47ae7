// The root logger. Everything else logs through children of it (log.child({ module })).
import { mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import pino from 'pino';
import { createRequire } from 'node:module';
import type { prettyFactory as PrettyFactory } from 'pino-pretty';
import { ConfigError } from '../errors.js';
import type { Config } from '../config/types.js';

export type LoggerOptions = Config['log'];

export interface RootLogger {
  log: pino.Logger;
  /** Reopen the log file (after logrotate moved it); call on SIGHUP. No-op for stdout. */
  reopen(): void;
  /** Write out whatever is buffered, synchronously (before exit). */
  flush(): void;
}

/** Keys whose values never reach a log line, wherever a caller puts them. */
const REDACT = ['password', '*.password', 'secret', '*.secret'];

/** A pino.destination (SonicBoom), as far as this file uses it. */
interface Destination {
  write(line: string): unknown;
  flushSync(): void;
  end(): void;
  on(event: 'error', cb: (err: Error) => void): unknown;
}

export function createLogger(opts: LoggerOptions): RootLogger {
  const { file } = opts;
  let dest = file === null ? toStdout() : toFile(file, openLogFile(file));
  const format = opts.format === 'pretty'
    ? loadPrettyFactory()({
      colorize: file === null && process.stdout.isTTY === true,
      translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l',
      ignore: 'pid,hostname',
    })
    : (line: string) => line;
  // pino-pretty's formatter runs here, in this thread, not as pino's worker transport:
  // a line is formatted and handed to the destination before log.info() returns, so
  // nothing waits in a worker to be lost at exit. The indirection through `dest` lets
  // reopen() swap files under a running logger.
  const stream: pino.DestinationStream = { write: (line: string) => { dest.write(format(line)); } };
  const log = pino({ level: opts.level, redact: REDACT, timestamp: pino.stdTimeFunctions.isoTime }, stream);

  return {
    log,
    reopen() {
      if (file === null) return;
      let fd: number;
      try {
        fd = openLogFile(file);
      } catch (err) {
        log.error({ err, file }, 'cannot reopen the log file; still writing to the old one');
        return;
      }
      const old = dest;
      dest = toFile(file, fd);
      old.end(); // writes what it still holds to the old (rotated) file, then closes it
    },
    flush() {
      try {
        dest.flushSync();
      } catch {
        // Called on the way out; a log that cannot be written must not stop the exit.
      }
    },
  };
}

function toStdout(): Destination {
  return pino.destination({ dest: 1, sync: true }) as unknown as Destination;
}

/**
 * Asynchronous writes for throughput; pino flushes the destination at exit, flush()
 * on demand. The file is opened here, synchronously: an asynchronous open (pino's
 * `dest: path`) leaves a window after start in which an exit loses the first lines.
 */
function toFile(file: string, fd: number): Destination {
  const dest = pino.destination({ dest: fd, sync: false }) as unknown as Destination;
  dest.on('error', (err) => process.stderr.write(`rohrpost: cannot write the log file ${file}: ${err.message}\n`));
  return dest;
}

/** Opens for appending, creating the directory; fails at start with a clear message. */
function openLogFile(file: string): number {
  try {
    mkdirSync(dirname(file), { recursive: true });
    return openSync(file, 'a', 0o640);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ConfigError('log.file', file, `a file that can be created or appended to (${code})`);
  }
}

/** pino-pretty is loaded only for the pretty format: a JSON-logging daemon saves its memory. */
function loadPrettyFactory(): typeof PrettyFactory {
  return (createRequire(import.meta.url)('pino-pretty') as { prettyFactory: typeof PrettyFactory }).prettyFactory;
}
