import { normalizePath } from './normalize-path.js';
import { foldRequestSegments, type PathMatching } from './path-matching.js';

// How an HTTP request target names what is authorized, shared by the gateway
// and `/v1/check` so that the two cannot read a path differently.

/** `/<service>/<rest>`: the service named by the first segment, and the path within it (`/` when none). */
export function splitServicePath(path: string): { readonly service: string; readonly rest: string } {
  const slash = path.indexOf('/', 1);
  return slash < 0 ? { service: path.slice(1), rest: '/' } : { service: path.slice(1, slash), rest: path.slice(slash) };
}

export type AuthorizedPath =
  | { readonly ok: true; readonly path: string; readonly segments: readonly string[] }
  | { readonly ok: false; readonly detail: string };

/**
 * A service's path as the gateway authorizes it: normalized (ambiguity
 * refused), then folded for the service's path matching. `path` is what is
 * forwarded and audited (IDs keep their case), `segments` what is authorized.
 */
export function authorizedPath(rest: string, matching: PathMatching): AuthorizedPath {
  const normalized = normalizePath(rest);
  if (!normalized.ok) return normalized;
  const folded = foldRequestSegments(normalized.segments, matching);
  if (!folded.ok) return folded;
  return { ok: true, path: normalized.path, segments: folded.segments };
}
