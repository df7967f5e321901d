import { METHODS } from 'node:http';
import type { ReasonCode } from '../errors/index.js';

// Which request a proxy asks about. Exactly one source is believed, each set by
// the proxy's own configuration, never by its client:
//
//   nginx auth_request     X-Original-Method + X-Original-URI, endpoint path /<service>
//   Caddy, Traefik         X-Forwarded-Method + X-Forwarded-Uri, endpoint path /<service>
//   Envoy ext_authz (HTTP) the check's own method, path /envoy/<service><original path>
//                          (Envoy's path_prefix is /envoy/<service>)
//
// The service is named by the endpoint path the proxy is configured to call,
// never by a header a client could add. A request carrying more than one
// source (a client adding X-Original-URI through Caddy, or X-Forwarded-Uri
// through nginx) is ambiguous and refused: which one the proxy set cannot be told.

/** The Envoy form's path prefix, before the service name. */
export const ENVOY_PREFIX = '/envoy';

export type OriginalRequest =
  | {
      readonly ok: true;
      readonly method: string;
      /** The original request target: origin-form path and query, as the proxy forwards it. */
      readonly target: string;
      /** The service the endpoint path names; null: the first segment of `target` names it (Envoy). */
      readonly service: string | null;
    }
  | { readonly ok: false; readonly code: ReasonCode; readonly detail: string; readonly resource: string };

const NGINX = ['x-original-method', 'x-original-uri'] as const;
const FORWARDED = ['x-forwarded-method', 'x-forwarded-uri'] as const;
const SERVICE_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
/** What the gateway's HTTP parser accepts; any other method it answers 400 invalid_request before a decision. */
const PARSED_METHODS = new Set(METHODS);

function refused(code: ReasonCode, detail: string, resource = ''): OriginalRequest {
  return { ok: false, code, detail, resource };
}

/** Reads the original request from the check request's path and raw headers. */
export function readOriginalRequest(method: string, url: string, rawHeaders: readonly string[]): OriginalRequest {
  const seen = new Map<string, string[]>();
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (name === NGINX[0] || name === NGINX[1] || name === FORWARDED[0] || name === FORWARDED[1]) {
      const values = seen.get(name);
      if (values === undefined) seen.set(name, [rawHeaders[i + 1]!]);
      else values.push(rawHeaders[i + 1]!);
    }
  }
  for (const [name, values] of seen) if (values.length > 1) return refused('request_ambiguous', `more than one ${name} header`);
  const question = url.indexOf('?');
  const path = question < 0 ? url : url.slice(0, question);

  if (path.startsWith(`${ENVOY_PREFIX}/`)) {
    if (seen.size > 0) return refused('request_ambiguous', 'an Envoy check that also carries X-Original-* or X-Forwarded-* method or URI headers');
    return { ok: true, method, target: url.slice(ENVOY_PREFIX.length), service: null };
  }
  const viaNginx = seen.has(NGINX[0]) || seen.has(NGINX[1]);
  const viaForwarded = seen.has(FORWARDED[0]) || seen.has(FORWARDED[1]);
  if (viaNginx && viaForwarded) return refused('request_ambiguous', 'both X-Original-* and X-Forwarded-* method or URI headers');
  if (!viaNginx && !viaForwarded) return refused('invalid_request', 'the proxy sent neither X-Original-Method/-URI nor X-Forwarded-Method/-Uri');
  const [methodHeader, uriHeader] = viaNginx ? NGINX : FORWARDED;
  const originalMethod = seen.get(methodHeader)?.[0];
  const target = seen.get(uriHeader)?.[0];
  if (originalMethod === undefined || target === undefined) return refused('invalid_request', `the proxy must send both ${methodHeader} and ${uriHeader}`);
  if (!PARSED_METHODS.has(originalMethod)) return refused('invalid_request', 'a method the gateway\'s HTTP parser does not accept', target.split('?')[0]!.slice(0, 256));
  const service = path.slice(1);
  if (!SERVICE_NAME.test(service)) return refused('service_unknown', 'the endpoint path must be /<service>', target.split('?')[0]!.slice(0, 256));
  return { ok: true, method: originalMethod, target, service };
}
