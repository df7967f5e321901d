import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AuditRecorder } from '../audit/recorder.js';
import { RefusalSummaries } from '../audit/refusal-summary.js';
import type { Change, Store } from '../store/store.js';
import type { TokenHasher } from '../token/index.js';
import { DataPlaneCore } from './data-plane-core.js';
import { DecisionLog, type UsageSink } from './decision-log.js';
import { FRESH, LocalFeed, PostgresFeed, RedisFeed, type ChangeFeed } from './feed/index.js';
import { InFlight, LocalLimiter, RedisLimiter, type Limiter } from './limits/index.js';
import { GatewayMetrics } from './metrics.js';
import type { Connector } from './services/connector.js';
import type { CredentialPolicy } from './services/credential-policy.js';
import { OwnListeners } from './services/own-listeners.js';
import { ServiceTable, type BindingRoute } from './services/service-table.js';
import { compileTokenGrant, TokenCache, TokenLoader } from './tokens/index.js';

// The data plane without its listeners, shared by `latchkey serve` and
// `latchkey gateway`: the change feed, the service table (one connector per
// kind), the token cache and loader, the limits, the decision log and the
// core that decides. Protocol adapters add their listeners on top.

export interface DataPlaneOptions {
  readonly store: Store;
  readonly hasher: TokenHasher;
  /** null: every environment (`latchkey serve`); a name: a node of that environment only. */
  readonly env: string | null;
  readonly recorder: AuditRecorder;
  readonly metrics: Registry;
  readonly logger: Logger;
  /** Names this node in audit events. Default: the hostname and pid. */
  readonly nodeName?: string;
  /** Shares rate limits and usage caps across nodes; also the `redis` feed's server. */
  readonly redisUrl?: string;
  /** Default: `postgres` when `pgUrl` is given, else `redis` for a PostgreSQL store with Redis, else `local`. */
  readonly feed?: 'local' | 'postgres' | 'redis';
  /** PostgreSQL URL for LISTEN (the store's database). */
  readonly pgUrl?: string;
  /** How long cached tokens keep working after the feed was last known healthy. Default 30,000 ms. */
  readonly maxStalenessMs?: number;
  /** How often the feed connection proves it is alive. Default 1,000 ms. */
  readonly feedHeartbeatMs?: number;
  /** Milliseconds since the epoch; tests freeze it. Default Date.now. */
  readonly clock?: () => number;
  readonly cache?: {
    /** A cached token is re-read after this long even with a healthy feed. Default 60,000 ms. */
    readonly ttlMs?: number;
    /** Default 100,000. */
    readonly maxEntries?: number;
    /** How long an unknown token is remembered. Default 5,000 ms. */
    readonly unknownTtlMs?: number;
    /** Default 10,000. */
    readonly maxUnknown?: number;
  };
  readonly limits?: {
    /** Requests (and open WebSockets) of one token in flight at once on this node; one more is 429 concurrency_limited. Default 64. */
    readonly maxInFlightPerToken?: number;
    /** Requests (and open WebSockets) to one service binding in flight at once on this node. Default 512. */
    readonly maxInFlightPerService?: number;
  };
  /** Refusals before a token is known fold into one event per (service, reason, client) and batch. */
  readonly refusalSummary?: {
    /** Default true; false stores every refusal as its own (bounded) event. */
    readonly fold?: boolean;
    /** Distinct keys folding at once before new ones share a key per (service, reason). Default 1,000. */
    readonly maxKeys?: number;
  };
  /** Which credential sources bindings may read. Default: `<ENV>_*` variables, no files. */
  readonly credentials?: CredentialPolicy;
  /** Latchkey's listeners no upstream may be; adapters add theirs as they bind. Default: a new, empty set. */
  readonly ownListeners?: OwnListeners;
  /** Where allowed decisions are counted per token and permission (src/usage); default: not counted. */
  readonly usage?: UsageSink;
}

export const DATA_PLANE_DEFAULTS = {
  maxStalenessMs: 30_000,
  feedHeartbeatMs: 1000,
  cacheTtlMs: 60_000,
  cacheMaxEntries: 100_000,
  unknownTtlMs: 5000,
  maxUnknown: 10_000,
  // Below the upstream pool size, so one token cannot hold every connection; above wrk's -c50 of the benchmark.
  maxInFlightPerToken: 64,
  maxInFlightPerService: 512,
  foldRefusals: true,
  refusalSummaryKeys: 1000,
} as const;

export interface DataPlane {
  readonly core: DataPlaneCore;
  readonly services: ServiceTable;
  readonly metrics: GatewayMetrics;
  readonly ownListeners: OwnListeners;
  readonly feed: ChangeFeed['kind'];
  /** True while the change feed is healthy: the node can vouch for tokens it has not cached. For /readyz. */
  ready(): boolean;
  /** Rebuilds the service table from the store (also done on every service change). */
  reloadServices(): Promise<void>;
  /**
   * The last phase of a shutdown, after the listeners stopped accepting and
   * drained and the audit log was flushed: change feed, limits, upstream connections.
   */
  close(): Promise<void>;
}

function chooseFeed(options: DataPlaneOptions): ChangeFeed['kind'] {
  if (options.feed !== undefined) return options.feed;
  if (options.pgUrl !== undefined) return 'postgres';
  if (options.redisUrl !== undefined && options.store.dialect === 'postgres') return 'redis';
  return 'local';
}

