import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

// The upstream's response headers as the client gets them: connection-specific
// fields (RFC 9110 §7.6.1) belong to the upstream hop and are dropped; Node
// frames the client's response itself.

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'transfer-encoding', 'upgrade', 'trailer']);

export function responseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    if (HOP_BY_HOP.has(name)) continue;
    const value = headers[name];
    if (value !== undefined) out[name] = value;
  }
  const connection = headers.connection;
  if (connection !== undefined) {
    for (const part of connection.split(',')) {
      const field = part.trim().toLowerCase();
      if (field !== '') delete out[field];
    }
  }
  return out;
}
