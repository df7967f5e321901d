import type { AlertRaiser } from '../alerts/index.js';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AuditRecorder } from '../audit/recorder.js';
import type { Store } from '../store/store.js';
import type { TokenHasher } from '../token/index.js';
import type { CredentialPolicy } from '../core/services/credential-policy.js';
import type { OwnListeners } from '../core/services/own-listeners.js';

export type { ListenAddress } from '../config/index.js';
import type { ListenAddress } from '../config/index.js';

export interface HttpGatewayOptions {
  readonly store: Store;
  readonly hasher: TokenHasher;
  /**
   * null: serve every environment (`latchkey serve`), each token routed to its
   * environment's binding. A name: a node of that environment only; other
   * environments' tokens are refused with `env_mismatch`.
   */
  readonly env: string | null;
  readonly recorder: AuditRecorder;
  readonly metrics: Registry;
  readonly logger: Logger;
  /** `/<service>/<rest>`; port 0 picks a free port (see HttpGateway.address). */
  readonly listen: ListenAddress;
  /** Optional listeners of their own for single services, where the whole path belongs to the service. */
  readonly serviceListeners?: readonly (ListenAddress & { readonly service: string })[];
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
  /** CIDRs of proxies whose `X-Forwarded-For` is believed. Default none. */
  readonly trustedProxies?: readonly string[];
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
  readonly timeouts?: {
    /** Client must send all headers within this. Default 10,000 ms. */
    readonly headersMs?: number;
    /** Client must send the whole request within this. Default 120,000 ms. */
    readonly requestMs?: number;
    /** Idle keep-alive connections close after this. Default 5,000 ms. */
    readonly keepAliveMs?: number;
    readonly upstreamConnectMs?: number;
    /** Upstream must send response headers within this (504). Default 30,000 ms. */
    readonly upstreamHeadersMs?: number;
    /** Upstream may pause its body at most this long (504 or a cut response). Default 60,000 ms. */
    readonly upstreamBodyMs?: number;
    /** close() lets in-flight requests finish for this long. Default 10,000 ms. */
    readonly shutdownGraceMs?: number;
  };
  readonly limits?: {
    /** Default 16 KiB. */
    readonly maxHeaderBytes?: number;
    /** Default 100 header fields. */
    readonly maxHeaders?: number;
    /** Connections per upstream. Default 256. */
    readonly upstreamConnections?: number;
    /** Requests (and open WebSockets) of one token in flight at once on this node; one more is 429 concurrency_limited. Default 64. */
    readonly maxInFlightPerToken?: number;
    /** Requests (and open WebSockets) to one service binding in flight at once on this node. Default 512. */
    readonly maxInFlightPerService?: number;
  };
  /**
   * Refusals before a token is known are folded into one event per (service,
   * reason, client) and batch, counted exactly (see audit/refusal-summary.ts).
   */
  readonly refusalSummary?: {
    /** Default true; false stores every refusal as its own (bounded) event. */
    readonly fold?: boolean;
    /** Distinct keys folding at once before new ones share a key per (service, reason). Default 1,000. */
    readonly maxKeys?: number;
  };
  /** Where alerts go (a honeytoken presented to this gateway); default: only the log. */
  readonly alerts?: AlertRaiser;
  /** Which credential sources bindings may read. Default: `<ENV>_*` variables, no files (see CredentialPolicy.forConfig). */
  readonly credentials?: CredentialPolicy;
  /** Latchkey's listeners no upstream may be; the gateway adds its own as they bind. Default: a new, empty set. */
  readonly ownListeners?: OwnListeners;
  /** Extra trusted CAs for HTTPS upstreams (certificates are always verified). */
  readonly upstreamCa?: string | Buffer | readonly (string | Buffer)[];
}

export const DEFAULTS = {
  maxStalenessMs: 30_000,
  feedHeartbeatMs: 1000,
  cacheTtlMs: 60_000,
  cacheMaxEntries: 100_000,
  unknownTtlMs: 5000,
  maxUnknown: 10_000,
  headersMs: 10_000,
  requestMs: 120_000,
  keepAliveMs: 5000,
  upstreamConnectMs: 5000,
  upstreamHeadersMs: 30_000,
  upstreamBodyMs: 60_000,
  shutdownGraceMs: 10_000,
  maxHeaderBytes: 16 * 1024,
  maxHeaders: 100,
  upstreamConnections: 256,
  // Below the pool size, so one token cannot hold every upstream connection; above wrk's -c50 of the benchmark.
  maxInFlightPerToken: 64,
  maxInFlightPerService: 512,
  foldRefusals: true,
  refusalSummaryKeys: 1000,
} as const;
