import { Transform, type TransformCallback } from 'node:stream';
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { ReasonCode } from '../../errors/index.js';
import type { GatewayMetrics } from '../metrics.js';
import type { Exchange, Outcome } from './exchange.js';
import type { Pipeline } from './pipeline.js';
import { writeRefusal } from './refusal.js';
import { responseHeaders } from './response-headers.js';

// The forward stage for plain HTTP: the canonical path (the upstream's base
// path + the normalized path + the query as sent), the filtered headers plus
// the upstream credential and the token's identity, streamed both ways over
// the binding's keep-alive pool.

class BodyTooLarge extends Error {
  constructor() {
    super('request body larger than the service allows');
  }
}

/** Counts a chunked body as it streams; past the limit the upload is aborted and the client gets 413. */
class BodyLimit extends Transform {
  #left: number;
  readonly #ex: Exchange;

  constructor(limit: number, ex: Exchange) {
    super();
    this.#left = limit;
    this.#ex = ex;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#left -= chunk.length;
    if (this.#left < 0) {
      this.#ex.bodyTooLarge = true;
      callback(new BodyTooLarge());
      return;
    }
    callback(null, chunk);
  }
}

/** The client closed its connection before the response was complete. */
class ClientAborted extends Error {
  constructor() {
    super('the client closed the connection');
  }
}

/**
 * One forwarded request, as an undici dispatch handler: response headers go
 * to the client as they arrive, body chunks are written with backpressure
 * (the upstream is paused while the client is slow), and the outcome is
 * decided on the upstream's own error, not on a stream's echo of it.
 */
class ForwardHandler implements Dispatcher.DispatchHandler {
  readonly #ex: Exchange;
  readonly #outcome: HttpOutcome;
  #controller: Dispatcher.DispatchController | null = null;
  #done = false;

  constructor(ex: Exchange, outcome: HttpOutcome) {
    this.#ex = ex;
    this.#outcome = outcome;
    ex.res!.once('close', () => {
      if (!this.#done) this.#controller?.abort(new ClientAborted());
    });
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#ex.res!.destroyed) controller.abort(new ClientAborted());
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    // 1xx are hop-by-hop: Node answers the client's Expect itself.
    if (statusCode < 200) return;
    const res = this.#ex.res!;
    this.#ex.upstreamStatus = statusCode;
    res.writeHead(statusCode, responseHeaders(headers));
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const res = this.#ex.res!;
    if (res.write(chunk)) return;
    // The client reads slower than the upstream sends: hold the upstream until it catches up.
    controller.pause();
    res.once('drain', () => controller.resume());
  }

  onResponseEnd(): void {
    this.#done = true;
    this.#ex.res!.end();
    this.#outcome.finished(this.#ex, null);
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.#done = true;
    this.#outcome.finished(this.#ex, err);
  }
}

type Failure = 'upstream_timeout' | 'upstream_unreachable' | 'client_aborted';

function classify(err: Error & { code?: string }): Failure {
  if (err instanceof ClientAborted) return 'client_aborted';
  switch (err.code) {
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return 'upstream_timeout';
    default:
      return 'upstream_unreachable';
  }
}

const FAILURE_KIND: Record<Failure, string> = { upstream_timeout: 'timeout', upstream_unreachable: 'unreachable', client_aborted: 'client_aborted' };

export class HttpOutcome implements Outcome {
  readonly #pipeline: Pipeline;
  readonly #metrics: GatewayMetrics;

  constructor(pipeline: Pipeline, metrics: GatewayMetrics) {
    this.#pipeline = pipeline;
    this.#metrics = metrics;
  }

  refuse(ex: Exchange, code: ReasonCode): void {
    const res = ex.res!;
    this.#pipeline.record(ex, 'deny', code);
    if (res.headersSent || res.destroyed) return;
    writeRefusal(res, code, { detail: ex.detail, retryAfterSeconds: ex.retryAfterSeconds, close: ex.hasBody });
  }

  forward(ex: Exchange): void {
    const binding = ex.binding!;
    const headers = ex.headers!;
    const forwarded = this.#pipeline.upstreamHeaders(ex);
    let body: Readable | null = null;
    if (headers.chunked) {
      const limit = new BodyLimit(ex.service!.maxBodyBytes, ex);
      ex.req.on('error', (err) => limit.destroy(err));
      body = ex.req.pipe(limit);
    } else if (headers.contentLength > 0) body = ex.req;
    if (ex.expectsContinue && body !== null) ex.res!.writeContinue();
    try {
      binding.pool.dispatch(
        {
          path: binding.target.basePath + ex.path + ex.query,
          method: ex.req.method as Dispatcher.HttpMethod,
          headers: forwarded,
          body,
        },
        new ForwardHandler(ex, this),
      );
    } catch (err) {
      // undici refuses some requests synchronously (a pool closed by a reload, an argument it rejects).
      this.finished(ex, err as Error);
    }
  }

  finished(ex: Exchange, err: Error | null): void {
    if (err === null) return this.#pipeline.record(ex, 'allow', 'allowed');
    const res = ex.res!;
    if (ex.bodyTooLarge) {
      this.#metrics.upstreamErrors.inc({ service: ex.service!.name, kind: 'body_too_large' });
      if (!res.headersSent && !res.destroyed) return this.refuse(ex, 'body_too_large');
      res.destroy();
      return this.#pipeline.record(ex, 'deny', 'body_too_large');
    }
    const failure = classify(err);
    this.#metrics.upstreamErrors.inc({ service: ex.service!.name, kind: FAILURE_KIND[failure] });
    // A client that went away was served as far as it wanted; the decision stands.
    if (failure === 'client_aborted') return this.#pipeline.record(ex, 'allow', 'allowed');
    if (!res.headersSent && !res.destroyed) {
      const status = ex.upstreamStatus;
      ex.upstreamStatus = null;
      writeRefusal(res, failure, { detail: null, retryAfterSeconds: null, close: ex.hasBody && !ex.req.complete });
      ex.upstreamStatus = status;
    } else {
      // Headers already went out: the only honest signal left is a truncated response.
      res.destroy();
    }
    this.#pipeline.record(ex, 'allow', failure);
  }
}
