import { createServer, type Server } from 'node:http';
import { UsageCounter } from '../usage/index.js';
import type { AddressInfo } from 'node:net';
import pino, { type Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { createAuditRecorder } from '../audit/index.js';
import type { AuditFailMode, AuditRecorder } from '../audit/recorder.js';
import { checkpointFailureLogger, openStore } from '../store/index.js';
import type { Store } from '../store/store.js';
import type { TokenHasher } from '../token/index.js';
import { startHttpGateway, type HttpGateway } from './gateway.js';
import { alertsFromConfig, type AlertRaiser } from '../alerts/index.js';
import type { AlertsConfig } from '../config/index.js';
import type { HttpGatewayOptions, ListenAddress } from './options.js';
import { OwnListeners } from '../core/services/index.js';
import type { DataPlane } from '../core/data-plane.js';

// A data-plane-only node (`latchkey gateway --env ENV`): the HTTP gateway of
// one environment against a shared store, with its own small listener for
// /metrics, /healthz and /readyz since it has no admin API, and, when asked
// (`--auth`), further listeners on the same data plane: the forward-auth
// endpoint, which the caller starts (src/server/forward-auth-node.ts) since the
// gateway does not know its sibling adapters.

export interface GatewayNodeOptions {
  readonly env: string;
  /** `postgres://...` (shared by every node; LISTEN/NOTIFY feed) or a SQLite file (single node). */
  readonly store: string;
  readonly hasher: TokenHasher;
  readonly listen: ListenAddress;
  /** /metrics, /healthz, /readyz; null for none. */
  readonly opsListen?: ListenAddress | null;
  readonly redisUrl?: string;
  /** Default: `postgres` on a PostgreSQL store, `local` on SQLite. `redis` needs redisUrl. */
  readonly feed?: 'local' | 'postgres' | 'redis';
  readonly nodeName?: string;
  readonly auditFailMode?: AuditFailMode;
  /** Use this recorder instead of the batch recorder on the node's store (it is closed with the node). */
  readonly recorder?: AuditRecorder;
  readonly logger?: Logger;
  /** Where this node's alerts go (a honeytoken presented here); default: the log only. */
  readonly alerts?: AlertsConfig;
  /** Listeners started on this node's data plane after the gateway (the forward-auth endpoint), closed with it. */
  readonly planeListeners?: ReadonlyArray<StartPlaneListener>;
  /** Anything else startHttpGateway takes (timeouts, limits, trusted proxies, staleness). */
  readonly gateway?: Partial<Omit<HttpGatewayOptions, 'store' | 'hasher' | 'env' | 'recorder' | 'metrics' | 'logger' | 'listen'>>;
}

/** Another adapter's listener on the node's data plane. */
export interface PlaneListener {
  readonly name: string;
  readonly address: ListenAddress;
  close(): Promise<void>;
}

export type StartPlaneListener = (plane: DataPlane, context: { readonly logger: Logger; readonly clock?: () => number; readonly alerts?: AlertRaiser }) => Promise<PlaneListener>;

export interface GatewayNode {
  readonly gateway: HttpGateway;
  readonly store: Store;
  readonly metrics: Registry;
  readonly opsAddress: ListenAddress | null;
  /** The plane listeners started, in the order given. */
  readonly planeListeners: readonly PlaneListener[];
  /** What /readyz answers: the gateway is ready and its audit recorder accepts events. */
  ready(): boolean;
  /** Graceful: the gateway drains, the audit queue is flushed, then the store closes. */
  close(): Promise<void>;
}

export async function runGatewayNode(options: GatewayNodeOptions): Promise<GatewayNode> {
  const logger = options.logger ?? pino({ level: 'info', base: { pid: process.pid, node: options.nodeName } }, pino.destination(2));
  const isPostgres = /^postgres(ql)?:\/\//i.test(options.store);
  const store = await openStore(options.store, { backgroundCheckpoints: true, onCheckpointFailure: checkpointFailureLogger(logger) });
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  const alerts = options.alerts === undefined ? undefined : alertsFromConfig(options.alerts, logger, metrics);
  const recorder = options.recorder ?? createAuditRecorder({
    store, failMode: options.auditFailMode ?? 'closed', metrics, logger,
    ...(alerts !== undefined && { onLoss: (lost: number, why: string) => alerts.raise('audit_loss', { lost, why, node: options.nodeName ?? null }) }),
  });
  // The ops listener serves /metrics: no upstream may be it either.
  const ownListeners = options.gateway?.ownListeners ?? new OwnListeners();
  // Each node counts its own allowed decisions and adds them to the shared totals (src/usage).
  const usage = new UsageCounter({ store, logger });
  let gateway: HttpGateway;
  try {
    gateway = await startHttpGateway({
      usage,
      ...options.gateway,
      ...(alerts !== undefined && { alerts }),
      ownListeners,
      store,
      hasher: options.hasher,
      env: options.env,
      recorder,
      metrics,
      logger,
      listen: options.listen,
      ...(options.nodeName !== undefined ? { nodeName: options.nodeName } : {}),
      ...(options.redisUrl !== undefined ? { redisUrl: options.redisUrl } : {}),
      feed: options.feed ?? (isPostgres ? 'postgres' : 'local'),
      ...(isPostgres ? { pgUrl: options.store } : {}),
    });
  } catch (err) {
    await recorder.close().catch(() => {});
    await usage.close().catch(() => {});
    await store.close().catch(() => {});
    throw err;
  }
  const planeListeners: PlaneListener[] = [];
  for (const start of options.planeListeners ?? []) {
    try {
      planeListeners.push(await start(gateway.plane, {
        logger,
        ...(options.gateway?.clock !== undefined && { clock: options.gateway.clock }),
        ...(alerts !== undefined && { alerts }),
      }));
    } catch (err) {
      // A listener that cannot start stops the node: it must not run without the endpoint it was asked for.
      await Promise.all([gateway.stopAccepting(), ...planeListeners.map((l) => l.close())]).catch(() => {});
      await recorder.close().catch(() => {});
      await gateway.close().catch(() => {});
      await store.close().catch(() => {});
      throw err;
    }
  }
  const ready = () => gateway.ready() && recorder.accepting;
  let ops: Server | null = null;
  let opsAddress: ListenAddress | null = null;
  if (options.opsListen != null) {
    ops = createServer((req, res) => {
      if (req.url === '/metrics') {
        metrics.metrics().then(
          (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text),
          () => res.writeHead(500).end(),
        );
      } else if (req.url === '/healthz') res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      else if (req.url === '/readyz') {
        const now = ready();
        res.writeHead(now ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ ready: now }));
      } else res.writeHead(404).end();
    });
    const server = ops;
    await new Promise<void>((resolve) => server.listen(options.opsListen!.port, options.opsListen!.host, resolve));
    const bound = server.address() as AddressInfo;
    ownListeners.add('ops', bound.address, bound.port);
    opsAddress = { host: options.opsListen.host, port: bound.port };
  }
  let closing: Promise<void> | null = null;
  return {
    gateway,
    store,
    metrics,
    opsAddress,
    planeListeners,
    ready,
    close() {
      closing ??= (async () => {
        // 1 and 2: stop accepting and drain.
        if (ops !== null) {
          const server = ops;
          await new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          });
        }
        await Promise.all([gateway.stopAccepting(), ...planeListeners.map((l) => l.close())]);
        // 3: flush what the drained requests left (alerts already raised get a last chance).
        await alerts?.settle(5_000);
        await recorder.close();
        await usage.close();
        // 4: feeds, limits and pools, then the store.
        await gateway.close();
        await store.close();
      })();
      return closing;
    },
  };
}