function createFeed(options: DataPlaneOptions, clock: () => number): ChangeFeed {
  const { store, logger } = options;
  const maxStalenessMs = options.maxStalenessMs ?? DATA_PLANE_DEFAULTS.maxStalenessMs;
  const heartbeatMs = options.feedHeartbeatMs ?? DATA_PLANE_DEFAULTS.feedHeartbeatMs;
  switch (chooseFeed(options)) {
    case 'postgres':
      if (options.pgUrl === undefined) throw new Error('the postgres change feed needs pgUrl');
      return new PostgresFeed({ url: options.pgUrl, logger, maxStalenessMs, heartbeatMs, clock });
    case 'redis':
      if (options.redisUrl === undefined) throw new Error('the redis change feed needs redisUrl');
      return new RedisFeed({ url: options.redisUrl, logger, maxStalenessMs, heartbeatMs, clock });
    case 'local':
      if (store.dialect === 'postgres') logger.warn('gateway on a PostgreSQL store with the local feed: changes made by other processes are not seen until the cache TTL');
      return new LocalFeed(store);
  }
}

export async function startDataPlane(options: DataPlaneOptions, connectors: readonly Connector[]): Promise<DataPlane> {
  const { store, logger } = options;
  const clock = options.clock ?? Date.now;
  const defaults = DATA_PLANE_DEFAULTS;
  const feed = createFeed(options, clock);
  const inFlight = new InFlight<BindingRoute>({
    perToken: options.limits?.maxInFlightPerToken ?? defaults.maxInFlightPerToken,
    perService: options.limits?.maxInFlightPerService ?? defaults.maxInFlightPerService,
  });
  let cache: TokenCache | null = null;
  const metrics = new GatewayMetrics(options.metrics, { cacheEntries: () => cache?.size ?? 0, inFlight: () => inFlight.total, feed: () => feed.health, clock });
  const ownListeners = options.ownListeners ?? new OwnListeners();
  const services = new ServiceTable({
    store,
    env: options.env,
    logger,
    metrics,
    ownListeners,
    connectors,
    ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
  });

  // What has been started so far, so that a failure part-way, and close(), stop exactly that, in this order.
  let retry: NodeJS.Timeout | null = null;
  let unsubscribe: (() => void) | null = null;
  let feedStarted = false;
  const limiters: Limiter[] = [];
  const stop = async (): Promise<void> => {
    const step = (what: string, work: () => Promise<void>) => work().catch((err: Error) => logger.error({ err: err.message, step: what }, 'data plane shutdown step failed'));
    if (retry !== null) clearTimeout(retry);
    unsubscribe?.();
    if (feedStarted) await step('change feed', () => feed.close());
    for (const limiter of limiters.splice(0)) await step('limits', () => limiter.close());
    await step('upstream connections', () => services.close());
  };

  try {
    await services.reload();
    const loader = new TokenLoader({
      store,
      catalog: () => services,
      compileGrant: compileTokenGrant,
      logger,
      clock,
      negativeTtlMs: options.cache?.unknownTtlMs ?? defaults.unknownTtlMs,
    });
    const tokenCache = new TokenCache({
      loader,
      health: feed.health,
      clock,
      ttlMs: options.cache?.ttlMs ?? defaults.cacheTtlMs,
      maxEntries: options.cache?.maxEntries ?? defaults.cacheMaxEntries,
      maxUnknown: options.cache?.maxUnknown ?? defaults.maxUnknown,
      onHit: () => metrics.cacheHits.inc(),
      onMiss: () => metrics.cacheMisses.inc(),
    });
    cache = tokenCache;

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
    const onChange = (change: Change): void => {
      tokenCache.apply(change);
      if (change.type === 'service') reloadInBackground();
    };
    const onResync = (): void => {
      tokenCache.flush();
      reloadInBackground();
    };
    // Changes made through this process' own store apply at once, whatever the cross-process feed.
    if (feed.kind !== 'local') unsubscribe = store.onChange(onChange);
    feedStarted = true;
    await feed.start({ onChange, onResync });

    const local = new LocalLimiter(60_000, clock);
    limiters.push(local);
    let limiter: Limiter = local;
    if (options.redisUrl !== undefined) {
      const shared = new RedisLimiter({ url: options.redisUrl, local, logger, onFallback: (active) => metrics.limitsFallback.set(active ? 1 : 0) });
      // The shared limiter closes before the local one it falls back to.
      limiters.unshift(shared);
      await shared.connected(2000);
      limiter = shared;
    }

    const summaries =
      (options.refusalSummary?.fold ?? defaults.foldRefusals)
        ? new RefusalSummaries({
            recorder: options.recorder,
            maxKeys: options.refusalSummary?.maxKeys ?? defaults.refusalSummaryKeys,
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
      ...(options.usage !== undefined && { usage: options.usage }),
    });
    const core = new DataPlaneCore({ env: options.env, hasher: options.hasher, cache: tokenCache, limiter, inFlight, log, logger });
    let closing: Promise<void> | null = null;
    return {
      core,
      services,
      metrics,
      ownListeners,
      feed: feed.kind,
      ready: () => feed.health.freshness(clock()) === FRESH,
      reloadServices,
      close() {
        closing ??= stop();
        return closing;
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
