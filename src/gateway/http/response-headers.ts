import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

// The upstream's response headers as the client gets them: connection-specific
// fields (RFC 9110 §7.6.1) belong to the upstream hop and are dropped; Node
// frames the client's response itself.

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'transfer-encoding', 'upgrade', 'trailer']);

export function responseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  // undici gives a field sent more than once as an array, Connection included (typed as a string).
  const connection = headers.connection as string | readonly string[] | undefined;
  const nominated = nominatedFields(typeof connection === 'string' || connection === undefined ? connection : connection.join(','));
  const out: OutgoingHttpHeaders = {};
  // Fields are left out, never deleted afterwards: a delete turns the object into a slow dictionary for writeHead.
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || nominated?.has(name) === true) continue;
    const value = headers[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/**
 * The fields `Connection` names beyond the hop-by-hop ones (lower-cased, as
 * Node gives response header names); null when none, as for the usual
 * `keep-alive` or `close`.
 */
function nominatedFields(connection: string | undefined): Set<string> | null {
  if (connection === undefined) return null;
  let nominated: Set<string> | null = null;
  for (const part of connection.split(',')) {
    const field = part.trim().toLowerCase();
    if (field !== '' && field !== 'close' && !HOP_BY_HOP.has(field)) (nominated ??= new Set()).add(field);
  }
  return nominated;
}
