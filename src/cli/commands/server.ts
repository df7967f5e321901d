import type { Command } from 'commander';
import type { ConfigOverrides } from '../../config/index.js';
import { CliError } from '../client.js';
import { createOutput } from '../output.js';

// The server modules load only when a server command runs, so everyday
// commands start fast.
const config = () => import('../../config/index.js');

interface DataOptions {
  data?: string;
  config?: string;
  store?: string;
}

interface PgTlsOptions {
  pgTlsCert?: string;
  pgTlsKey?: string;
}

function overridesOf(options: DataOptions & PgTlsOptions & { admin?: string; gateway?: string; pg?: string; auth?: string }): ConfigOverrides {
  return {
    ...(options.config !== undefined && { configFile: options.config }),
    ...(options.data !== undefined && { dataDir: options.data }),
    ...(options.store !== undefined && { store: options.store }),
    ...(options.admin !== undefined && { admin: options.admin }),
    ...(options.gateway !== undefined && { gateway: options.gateway }),
    ...(options.pg !== undefined && { postgres: options.pg }),
    ...(options.auth !== undefined && { auth: options.auth }),
    ...(options.pgTlsCert !== undefined && { pgTlsCert: options.pgTlsCert }),
    ...(options.pgTlsKey !== undefined && { pgTlsKey: options.pgTlsKey }),
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
    .option('--pg-tls-cert <file>', 'PEM certificate: the PostgreSQL gateway answers SSLRequest with TLS (postgres.tls.cert)')
    .option('--pg-tls-key <file>', 'PEM private key of --pg-tls-cert (postgres.tls.key)')
    .option('--auth <addr>', 'forward-auth endpoint address (nginx auth_request, Caddy, Traefik, Envoy)')
    .action(async (options: DataOptions & PgTlsOptions & { admin?: string; gateway?: string; pg?: string; auth?: string }) => {
      const { startServer } = await import('../../server/serve.js');
      const { loadConfig } = await config();
      const loaded = loadConfig(overridesOf(options));
      const server = await startServer(loaded).catch((err: unknown) => {
        throw addressInUse(err, [
          ['--admin', 'listen.admin', loaded.listen.admin], ['--gateway', 'listen.gateway', loaded.listen.gateway],
          ['--auth', 'listen.auth', loaded.listen.auth], ['--pg', 'listen.postgres', loaded.listen.postgres],
        ]);
      });
      process.stdout.write(`latchkey serving\n  admin API and console  ${server.adminUrl}\n`);
      process.stdout.write(`  HTTP gateway           ${server.gatewayUrl}\n`);
      process.stdout.write(`  forward-auth           ${server.authUrl}\n`);
      process.stdout.write(`  PostgreSQL gateway     ${server.pgAddress}${pgTlsNote(loaded.postgres.tls)}\n`);
      process.stdout.write(`  store                  ${server.store.dialect}\n`);
      if (!server.initialized) {
        const data = options.data === undefined ? '' : ` --data ${options.data}`;
        process.stdout.write(`\n  No admin token exists yet, so nobody can use the admin API. In another terminal run:\n` +
          `    latchkey init${data}${options.store === undefined ? '' : ' --store ...'}\n` +
          '  It prints the first admin token once; then export LATCHKEY_TOKEN=<that token>.\n\n');
      }
      for (const { service, env, problem } of server.unusableBindings()) {
        process.stdout.write(`  warning: service ${service} in ${env} cannot be served: ${problem}; its requests get 502 upstream_credential_missing\n`);
      }
      await waitForSignal();
      process.stdout.write('latchkey: shutting down\n');
      await server.close();
    });
}

export function registerGateway(program: Command): void {
  program.command('gateway')
    .description('a data-plane-only node for one environment, against a shared store')
    .requiredOption('--env <env>', 'the environment this node serves; other tokens get env_mismatch')
    .option('--data <dir>', 'data directory holding the server key (or set LATCHKEY_SECRET)')
    .option('--config <file>', 'configuration file')
    .option('--store <location>', 'postgres:// URL shared with the admin process (or LATCHKEY_STORE)')
    .option('--gateway <addr>', 'HTTP gateway address')
    .option('--ops <addr>', '/metrics, /healthz and /readyz address (127.0.0.1:0 picks a free port)', '127.0.0.1:7704')
    .option('--redis <url>', 'shared rate limits and usage caps (or LATCHKEY_REDIS)')
    .option('--auth [addr]', 'also serve the forward-auth endpoint, at addr or listen.auth (off unless given)')
    .option('--pg [addr]', 'also serve the PostgreSQL gateway, at addr or listen.postgres (off unless given)')
    .option('--pg-tls-cert <file>', 'PEM certificate: the PostgreSQL gateway answers SSLRequest with TLS (postgres.tls.cert)')
    .option('--pg-tls-key <file>', 'PEM private key of --pg-tls-cert (postgres.tls.key)')
    .option('--processes <n>', 'gateway processes sharing the ports, for more cores (more than 1 needs a postgres:// store)', '1')
    .action(async (options: DataOptions & PgTlsOptions & { env: string; gateway?: string; ops: string; redis?: string; auth?: string | true; pg?: string | true; processes: string }) => {
      const { loadConfig, loadTokenHasher, parseListenAddress } = await config();
      const processes = await import('../../server/gateway-processes.js');
      const count = processes.parseProcessCount(options.processes);
      if (typeof count === 'string') throw new CliError(count, 'usage');
      const inProcess = processes.isGatewayProcess();
      const { runGatewayNode } = await import('../../gateway/index.js');
      const { CredentialPolicy, OwnListeners } = await import('../../core/services/index.js');
      const { createLogger } = await import('../../server/logger.js');
      const { forwardAuthOnNode } = await import('../../server/forward-auth-node.js');
      const { postgresOnNode, postgresConnector } = await import('../../server/pg-node.js');
      const { auth, pg, processes: _count, ...rest } = options;
      const loaded = loadConfig({ ...overridesOf({ ...rest, ...(typeof auth === 'string' && { auth }), ...(typeof pg === 'string' && { pg }) }), ...(options.redis !== undefined && { redis: options.redis }) });
      const opsListen = parseListenAddress(options.ops, '--ops');
      if (count > 1 && !inProcess) {
        if (!/^postgres(ql)?:\/\//i.test(loaded.store)) {
          throw new CliError('--processes above 1 needs a postgres:// store: on a SQLite store the processes would not learn of each other\'s revocations', 'usage');
        }
        return superviseGatewayProcesses(processes, count, opsListen, options.env);
      }
      // A node never creates a key: one it made up would silently refuse every token.
      const hasher = loadTokenHasher(loaded.dataDir, loaded.secret, false);
      // The admin API and PostgreSQL gateway this deployment configures are Latchkey's too: never an upstream.
      const ownListeners = new OwnListeners();
      ownListeners.add('admin', loaded.listen.admin.host, loaded.listen.admin.port);
      ownListeners.add('postgres gateway', loaded.listen.postgres.host, loaded.listen.postgres.port);
      const primaryOps = inProcess ? processes.primaryOpsAddress() : null;
      if (primaryOps !== null) ownListeners.add('ops', primaryOps.host, primaryOps.port);
      const node = await runGatewayNode({
        env: options.env,
        store: loaded.store,
        hasher,
        listen: loaded.listen.gateway,
        // With --processes, the primary serves /metrics, /healthz and /readyz for all of them.
        opsListen: inProcess ? null : opsListen,
        ...(loaded.redis !== undefined && { redisUrl: loaded.redis }),
        // Each process of --processes is its own node in the audit trail and the logs.
        nodeName: inProcess ? `${loaded.gateway.nodeName}/${process.env.LATCHKEY_GATEWAY_PROCESS ?? '?'}` : loaded.gateway.nodeName,
        auditFailMode: loaded.audit.failMode,
        alerts: loaded.alerts,
        logger: createLogger(loaded.logLevel),
        // Off unless asked: several nodes on one host would otherwise all claim listen.auth's port.
        planeListeners: [...(auth === undefined ? [] : [forwardAuthOnNode(loaded)]), ...(pg === undefined ? [] : [postgresOnNode(loaded)])],
        gateway: {
          maxStalenessMs: loaded.gateway.maxStalenessMs,
          trustedProxies: loaded.gateway.trustedProxies,
          limits: { maxInFlightPerToken: loaded.gateway.maxInFlightPerToken, maxInFlightPerService: loaded.gateway.maxInFlightPerService },
          refusalSummary: { fold: loaded.gateway.foldRefusals },
          credentials: CredentialPolicy.forConfig(loaded),
          ownListeners,
          ...(pg !== undefined && { connectors: [postgresConnector()] }),
        },
      }).catch((err: unknown) => {
        throw addressInUse(err, [
          ['--gateway', 'listen.gateway', loaded.listen.gateway], ['--ops', '--ops', opsListen], ['--auth', 'listen.auth', loaded.listen.auth],
          ['--pg', 'listen.postgres', loaded.listen.postgres],
        ]);
      });
      const ops = node.opsAddress === null ? '' : `\n  metrics and health     http://${node.opsAddress.host}:${node.opsAddress.port}`;
      const authLine = node.planeListeners.map((l) => `\n  ${l.name.padEnd(22)} ${l.name === 'postgres gateway' ? '' : 'http://'}${l.address.host}:${l.address.port}${l.name === 'postgres gateway' ? pgTlsNote(loaded.postgres.tls) : ''}`).join('');
      const lines = `  HTTP gateway           http://${node.gateway.address.host}:${node.gateway.address.port}${ops}${authLine}\n`;
      if (inProcess) return processes.serveAsGatewayProcess(node, lines);
      process.stdout.write(`latchkey gateway (${options.env}) serving\n${lines}`);
      await waitForSignal();
      process.stdout.write('latchkey: shutting down\n');
      await node.close();
    });
}

/** The primary of `latchkey gateway --processes N`: starts them, prints what they serve, stops them on a signal. */
async function superviseGatewayProcesses(
  processes: typeof import('../../server/gateway-processes.js'),
  count: number,
  opsListen: { host: string; port: number },
  env: string,
): Promise<void> {
  const group = await processes.startGatewayProcesses({ count, opsListen, log: (line) => process.stderr.write(`${line}\n`) })
    .catch((err: unknown) => {
      throw addressInUse(err, [['--ops', '--ops', opsListen]]);
    });
  const ops = group.opsAddress === null ? '' : `  metrics and health     http://${group.opsAddress.host}:${group.opsAddress.port} (all processes)\n`;
  process.stdout.write(`latchkey gateway (${env}) serving, ${count} processes (pids ${group.pids().join(', ')})\n${group.lines}${ops}`);
  const why = await Promise.race([waitForSignal().then(() => null), group.failed]);
  process.stdout.write('latchkey: shutting down\n');
  await group.stop();
  if (why !== null) throw new CliError(why, 'internal_error');
}

/** How the PostgreSQL gateway takes tokens: over TLS, or only from loopback. */
function pgTlsNote(tls: { readonly required: boolean } | undefined): string {
  if (tls === undefined) return ' (no TLS: loopback clients only)';
  return tls.required ? ' (TLS required)' : ' (TLS; clear text from loopback only)';
}

/**
 * A listener that cannot bind says which address, which flag and setting
 * chose it, and what to do; other errors pass through unchanged.
 */
function addressInUse(err: unknown, settings: ReadonlyArray<readonly [flag: string, setting: string, address: { host: string; port: number }]>): unknown {
  const failure = err as NodeJS.ErrnoException & { port?: number; address?: string };
  if (failure?.code !== 'EADDRINUSE' && failure?.code !== 'EADDRNOTAVAIL' && failure?.code !== 'EACCES') return err;
  const chosen = settings.find(([, , address]) => address.port === failure.port);
  const where = `${failure.address ?? chosen?.[2].host ?? '?'}:${failure.port ?? '?'}`;
  const problem = failure.code === 'EADDRINUSE' ? 'is already in use (another latchkey?)' : failure.code === 'EACCES' ? 'may not be bound by this user' : 'is not an address of this machine';
  const fix = chosen === undefined ? 'choose another address' : `choose another with ${chosen[0]} or ${chosen[1]} in the configuration`;
  return new CliError(`${where} ${problem}: stop what holds it, or ${fix}`, 'address_in_use');
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
