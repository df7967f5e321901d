// JSON-RPC 2.0 framing of a Streamable HTTP POST body: one message or (2025
// clients) a batch. Only the shape is checked here; what a message may do is
// methods.ts's question. Anything that is not plainly JSON-RPC is refused
// before a token's permissions are consulted, and never forwarded.

/** More messages than this in one batch are refused whole: no client needs them, and each is authorized and audited. */
export const MAX_BATCH = 100;
/** Method names are short words with `/`: anything else is refused, not forwarded for the upstream to interpret. */
const METHOD_NAME = /^[A-Za-z][A-Za-z0-9_\-./]{0,127}$/;

export interface JsonRpcMessage {
  /** Undefined for a notification and for the client's answer to a server request. */
  readonly method: string | undefined;
  readonly id: string | number | null | undefined;
  readonly params: Readonly<Record<string, unknown>> | undefined;
  /** The message's JSON text length, for the audit (bounded by the body limit). */
  readonly bytes: number;
}

export type ParsedBody =
  | { readonly ok: true; readonly messages: readonly JsonRpcMessage[]; readonly batch: boolean }
  | { readonly ok: false; readonly rpcCode: -32700 | -32600; readonly detail: string };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function messageOf(value: unknown): JsonRpcMessage | string {
  if (!isObject(value)) return 'a JSON-RPC message must be an object';
  if (value.jsonrpc !== '2.0') return 'jsonrpc must be "2.0"';
  const id = value.id;
  if (id !== undefined && id !== null && typeof id !== 'string' && typeof id !== 'number') return 'id must be a string, a number or null';
  const params = value.params;
  if (params !== undefined && !isObject(params)) return 'params must be an object';
  const method = value.method;
  const bytes = 0;
  if (method === undefined) {
    // The client's answer to a request of the server (sampling, elicitation, roots).
    if (!('result' in value) && !('error' in value)) return 'a message needs a method, or a result or error answering the server';
    if (id === undefined || id === null) return 'an answer to the server needs its id';
    return { method: undefined, id, params: undefined, bytes };
  }
  if (typeof method !== 'string') return 'method must be a string';
  if (!METHOD_NAME.test(method)) return `method ${JSON.stringify(method.slice(0, 64))} has characters no MCP method has`;
  return { method, id, params, bytes };
}

/** Parses a POST body. A batch larger than MAX_BATCH, empty, or with one bad message is refused whole. */
export function parseMessages(body: Buffer): ParsedBody {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    return { ok: false, rpcCode: -32700, detail: 'the body is not JSON' };
  }
  const batch = Array.isArray(value);
  const items: unknown[] = batch ? (value as unknown[]) : [value];
  if (items.length === 0) return { ok: false, rpcCode: -32600, detail: 'an empty batch' };
  if (items.length > MAX_BATCH) return { ok: false, rpcCode: -32600, detail: `a batch of ${items.length} messages; at most ${MAX_BATCH} are accepted` };
  const messages: JsonRpcMessage[] = [];
  for (let index = 0; index < items.length; index++) {
    const message = messageOf(items[index]);
    if (typeof message === 'string') return { ok: false, rpcCode: -32600, detail: batch ? `message ${index}: ${message}` : message };
    messages.push({ ...message, bytes: batch ? JSON.stringify(items[index]).length : body.length });
  }
  return { ok: true, messages, batch };
}
