// Test support, not shipped: a deliberately naive interpreter of the permission
// grammar, written from DESIGN.md without the parser, the tries or the globs
// of the engine, and random grants and requests to compare the two on.
// Nothing here is fast; everything here should be obviously right.

import fc from 'fast-check';
import { ADMIN_ACTIONS } from './admin-actions.js';
import type { CompiledGrant, Decision, PolicyServiceKind, ServiceCatalog } from './types.js';

export type PolicyRequest =
  | { readonly kind: 'http'; readonly service: string; readonly method: string; readonly segments: readonly string[] }
  | { readonly kind: 'postgres'; readonly service: string; readonly action: string; readonly schema: string; readonly table: string }
  | { readonly kind: 'mcp'; readonly service: string; readonly action: 'call' | 'read' | 'get'; readonly name: string }
  | { readonly kind: 'admin'; readonly action: string; readonly env: string | undefined };

const KINDS: Readonly<Record<string, PolicyServiceKind>> = { api: 'http', web: 'http', db: 'postgres', tools: 'mcp' };
export const testCatalog: ServiceCatalog = { kindOf: (service) => KINDS[service] };

const ALIASES: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>> = {
  http: { GET: ['GET', 'HEAD'], read: ['GET', 'HEAD', 'OPTIONS'], write: ['POST', 'PUT', 'PATCH'], delete: ['DELETE'], '*': ['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE'] },
  postgres: { read: ['select'], write: ['insert', 'update', 'delete'], '*': ['select', 'insert', 'update', 'delete', 'truncate', 'ddl'] },
  mcp: { '*': ['call', 'read', 'get'] },
  latchkey: { '*': ADMIN_ACTIONS },
};

/** `**` takes any number of segments, `*` exactly one non-empty one, anything else itself. */
function pathMatches(pattern: readonly string[], segments: readonly string[]): boolean {
  if (pattern.length === 0) return segments.length === 0;
  const [head, ...rest] = pattern;
  if (head === '**') return segments.some((_, k) => pathMatches(rest, segments.slice(k))) || pathMatches(rest, []);
  if (segments.length === 0) return false;
  if (head === '*') return segments[0] !== '' && pathMatches(rest, segments.slice(1));
  return segments[0] === head && pathMatches(rest, segments.slice(1));
}

