import { Transform, type TransformCallback } from 'node:stream';
import type { Readable, Writable } from 'node:stream';
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

function classify(err: Error & { code?: string }): { reason: ReasonCode; kind: string } {
  switch (err.code) {
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return { reason: 'upstream_timeout', kind: 'timeout' };
    default:
      return { reason: 'upstream_unreachable', kind: 'unreachable' };
  }
}

export class HttpOutcome implements Outcome {
  readonly #pipeline: Pipeline;
  readonly #metrics: GatewayMetrics;
  readonly #factory: Dispatcher.StreamFactory<Exchange>;
  readonly #done: (err: Error | null, data: Dispatcher.StreamData<Exchange>) => void;

  constructor(pipeline: Pipeline, metrics: GatewayMetrics) {
    this.#pipeline = pipeline;
    this.#metrics = metrics;
    // Bound once, shared by every request: the exchange travels as undici's opaque.
    this.#factory = ({ statusCode, headers, opaque }): Writable => {
      opaque.upstreamStatus = statusCode;
      const res = opaque.res!;
      res.writeHead(statusCode, responseHeaders(headers));
      return res;
    };
    this.#done = (err, data) => this.#finished(data.opaque, err);
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
    const forwarded = headers.forward;
    const credential = binding.credential;
    if (credential !== null) forwarded.push(credential.header, credential.value);
    const identity = ex.entry!.identity;
    for (let i = 0; i < identity.length; i++) forwarded.push(identity[i]!);
    let body: Readable | null = null;
    if (headers.chunked) {
      const limit = new BodyLimit(ex.service!.maxBodyBytes, ex);
      ex.req.on('error', (err) => limit.destroy(err));
      body = ex.req.pipe(limit);
    } else if (headers.contentLength > 0) body = ex.req;
    if (ex.expectsContinue && body !== null) ex.res!.writeContinue();
    binding.pool.stream(
      {
        path: binding.target.basePath + ex.path + ex.query,
        method: ex.req.method as Dispatcher.HttpMethod,
        headers: forwarded,
        body,
        opaque: ex,
      },
      this.#factory,
      this.#done,
    );
  }

  #finished(ex: Exchange, err: Error | null): void {
    if (err === null) return this.#pipeline.record(ex, 'allow', 'allowed');
    const res = ex.res!;
    if (ex.bodyTooLarge) {
      this.#metrics.upstreamErrors.inc({ service: ex.service!.name, kind: 'body_too_large' });
      if (!res.headersSent && !res.destroyed) return this.refuse(ex, 'body_too_large');
      res.destroy();
      return this.#pipeline.record(ex, 'deny', 'body_too_large');
    }
    if (res.destroyed || ex.req.destroyed) {
      // The client went away; undici aborted the upstream request for it.
      this.#metrics.upstreamErrors.inc({ service: ex.service!.name, kind: 'client_aborted' });
      return this.#pipeline.record(ex, 'allow', 'allowed');
    }
    const { reason, kind } = classify(err);
    this.#metrics.upstreamErrors.inc({ service: ex.service!.name, kind });
    if (!res.headersSent) {
      const status = ex.upstreamStatus;
      ex.upstreamStatus = null;
      writeRefusal(res, reason, { detail: null, retryAfterSeconds: null, close: ex.hasBody && !ex.req.complete });
      ex.upstreamStatus = status;
    } else {
      // Headers already went out: the only honest signal left is a truncated response.
      res.destroy();
    }
    this.#pipeline.record(ex, 'allow', reason);
  }
}
