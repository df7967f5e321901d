import type { IncomingHttpHeaders } from 'node:http';
import type { JsonRpcMessage } from './messages.js';

// The 2026-07-28 mirrored headers: Mcp-Method (the method), Mcp-Name (the
// tool or prompt name, or the resource URI) and Mcp-Param-<name> (a tool
// argument). They let an intermediary route without reading the body, and
// anything that does read it must refuse a request where they disagree: the
// gateway authorizes the body, so a header that says otherwise is an attempt
// to make something downstream see another request.

const PARAM_PREFIX = 'mcp-param-';

function one(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

function nameOf(message: JsonRpcMessage): string | undefined {
  const params = message.params;
  const value = message.method === 'resources/read' || message.method === 'resources/subscribe' || message.method === 'resources/unsubscribe' ? params?.uri : params?.name;
  return typeof value === 'string' ? value : undefined;
}

/** Why the mirrored headers disagree with the body, or null when they agree (or there are none). */
export function checkMirroredHeaders(headers: IncomingHttpHeaders, messages: readonly JsonRpcMessage[], batch: boolean): string | null {
  const method = one(headers['mcp-method']);
  const name = one(headers['mcp-name']);
  const params = Object.keys(headers).filter((header) => header.startsWith(PARAM_PREFIX));
  if (method === undefined && name === undefined && params.length === 0) return null;
  if (batch) return 'Mcp-Method, Mcp-Name and Mcp-Param-* describe one message; a batch cannot carry them';
  const message = messages[0]!;
  if (method !== undefined && method !== message.method) return `Mcp-Method ${JSON.stringify(method.slice(0, 64))} is not the body's method`;
  if (name !== undefined && name !== nameOf(message)) return `Mcp-Name ${JSON.stringify(name.slice(0, 64))} is not the body's name`;
  const args = message.method === 'tools/call' ? (message.params?.arguments as Record<string, unknown> | undefined) : undefined;
  for (const header of params) {
    const wanted = header.slice(PARAM_PREFIX.length);
    const argument = args === undefined ? undefined : Object.keys(args).find((key) => key.toLowerCase() === wanted);
    const value = argument === undefined ? undefined : args![argument];
    const text = typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : undefined;
    if (text === undefined || text !== one(headers[header])) return `header ${header} does not match the argument in the body`;
  }
  return null;
}
