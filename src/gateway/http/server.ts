import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { UNKNOWN_SERVICE_LABEL, type GatewayMetrics } from '../../core/metrics.js';
import { Exchange } from './exchange.js';
import type { HttpOutcome } from './forward.js';
import type { Pipeline } from './pipeline.js';
import { rawResponse } from './refusal.js';
import type { ServiceLocator } from './route.js';
import type { UpgradeOutcome } from './websocket.js';

export interface ServerLimits {
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxHeaderBytes: number;
  /** Header fields per request; one more is refused. */
  readonly maxHeaders: number;
}

export interface ListenerParts {
  readonly pipeline: Pipeline;
  readonly http: HttpOutcome;
  readonly upgrade: UpgradeOutcome;
  readonly metrics: GatewayMetrics;
  readonly clock: () => number;
  readonly limits: ServerLimits;
}

/**
 * A gateway listener on plain node:http with strict parsing (never the
 * insecure parser: requests with both Content-Length and Transfer-Encoding,
 * conflicting lengths, obsolete folding or bare CR/LF are rejected by llhttp
 * before any of our code runs), bounded headers, and timeouts that a slow
 * client cannot hold open.
 */
export function createListener(locate: ServiceLocator, parts: ListenerParts): Server {
  const { limits } = parts;
  const server = createServer({
    insecureHTTPParser: false,
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // Timeouts are only enforced when this check runs; the default (30 s) would let a slow client linger.
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
    requireHostHeader: true,
    joinDuplicateHeaders: false,
    noDelay: true,
  });
  // One more than allowed, so that a request at the cap is seen (Node drops the rest silently).
  server.maxHeadersCount = limits.maxHeaders + 1;

  const onRequest = (expectsContinue: boolean) => (req: IncomingMessage, res: ServerResponse) => {
    const ex = new Exchange(req, res, null, null, parts.clock(), performance.now(), expectsContinue);
    parts.pipeline.run(ex, locate, parts.http);
  };
  server.on('request', onRequest(false));
  // Ask for the body only once the request is allowed: a refused client never uploads it.
  server.on('checkContinue', onRequest(true));
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const ex = new Exchange(req, null, socket, head, parts.clock(), performance.now(), false);
    socket.on('error', () => socket.destroy());
    parts.pipeline.run(ex, locate, parts.upgrade);
  });
  // Node would answer any Expect other than 100-continue with a bare 417 of its own; answer it here, and audit it.
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    parts.metrics.clientErrors.inc({ kind: 'expectation' });
    // Like every answer of the gateway: only once its event is durable.
    void parts.pipeline.recordListenerRefusal(req.socket.remoteAddress, req.method ?? '', auditedTarget(req.url), 'invalid_request').then(() => {
      if (res.destroyed) return;
      res.writeHead(417, { 'content-type': 'application/json', 'content-length': EXPECTATION_FAILED.length, 'cache-control': 'no-store', connection: 'close' });
      res.end(EXPECTATION_FAILED);
    });
  });
  // CONNECT would make the gateway a tunnel to anywhere; without this listener Node drops the connection unanswered.
  server.on('connect', (req: IncomingMessage, socket: Duplex) => {
    parts.metrics.requests.inc({ service: UNKNOWN_SERVICE_LABEL, decision: 'deny', reason: 'request_ambiguous' });
    const recorded = parts.pipeline.recordListenerRefusal(req.socket.remoteAddress, 'CONNECT', auditedTarget(req.url), 'request_ambiguous');
    socket.on('error', () => socket.destroy());
    socket.once('finish', () => socket.destroy());
    void recorded.then(() => {
      if (socket.writable) socket.end(CONNECT_REFUSED);
      else socket.destroy();
    });
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const code = err.code ?? 'unknown';
    const kind = clientErrorKind(code);
    parts.metrics.clientErrors.inc({ kind });
    // A reset is the client leaving, not a refusal; the rest are answered (400, 408, 431) and audited, folded like any refusal before a token.
    const recorded = code === 'ECONNRESET' ? null : parts.pipeline.recordListenerRefusal((socket as Socket).remoteAddress, '', `(${kind})`, 'invalid_request');
    const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (recorded === null || !socket.writable || inFlight?.headersSent === true) {
      socket.destroy();
      return;
    }
    socket.once('finish', () => socket.destroy());
    void recorded.then(() => {
      if (socket.writable) socket.end(clientErrorResponse(code));
      else socket.destroy();
    });
  });
  return server;
}

function clientErrorKind(code: string): string {
  if (code === 'HPE_HEADER_OVERFLOW') return 'header_overflow';
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 'timeout';
  if (code === 'ECONNRESET') return 'reset';
  return 'malformed';
}

/** The request target as audited: no query (it may hold a secret); the recorder bounds the length. */
function auditedTarget(url: string | undefined): string {
  const target = url ?? '';
  const question = target.indexOf('?');
  return question < 0 ? target : target.slice(0, question);
}

const EXPECTATION_FAILED = Buffer.from(JSON.stringify({ error: 'invalid_request', message: 'only Expect: 100-continue is supported' }));
const CONNECT_REFUSED = rawResponse(403, 'Forbidden', 'request_ambiguous', 'CONNECT is not forwarded');
const OVERFLOW = rawResponse(431, 'Request Header Fields Too Large', 'invalid_request', 'the request headers are larger than allowed');
const TIMEOUT = rawResponse(408, 'Request Timeout', 'invalid_request', 'the request was not received in time');
const MALFORMED = rawResponse(400, 'Bad Request', 'invalid_request', 'the request is not well-formed HTTP/1.1');

function clientErrorResponse(code: string): Buffer {
  if (code === 'HPE_HEADER_OVERFLOW') return OVERFLOW;
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return TIMEOUT;
  return MALFORMED;
}
