// `rohrpost start`: run the server in the foreground (for systemd and daemontools).
import { Option, type Command } from 'commander';
import { createLogger } from '../log/logger.js';
import { startServer } from '../main.js';
import { configOptions, loadConfigOrExit, EXIT_FAILED, type ConfigFlags } from './common.js';

export function registerStart(program: Command): void {
  configOptions(program.command('start').description('run the server in the foreground'))
    .addOption(new Option('--log-format <format>', 'log format').choices(['pretty', 'json']))
    .action(async (flags: ConfigFlags & { logFormat?: 'pretty' | 'json' }) => {
      const config = loadConfigOrExit(flags);
      if (flags.logFormat) config.log.format = flags.logFormat;
      const logger = createLogger(config.log);
      const log = logger.log;
      let server;
      try {
        server = await startServer(config, log);
      } catch (err) {
        log.fatal({ err }, 'start-up failed');
        logger.flush();
        process.exit(EXIT_FAILED);
      }
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        log.info({ signal }, 'shutting down');
        await server.stop();
        logger.flush();
        process.exit(0);
      };
      process.on('SIGTERM', () => void stop('SIGTERM'));
      process.on('SIGINT', () => void stop('SIGINT'));
      process.on('SIGHUP', () => {
        logger.reopen();
        try {
          server.reloadCertificates();
          log.info('certificates reloaded');
        } catch (err) {
          log.error({ err }, 'certificate reload failed; keeping the old certificates');
        }
      });
      // A bug must not take the whole server down silently; log it loudly and keep serving.
      process.on('uncaughtException', (err) => log.error({ err }, 'uncaught exception'));
      process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));
    });
}
