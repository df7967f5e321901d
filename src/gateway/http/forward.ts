import { poolOf } from './connector.js';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { ReasonCode } from '../../errors/index.js';
import type { GatewayMetrics } from '../../core/metrics.js';
import type { Exchange, Outcome } from './exchange.js';
import type { Pipeline } from './pipeline.js';
import { writeRefusal } from './refusal.js';
import { responseHeaders } from './response-headers.js';
import { rateLimitFields, requestIdOf, rewriteUpstreamLinks } from './upstream-facing.js';

// The forward stage for plain HTTP: the canonical path (the upstream's base
// path + the normalized path + the query as sent), the filtered headers plus
// the upstream credential and the token's identity, streamed both ways over
// the binding's keep-alive pool.
//
// No response completes before its audit event is durable: the last body
// chunk (and, for a one-chunk answer, the status line) is held until the
// recorder says the event committed, so a crash cannot leave a served request
// unrecorded. With failMode `closed` and the log unwritable, a response not yet
// started becomes 503 `audit_unavailable`, one already streaming is cut.

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
 * One forwarded request, as an undici dispatch handler: body chunks are
 * written with backpressure (the upstream is paused while the client is slow),
 * one chunk behind, and the outcome is decided on the upstream's own error,
 * not on a stream's echo of it.
 */
class ForwardHandler implements Dispatcher.DispatchHandler {
  readonly #ex: Exchange;
  readonly #outcome: HttpOutcome;
  #controller: Dispatcher.DispatchController | null = null;
  #head: OutgoingHttpHeaders | null = null;
  #held: Buffer | null = null;
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
    this.#ex.upstreamStatus = statusCode;
    const head = responseHeaders(headers);
    rewriteUpstreamLinks(head, this.#ex);
    head['x-request-id'] = this.#ex.requestId!;
    const limits = rateLimitFields(this.#ex);
    if (limits !== null) {
      head['ratelimit-policy'] = limits.policy;
      head.ratelimit = limits.state;
    }
    this.#head = head;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const held = this.#held;
    this.#held = chunk;
    if (held === null) return;
    this.#sendHead();
    const res = this.#ex.res!;
    if (res.write(held)) return;
    // The client reads slower than the upstream sends: hold the upstream until it catches up.
    controller.pause();
    res.once('drain', () => controller.resume());
  }

  onResponseEnd(): void {
    this.#done = true;
    this.#outcome.complete(this.#ex, this);
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.#done = true;
    this.#outcome.finished(this.#ex, err);
  }

  /** Whether the client has been sent anything yet (a refusal can still replace the answer). */
  get started(): boolean {
    return this.#head === null;
  }

  #sendHead(): void {
    if (this.#head === null) return;
    this.#ex.res!.writeHead(this.#ex.upstreamStatus!, this.#head);
    this.#head = null;
  }

  release(): void {
    this.#sendHead();
    const held = this.#held;
    this.#held = null;
    if (held === null) this.#ex.res!.end();
    else this.#ex.res!.end(held);
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
    // Refused before its headers were read (routing): a new id, in the event and the answer alike.
    ex.requestId ??= requestIdOf(null);
    this.#pipeline.record(ex, 'deny', code);
    // A refusal allows nothing: it is sent once its event is durable, or at once if it cannot be.
    void this.#pipeline.durable(ex).then(() => this.#writeRefusal(ex, code, ex.detail, ex.retryAfterSeconds));
  }

  #writeRefusal(ex: Exchange, code: ReasonCode, detail: string | null, retryAfterSeconds: number | null): void {
    const res = ex.res!;
    if (res.headersSent || res.destroyed) return;
    writeRefusal(res, code, {
      detail, retryAfterSeconds, close: ex.hasBody && !ex.req.complete, requestId: ex.requestId ?? requestIdOf(null),
      ...(code === 'rate_limited' && { rateLimit: rateLimitFields(ex) }),
    });
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
      poolOf(binding).dispatch(
        {
          path: binding.target.basePath + ex.resource + ex.query,
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

  /** The upstream answered in full: record, wait until the event is durable, then complete the response. */
  complete(ex: Exchange, handler: ForwardHandler): void {
    this.#pipeline.record(ex, 'allow', 'allowed');
    void this.#pipeline.durable().then((durable) => {
      if (ex.res!.destroyed) return;
      if (durable || this.#pipeline.auditFailsOpen) return handler.release();
      this.#metrics.upstreamErrors.inc({ service: ex.service!.name, kind: 'audit_unavailable' });
      if (handler.started) ex.res!.destroy();
      else this.#writeRefusal(ex, 'audit_unavailable', null, null);
    });
  }

  finished(ex: Exchange, err: Error): void {
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
    this.#pipeline.record(ex, 'allow', failure);
    if (res.headersSent || res.destroyed) {
      // Part of the answer already went out: the only honest signal left is a truncated response.
      res.destroy();
      return;
    }
    const status = ex.upstreamStatus;
    void this.#pipeline.durable().then(() => {
      ex.upstreamStatus = null;
      this.#writeRefusal(ex, failure, null, null);
      ex.upstreamStatus = status;
    });
  }
}
