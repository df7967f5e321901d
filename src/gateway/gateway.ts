import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { compileTokenGrant, TokenCache, TokenLoader } from '../core/tokens/index.js';
import { FRESH, LocalFeed, PostgresFeed, RedisFeed, type ChangeFeed } from '../core/feed/index.js';
import { byFirstSegment, ClientAddressResolver, createListener, fixedService, HttpOutcome, Pipeline, UpgradeOutcome } from './http/index.js';
import type { ServiceLocator } from './http/route.js';
import { RefusalSummaries } from '../audit/refusal-summary.js';
import { InFlight, LocalLimiter, RedisLimiter, type Limiter } from '../core/limits/index.js';
import { GatewayMetrics } from '../core/metrics.js';
import { DataPlaneCore } from '../core/data-plane-core.js';
import { DecisionLog } from '../core/decision-log.js';
import { DEFAULTS, type HttpGatewayOptions, type ListenAddress } from './options.js';
import { OwnListeners, ServiceTable, type BindingRoute } from '../core/services/index.js';
import type { Change } from '../store/store.js';

export interface HttpGateway {
  /** The shared `/<service>/<rest>` listener, with the port actually bound. */
  readonly address: ListenAddress;
  /** Every listener, including services' own (`service` null for the shared one). */
  readonly listeners: readonly (ListenAddress & { readonly service: string | null })[];
  readonly feed: ChangeFeed['kind'];
  /** True while the change feed is healthy: the node can vouch for tokens it has not cached. For /readyz. */
  ready(): boolean;
  /** Rebuilds the service table from the store (also done on every service change). */
  reloadServices(): Promise<void>;
  /** Stops accepting, lets in-flight requests finish (bounded), then closes feeds, Redis and pools. */
  close(): Promise<void>;
}

function chooseFeed(options: HttpGatewayOptions): ChangeFeed['kind'] {
  if (options.feed !== undefined) return options.feed;
  if (options.pgUrl !== undefined) return 'postgres';
  if (options.redisUrl !== undefined && options.store.dialect === 'postgres') return 'redis';
  return 'local';
}

