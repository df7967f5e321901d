import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ReasonCode } from '../../errors/index.js';
import { DecisionContext } from '../../core/decision.js';
import type { ScannedHeaders } from './request-headers.js';

/**
 * One HTTP request on its way through the pipeline: the core's decision
 * context, plus what only HTTP has (the request, the response or upgraded
 * socket, the scanned headers, the folded path segments, the query).
 */
export class Exchange extends DecisionContext {
  readonly req: IncomingMessage;
  /** Null for an upgrade: its answer is written on `socket`. */
  readonly res: ServerResponse | null;
  readonly socket: Duplex | null;
  readonly head: Buffer | null;
  /** The client sent `Expect: 100-continue`: the body is asked for only once the request is allowed. */
  readonly expectsContinue: boolean;
  /** The path's segments as authorized: decoded and folded for the service's path matching. */
  segments: readonly string[] = [];
  /** `?...` exactly as sent, or ''. */
  query = '';
  headers: ScannedHeaders | null = null;
  bodyTooLarge = false;
  /** The method and target decided on: the request line's, or (forward-auth) the original request's, as a trusted proxy reports them. */
  readonly method: string;
  readonly target: string;

  constructor(
    req: IncomingMessage,
    res: ServerResponse | null,
    socket: Duplex | null,
    head: Buffer | null,
    time: number,
    startedAt: number,
    expectsContinue: boolean,
    original?: { readonly method: string; readonly target: string },
  ) {
    const method = original?.method ?? req.method ?? '';
    // The peer is read at arrival: Node detaches the socket from the request once it is answered.
    super(time, startedAt, req.socket.remoteAddress, method);
    this.method = method;
    this.target = original?.target ?? req.url ?? '';
    this.req = req;
    this.res = res;
    this.socket = socket;
    this.head = head;
    this.expectsContinue = expectsContinue;
  }

  /** The request carries a body the gateway has not read. */
  get hasBody(): boolean {
    const headers = this.headers;
    if (headers === null) return this.req.headers['content-length'] !== undefined || this.req.headers['transfer-encoding'] !== undefined;
    return headers.chunked || headers.contentLength > 0;
  }
}

/** How a request leaves the pipeline: an HTTP response, or a raw answer on an upgraded socket. */
export interface Outcome {
  refuse(ex: Exchange, code: ReasonCode): void;
  forward(ex: Exchange): void;
}
