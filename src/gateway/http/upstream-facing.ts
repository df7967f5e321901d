import { randomBytes } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { OutgoingHttpHeader, OutgoingHttpHeaders } from 'node:http';
import type { Exchange } from './exchange.js';

// What the gateway tells each side about the other (issue 17): a request id
// on every request, response and audit event; the address the client used,
// for the upstream (X-Forwarded-Host, -Proto, -Prefix); and the upstream's
// redirects rewritten to that address, so `Location` never shows where the
// upstream really lives.

/** A client's own id is kept when it is one a log can hold safely: short, printable, no spaces. */
const WELL_FORMED_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;
/** Unique per process (random) and per request (a counter): no clock, no syscall per request. */
const PREFIX = randomBytes(6).toString('hex');
let sequence = 0;

export function requestIdOf(sent: string | null): string {
  if (sent !== null && WELL_FORMED_ID.test(sent)) return sent;
  sequence = (sequence + 1) % Number.MAX_SAFE_INTEGER;
  return `${PREFIX}-${sequence.toString(36)}`;
}

function protoOf(ex: Exchange): 'https' | 'http' {
  return (ex.req.socket as TLSSocket).encrypted === true ? 'https' : 'http';
}

/** X-Request-Id and the X-Forwarded-* fields the upstream builds its own links from. */
export function pushForwardedFields(forwarded: string[], ex: Exchange): void {
  forwarded.push('x-request-id', ex.requestId!, 'x-forwarded-proto', protoOf(ex), 'x-forwarded-prefix', `/${ex.service!.name}`);
  const host = ex.headers!.host;
  if (host !== null) forwarded.push('x-forwarded-host', host);
}

/**
 * `Location` and `Content-Location` pointing into the binding's upstream
 * (absolute, or a path under its base) are rewritten to the gateway's own
 * address for the service; any other value is left as the upstream sent it.
 */
export function rewriteUpstreamLinks(head: OutgoingHttpHeaders, ex: Exchange): void {
  const links = head as Record<string, OutgoingHttpHeader | undefined>;
  for (const field of ['location', 'content-location']) {
    const value = links[field];
    if (typeof value === 'string') links[field] = rewritten(value, ex);
    // Sent more than once (undici gives an array): each one, so that none shows the upstream's address.
    else if (Array.isArray(value)) links[field] = value.map((link) => rewritten(link, ex));
  }
}

function rewritten(link: string, ex: Exchange): string {
  const target = ex.binding!.target;
  const prefix = `/${ex.service!.name}`;
  const underBase = (path: string) => target.basePath === '' || path === target.basePath || path.startsWith(`${target.basePath}/`) || path.startsWith(`${target.basePath}?`);
  if (link.startsWith('/') && !link.startsWith('//')) {
    return underBase(link) ? `${prefix}${link.slice(target.basePath.length)}` : link;
  }
  let url: URL;
  try {
    url = new URL(link);
  } catch {
    return link;
  }
  if (target.socketPath !== null || url.origin !== target.origin) return link;
  const path = `${url.pathname}${url.search}${url.hash}`;
  if (!underBase(url.pathname)) return link;
  const host = ex.headers!.host;
  const rest = `${prefix}${path.slice(target.basePath.length)}`;
  return host === null ? rest : `${protoOf(ex)}://${host}${rest}`;
}

/**
 * The IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers) for a token
 * with a rate: its policy (quota per window) and what is left now (`r`
 * requests, full again in `t` seconds). Tokens without a rate get none.
 */
export function rateLimitFields(ex: Exchange): { policy: string; state: string } | null {
  const rate = ex.entry?.limits?.rate ?? null;
  if (rate === null) return null;
  const policy = `"default";q=${rate.count};w=${Math.max(1, Math.ceil(rate.periodMs / 1000))}`;
  if (ex.retryAfterSeconds !== null && ex.rateBacklogMs === null) return { policy, state: `"default";r=0;t=${ex.retryAfterSeconds}` };
  if (ex.rateBacklogMs === null) return null;
  const interval = rate.periodMs / rate.count;
  const remaining = Math.max(0, Math.floor((rate.periodMs - ex.rateBacklogMs) / interval));
  return { policy, state: `"default";r=${remaining};t=${Math.ceil(ex.rateBacklogMs / 1000)}` };
}
