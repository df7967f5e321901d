import type { Logger } from 'pino';
import { Pool } from 'undici';
import type { ServiceCatalog } from '../../policy/types.js';
import type { HeaderUnderscores, PathMatching, Service } from '../../store/records.js';
import type { Store } from '../../store/store.js';
import type { GatewayMetrics, ServiceMetrics } from '../metrics.js';
import { CredentialPolicy } from './credential-policy.js';
import { resolveCredential, type UpstreamCredential } from './credential.js';
import { OwnListeners } from './own-listeners.js';
import { guardedConnector } from './self-upstream.js';
import { parseUpstream, type UpstreamTarget } from './target.js';

/** One environment's binding of a service, ready to forward to. */
export interface BindingRoute {
  readonly env: string;
  readonly target: UpstreamTarget;
  readonly pool: Pool;
  /** Added to this binding's requests; the client's own copies of its header are dropped for this binding only. */
  readonly credential: UpstreamCredential | null;
  /** Why this binding cannot be used (its credential is refused or unreadable), or null. Requests get 502. */
  readonly unusable: string | null;
}

/** Everything per service the pipeline needs, precomputed when the service table loads. */
export interface ServiceRoute {
  readonly name: string;
  /** Lowercase header carrying the Latchkey token; `authorization` (Bearer) by default. */
  readonly tokenHeader: string;
  readonly maxBodyBytes: number;
  /**
   * Lowercase names of client headers never forwarded to any binding: the token header. A binding's
   * credential header is dropped per binding when its request is forwarded (one environment's
   * credential header is an ordinary header to another's upstream).
   */
  readonly stripped: ReadonlySet<string>;
  readonly bindings: ReadonlyMap<string, BindingRoute>;
  readonly metrics: ServiceMetrics;
  /** How the upstream matches paths: the route stage folds requests, grants fold permissions alike. */
  readonly paths: PathMatching;
  readonly headerUnderscores: HeaderUnderscores;
}

export interface UpstreamPoolOptions {
  readonly connections: number;
  readonly connectTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  /** Extra CAs for HTTPS upstreams; certificates are always verified. */
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
}

export interface ServiceTableOptions {
  readonly store: Store;
  /** null: every environment (`latchkey serve`); a name: only that environment's bindings are routable. */
  readonly env: string | null;
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
  readonly pools: UpstreamPoolOptions;
  /** Which credential sources each environment's bindings may read. Default: `<ENV>_*` variables, no files. */
  readonly credentials?: CredentialPolicy;
  /** Latchkey's own listeners, never connected to as an upstream. */
  readonly ownListeners?: OwnListeners;
}

/**
 * The services this node routes to, rebuilt from the store at start and on
 * every service change. Connection pools are kept across reloads for
 * upstreams that did not change and closed gracefully for those that went.
 */
export class ServiceTable implements ServiceCatalog {
  readonly #options: ServiceTableOptions;
  readonly #credentials: CredentialPolicy;
  readonly #own: OwnListeners;
  #routes = new Map<string, ServiceRoute>();
  #kinds = new Map<string, Service['kind']>();
  #pools = new Map<string, Pool>();
  #reloading: Promise<void> | null = null;
  #again = false;

  constructor(options: ServiceTableOptions) {
    this.#options = options;
    this.#credentials = options.credentials ?? CredentialPolicy.defaults();
    this.#own = options.ownListeners ?? new OwnListeners();
  }

  get(name: string): ServiceRoute | undefined {
    return this.#routes.get(name);
  }

  kindOf(service: string): Service['kind'] | undefined {
    return this.#kinds.get(service);
  }

  pathMatchingOf(service: string): PathMatching | undefined {
    return this.#routes.get(service)?.paths;
  }

