// The resource part of a permission, per service kind: validated and put in
// canonical form by the parser, turned into patterns by the compiler and by
// containment. An absent resource means every resource of the action.

import { ENV_PATTERN } from '../token/index.js';
import { parseToolPattern, toolPatternText, type ToolPattern } from './argument-constraints.js';
import { segmentProblem } from './normalize-path.js';
import { ANY, ONE, type PatternToken, type SequencePattern } from './pattern-algebra.js';
import type { PolicyServiceKind } from './types.js';

/** A grammar mistake; the parser adds the field and turns it into an `invalid_request`. */
export class PermissionSyntaxError extends Error {
  override readonly name = 'PermissionSyntaxError';
}

function fail(message: string): never {
  throw new PermissionSyntaxError(message);
}

const quote = JSON.stringify;

/** `/v1/orders/*` → ['v1', 'orders', ONE]; `/` → [] (the root only). */
function parsePathPattern(resource: string): SequencePattern {
  if (!resource.startsWith('/')) fail(`path pattern ${resource} must start with /`);
  if (resource === '/') return [];
  if (resource.endsWith('/')) {
    fail(
      `path pattern ${resource} ends with /: a trailing slash is not significant (a request to /a/ is the request to /a), write ${resource.slice(0, -1)}`,
    );
  }
  const tokens: PatternToken[] = [];
  for (const part of resource.slice(1).split('/')) {
    if (part === '**') {
      if (tokens[tokens.length - 1] === ANY) fail(`path pattern ${resource} has ** twice in a row; one ** is enough`);
      tokens.push(ANY);
    } else if (part === '*') {
      tokens.push(ONE);
    } else if (part === '') {
      fail(`path pattern ${resource} has an empty segment (//)`);
    } else if (part.includes('*')) {
      fail(`segment ${quote(part)} of path pattern ${resource}: * and ** must be whole segments (no partial wildcards)`);
    } else if (part.includes('%')) {
      fail(`segment ${quote(part)} of path pattern ${resource}: write segments decoded, without %-escapes (no accepted request path contains a literal %)`);
    } else if (part.includes('?') || part.includes('#')) {
      fail(`segment ${quote(part)} of path pattern ${resource}: queries and fragments are not part of a permission's path`);
    } else {
      const problem = segmentProblem(part);
      if (problem !== null) fail(`segment ${quote(part)} of path pattern ${resource}: ${problem} can never appear in an accepted request path`);
      tokens.push(part);
    }
  }
  return tokens;
}

export function pathPatternText(pattern: SequencePattern): string {
  return `/${pattern.map((token) => (token === ONE ? '*' : token === ANY ? '**' : token)).join('/')}`;
}

const IDENTIFIER_GLOB = /^[a-z_*][a-z0-9_$*]*$/;

function checkIdentifierGlob(part: string, which: 'schema' | 'table', resource: string): void {
  if (part === '') fail(`postgres resource ${resource} has an empty ${which}; expected schema.table (public.orders, analytics.*)`);
  if (!IDENTIFIER_GLOB.test(part)) {
    fail(`${which} pattern ${quote(part)} in ${resource}: use letters, digits, _ and $ (not first) and * (quoted identifiers are not supported)`);
  }
  if (part.includes('**')) fail(`${which} pattern ${quote(part)} in ${resource}: ** is the same as *, write *`);
  if (part.replaceAll('*', '').length > 63) fail(`${which} pattern ${quote(part)} in ${resource} is longer than a PostgreSQL identifier (63)`);
}

function parseTablePattern(resource: string): { schema: string; table: string } {
  // Unquoted PostgreSQL identifiers are case-insensitive and folded to lowercase.
  const folded = resource.toLowerCase();
  const parts = folded.split('.');
  if (parts.length !== 2) fail(`postgres resource ${resource} must be schema.table (public.orders, analytics.*, *.*)`);
  const [schema, table] = parts as [string, string];
  checkIdentifierGlob(schema, 'schema', resource);
  checkIdentifierGlob(table, 'table', resource);
  return { schema, table };
}

function checkNameGlob(resource: string): void {
  if (resource.includes('**')) fail(`name pattern ${resource}: ** is the same as *, write *`);
}

/** Validates a resource for a kind and returns its canonical text. */
export function canonicalResource(kind: PolicyServiceKind, resource: string): string {
  switch (kind) {
    case 'http':
      return pathPatternText(parsePathPattern(resource));
    case 'postgres': {
      const { schema, table } = parseTablePattern(resource);
      return `${schema}.${table}`;
    }
    case 'mcp':
      return toolPatternText(toolPattern(resource));
    case 'latchkey': {
      const { env, delegates } = adminScope(resource);
      if (env === undefined || !ENV_PATTERN.test(env)) fail(`invalid environment name ${quote(env ?? resource)}; expected [a-z][a-z0-9]{0,11}`);
      if (delegates !== null && delegates !== '*' && !DELEGATED_SERVICE.test(delegates)) {
        fail(`invalid service ${quote(delegates)} after environment ${env}; expected a service name or *`);
      }
      return resource;
    }
  }
}

const DELEGATED_SERVICE = /^[a-z][a-z0-9_-]{0,63}$/;

/**
 * What the resource of an admin permission covers: an environment (undefined:
 * every one) and, for `tokens.create`, the services whose permissions the
 * holder may hand out — `*` any, a name that one, null only what the holder
 * itself holds. `latchkey:tokens.create:dev` is the least-privilege form (null);
 * `latchkey:tokens.create:dev:orders` delegates orders; no resource delegates everything.
 */
export interface AdminScope {
  readonly env: string | undefined;
  readonly delegates: string | null;
}

export function adminScope(resource: string | undefined): AdminScope {
  if (resource === undefined) return { env: undefined, delegates: '*' };
  const colon = resource.indexOf(':');
  return colon < 0 ? { env: resource, delegates: null } : { env: resource.slice(0, colon), delegates: resource.slice(colon + 1) };
}

/** The path pattern of an http permission's resource; every path when absent. */
export function httpPattern(resource: string | undefined): SequencePattern {
  return resource === undefined ? [ANY] : parsePathPattern(resource);
}

/** The schema and table globs of a postgres permission's resource; every table when absent. */
export function tablePattern(resource: string | undefined): { schema: string; table: string } {
  return resource === undefined ? { schema: '*', table: '*' } : parseTablePattern(resource);
}

/** The name glob and argument constraints of an mcp permission's resource; every name, unconstrained, when absent. */
export function toolPattern(resource: string | undefined): ToolPattern {
  if (resource === undefined) return { name: '*', constraints: [] };
  const pattern = parseToolPattern(resource);
  checkNameGlob(pattern.name);
  return pattern;
}
