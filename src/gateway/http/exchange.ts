import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ReasonCode } from '../../errors/index.js';
import type { TokenEntry } from '../../core/tokens/token-entry.js';
import type { BindingRoute, ServiceRoute } from '../../core/services/service-table.js';
import type { ScannedHeaders } from './request-headers.js';

/**
 * One request on its way through the pipeline. A class (not an object literal)
 * so every request has the same shape, and each stage fills in what it learned
 * for the next stage, the forwarder and the audit event.
 */
export class Exchange {
  readonly req: IncomingMessage;
  /** Null for an upgrade: its answer is written on `socket`. */
  readonly res: ServerResponse | null;
  readonly socket: Duplex | null;
  readonly head: Buffer | null;
  /** performance.now() at arrival, for latency. */
  readonly startedAt: number;
  /** Clock time at arrival, for checks and the audit event. */
  readonly time: number;
  /** The client sent `Expect: 100-continue`: the body is asked for only once the request is allowed. */
  readonly expectsContinue: boolean;
  /** The socket peer, read at arrival: Node detaches the socket from the request once it is answered. */
  readonly peer: string | undefined;
  /** The method authorized and audited: the one sent, or the one a method override names. */
  action: string;
  /** How the method was overridden (`POST with X-HTTP-Method-Override`), for the audit; null when it was not. */
  override: string | null = null;
  service: ServiceRoute | null = null;
  binding: BindingRoute | null = null;
  /** Canonical path relative to the service, or for early refusals a bounded copy of the raw target. */
  path = '';
  segments: readonly string[] = [];
  /** `?...` exactly as sent, or ''. */
  query = '';
  headers: ScannedHeaders | null = null;
  /** The client address (socket, or X-Forwarded-For from a trusted proxy), resolved on first use. */
  client: string | null = null;
  entry: TokenEntry | null = null;
  /** Set for a honeytoken: audited under its id, answered as an unknown token. */
  honeyId: string | null = null;
  matched: string | null = null;
  detail: string | null = null;
  retryAfterSeconds: number | null = null;
  upstreamStatus: number | null = null;
  bodyTooLarge = false;
  recorded = false;
  /** Holds an in-flight slot of its token and binding (the concurrency stage); given back once, by Pipeline.release. */
  holdsSlot = false;
  /** Its refusal was folded into an earlier event of the same (service, reason, client). */
  folded = false;

  constructor(req: IncomingMessage, res: ServerResponse | null, socket: Duplex | null, head: Buffer | null, time: number, startedAt: number, expectsContinue: boolean) {
    this.req = req;
    this.res = res;
    this.socket = socket;
    this.head = head;
    this.time = time;
    this.startedAt = startedAt;
    this.expectsContinue = expectsContinue;
    this.peer = req.socket.remoteAddress;
    this.action = req.method ?? '';
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
