import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startDataPlane, type DataPlane } from '../core/data-plane.js';
import type { ChangeFeed } from '../core/feed/index.js';
import type { ServiceRoute } from '../core/services/index.js';
import { httpConnector } from './http/connector.js';
import { byFirstSegment, ClientAddressResolver, createListener, fixedService, HttpOutcome, Pipeline, UpgradeOutcome } from './http/index.js';
import type { ServiceLocator } from './http/route.js';
import { DEFAULTS, type HttpGatewayOptions, type ListenAddress } from './options.js';

// The HTTP gateway: the data plane (src/core/data-plane.ts) with the HTTP
// adapter's connector and listeners on top. It shuts down in phases, each
// explicit: stop accepting and drain (stopAccepting), then — once the caller
// has flushed the audit log — the data plane (close).

export interface HttpGateway {
  /** The shared `/<service>/<rest>` listener, with the port actually bound. */
  readonly address: ListenAddress;
  /** Every listener, including services' own (`service` null for the shared one). */
  readonly listeners: readonly (ListenAddress & { readonly service: string | null })[];
  readonly feed: ChangeFeed['kind'];
  /** The data plane under the listeners, shared with other adapters of the same process (forward-auth). */
  readonly plane: DataPlane;
  /** True while the change feed is healthy: the node can vouch for tokens it has not cached. For /readyz. */
  ready(): boolean;
  /** Rebuilds the service table from the store (also done on every service change). */
  reloadServices(): Promise<void>;
  /** Phase 1 and 2: stops accepting, closes open WebSockets, lets in-flight requests finish (bounded by the grace period). */
  stopAccepting(): Promise<void>;
  /** Every phase this gateway owns: stopAccepting() if not done, then the data plane (feeds, limits, upstream pools). */
  close(): Promise<void>;
}

/** Capped by the kernel (net.core.somaxconn); Node's default is 511. */
const LISTEN_BACKLOG = 4096;

export async function startHttpGateway(options: HttpGatewayOptions): Promise<HttpGateway> {
  const { logger } = options;
  const clock = options.clock ?? Date.now;
  const t = options.timeouts ?? {};
  const l = options.limits ?? {};
  const maxHeaders = l.maxHeaders ?? DEFAULTS.maxHeaders;
  const connector = httpConnector({
    connections: l.upstreamConnections ?? DEFAULTS.upstreamConnections,
    connectTimeoutMs: t.upstreamConnectMs ?? DEFAULTS.upstreamConnectMs,
    headersTimeoutMs: t.upstreamHeadersMs ?? DEFAULTS.upstreamHeadersMs,
    bodyTimeoutMs: t.upstreamBodyMs ?? DEFAULTS.upstreamBodyMs,
    keepAliveTimeoutMs: 4000,
    ...(options.upstreamCa !== undefined ? { ca: options.upstreamCa } : {}),
    onRefused: (upstream, listener, address) => logger.error({ upstream, listener, address }, "upstream refused: it is one of Latchkey's own listeners; requests get 502"),
  });
  const plane: DataPlane = await startDataPlane(options, [connector, ...(options.connectors ?? [])]);

  const pipeline = new Pipeline({
    core: plane.core,
    clients: new ClientAddressResolver(options.trustedProxies ?? []),
    maxHeaders,
    ...(options.alerts !== undefined && { alerts: options.alerts }),
  });
  const http = new HttpOutcome(pipeline, plane.metrics);
  const upgrade = new UpgradeOutcome(pipeline, plane.metrics);
  const parts = {
    pipeline,
    http,
    upgrade,
    metrics: plane.metrics,
    clock,
    limits: {
      headersTimeoutMs: t.headersMs ?? DEFAULTS.headersMs,
      requestTimeoutMs: t.requestMs ?? DEFAULTS.requestMs,
      keepAliveTimeoutMs: t.keepAliveMs ?? DEFAULTS.keepAliveMs,
      maxHeaderBytes: l.maxHeaderBytes ?? DEFAULTS.maxHeaderBytes,
      maxHeaders,
    },
  };
  // This adapter serves http services only; the table knows the others for permissions.
  const lookup = (name: string): ServiceRoute | undefined => {
    const route = plane.services.get(name);
    return route?.kind === 'http' ? route : undefined;
  };
  const specs: Array<{ locate: ServiceLocator; at: ListenAddress; service: string | null }> = [
    { locate: byFirstSegment(lookup), at: options.listen, service: null },
    ...(options.serviceListeners ?? []).map((s) => ({ locate: fixedService(s.service, lookup), at: s, service: s.service })),
  ];
  const servers: Server[] = [];
  const listeners: Array<ListenAddress & { service: string | null }> = [];
  const grace = t.shutdownGraceMs ?? DEFAULTS.shutdownGraceMs;

  let stopping: Promise<void> | null = null;
  const stopAccepting = (): Promise<void> => {
    stopping ??= (async () => {
      // An open WebSocket would hold its listener open through the whole grace period.
      for (const tunnel of upgrade.tunnels) tunnel.destroy();
      await Promise.all(servers.map((server) => drain(server, grace)));
    })();
    return stopping;
  };
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await stopAccepting();
      await plane.close();
    })();
    return closing;
  };

  try {
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
      plane.ownListeners.add(spec.service === null ? 'gateway' : `gateway (service ${spec.service})`, bound.address, bound.port);
      listeners.push({ host: spec.at.host, port: bound.port, service: spec.service });
    }
  } catch (err) {
    await close();
    throw err;
  }
  logger.info({ listeners, env: options.env, feed: plane.feed, sharedLimits: options.redisUrl !== undefined }, 'http gateway listening');

  return {
    address: { host: listeners[0]!.host, port: listeners[0]!.port },
    listeners,
    feed: plane.feed,
    plane,
    ready: plane.ready,
    reloadServices: plane.reloadServices,
    stopAccepting,
    close,
  };
}

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