  /** Coalesces concurrent reloads: a change during a reload triggers exactly one more. */
  reload(): Promise<void> {
    if (this.#reloading !== null) {
      this.#again = true;
      return this.#reloading;
    }
    this.#reloading = (async () => {
      try {
        do {
          this.#again = false;
          await this.#load();
        } while (this.#again);
      } finally {
        this.#reloading = null;
      }
    })();
    return this.#reloading;
  }

  async #load(): Promise<void> {
    const services = await this.#options.store.listServices();
    const routes = new Map<string, ServiceRoute>();
    const kinds = new Map<string, Service['kind']>();
    const pools = new Map<string, Pool>();
    for (const service of services) {
      kinds.set(service.name, service.kind);
      // The HTTP gateway serves http services; postgres and mcp have their own gateways.
      if (service.kind !== 'http') continue;
      const route = await this.#route(service, pools);
      if (route !== null) routes.set(service.name, route);
    }
    const old = this.#pools;
    this.#routes = routes;
    this.#kinds = kinds;
    this.#pools = pools;
    for (const [key, pool] of old) if (!pools.has(key)) pool.close().catch(() => {});
  }

  async #route(service: Service, pools: Map<string, Pool>): Promise<ServiceRoute | null> {
    const { env, logger } = this.#options;
    const bindings = new Map<string, BindingRoute>();
    const tokenHeader = (service.tokenHeader ?? 'authorization').toLowerCase();
    const stripped: ReadonlySet<string> = new Set<string>([tokenHeader]);
    for (const binding of service.bindings) {
      if (env !== null && binding.env !== env) continue;
      let target: UpstreamTarget;
      try {
        target = parseUpstream(binding.upstream);
      } catch (err) {
        logger.error({ service: service.name, env: binding.env, err: (err as Error).message }, 'service binding has an invalid upstream; skipped');
        continue;
      }
      const resolved = await resolveCredential(binding.credential, binding.env, this.#credentials);
      if (!resolved.ok) logger.error({ service: service.name, env: binding.env, problem: resolved.problem }, 'upstream credential unavailable; requests get 502');
      const credential = resolved.ok ? resolved.credential : null;
      bindings.set(binding.env, {
        env: binding.env,
        target,
        pool: this.#pool(target, pools),
        credential,
        unusable: resolved.ok ? null : resolved.problem,
      });
    }
    // A node of one environment does not route to services absent from it: they are unknown here.
    if (env !== null && bindings.size === 0) return null;
    return {
      name: service.name,
      tokenHeader,
      maxBodyBytes: service.maxBodyBytes,
      stripped,
      bindings,
      metrics: this.#options.metrics.forService(service.name),
      paths: service.paths,
      headerUnderscores: service.headerUnderscores,
    };
  }

  #pool(target: UpstreamTarget, pools: Map<string, Pool>): Pool {
    const existing = pools.get(target.key) ?? this.#pools.get(target.key);
    if (existing !== undefined && !existing.closed) {
      pools.set(target.key, existing);
      return existing;
    }
    const options = this.#options.pools;
    const logger = this.#options.logger;
    const pool = new Pool(target.origin, {
      connections: options.connections,
      pipelining: 1,
      headersTimeout: options.headersTimeoutMs,
      bodyTimeout: options.bodyTimeoutMs,
      keepAliveTimeout: options.keepAliveTimeoutMs,
      // Every connection is checked against Latchkey's own listeners; the connector also carries the timeout, socket and TLS settings.
      connect: guardedConnector(target, this.#own, {
        timeoutMs: options.connectTimeoutMs,
        ...(target.tls ? { tls: { rejectUnauthorized: true, ...(options.ca !== undefined ? { ca: options.ca as string | Buffer | (string | Buffer)[] } : {}) } } : {}),
        onRefused: (err) => logger.error({ upstream: target.key, listener: err.listener, address: err.address }, "upstream refused: it is one of Latchkey's own listeners; requests get 502"),
      }),
    });
    pools.set(target.key, pool);
    return pool;
  }

  async close(): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools = new Map();
    this.#routes = new Map();
    await Promise.all(pools.map((pool) => pool.close().catch(() => pool.destroy())));
  }
}