export async function startHttpGateway(options: HttpGatewayOptions): Promise<HttpGateway> {
  const { store, logger } = options;
  const clock = options.clock ?? Date.now;
  const maxStalenessMs = options.maxStalenessMs ?? DEFAULTS.maxStalenessMs;
  const heartbeatMs = options.feedHeartbeatMs ?? DEFAULTS.feedHeartbeatMs;
  const t = options.timeouts ?? {};
  const l = options.limits ?? {};
  const maxHeaders = l.maxHeaders ?? DEFAULTS.maxHeaders;
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async (): Promise<void> => {
    for (const close of closers.splice(0).reverse()) await close().catch((err: Error) => logger.error({ err: err.message }, 'gateway shutdown step failed'));
  };

  try {
    const feedKind = chooseFeed(options);
    let feed: ChangeFeed;
    if (feedKind === 'postgres') {
      if (options.pgUrl === undefined) throw new Error('the postgres change feed needs pgUrl');
      feed = new PostgresFeed({ url: options.pgUrl, logger, maxStalenessMs, heartbeatMs, clock });
    } else if (feedKind === 'redis') {
      if (options.redisUrl === undefined) throw new Error('the redis change feed needs redisUrl');
      feed = new RedisFeed({ url: options.redisUrl, logger, maxStalenessMs, heartbeatMs, clock });
    } else {
      if (store.dialect === 'postgres') logger.warn('gateway on a PostgreSQL store with the local feed: changes made by other processes are not seen until the cache TTL');
      feed = new LocalFeed(store);
    }

    let cache: TokenCache | null = null;
    const inFlight = new InFlight<BindingRoute>({
      perToken: l.maxInFlightPerToken ?? DEFAULTS.maxInFlightPerToken,
      perService: l.maxInFlightPerService ?? DEFAULTS.maxInFlightPerService,
    });
    const metrics = new GatewayMetrics(options.metrics, { cacheEntries: () => cache?.size ?? 0, inFlight: () => inFlight.total, feed: () => feed.health, clock });
    const ownListeners = options.ownListeners ?? new OwnListeners();
    const services = new ServiceTable({
      store,
      env: options.env,
      logger,
      metrics,
      ownListeners,
      ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
      pools: {
        connections: l.upstreamConnections ?? DEFAULTS.upstreamConnections,
        connectTimeoutMs: t.upstreamConnectMs ?? DEFAULTS.upstreamConnectMs,
        headersTimeoutMs: t.upstreamHeadersMs ?? DEFAULTS.upstreamHeadersMs,
        bodyTimeoutMs: t.upstreamBodyMs ?? DEFAULTS.upstreamBodyMs,
        keepAliveTimeoutMs: 4000,
        ...(options.upstreamCa !== undefined ? { ca: options.upstreamCa } : {}),
      },
    });
    closers.push(() => services.close());
    await services.reload();

    const loader = new TokenLoader({
      store,
      catalog: () => services,
      compileGrant: compileTokenGrant,
      logger,
      clock,
      negativeTtlMs: options.cache?.unknownTtlMs ?? DEFAULTS.unknownTtlMs,
    });
    const tokenCache = new TokenCache({
      loader,
      health: feed.health,
      clock,
      ttlMs: options.cache?.ttlMs ?? DEFAULTS.cacheTtlMs,
      maxEntries: options.cache?.maxEntries ?? DEFAULTS.cacheMaxEntries,
      maxUnknown: options.cache?.maxUnknown ?? DEFAULTS.maxUnknown,
      onHit: () => metrics.cacheHits.inc(),
      onMiss: () => metrics.cacheMisses.inc(),
    });
    cache = tokenCache;

    let retry: NodeJS.Timeout | null = null;
    const reloadServices = async (): Promise<void> => {
      await services.reload();
      // Entries compiled while the old table was in force are dropped once the new one is.
      tokenCache.flush();
    };
    const reloadInBackground = (): void => {
      reloadServices().catch((err: Error) => {
        logger.error({ err: err.message }, 'could not reload services; retrying');
        if (retry === null) {
          retry = setTimeout(() => {
            retry = null;
            reloadInBackground();
          }, 1000);
          retry.unref();
        }
      });
    };
    closers.push(async () => {
      if (retry !== null) clearTimeout(retry);
    });
    const onChange = (change: Change): void => {
      tokenCache.apply(change);
      if (change.type === 'service') reloadInBackground();
    };
    const onResync = (): void => {
      tokenCache.flush();
      reloadInBackground();
    };
    // Changes made through this process' own store apply at once, whatever the cross-process feed.
    if (feed.kind !== 'local') {
      const unsubscribe = store.onChange(onChange);
      closers.push(async () => unsubscribe());
    }
    closers.push(() => feed.close());
    await feed.start({ onChange, onResync });

    const local = new LocalLimiter(60_000, clock);
    let limiter: Limiter = local;
    if (options.redisUrl !== undefined) {
      const shared = new RedisLimiter({ url: options.redisUrl, local, logger, onFallback: (active) => metrics.limitsFallback.set(active ? 1 : 0) });
      await shared.connected(2000);
      limiter = shared;
    }
    closers.push(() => limiter.close());
    if (limiter !== local) closers.push(() => local.close());

    const summaries =
      (options.refusalSummary?.fold ?? DEFAULTS.foldRefusals)
        ? new RefusalSummaries({
            recorder: options.recorder,
            maxKeys: options.refusalSummary?.maxKeys ?? DEFAULTS.refusalSummaryKeys,
            onFolded: (reason) => metrics.refusalsFolded.inc({ reason }),
          })
        : null;
    const log = new DecisionLog({
      nodeName: options.nodeName ?? `${hostname()}:${process.pid}`,
      env: options.env,
      recorder: options.recorder,
      metrics,
      inFlight,
      summaries,
      clock,
    });
    const core = new DataPlaneCore({ env: options.env, hasher: options.hasher, cache: tokenCache, limiter, inFlight, log, logger });
    const pipeline = new Pipeline({
      core,
      clients: new ClientAddressResolver(options.trustedProxies ?? []),
      maxHeaders,
      ...(options.alerts !== undefined && { alerts: options.alerts }),
    });
    const http = new HttpOutcome(pipeline, metrics);
    const upgrade = new UpgradeOutcome(pipeline, metrics);
    const parts = {
      pipeline,
      http,
      upgrade,
      metrics,
      clock,
      limits: {
        headersTimeoutMs: t.headersMs ?? DEFAULTS.headersMs,
        requestTimeoutMs: t.requestMs ?? DEFAULTS.requestMs,
        keepAliveTimeoutMs: t.keepAliveMs ?? DEFAULTS.keepAliveMs,
        maxHeaderBytes: l.maxHeaderBytes ?? DEFAULTS.maxHeaderBytes,
        maxHeaders,
      },
    };
    const lookup = (name: string) => services.get(name);
    const specs: Array<{ locate: ServiceLocator; at: ListenAddress; service: string | null }> = [
      { locate: byFirstSegment(lookup), at: options.listen, service: null },
      ...(options.serviceListeners ?? []).map((s) => ({ locate: fixedService(s.service, lookup), at: s, service: s.service })),
    ];
    const servers: Server[] = [];
    const listeners: Array<ListenAddress & { service: string | null }> = [];
    const grace = t.shutdownGraceMs ?? DEFAULTS.shutdownGraceMs;
    closers.push(() => Promise.all(servers.map((server) => drain(server, grace))).then(() => undefined));
    // Runs before the drain (closers run in reverse): an open WebSocket would hold the listener open.
    closers.push(async () => {
      for (const tunnel of upgrade.tunnels) tunnel.destroy();
    });
    for (const spec of specs) {
      const server = createListener(spec.locate, parts);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        // A deep accept queue: under a connection surge, connections the kernel parks past a full
        // queue are accepted late, and a slow client's header clock only starts at accept.
        server.listen({ port: spec.at.port, host: spec.at.host, backlog: LISTEN_BACKLOG }, () => {
          server.off('error', reject);
          resolve();
        });
      });
      servers.push(server);
      const bound = server.address() as AddressInfo;
      ownListeners.add(spec.service === null ? 'gateway' : `gateway (service ${spec.service})`, bound.address, bound.port);
      listeners.push({ host: spec.at.host, port: bound.port, service: spec.service });
    }
    logger.info({ listeners, env: options.env, feed: feed.kind, sharedLimits: options.redisUrl !== undefined }, 'http gateway listening');

    let closing: Promise<void> | null = null;
    return {
      address: { host: listeners[0]!.host, port: listeners[0]!.port },
      listeners,
      feed: feed.kind,
      ready: () => feed.health.freshness(clock()) === FRESH,
      reloadServices,
      close() {
        closing ??= closeAll();
        return closing;
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** Capped by the kernel (net.core.somaxconn); Node's default is 511. */
const LISTEN_BACKLOG = 4096;

/** Stops accepting, closes idle keep-alive connections as they become idle, and cuts the rest after the grace period. */
function drain(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const sweep = setInterval(() => server.closeIdleConnections(), 50);
    const cut = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearInterval(sweep);
      clearTimeout(cut);
      resolve();
    });
    server.closeIdleConnections();
  });
}
