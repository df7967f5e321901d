import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { REASONS, type ReasonCode } from '../../errors/index.js';

// Refusals are JSON `{"error": code, "message": ...}` with the registry's
// status. The message is the registry's (or a short detail that describes the
// request, never the token store), so no answer reveals whether some other
// token exists.

const BODIES = new Map<ReasonCode, Buffer>();
for (const code of Object.keys(REASONS) as ReasonCode[]) {
  BODIES.set(code, Buffer.from(JSON.stringify({ error: code, message: REASONS[code].message })));
}

function bodyOf(code: ReasonCode, detail: string | null): Buffer {
  return detail === null ? BODIES.get(code)! : Buffer.from(JSON.stringify({ error: code, message: `${REASONS[code].message}: ${detail}` }));
}

export interface RefusalOptions {
  readonly detail: string | null;
  readonly retryAfterSeconds: number | null;
  /** Close the connection after answering (the request body was not read). */
  readonly close: boolean;
  /** Sent back as X-Request-Id, so a refusal can be found in the audit trail. */
  readonly requestId?: string;
  /** RateLimit-Policy and RateLimit, on a rate_limited answer. */
  readonly rateLimit?: { readonly policy: string; readonly state: string } | null;
}

export function writeRefusal(res: ServerResponse, code: ReasonCode, options: RefusalOptions): void {
  const body = bodyOf(code, options.detail);
  const status = REASONS[code].status;
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': body.length,
    'cache-control': 'no-store',
  };
  if (status === 401) headers['www-authenticate'] = 'Bearer realm="latchkey"';
  if (options.retryAfterSeconds !== null) headers['retry-after'] = options.retryAfterSeconds;
  if (options.close) headers.connection = 'close';
  if (options.requestId !== undefined) headers['x-request-id'] = options.requestId;
  if (options.rateLimit != null) {
    headers['ratelimit-policy'] = options.rateLimit.policy;
    headers.ratelimit = options.rateLimit.state;
  }
  res.writeHead(status, headers);
  res.end(body);
}

/** The same answer written on a raw socket: upgrade requests and connections Node rejected. */
export function rawResponse(status: number, statusText: string, code: string, message: string, extra: readonly string[] = []): Buffer {
  const body = JSON.stringify({ error: code, message });
  const lines = [
    `HTTP/1.1 ${status} ${statusText}`,
    'content-type: application/json',
    `content-length: ${Buffer.byteLength(body)}`,
    'cache-control: no-store',
    'connection: close',
    ...extra,
  ];
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`);
}

export function writeRawRefusal(socket: Duplex, code: ReasonCode, detail: string | null, retryAfterSeconds: number | null): void {
  const status = REASONS[code].status;
  const message = detail === null ? REASONS[code].message : `${REASONS[code].message}: ${detail}`;
  const extra: string[] = [];
  if (status === 401) extra.push('www-authenticate: Bearer realm="latchkey"');
  if (retryAfterSeconds !== null) extra.push(`retry-after: ${retryAfterSeconds}`);
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  // Whatever the client sends next is not read: close once the answer is out.
  socket.once('finish', () => socket.destroy());
  socket.end(rawResponse(status, STATUS_TEXT[status] ?? 'Error', code, message, extra));
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  413: 'Content Too Large',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export function statusText(status: number): string {
  return STATUS_TEXT[status] ?? 'Error';
}
