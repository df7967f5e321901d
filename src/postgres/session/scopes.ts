import type { CompiledGrant } from '../../policy/types.js';
import { grantCanWrite, sqlScope, type SqlScope } from '../sql/index.js';

// One SqlScope per (grant, service): the grant object is replaced whenever its
// token entry is reloaded (a change, a revocation, a service reload), so a
// WeakMap on it keeps decisions cached per token scope and drops them with it.

const scopes = new WeakMap<CompiledGrant, Map<string, SqlScope>>();
const writers = new WeakMap<CompiledGrant, Map<string, boolean>>();

export function scopeFor(grant: CompiledGrant, service: string, functions: readonly string[]): SqlScope {
  let byService = scopes.get(grant);
  if (byService === undefined) {
    byService = new Map();
    scopes.set(grant, byService);
  }
  let scope = byService.get(service);
  if (scope === undefined) {
    scope = sqlScope({ service, grant, functions });
    byService.set(service, scope);
  }
  return scope;
}

/**
 * Whether any allow of the grant lets the service be written: without one the
 * session is also read-only on the upstream (defence in depth, the analyzer
 * refusing writes first).
 */
export function mayWrite(grant: CompiledGrant, service: string): boolean {
  let byService = writers.get(grant);
  if (byService === undefined) {
    byService = new Map();
    writers.set(grant, byService);
  }
  let answer = byService.get(service);
  if (answer === undefined) {
    answer = grantCanWrite(grant, service);
    byService.set(service, answer);
  }
  return answer;
}
