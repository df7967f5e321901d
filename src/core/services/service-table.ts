import type { Logger } from 'pino';
import type { ServiceCatalog } from '../../policy/types.js';
import type { HeaderUnderscores, PathMatching, Service } from '../../store/records.js';
import type { Store } from '../../store/store.js';
import type { GatewayMetrics, ServiceMetrics } from '../metrics.js';
import { CredentialPolicy } from './credential-policy.js';
import { resolveCredential, type UpstreamCredential } from './credential.js';
import { OwnListeners } from './own-listeners.js';
import type { Connector } from './connector.js';
import type { UpstreamTarget } from './target.js';

/** One environment's binding of a service, ready to forward to. */
export interface BindingRoute {
  readonly env: string;
  readonly target: UpstreamTarget;
  /** What the service kind's connector opened for the target (an undici Pool for http). */
  readonly connection: unknown;
  /** Added to this binding's requests; the client's own copies of its header are dropped for this binding only. */
  readonly credential: UpstreamCredential | null;
  /** Why this binding cannot be used (its credential is refused or unreadable), or null. Requests get 502 upstream_credential_missing. */
  readonly unusable: string | null;
}

/** Everything per service the pipeline needs, precomputed when the service table loads. */
export interface ServiceRoute {
  readonly name: string;
  readonly kind: Service['kind'];
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
  /** postgres services: functions allowed beyond the analyzer's side-effect-free list. */
  readonly sqlFunctions: readonly string[];
}

export interface ServiceTableOptions {
  readonly store: Store;
  /** null: every environment (`latchkey serve`); a name: only that environment's bindings are routable. */
  readonly env: string | null;
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
  /** One per kind this node serves; services of other kinds are known (for permissions) but not routed. */
  readonly connectors: readonly Connector[];
  /** Which credential sources each environment's bindings may read. Default: `<ENV>_*` variables, no files. */
  readonly credentials?: CredentialPolicy;
  /** Latchkey's own listeners, never connected to as an upstream. */
  readonly ownListeners?: OwnListeners;
}

/**
 * The services this node routes to, of every kind it has a connector for,
 * rebuilt from the store at start and on every service change. Connections
 * are kept across reloads for upstreams that did not change and closed
 * gracefully for those that went.
 */
export class ServiceTable implements ServiceCatalog {
  readonly #options: ServiceTableOptions;
  readonly #credentials: CredentialPolicy;
  readonly #own: OwnListeners;
  #routes = new Map<string, ServiceRoute>();
  #kinds = new Map<string, Service['kind']>();
  #connections = new Map<string, { readonly connector: Connector; readonly connection: unknown }>();
  readonly #connectors: ReadonlyMap<Service['kind'], Connector>;
  #reloading: Promise<void> | null = null;
  #again = false;

  constructor(options: ServiceTableOptions) {
    this.#options = options;
    this.#credentials = options.credentials ?? CredentialPolicy.defaults();
    this.#own = options.ownListeners ?? new OwnListeners();
    this.#connectors = new Map(options.connectors.map((connector) => [connector.kind, connector]));
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
  /** The bindings this node cannot serve for want of their credential, with why (never the secret). */
  unusableBindings(): Array<{ service: string; env: string; problem: string }> {
    return [...this.#routes.values()].flatMap((route) => [...route.bindings.values()]
      .filter((binding) => binding.unusable !== null)
      .map((binding) => ({ service: route.name, env: binding.env, problem: binding.unusable! })));
  }

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
    const connections = new Map<string, { readonly connector: Connector; readonly connection: unknown }>();
    for (const service of services) {
      kinds.set(service.name, service.kind);
      const connector = this.#connectors.get(service.kind);
      if (connector === undefined) continue;
      const route = await this.#route(service, connector, connections);
      if (route !== null) routes.set(service.name, route);
    }
    const old = this.#connections;
    this.#routes = routes;
    this.#kinds = kinds;
    this.#connections = connections;
    for (const [key, held] of old) if (!connections.has(key)) held.connector.close(held.connection).catch(() => {});
  }

  async #route(service: Service, connector: Connector, connections: Map<string, { readonly connector: Connector; readonly connection: unknown }>): Promise<ServiceRoute | null> {
    const { env, logger } = this.#options;
    const bindings = new Map<string, BindingRoute>();
    const tokenHeader = (service.tokenHeader ?? 'authorization').toLowerCase();
    const stripped: ReadonlySet<string> = new Set<string>([tokenHeader]);
    for (const binding of service.bindings) {
      if (env !== null && binding.env !== env) continue;
      let target: UpstreamTarget;
      try {
        target = connector.parse(binding.upstream);
      } catch (err) {
        logger.error({ service: service.name, env: binding.env, err: (err as Error).message }, 'service binding has an invalid upstream; skipped');
        continue;
      }
      // A postgres binding's secret is the upstream role's password, sent as it is (no header scheme).
      const source = service.kind === 'postgres' && binding.credential.from !== 'none' ? { ...binding.credential, scheme: '' } : binding.credential;
      const resolved = await resolveCredential(source, binding.env, this.#credentials);
      if (!resolved.ok) logger.error({ service: service.name, env: binding.env, problem: resolved.problem }, 'upstream credential unavailable; requests get 502 upstream_credential_missing');
      const credential = resolved.ok ? resolved.credential : null;
      bindings.set(binding.env, {
        env: binding.env,
        target,
        connection: this.#connection(connector, target, connections),
        credential,
        unusable: resolved.ok ? null : resolved.problem,
      });
    }
    // A node of one environment does not route to services absent from it: they are unknown here.
    if (env !== null && bindings.size === 0) return null;
    return {
      name: service.name,
      kind: service.kind,
      tokenHeader,
      maxBodyBytes: service.maxBodyBytes,
      stripped,
      bindings,
      metrics: this.#options.metrics.forService(service.name),
      paths: service.paths,
      headerUnderscores: service.headerUnderscores,
      sqlFunctions: service.sqlFunctions,
    };
  }

  #connection(connector: Connector, target: UpstreamTarget, connections: Map<string, { readonly connector: Connector; readonly connection: unknown }>): unknown {
    const key = `${connector.kind} ${target.key}`;
    const existing = connections.get(key) ?? this.#connections.get(key);
    if (existing !== undefined && connector.usable(existing.connection)) {
      connections.set(key, existing);
      return existing.connection;
    }
    const connection = connector.open(target, this.#own);
    connections.set(key, { connector, connection });
    return connection;
  }

  async close(): Promise<void> {
    const held = [...this.#connections.values()];
    this.#connections = new Map();
    this.#routes = new Map();
    await Promise.all(held.map(({ connector, connection }) => connector.close(connection)));
  }
}
