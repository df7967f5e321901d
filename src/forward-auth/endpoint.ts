import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { AlertRaiser } from '../alerts/index.js';
import type { DataPlane } from '../core/data-plane.js';
import type { ServiceRoute } from '../core/services/index.js';
import { byFirstSegment, ClientAddressResolver, Exchange, fixedService, Pipeline } from '../gateway/http/index.js';
import { rawResponse } from '../gateway/http/refusal.js';
import { readOriginalRequest } from './original-request.js';
import { answerRefusal, ForwardAuthOutcome } from './outcome.js';
import { ProxyTrust, SECRET_HEADER } from './proxy-trust.js';
import { echoRefusal, REFUSAL_PATH } from './refusal-echo.js';

// The forward-auth endpoint: the HTTP gateway's pipeline (route, method,
// headers, override, token, then the data-plane core) run on the request a
// trusted proxy asks about, on a listener of its own (never the public
// gateway's), answered without forwarding. It shares the data plane of the
// process — cache, limits, decision log — with the gateway.

export interface ForwardAuthOptions {
  readonly plane: DataPlane;
  readonly listen: { readonly host: string; readonly port: number };
  /** CIDRs of the proxies that may ask; their X-Forwarded-For names the client. */
  readonly trustedProxies: readonly string[];
  /** The shared secret a proxy must send in X-Latchkey-Auth-Secret; null: none. */
  readonly secret: string | null;
  /** Services whose upstream credential an allow hands to the proxy. */
  readonly credentialServices: readonly string[];
  readonly logger: Logger;
  readonly clock?: () => number;
  readonly alerts?: AlertRaiser;
  /** Header fields per check request; one more is refused. Default 100, as the gateway's. */
  readonly maxHeaders?: number;
  /** Default 5,000 ms. */
  readonly shutdownGraceMs?: number;
}

export interface ForwardAuthEndpoint {
  readonly address: { readonly host: string; readonly port: number };
  close(): Promise<void>;
}

const MALFORMED = rawResponse(400, 'Bad Request', 'invalid_request', 'the request is not well-formed HTTP/1.1');

const LIMITS = { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 65_000, maxHeaderBytes: 65_536, maxHeaders: 100 } as const;

export async function startForwardAuth(options: ForwardAuthOptions): Promise<ForwardAuthEndpoint> {
  const { plane, logger } = options;
  const clock = options.clock ?? Date.now;
  const maxHeaders = options.maxHeaders ?? LIMITS.maxHeaders;
  const trust = new ProxyTrust(options.trustedProxies, options.secret);
  const pipeline = new Pipeline({
    core: plane.core,
    clients: new ClientAddressResolver(options.trustedProxies),
    maxHeaders,
    ...(options.alerts !== undefined && { alerts: options.alerts }),
  });
  const outcome = new ForwardAuthOutcome(pipeline, options.credentialServices);
  const lookup = (name: string): ServiceRoute | undefined => {
    const route = plane.services.get(name);
    return route?.kind === 'http' ? route : undefined;
  };
  const envoyLocator = byFirstSegment(lookup);

  const onCheck = (req: IncomingMessage, res: ServerResponse): void => {
    const time = clock();
    const startedAt = performance.now();
    const url = req.url ?? '';
    const path = url.split('?', 1)[0]!.slice(0, 256);
    const untrusted = trust.refusal(req.socket.remoteAddress, req.headers[SECRET_HEADER]);
    if (untrusted !== null) {
      // Folded like any refusal before a token is known: a flood from an unknown caller costs little audit.
      void pipeline.recordListenerRefusal(req.socket.remoteAddress, req.method ?? '', path, 'proxy_not_trusted').then(() => answerRefusal(res, 'proxy_not_trusted', untrusted, null, false));
      return;
    }
    if (path === REFUSAL_PATH) return echoRefusal(req, res);
    const original = readOriginalRequest(req.method ?? '', url, req.rawHeaders);
    if (!original.ok) {
      const ex = new Exchange(req, res, null, null, time, startedAt, false);
      ex.resource = original.resource;
      ex.detail = original.detail;
      return outcome.refuse(ex, original.code);
    }
    const ex = new Exchange(req, res, null, null, time, startedAt, false, { method: original.method, target: original.target });
    pipeline.run(ex, original.service === null ? envoyLocator : fixedService(original.service, lookup), outcome);
  };

  const server: Server = createServer({
    insecureHTTPParser: false,
    maxHeaderSize: LIMITS.maxHeaderBytes,
    headersTimeout: LIMITS.headersTimeoutMs,
    requestTimeout: LIMITS.requestTimeoutMs,
    keepAliveTimeout: LIMITS.keepAliveTimeoutMs,
    connectionsCheckingInterval: 1000,
    requireHostHeader: true,
    joinDuplicateHeaders: false,
    noDelay: true,
  });
  server.maxHeadersCount = maxHeaders + 1;
  server.on('request', onCheck);
  // As the gateway's listener: what Node's parser rejects is answered 400 invalid_request once its (folded) event is durable.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    socket.once('finish', () => socket.destroy());
    void pipeline.recordListenerRefusal((socket as Socket).remoteAddress, '', '(malformed)', 'invalid_request').then(() => {
      if (socket.writable) socket.end(MALFORMED);
      else socket.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.listen.host, port: options.listen.port, backlog: 4096 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  plane.ownListeners.add('forward-auth', bound.address, bound.port);
  const address = { host: options.listen.host, port: bound.port };
  logger.info({ address, trustedProxies: options.trustedProxies, secret: options.secret !== null, credentialServices: options.credentialServices }, 'forward-auth listening');

  let closing: Promise<void> | null = null;
  return {
    address,
    close() {
      closing ??= new Promise<void>((resolve) => {
        const sweep = setInterval(() => server.closeIdleConnections(), 50);
        const cut = setTimeout(() => server.closeAllConnections(), options.shutdownGraceMs ?? 5000);
        server.close(() => {
          clearInterval(sweep);
          clearTimeout(cut);
          resolve();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}
