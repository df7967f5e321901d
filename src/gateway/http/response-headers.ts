import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { HOP_BY_HOP, nominatedFields } from './connection-field.js';

// The upstream's response headers as the client gets them: connection-specific
// fields (RFC 9110 §7.6.1) belong to the upstream hop and are dropped; Node
// frames the client's response itself.

export function responseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  // undici gives a field sent more than once as an array, Connection included (typed as a string).
  const connection = headers.connection as string | readonly string[] | undefined;
  const nominated = connection === undefined ? null : nominatedFields(typeof connection === 'string' ? connection : connection.join(','));
  const out: OutgoingHttpHeaders = {};
  // Fields are left out, never deleted afterwards: a delete turns the object into a slow dictionary for writeHead.
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || nominated?.has(name) === true) continue;
    const value = headers[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}
