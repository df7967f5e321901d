import type { ServerResponse } from 'node:http';
import { REASONS, type ReasonCode } from '../errors/index.js';

// A refusal of an MCP request is a JSON-RPC error, never a dropped
// connection: `error.data.reason` carries the reason code, and the HTTP
// status is the registry's (so a client that only reads statuses still sees
// 401, 403, 429 ...). A refused batch gets one error per request in it.

/** JSON-RPC codes: -32700 and -32600 for a body that is not JSON-RPC, -32001 for every refusal of the gateway. */
export const RPC_PARSE_ERROR = -32700;
export const RPC_INVALID_REQUEST = -32600;
export const RPC_REFUSED = -32001;

export interface RefusalTarget {
  /** The ids of the requests refused; [null] when none could be read. */
  readonly ids: readonly (string | number | null)[];
  readonly batch: boolean;
  readonly rpcCode: number;
}

export function refusalBody(code: ReasonCode, detail: string | null, target: RefusalTarget): Buffer {
  const message = detail === null ? REASONS[code].message : `${REASONS[code].message}: ${detail}`;
  const errors = target.ids.map((id) => ({ jsonrpc: '2.0', id, error: { code: target.rpcCode, message, data: { reason: code, ...(detail !== null && { detail }) } } }));
  return Buffer.from(JSON.stringify(target.batch ? errors : errors[0]));
}

export function writeMcpRefusal(res: ServerResponse, code: ReasonCode, detail: string | null, retryAfterSeconds: number | null, target: RefusalTarget, close: boolean): void {
  if (res.headersSent || res.destroyed) return;
  const body = refusalBody(code, detail, target);
  const status = REASONS[code].status;
  const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': body.length, 'cache-control': 'no-store' };
  if (status === 401) headers['www-authenticate'] = 'Bearer realm="latchkey"';
  if (retryAfterSeconds !== null) headers['retry-after'] = retryAfterSeconds;
  if (close) headers.connection = 'close';
  res.writeHead(status, headers);
  res.end(body);
}
