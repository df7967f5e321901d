import type { ReasonCode } from '../../errors/index.js';
import { authorizedPath, splitServicePath } from '../../policy/index.js';
import type { ServiceRoute } from '../../core/services/service-table.js';
import type { Exchange } from './exchange.js';

// The route stage: which service, and which canonical path within it. Only the
// request target decides, so `service_unknown` says nothing about tokens. The
// segments authorized are folded for the service's path matching.

/** Finds the service of a request and the raw path within it; null when there is none. */
export type ServiceLocator = (path: string) => { service: ServiceRoute | undefined; rest: string };

/** The shared listener: `/<service>/<rest>`. */
export function byFirstSegment(lookup: (name: string) => ServiceRoute | undefined): ServiceLocator {
  return (path) => {
    const { service, rest } = splitServicePath(path);
    return { service: lookup(service), rest };
  };
}

/** A service's own listener: the whole path belongs to it. */
export function fixedService(name: string, lookup: (name: string) => ServiceRoute | undefined): ServiceLocator {
  return (path) => ({ service: lookup(name), rest: path });
}

const MAX_AUDITED_TARGET = 256;

export function route(ex: Exchange, locate: ServiceLocator): ReasonCode | null {
  const target = ex.target;
  // Origin-form only: absolute-form (`http://host/...`), authority-form and `*` could name another host or nothing.
  if (target.charCodeAt(0) !== 0x2f) {
    // The query could hold a secret (`?api_key=`); the audit keeps only what precedes it.
    const question = target.indexOf('?');
    ex.resource = (question < 0 ? target : target.slice(0, question)).slice(0, MAX_AUDITED_TARGET);
    ex.detail = target === '*' ? 'asterisk-form request target' : 'the request target must be a path (origin-form)';
    return 'request_ambiguous';
  }
  const question = target.indexOf('?');
  const path = question < 0 ? target : target.slice(0, question);
  ex.resource = path.slice(0, MAX_AUDITED_TARGET);
  if (target.includes('#')) {
    ex.detail = 'a fragment (#) in the request target';
    return 'request_ambiguous';
  }
  const { service, rest } = locate(path);
  if (service === undefined) return 'service_unknown';
  ex.service = service;
  // Authorized as the upstream will resolve it, forwarded (and audited) as normalized: IDs keep their case.
  const authorized = authorizedPath(rest, service.paths);
  if (!authorized.ok) {
    ex.detail = authorized.detail;
    return 'request_ambiguous';
  }
  ex.resource = authorized.path;
  ex.segments = authorized.segments;
  ex.query = question < 0 ? '' : target.slice(question);
  return null;
}
