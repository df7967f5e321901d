import type { Connector } from '../core/services/connector.js';
import type { AlertRaiser } from '../alerts/index.js';
import type { ListenAddress } from '../config/index.js';
import { DATA_PLANE_DEFAULTS, type DataPlaneOptions } from '../core/data-plane.js';

export type { ListenAddress } from '../config/index.js';

/** The data plane's options (src/core/data-plane.ts) and the HTTP adapter's own. */
export interface HttpGatewayOptions extends DataPlaneOptions {
  /** Connectors of other kinds on the same data plane (the postgres kind's, for the PostgreSQL gateway). */
  readonly connectors?: readonly Connector[];
  /** `/<service>/<rest>`; port 0 picks a free port (see HttpGateway.address). */
  readonly listen: ListenAddress;
  /** Optional listeners of their own for single services, where the whole path belongs to the service. */
  readonly serviceListeners?: readonly (ListenAddress & { readonly service: string })[];
  /** CIDRs of proxies whose `X-Forwarded-For` is believed. Default none. */
  readonly trustedProxies?: readonly string[];
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
    /** stopAccepting() lets in-flight requests finish for this long. Default 10,000 ms. */
    readonly shutdownGraceMs?: number;
  };
  readonly limits?: DataPlaneOptions['limits'] & {
    /** Default 16 KiB. */
    readonly maxHeaderBytes?: number;
    /** Default 100 header fields. */
    readonly maxHeaders?: number;
    /** Connections per upstream. Default 256. */
    readonly upstreamConnections?: number;
  };
  /** Where alerts go (a honeytoken presented to this gateway); default: only the log. */
  readonly alerts?: AlertRaiser;
  /** Extra trusted CAs for HTTPS upstreams (certificates are always verified). */
  readonly upstreamCa?: string | Buffer | readonly (string | Buffer)[];
}

export const DEFAULTS = {
  ...DATA_PLANE_DEFAULTS,
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
} as const;
