import type { ServiceRoute } from '../../core/services/service-table.js';
import { nominatedFields } from './connection-field.js';

// One pass over the client's raw headers: find the token, refuse headers the
// gateway will not interpret, and build the list forwarded upstream (without
// hop-by-hop headers, the client's credentials or any X-Latchkey-* header).
//
// CGI, WSGI, Rack and PHP read a header as HTTP_<NAME> with `-` turned into `_`
// (Apache and lighttpd turn every character but letters and digits into `_`), so
// `X_Real_IP` or `X.Latchkey.Token.Id` would arrive as the very key of a header
// the gateway strips or states itself. A name with any character other than
// letters, digits and `-` is dropped by default, as nginx does
// (`underscores_in_headers off`); per service it can be refused or allowed, and
// when allowed, a name whose CGI spelling is one the gateway controls is still dropped.

/** RFC 9110 §7.6.1 connection-specific fields, plus fields only the gateway may set. */
const NEVER_FORWARDED = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'transfer-encoding',
  'upgrade',
  'trailer',
  'host',
  // Node answers `Expect: 100-continue` itself; the upstream must not wait for a second one.
  'expect',
  // A credential meant for a proxy, never for the upstream.
  'proxy-authorization',
  // Client-invented claims about the client or the original request: the gateway states what it
  // knows in X-Forwarded-For, and an upstream that trusts these must not be fed a forgery.
  'forwarded',
  'x-real-ip',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'x-client-ip',
  'true-client-ip',
]);

/** Method override headers (Express method-override, ASP.NET, Symfony, Google APIs): authorized, then forwarded. */
const OVERRIDE_HEADERS = new Set(['x-http-method-override', 'x-http-method', 'x-method-override']);

/** A name CGI reads as it is written: letters, digits and `-` only. */
const PLAIN_NAME = /^[a-z0-9-]+$/;

const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9._-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$/;
const BEARER = /^bearer[ \t]+/i;

export interface ScannedHeaders {
  /** The presented Latchkey token, or null when none was sent. */
  readonly token: string | null;
  /** Why the request is refused as `request_ambiguous`, or null. */
  readonly ambiguous: string | null;
  /** Flat `[name, value, ...]` list for the upstream. */
  readonly forward: string[];
  /** -1 when absent. */
  readonly contentLength: number;
  readonly chunked: boolean;
  /** Lowercase `Upgrade` value, or null. */
  readonly upgrade: string | null;
  /** `X-Forwarded-For` values joined, or null; believed only from trusted proxies. */
  readonly forwardedFor: string | null;
  /** Method override headers as `[name, value, ...]`, or null when there is none (the common case). */
  readonly overrides: readonly string[] | null;
  /** The Host header as sent (one plain host[:port]), or null. */
  readonly host: string | null;
  /** `X-Request-Id` as sent, or null; kept only if well-formed (see upstream-facing.ts). */
  readonly requestId: string | null;
}

function refusal(why: string): ScannedHeaders {
  return { token: null, ambiguous: why, forward: [], contentLength: -1, chunked: false, upgrade: null, forwardedFor: null, overrides: null, host: null, requestId: null };
}

/** The name as CGI-style servers key it, lowercase with `-` for every other character. */
function cgiSpelling(lower: string): string {
  return lower.replace(/[^a-z0-9]/g, '-');
}

/** Names the gateway strips, rewrites or states itself, in any spelling. */
function controlledByGateway(name: string, service: ServiceRoute): boolean {
  return (
    name === service.tokenHeader ||
    name.startsWith('x-latchkey-') ||
    service.stripped.has(name) ||
    NEVER_FORWARDED.has(name) ||
    name === 'x-forwarded-for' ||
    name === 'content-length' ||
    name === 'content-type'
  );
}

export function scanRequestHeaders(raw: readonly string[], service: ServiceRoute, maxHeaders: number): ScannedHeaders {
  // Node stops collecting at maxHeadersCount and drops the rest silently; a request at the cap is refused.
  if (raw.length >= maxHeaders * 2) return refusal(`more than ${maxHeaders - 1} header fields`);
  const tokenHeader = service.tokenHeader;
  const stripped = service.stripped;
  const forward: string[] = [];
  let token: string | null = null;
  let tokenCount = 0;
  let hostCount = 0;
  let contentLength = -1;
  let chunked = false;
  let upgrade: string | null = null;
  let connection: string | null = null;
  let forwardedFor: string | null = null;
  let overrides: string[] | null = null;
  let host: string | null = null;
  let requestId: string | null = null;
  const underscores = service.headerUnderscores;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const lower = name.toLowerCase();
    if (lower === tokenHeader) {
      tokenCount++;
      token = value;
      continue;
    }
    if (lower.startsWith('x-latchkey-') || stripped.has(lower)) continue;
    if (!PLAIN_NAME.test(lower)) {
      if (underscores === 'drop') continue;
      if (underscores === 'refuse') return refusal(`header name ${JSON.stringify(name.slice(0, 64))} has characters other than letters, digits and - (CGI would read _ as -)`);
      const spelled = cgiSpelling(lower);
      if (controlledByGateway(spelled, service)) continue;
      if (OVERRIDE_HEADERS.has(spelled)) (overrides ??= []).push(name, value);
      forward.push(name, value);
      continue;
    }
    if (OVERRIDE_HEADERS.has(lower)) (overrides ??= []).push(name, value);
    if (NEVER_FORWARDED.has(lower)) {
      switch (lower) {
        case 'host':
          hostCount++;
          if (!HOST.test(value)) return refusal('Host header is not a plain host[:port]');
          host = value;
          break;
        case 'transfer-encoding':
          chunked = true;
          break;
        case 'upgrade':
          upgrade = value.toLowerCase();
          break;
        case 'connection':
          connection = connection === null ? value : `${connection},${value}`;
          break;
      }
      continue;
    }
    if (lower === 'x-forwarded-for') {
      // Rewritten by the forward stage from what the gateway knows, never passed through as sent.
      forwardedFor = forwardedFor === null ? value : `${forwardedFor},${value}`;
      continue;
    }
    if (lower === 'x-request-id') {
      // The gateway sends the request's id itself: the client's, when it is well-formed, or a new one.
      requestId = value;
      continue;
    }
    if (lower === 'content-length') contentLength = Number(value);
    forward.push(name, value);
  }
  if (tokenCount > 1) return refusal(`more than one ${tokenHeader} header`);
  if (hostCount > 1) return refusal('more than one Host header');
  if (token !== null && tokenHeader === 'authorization') {
    // Only a Bearer credential is a Latchkey token; any other scheme is malformed, not absent.
    token = BEARER.test(token) ? token.replace(BEARER, '').trim() : '';
  } else if (token !== null) {
    token = token.trim().replace(BEARER, '');
  }
  return {
    token,
    ambiguous: null,
    forward: connection === null ? forward : withoutNominated(forward, connection),
    contentLength,
    chunked,
    upgrade,
    forwardedFor,
    overrides,
    host,
    requestId,
  };
}

/** Fields named in `Connection` are hop-by-hop too (RFC 9110 §7.6.1). */
function withoutNominated(forward: string[], connection: string): string[] {
  const named = nominatedFields(connection);
  if (named === null) return forward;
  const kept: string[] = [];
  for (let i = 0; i < forward.length; i += 2) {
    if (!named.has(forward[i]!.toLowerCase())) kept.push(forward[i]!, forward[i + 1]!);
  }
  return kept;
}