/** The obvious meaning of a glob: `*` is `.*`, everything else itself. */
export function globMatches(glob: string, name: string): boolean {
  const source = glob
    .split('*')
    .map((piece) => piece.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`, 's').test(name);
}

function matchesRequest(service: string, action: string, resource: string | undefined, request: PolicyRequest, deny: boolean): boolean {
  const kind = service === 'latchkey' ? 'latchkey' : KINDS[service];
  if (kind === undefined) return false;
  const actions = ALIASES[kind]?.[action] ?? [action];
  switch (request.kind) {
    case 'http':
      if (kind !== 'http' || service !== request.service || !actions.includes(request.method)) return false;
      return resource === undefined || pathMatches(resource === '/' ? [] : resource.slice(1).split('/'), request.segments);
    case 'postgres': {
      if (kind !== 'postgres' || service !== request.service || !actions.includes(request.action)) return false;
      if (resource === undefined) return true;
      const [schema, table] = resource.toLowerCase().split('.') as [string, string];
      return globMatches(schema, request.schema) && globMatches(table, request.table);
    }
    case 'mcp':
      if (kind !== 'mcp' || service !== request.service || !actions.includes(request.action)) return false;
      return resource === undefined || globMatches(resource, request.name);
    case 'admin':
      if (kind !== 'latchkey' || !actions.includes(request.action)) return false;
      // A deny scoped to an environment also covers an action that names none (it spans them all).
      return resource === undefined || resource === request.env || (deny && request.env === undefined);
  }
}

export interface ReferenceVerdict {
  readonly allowed: boolean;
  readonly matchingAllows: readonly string[];
  readonly matchingDenies: readonly string[];
}

/** Deny wins, then any allow, then deny by default. */
export function referenceDecide(texts: readonly string[], request: PolicyRequest): ReferenceVerdict {
  const matchingAllows: string[] = [];
  const matchingDenies: string[] = [];
  for (const text of texts) {
    const deny = text.startsWith('!');
    const body = deny ? text.slice(1) : text;
    const [service = '', action = '', ...resourceParts] = body.split(':');
    const resource = resourceParts.length === 0 ? undefined : resourceParts.join(':');
    if (matchesRequest(service, action, resource, request, deny)) (deny ? matchingDenies : matchingAllows).push(text);
  }
  return { allowed: matchingDenies.length === 0 && matchingAllows.length > 0, matchingAllows, matchingDenies };
}

export function decide(grant: CompiledGrant, request: PolicyRequest): Decision {
  switch (request.kind) {
    case 'http':
      return grant.decideHttp(request.service, request.method, request.segments);
    case 'postgres':
      return grant.decidePostgres(request.service, request.action, request.schema, request.table);
    case 'mcp':
      return grant.decideMcp(request.service, request.action, request.name);
    case 'admin':
      return grant.decideAdmin(request.action, request.env);
  }
}

// Small vocabularies, so that random permissions and requests meet often.
const SEGMENTS = ['v1', 'orders', 'items', 'admin', '7'];
const HTTP_WORDS = ['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE', 'read', 'write', 'delete', '*'];
const SCHEMAS = ['public', 'analytics', '*', 'pub*', '*s', 'a*y*s'];
const TABLES = ['orders', 'order_*', '*', 'items', '*_log', '*o*'];
const NAMES = ['list_users', 'list_*', '*', 'create_issue', '*_issue', 'get_*_v2'];
const ADMIN_WORDS = ['tokens.create', 'tokens.read', 'roles.write', 'audit.read', '*'];

/** A path pattern with at most one `**` in a row, as the grammar requires. */
export const pathPattern = fc
  .array(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...SEGMENTS) }, { weight: 1, arbitrary: fc.constant('*') }, { weight: 1, arbitrary: fc.constant('**') }), { maxLength: 4 })
  .map((parts) => `/${parts.filter((part, index) => !(part === '**' && parts[index - 1] === '**')).join('/')}`);

const resourceOrNot = <T>(resource: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: 4, arbitrary: resource }, { weight: 1, arbitrary: fc.constant(undefined) });

const withEffect = (deny: boolean, service: string, action: string, resource: string | undefined): string =>
  `${deny ? '!' : ''}${service}:${action}${resource === undefined ? '' : `:${resource}`}`;

/** One valid permission text, already in canonical form. */
export const permissionText = fc.oneof(
  { weight: 5, arbitrary: fc.tuple(fc.boolean(), fc.constantFrom('api', 'web'), fc.constantFrom(...HTTP_WORDS), resourceOrNot(pathPattern)) },
  {
    weight: 2,
    arbitrary: fc.tuple(
      fc.boolean(),
      fc.constant('db'),
      fc.constantFrom('select', 'insert', 'update', 'delete', 'truncate', 'ddl', 'read', 'write', '*'),
      resourceOrNot(fc.tuple(fc.constantFrom(...SCHEMAS), fc.constantFrom(...TABLES)).map(([schema, table]) => `${schema}.${table}`)),
    ),
  },
  { weight: 2, arbitrary: fc.tuple(fc.boolean(), fc.constant('tools'), fc.constantFrom('call', 'read', 'get', '*'), resourceOrNot(fc.constantFrom(...NAMES))) },
  { weight: 1, arbitrary: fc.tuple(fc.boolean(), fc.constant('latchkey'), fc.constantFrom(...ADMIN_WORDS), resourceOrNot(fc.constantFrom('prod', 'staging'))) },
).map(([deny, service, action, resource]) => withEffect(deny, service, action, resource));

/** Grants lean towards allows, so that denies have something to beat. */
export const grantTexts = fc.array(permissionText, { maxLength: 12 });

export const policyRequest: fc.Arbitrary<PolicyRequest> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('http' as const),
      service: fc.constantFrom('api', 'web', 'db'),
      method: fc.constantFrom('GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE', 'TRACE', 'get'),
      segments: fc.array(fc.constantFrom(...SEGMENTS, 'other'), { maxLength: 5 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('postgres' as const),
      service: fc.constantFrom('db', 'api'),
      action: fc.constantFrom('select', 'insert', 'update', 'delete', 'truncate', 'ddl'),
      schema: fc.constantFrom('public', 'analytics', 'pub', 'days', 'other'),
      table: fc.constantFrom('orders', 'order_items', 'items', 'audit_log', 'o', 'x'),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('mcp' as const),
      service: fc.constantFrom('tools', 'db'),
      action: fc.constantFrom('call' as const, 'read' as const, 'get' as const),
      name: fc.constantFrom('list_users', 'list_items', 'create_issue', 'delete_issue', 'get_x_v2', 'get__v2', 'x'),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('admin' as const),
      action: fc.constantFrom('tokens.create', 'tokens.read', 'roles.write', 'audit.read', 'check'),
      env: fc.constantFrom('prod', 'staging', 'dev', undefined),
    }),
  },
);
