import { Counter, Gauge, type Registry } from 'prom-client';
import { DeferredCounter, FastHistogram, PendingCount } from './fast-metrics.js';
import type { FeedHealthView } from './feed/feed-health.js';

// Prometheus metrics of one gateway, registered on the registry the admin
// listener (or a data-plane node's own listener) serves at /metrics. What
// every allowed request counts (its count, its duration, a cache hit) is
// added to plain numbers and read at scrape time (fast-metrics.ts).

/** Label used for requests that name no known service, so attackers cannot mint label values. */
export const UNKNOWN_SERVICE_LABEL = '_unknown';

const METRIC_NAMES = [
  'latchkey_gateway_requests_total',
  'latchkey_gateway_request_duration_seconds',
  'latchkey_gateway_token_cache_hits_total',
  'latchkey_gateway_token_cache_misses_total',
  'latchkey_gateway_token_cache_entries',
  'latchkey_gateway_upstream_errors_total',
  'latchkey_gateway_client_errors_total',
  'latchkey_limits_fallback',
  'latchkey_gateway_refusals_folded_total',
  'latchkey_gateway_in_flight',
  'latchkey_gateway_feed_healthy',
  'latchkey_gateway_feed_lag_seconds',
  'latchkey_gateway_feed_last_event_age_seconds',
];

/** Metric children of one service's allowed path, resolved once per service load, not per request. */
export interface ServiceMetrics {
  readonly allowed: { inc(): void };
  readonly allowedSeconds: { observe(value: number): void };
}

export interface GatewayMetricSources {
  cacheEntries(): number;
  /** Requests in flight on this node (the concurrency stage's count). */
  inFlight(): number;
  feed(): FeedHealthView;
  clock(): number;
}

export class GatewayMetrics {
  readonly requests: Counter<'service' | 'decision' | 'reason'>;
  readonly seconds: FastHistogram<'service' | 'decision'>;
  readonly cacheHits = new PendingCount();
  readonly #allowed = new DeferredCounter<'service' | 'decision' | 'reason'>();
  readonly cacheMisses: Counter;
  readonly upstreamErrors: Counter<'service' | 'kind'>;
  readonly clientErrors: Counter<'kind'>;
  readonly limitsFallback: Gauge;
  readonly refusalsFolded: Counter<'reason'>;

  constructor(registry: Registry, sources: GatewayMetricSources) {
    // A gateway restarted on the same registry (tests, a reloaded listener) takes over its metric names.
    for (const name of METRIC_NAMES) registry.removeSingleMetric(name);
    const registers = [registry];
    const allowed = this.#allowed;
    const cacheHits = this.cacheHits;
    this.requests = new Counter({
      name: 'latchkey_gateway_requests_total',
      help: 'HTTP gateway requests by service, decision and reason code',
      labelNames: ['service', 'decision', 'reason'],
      registers,
      collect() {
        allowed.drainInto(this);
      },
    });
    this.seconds = new FastHistogram({
      name: 'latchkey_gateway_request_duration_seconds',
      help: 'Time from request headers to the end of the response, by service and decision',
      labelNames: ['service', 'decision'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    new Counter({
      name: 'latchkey_gateway_token_cache_hits_total',
      help: 'Token lookups answered by the cache',
      registers,
      collect() {
        const n = cacheHits.take();
        if (n > 0) this.inc(n);
      },
    });
    this.cacheMisses = new Counter({ name: 'latchkey_gateway_token_cache_misses_total', help: 'Token lookups that needed the store', registers });
    new Gauge({
      name: 'latchkey_gateway_token_cache_entries',
      help: 'Tokens held in the cache',
      registers,
      collect() {
        this.set(sources.cacheEntries());
      },
    });
    this.upstreamErrors = new Counter({
      name: 'latchkey_gateway_upstream_errors_total',
      help: 'Upstream failures by service and kind (unreachable, timeout, aborted)',
      labelNames: ['service', 'kind'],
      registers,
    });
    this.clientErrors = new Counter({
      name: 'latchkey_gateway_client_errors_total',
      help: 'Connections closed for malformed HTTP, oversize headers or timeouts, before any routing',
      labelNames: ['kind'],
      registers,
    });
    this.limitsFallback = new Gauge({
      name: 'latchkey_limits_fallback',
      help: '1 while Redis is configured but unreachable and limits are enforced per node',
      registers,
    });
    this.limitsFallback.set(0);
    this.refusalsFolded = new Counter({
      name: 'latchkey_gateway_refusals_folded_total',
      help: 'Refusals before a token was known that were counted in a summary audit event instead of stored one by one, by reason',
      labelNames: ['reason'],
      registers,
    });
    new Gauge({
      name: 'latchkey_gateway_in_flight',
      help: 'Requests and open WebSockets in flight to upstreams on this node',
      registers,
      collect() {
        this.set(sources.inFlight());
      },
    });
    new Gauge({
      name: 'latchkey_gateway_feed_healthy',
      help: '1 while the change feed is connected and recently confirmed',
      registers,
      collect() {
        this.set(sources.feed().freshness(sources.clock()) === 0 ? 1 : 0);
      },
    });
    new Gauge({
      name: 'latchkey_gateway_feed_lag_seconds',
      help: 'Seconds since the change feed last confirmed that no change was missed',
      registers,
      collect() {
        this.set(Math.max(0, (sources.clock() - sources.feed().lastHealthyAt) / 1000));
      },
    });
    new Gauge({
      name: 'latchkey_gateway_feed_last_event_age_seconds',
      help: 'Seconds since the change feed delivered its last change (-1 before the first)',
      registers,
      collect() {
        const last = sources.feed().lastEventAt;
        this.set(last === null ? -1 : (sources.clock() - last) / 1000);
      },
    });
  }

  forService(service: string): ServiceMetrics {
    return {
      allowed: this.#allowed.series({ service, decision: 'allow', reason: 'allowed' }),
      allowedSeconds: this.seconds.series({ service, decision: 'allow' }),
    };
  }
}
