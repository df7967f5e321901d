import { poolOf } from './connector.js';
import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ReasonCode } from '../../errors/index.js';
import type { GatewayMetrics } from '../../core/metrics.js';
import type { Exchange, Outcome } from './exchange.js';
import type { Pipeline } from './pipeline.js';
import { writeRawRefusal } from './refusal.js';

// WebSocket upgrades go through the same pipeline as any request; once
// allowed, the upstream handshake is made through the binding's pool and the
// two sockets are piped until either side closes.

export class UpgradeOutcome implements Outcome {
  readonly #pipeline: Pipeline;
  readonly #metrics: GatewayMetrics;
  /** Piped connections, destroyed when the gateway closes. */
  readonly tunnels = new Set<Duplex>();

  constructor(pipeline: Pipeline, metrics: GatewayMetrics) {
    this.#pipeline = pipeline;
    this.#metrics = metrics;
  }

  refuse(ex: Exchange, code: ReasonCode): void {
    this.#pipeline.record(ex, 'deny', code);
    void this.#pipeline.durable(ex).then(() => writeRawRefusal(ex.socket!, code, ex.detail, ex.retryAfterSeconds));
  }

  forward(ex: Exchange): void {
    const client = ex.socket!;
    const headers = ex.headers!;
    if (headers.upgrade !== 'websocket' || ex.req.method !== 'GET') {
      ex.detail = 'only WebSocket upgrades (GET, Upgrade: websocket) are forwarded';
      return this.refuse(ex, 'request_ambiguous');
    }
    const binding = ex.binding!;
    const forwarded = this.#pipeline.upstreamHeaders(ex);
    poolOf(binding).upgrade(
      { path: binding.target.basePath + ex.resource + ex.query, method: 'GET', headers: forwarded, protocol: 'websocket' },
      (err, data) => {
        if (err !== null) {
          this.#metrics.upstreamErrors.inc({ service: ex.service!.name, kind: 'unreachable' });
          this.#pipeline.record(ex, 'allow', 'upstream_unreachable');
          void this.#pipeline.durable().then(() => writeRawRefusal(client, 'upstream_unreachable', null, null));
          return;
        }
        const upstream = data.socket;
        ex.upstreamStatus = 101;
        this.#pipeline.record(ex, 'allow', 'allowed');
        // The tunnel opens only once its event is durable, like any response completes.
        void this.#pipeline.durable().then((durable) => {
          if (client.destroyed) {
            upstream.destroy();
            this.#pipeline.release(ex);
            return;
          }
          if (!durable && !this.#pipeline.auditFailsOpen) {
            upstream.destroy();
            this.#pipeline.release(ex);
            writeRawRefusal(client, 'audit_unavailable', null, null);
            return;
          }
          client.write(handshake(data.headers));
          if (ex.head !== null && ex.head.length > 0) upstream.write(ex.head);
          this.#tunnel(ex, client, upstream);
        });
      },
    );
  }

  /** An open tunnel holds its token's and binding's in-flight slot until either side closes. */
  #tunnel(ex: Exchange, client: Duplex, upstream: Duplex): void {
    this.tunnels.add(client);
    const close = (): void => {
      this.#pipeline.release(ex);
      this.tunnels.delete(client);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}

function handshake(headers: IncomingHttpHeaders): string {
  let out = 'HTTP/1.1 101 Switching Protocols\r\n';
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) out += `${name}: ${item}\r\n`;
  }
  return `${out}\r\n`;
}
