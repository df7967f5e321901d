import type { Command } from 'commander';
import type { ConfigOverrides } from '../../config/index.js';
import { createOutput } from '../output.js';

// The server modules load only when a server command runs, so everyday
// commands start fast.
const config = () => import('../../config/index.js');

interface DataOptions {
  data?: string;
  config?: string;
  store?: string;
}

function overridesOf(options: DataOptions & { admin?: string; gateway?: string; pg?: string }): ConfigOverrides {
  return {
    ...(options.config !== undefined && { configFile: options.config }),
    ...(options.data !== undefined && { dataDir: options.data }),
    ...(options.store !== undefined && { store: options.store }),
    ...(options.admin !== undefined && { admin: options.admin }),
    ...(options.gateway !== undefined && { gateway: options.gateway }),
    ...(options.pg !== undefined && { postgres: options.pg }),
  };
}

export function registerServer(program: Command): void {
  program.command('init')
    .description('create the store, the server keys and the environments; print the first admin token once')
    .option('--data <dir>', 'data directory (default ./latchkey-data or LATCHKEY_DATA)')
    .option('--config <file>', 'configuration file')
    .option('--store <location>', 'SQLite file or postgres:// URL (default: SQLite in the data directory)')
    .option('--ttl <duration>', 'lifetime of the admin token', '90d')
    .option('--new-admin-token', 'the store is initialized: mint another admin token')
    .action(async (options: DataOptions & { ttl: string; newAdminToken?: boolean }, command: Command) => {
      const out = createOutput((command.opts() as { json?: boolean }).json === true);
      const { initialize } = await import('../../server/init.js');
      const { loadConfig } = await config();
      const result = await initialize(loadConfig(overridesOf(options)), { ttl: options.ttl, newAdminToken: options.newAdminToken === true });
      out.print({ adminToken: result.adminToken, id: result.tokenId, expiresAt: new Date(result.expiresAt).toISOString() }, () =>
        `initialized ${result.dataDir}\n\nadmin token (shown this once, store it now; expires ${new Date(result.expiresAt).toISOString()}):\n${result.adminToken}\n\n` +
        'use it with: export LATCHKEY_TOKEN=<the token above>');
    });

  program.command('serve')
    .description('admin API, console and gateway in one process (SQLite by default)')
    .option('--data <dir>', 'data directory (default ./latchkey-data or LATCHKEY_DATA)')
    .option('--config <file>', 'configuration file (latchkey.yaml or .json)')
    .option('--store <location>', 'SQLite file or postgres:// URL')
    .option('--admin <addr>', 'admin API and console address', undefined)
    .option('--gateway <addr>', 'HTTP gateway address')
    .option('--pg <addr>', 'PostgreSQL gateway address')
    .action(async (options: DataOptions & { admin?: string; gateway?: string; pg?: string }) => {
      const { startServer } = await import('../../server/serve.js');
      const { loadConfig } = await config();
      const server = await startServer(loadConfig(overridesOf(options)));
      process.stdout.write(`latchkey serving\n  admin API and console  ${server.adminUrl}\n`);
      if (server.gatewayUrl !== null) process.stdout.write(`  HTTP gateway           ${server.gatewayUrl}\n`);
      process.stdout.write(`  store                  ${server.store.dialect}\n`);
      await waitForSignal();
      process.stdout.write('latchkey: shutting down\n');
      await server.close();
    });
}

/** Resolves on the first SIGINT or SIGTERM; a second one exits at once. */
export function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      process.once('SIGINT', () => process.exit(130));
      process.once('SIGTERM', () => process.exit(143));
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
