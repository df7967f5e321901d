import { join } from 'node:path';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Logger } from 'pino';
import { buildAdminServer, type AdminServer } from '../admin/index.js';
import { ensureDataDir, loadTokenHasher, type LatchkeyConfig } from '../config/index.js';
import { createRedisChangePublisher, startHttpGateway, type HttpGateway } from '../gateway/index.js';
import { CredentialPolicy, OwnListeners } from '../core/services/index.js';
import { startForwardAuth, type ForwardAuthEndpoint } from '../forward-auth/index.js';
import { loadSqlParser, postgresConnector, startPostgresGateway, type PostgresGateway } from '../postgres/index.js';
import { postgresTlsOf } from './pg-node.js';
import { forwardAuthSecret } from '../forward-auth/secret-env.js';
import { alertsFromConfig } from '../alerts/index.js';
import { GithubKeys, GithubKeySource, type GithubKeyRing } from '../leaks/index.js';
import { checkpointFailureLogger, openStore } from '../store/index.js';
import type { Store } from '../store/store.js';
import { LifecycleScheduler, PostgresLeadership, SOLE_LEADER } from '../scheduler/index.js';
import { UsageCounter } from '../usage/index.js';
import { openAuditTrail } from './audit-trail.js';
import { isInitialized } from './init.js';
import { ensureDefaultEnvironments } from './environments.js';
import { createLogger } from './logger.js';

// `latchkey serve`: admin API, console and gateway listeners in one process on
// the embedded SQLite store unless told otherwise.

export interface RunningServer {
  readonly adminUrl: string;
  readonly gatewayUrl: string;
  /** The forward-auth endpoint (nginx auth_request, Caddy, Traefik, Envoy). */
  readonly authUrl: string;
  /** The PostgreSQL gateway, `host:port`. */
  readonly pgAddress: string;
  readonly store: Store;
  readonly logger: Logger;
  /** False until `latchkey init` has minted the first admin token: nobody can use the admin API yet. */
  readonly initialized: boolean;
  /** Bindings the gateway cannot serve for want of their credential, with why (never the secret). */
  unusableBindings(): Array<{ service: string; env: string; problem: string }>;
  /** Stops accepting, lets in-flight requests finish, flushes the audit log, closes the store. */
  close(): Promise<void>;
}

export interface ServeOptions {
  readonly logger?: Logger;
  readonly now?: () => number;
}

