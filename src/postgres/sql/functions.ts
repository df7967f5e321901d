import { DEFAULT_FUNCTIONS } from './builtins.js';

/**
 * Whether a call, named as written (`f`, `pg_catalog.f`, `s.f`), is allowed:
 * a built-in side-effect-free function, or one the service lists. A listed
 * `f` covers every way a client can reach an unqualified f (`f`,
 * `pg_catalog.f`, `public.f`); a listed `s.f` only `s.f`, since a call that
 * does not name s never resolves there.
 */
export function functionAllowed(call: string, listed: ReadonlySet<string>): boolean {
  const dot = call.indexOf('.');
  if (dot < 0) return DEFAULT_FUNCTIONS.has(call) || listed.has(call);
  const schema = call.slice(0, dot);
  const name = call.slice(dot + 1);
  if (schema === 'pg_catalog') return DEFAULT_FUNCTIONS.has(name) || listed.has(name) || listed.has(call);
  if (schema === 'public') return listed.has(name) || listed.has(call);
  return listed.has(call);
}
