import { Pool } from 'undici';
import type { Connector } from '../../core/services/connector.js';
import type { BindingRoute } from '../../core/services/service-table.js';
import { guardedConnector } from '../../core/services/self-upstream.js';
import { parseUpstream } from '../../core/services/target.js';

// The HTTP adapter's connector: one undici keep-alive pool per upstream
// origin (or Unix socket), every connection checked against Latchkey's own
// listeners, TLS always verified.

export interface UpstreamPoolOptions {
  readonly connections: number;
  readonly connectTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  /** Extra CAs for HTTPS upstreams; certificates are always verified. */
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
  readonly onRefused: (upstream: string, listener: string, address: string) => void;
}

export function httpConnector(options: UpstreamPoolOptions): Connector<Pool> {
  return {
    kind: 'http',
    parse: parseUpstream,
    open(target, own) {
      return new Pool(target.origin, {
        connections: options.connections,
        pipelining: 1,
        headersTimeout: options.headersTimeoutMs,
        bodyTimeout: options.bodyTimeoutMs,
        keepAliveTimeout: options.keepAliveTimeoutMs,
        // The connector also carries the timeout, socket and TLS settings.
        connect: guardedConnector(target, own, {
          timeoutMs: options.connectTimeoutMs,
          ...(target.tls ? { tls: { rejectUnauthorized: true, ...(options.ca !== undefined ? { ca: options.ca as string | Buffer | (string | Buffer)[] } : {}) } } : {}),
          onRefused: (err) => options.onRefused(target.key, err.listener, err.address),
        }),
      });
    },
    usable: (pool) => !pool.closed,
    close: (pool) => pool.close().catch(() => pool.destroy()),
  };
}

/** The pool of an http service's binding (the service table holds connections untyped). */
export function poolOf(binding: BindingRoute): Pool {
  return binding.connection as Pool;
}