export async function startServer(config: LatchkeyConfig, options: ServeOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const now = options.now ?? Date.now;
  ensureDataDir(config.dataDir);
  const hasher = loadTokenHasher(config.dataDir, config.secret, true);
  const pgTls = postgresTlsOf(config);
  const store = await openStore(config.store, { backgroundCheckpoints: true, onCheckpointFailure: checkpointFailureLogger(logger) });
  // What has been started, so that shutdown (or a failed start) stops exactly that, in phases.
  const parts: {
    audit?: Awaited<ReturnType<typeof openAuditTrail>>;
    publisher?: { close(): Promise<void> };
    alerts?: ReturnType<typeof alertsFromConfig>;
    gateway?: HttpGateway;
    forwardAuth?: ForwardAuthEndpoint;
    postgres?: PostgresGateway;
    admin?: AdminServer;
    githubKeys?: GithubKeySource;
    usage?: UsageCounter;
    scheduler?: LifecycleScheduler;
  } = {};
  const step = async (what: string, work: (() => Promise<unknown>) | undefined): Promise<void> => {
    try {
      await work?.();
    } catch (err) {
      logger.error({ err, step: what }, 'error while shutting down');
    }
  };
  const shutDown = async (): Promise<void> => {
    // 1. Stop accepting and 2. drain: the admin API and the gateway listeners, at once.
    await Promise.all([
      step('admin API', parts.admin && (() => parts.admin!.close())), step('gateway listeners', parts.gateway && (() => parts.gateway!.stopAccepting())),
      step('forward-auth listener', parts.forwardAuth && (() => parts.forwardAuth!.close())),
      step('postgres gateway', parts.postgres && (() => parts.postgres!.close())),
    ]);
    // 3. Flush what the drained requests left: the audit log (and its last checkpoint), then the alerts
    //    raised so far, an audit_loss at close included.
    await step('token scheduler', parts.scheduler && (() => parts.scheduler!.close()));
    await step('usage counts', parts.usage && (() => parts.usage!.close()));
    await step('audit log', parts.audit && (() => parts.audit!.close()));
    await step('alerts', parts.alerts && (() => parts.alerts!.settle(5_000)));
    // 4. Close feeds, limits, pools, the change publisher, and last the store.
    await step('data plane', parts.gateway && (() => parts.gateway!.close()));
    await step('change publisher', parts.publisher && (() => parts.publisher!.close()));
    parts.githubKeys?.close();
    await step('store', () => store.close());
  };
  try {
    await ensureDefaultEnvironments(store, now());
    const metrics = new Registry();
    collectDefaultMetrics({ register: metrics });

    // Before the audit trail, so that lost audit events raise audit_loss.
    const alerts = alertsFromConfig(config.alerts, logger, metrics);
    parts.alerts = alerts;
    const audit = await openAuditTrail(config, store, metrics, logger, alerts);
    parts.audit = audit;
    const isPostgres = store.dialect === 'postgres';
    if (config.redis !== undefined && isPostgres) {
      // Gateway nodes elsewhere may follow changes through Redis; this process publishes them there.
      parts.publisher = createRedisChangePublisher({ url: config.redis, store, logger });
    }
    // One allow-list and one set of listeners for the admin API (write time) and the gateway (load and connect time).
    const credentials = CredentialPolicy.forConfig(config);
    const ownListeners = new OwnListeners();
    ownListeners.add('postgres gateway', config.listen.postgres.host, config.listen.postgres.port);
    // The SQL parser (WebAssembly) loads once, before any session can ask it.
    await loadSqlParser();
    const usage = new UsageCounter({ store, logger, flushMs: config.lifecycle.usageFlushMs });
    parts.usage = usage;
    const gateway = await startHttpGateway({
      usage,
      store,
      hasher,
      env: null,
      recorder: audit.recorder,
      metrics,
      logger,
      listen: config.listen.gateway,
      nodeName: config.gateway.nodeName,
      maxStalenessMs: config.gateway.maxStalenessMs,
      trustedProxies: config.gateway.trustedProxies,
      limits: { maxInFlightPerToken: config.gateway.maxInFlightPerToken, maxInFlightPerService: config.gateway.maxInFlightPerService },
      refusalSummary: { fold: config.gateway.foldRefusals },
      ...(config.redis !== undefined && { redisUrl: config.redis }),
      ...(isPostgres ? { feed: 'postgres' as const, pgUrl: config.store } : { feed: 'local' as const }),
      clock: now,
      credentials,
      ownListeners,
      alerts,
      connectors: [postgresConnector()],
    });
    parts.gateway = gateway;
    const forwardAuth = await startForwardAuth({
      plane: gateway.plane,
      listen: config.listen.auth,
      trustedProxies: config.forwardAuth.trustedProxies,
      secret: forwardAuthSecret(config),
      credentialServices: config.forwardAuth.credentialServices,
      logger,
      clock: now,
      alerts,
    });
    parts.forwardAuth = forwardAuth;
    const postgres = await startPostgresGateway({
      plane: gateway.plane, listen: config.listen.postgres, logger, clock: now, alerts, maxMessageBytes: config.postgres.maxMessageBytes,
      ...(pgTls !== undefined && { tls: pgTls }),
    });
    parts.postgres = postgres;

    let githubKeys: GithubKeyRing | undefined;
    if (config.leaks.githubKeysFile !== undefined) githubKeys = GithubKeys.load(config.leaks.githubKeysFile);
    else if (config.leaks.githubKeysUrl !== undefined) {
      const source = await GithubKeySource.start({ url: config.leaks.githubKeysUrl, cacheFile: join(config.dataDir, 'github-keys.json'), refreshMs: config.leaks.githubKeysRefreshMs, logger });
      parts.githubKeys = source;
      githubKeys = source;
    }
    // One scheduler leads among the processes sharing a PostgreSQL store; alone, this one does.
    const scheduler = new LifecycleScheduler({
      store, logger, clock: now, alerts, config: config.lifecycle,
      leadership: isPostgres ? new PostgresLeadership(config.store, logger) : SOLE_LEADER,
      beforeRun: () => usage.flush(),
    });
    parts.scheduler = scheduler;
    scheduler.start();
    const admin: AdminServer = await buildAdminServer({
      context: { store, hasher, logger, now, lifecycle: config.lifecycle, auditPublicKey: audit.publicKey, dataDir: config.dataDir, credentials, ownListeners, alerts, ...(githubKeys !== undefined && { githubKeys }) },
      metrics,
    });
    parts.admin = admin;
    await admin.listen({ host: config.listen.admin.host, port: config.listen.admin.port });
    const adminAddress = admin.server.address();
    const adminPort = typeof adminAddress === 'object' && adminAddress !== null ? adminAddress.port : config.listen.admin.port;
    // Every address Fastify bound (`localhost` binds both 127.0.0.1 and ::1).
    for (const bound of admin.addresses()) {
      if (typeof bound === 'string') ownListeners.addSocket('admin', bound);
      else ownListeners.add('admin', bound.address, bound.port);
    }
    const adminUrl = `http://${formatHost(config.listen.admin.host)}:${adminPort}`;
    const gatewayUrl = `http://${formatHost(gateway.address.host)}:${gateway.address.port}`;
    const authUrl = `http://${formatHost(forwardAuth.address.host)}:${forwardAuth.address.port}`;
    const pgAddress = `${formatHost(postgres.address.host)}:${postgres.address.port}`;
    logger.info({ adminUrl, gatewayUrl, authUrl, store: store.dialect }, 'latchkey serving');
    let closing: Promise<void> | null = null;
    return {
      adminUrl,
      gatewayUrl,
      authUrl,
      pgAddress,
      store,
      logger,
      initialized: await isInitialized(store),
      unusableBindings: () => gateway.plane.services.unusableBindings(),
      close() {
        closing ??= shutDown();
        return closing;
      },
    };
  } catch (err) {
    await shutDown();
    throw err;
  }
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
