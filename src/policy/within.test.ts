import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileGrant } from './compile-grant.js';
import { parsePermission, parsePermissions } from './parse-permission.js';
import { decide, grantTexts, policyRequest, testCatalog, type PolicyRequest } from './reference-interpreter.contract.js';
import type { Permission } from './types.js';
import { isWithin } from './within.js';

const parse = (texts: readonly string[]): Permission[] => parsePermissions(texts, testCatalog);
const within = (child: readonly string[], parent: readonly string[]): boolean => isWithin(parse(child), parse(parent));

const ALIASES: Readonly<Record<string, readonly string[]>> = {
  read: ['GET', 'HEAD', 'OPTIONS'],
  write: ['POST', 'PUT', 'PATCH'],
  delete: ['DELETE'],
  '*': ['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE'],
};

/**
 * Concrete requests a permission matches, so that counterexamples are searched
 * where they would be: `*` and `**` filled with words from `fillers`.
 */
function instances(permission: Permission, fillers: readonly string[]): PolicyRequest[] {
  const filler = (index: number): string => fillers[index % Math.max(fillers.length, 1)] ?? 'other';
  const fillGlob = (glob: string): string[] => [glob.replaceAll('*', ''), glob.replaceAll('*', filler(0)), glob.replaceAll('*', `${filler(1)}_${filler(2)}`)];
  switch (permission.kind) {
    case 'http': {
      const pattern = permission.resource === undefined ? ['**'] : permission.resource === '/' ? [] : permission.resource.slice(1).split('/');
      const shapes = [0, 1, 2].map((width) => pattern.flatMap((token, index) => (token === '**' ? fillers.slice(index, index + width) : token === '*' ? [filler(index)] : [token])));
      const methods = ALIASES[permission.action] ?? [permission.action];
      return methods.flatMap((method) => shapes.map((segments) => ({ kind: 'http' as const, service: permission.service, method, segments })));
    }
    case 'postgres': {
      const [schema = '*', table = '*'] = permission.resource?.split('.') ?? [];
      const actions = ({ read: ['select'], write: ['insert', 'update', 'delete'], '*': ['select', 'insert', 'update', 'delete', 'truncate', 'ddl'] } as Record<string, string[]>)[permission.action] ?? [permission.action];
      return actions.flatMap((action) => fillGlob(schema).flatMap((s) => fillGlob(table).map((t) => ({ kind: 'postgres' as const, service: permission.service, action, schema: s, table: t }))));
    }
    case 'mcp': {
      const actions = permission.action === '*' ? (['call', 'read', 'get'] as const) : [permission.action as 'call' | 'read' | 'get'];
      return actions.flatMap((action) => fillGlob(permission.resource ?? '*').map((name) => ({ kind: 'mcp' as const, service: permission.service, action, name })));
    }
    case 'latchkey': {
      const actions = permission.action === '*' ? ['tokens.create', 'tokens.read', 'roles.write', 'audit.read', 'check'] : [permission.action];
      return actions.flatMap((action) => [permission.resource, 'prod', 'dev', undefined].map((env) => ({ kind: 'admin' as const, action, env })));
    }
  }
}

describe('isWithin on common cases', () => {
  it.each([
    ['a narrower path', ['api:GET:/v1/orders/*'], ['api:read:/v1/**'], true],
    ['a wider path', ['api:GET:/v1/**'], ['api:GET:/v1/orders/*'], false],
    ['** over zero segments', ['api:GET:/v1'], ['api:GET:/v1/**'], true],
    ['* needs a segment', ['api:GET:/v1'], ['api:GET:/v1/*'], false],
    ['no resource is every path', ['api:GET'], ['api:GET:/**'], true],
    ['every path is not one path', ['api:GET'], ['api:GET:/v1/**'], false],
    ['a method within its alias', ['api:HEAD:/x'], ['api:read'], true],
    ['an alias within its methods', ['api:read'], ['api:GET', 'api:HEAD', 'api:OPTIONS'], true],
    ['an alias wider than one method', ['api:read'], ['api:GET'], false],
    ['* over all methods', ['api:*'], ['api:read', 'api:write', 'api:delete'], true],
    ['another service', ['web:GET'], ['api:GET'], false],
    ['a table glob within a glob', ['db:select:public.order_*'], ['db:read:public.*'], true],
    ['a wider schema', ['db:select:*.orders'], ['db:read:public.*'], false],
    ['write within its actions', ['db:write:public.t'], ['db:insert', 'db:update', 'db:delete'], true],
    ['truncate is not write', ['db:truncate:public.t'], ['db:write'], false],
    ['a tool name within a glob', ['tools:call:list_users'], ['tools:call:list_*'], true],
    ['a glob within a glob', ['tools:call:list_*_v2'], ['tools:call:list_*'], true],
    ['a glob wider than a glob', ['tools:call:*_users'], ['tools:call:list_*'], false],
    ['an environment within all', ['latchkey:tokens.read:prod'], ['latchkey:tokens.read'], true],
    ['all environments within one', ['latchkey:tokens.read'], ['latchkey:tokens.read:prod'], false],
    ['admin * within one action', ['latchkey:*'], ['latchkey:tokens.read'], false],
    ['a parent deny the child ignores', ['api:*:/v1/**'], ['api:*:/v1/**', '!api:DELETE:/v1/admin/**'], false],
    ['a parent deny the child repeats', ['api:*:/v1/**', '!api:DELETE:/v1/admin/**'], ['api:*:/v1/**', '!api:DELETE:/v1/admin/**'], true],
    ['a parent deny inside a wider child deny', ['api:*:/v1/**', '!api:*:/v1/admin/**'], ['api:*:/v1/**', '!api:DELETE:/v1/admin/*/**'], true],
    ['a parent deny the child cannot reach', ['api:*:/v1/orders/**'], ['api:*:/v1/**', '!api:*:/v1/admin/**'], true],
    ['a parent deny a * can reach', ['api:GET:/v1/*/users'], ['api:*:/v1/**', '!api:*:/v1/admin/**'], false],
    ['a parent deny on another method', ['api:GET:/v1/**'], ['api:read:/v1/**', '!api:DELETE:/v1/**'], true],
    ['a child carve-out inside the parent', ['api:GET:/v1/*', '!api:GET:/v1/secret'], ['api:GET:/v1/*'], true],
    ['a child allow its own deny empties', ['api:GET:/x', '!api:*'], [], true],
    ['an empty child', [], ['api:GET'], true],
    ['anything within nothing', ['api:GET:/x'], [], false],
    ['a postgres deny carved out', ['db:*:public.*', '!db:*:public.secret*'], ['db:*', '!db:ddl:public.secrets'], true],
    ['an mcp deny reached', ['tools:call:list_*'], ['tools:*', '!tools:call:*_secrets'], false],
    ['an admin deny reached', ['latchkey:tokens.create'], ['latchkey:*', '!latchkey:tokens.create:prod'], false],
    ['an admin deny avoided', ['latchkey:tokens.create:dev'], ['latchkey:*', '!latchkey:tokens.create:prod'], true],
  ] as const)('%s', (_, child, parent, expected) => {
    expect(within(child, parent)).toBe(expected);
  });

  it('is conservative, not wrong, when only a union of parent allows covers the child', () => {
    // /a/** is exactly /a plus /a/*/**, but no single parent allow covers it.
    expect(within(['api:GET:/a/**'], ['api:GET:/a', 'api:GET:/a/*/**'])).toBe(false);
  });
});

describe('isWithin properties', () => {
  const fillers = fc.array(fc.constantFrom('v1', 'orders', 'admin', 'other', 'x', 'secret', 'pub'), { maxLength: 4 });

  it('never holds when a sampled request is allowed by the child and refused by the parent', () => {
    let contained = 0;
    fc.assert(
      fc.property(grantTexts, grantTexts, fc.array(policyRequest, { maxLength: 40 }), fillers, (childTexts, parentTexts, sampled, words) => {
        const child = parse(childTexts);
        const parent = parse(parentTexts);
        if (!isWithin(child, parent)) return;
        contained++;
        const childGrant = compileGrant(child);
        const parentGrant = compileGrant(parent);
        const requests = [...sampled, ...child.flatMap((permission) => instances(permission, words))];
        for (const request of requests) {
          if (decide(childGrant, request).allowed) expect({ request, parent: decide(parentGrant, request).allowed }).toEqual({ request, parent: true });
        }
      }),
      { numRuns: 5_000 },
    );
    expect(contained).toBeGreaterThan(100);
  });

  it('holds for children narrowed from the parent that keep its denies', () => {
    const narrowed = fc.tuple(grantTexts, fc.array(fc.nat(), { minLength: 24, maxLength: 24 })).map(([parentTexts, choices]) => {
      let cursor = 0;
      const pick = <T>(options: readonly T[]): T => options[(choices[cursor++ % choices.length] as number) % options.length] as T;
      const parent = parse(parentTexts);
      const child = parent.flatMap((permission): string[] => {
        if (permission.effect === 'deny') return [permission.text];
        if (pick([true, false, false])) return [];
        return [narrow(permission, pick)];
      });
      return { parentTexts, child };
    });
    fc.assert(
      fc.property(narrowed, ({ parentTexts, child }) => {
        expect(within(child, parentTexts)).toBe(true);
        expect(within(parentTexts, parentTexts)).toBe(true);
      }),
      { numRuns: 3_000 },
    );
  });

  it('is reflexive and agrees with the child being a sub-list of the parent', () => {
    fc.assert(
      fc.property(grantTexts, fc.array(fc.boolean()), (texts, keep) => {
        const allows = texts.filter((text, index) => !text.startsWith('!') && keep[index] !== false);
        expect(within(texts, texts)).toBe(true);
        expect(within([...allows, ...texts.filter((text) => text.startsWith('!'))], texts)).toBe(true);
      }),
      { numRuns: 2_000 },
    );
  });
});

/** A permission that allows a subset of what `permission` allows. */
function narrow(permission: Permission, pick: <T>(options: readonly T[]) => T): string {
  const narrowGlob = (glob: string): string => glob.replaceAll('*', () => pick(['*', 'x', 'ab*']));
  let action = permission.action;
  let resource = permission.resource;
  switch (permission.kind) {
    case 'http': {
      action = pick([action, ...(ALIASES[action] ?? [])]);
      const pattern = resource === undefined ? ['**'] : resource === '/' ? [] : resource.slice(1).split('/');
      const tokens = pattern.flatMap((token) => (token === '**' ? pick([['**'], [], ['x'], ['*', '**'], ['v1', '**']]) : token === '*' ? [pick(['*', 'x'])] : [token]));
      const deduplicated = tokens.filter((token, index) => !(token === '**' && tokens[index - 1] === '**'));
      resource = `/${deduplicated.join('/')}`;
      break;
    }
    case 'postgres': {
      action = pick([action, ...(({ read: ['select'], write: ['insert', 'delete'], '*': ['ddl', 'read'] } as Record<string, string[]>)[action] ?? [])]);
      const [schema = '*', table = '*'] = resource?.split('.') ?? [];
      resource = `${narrowGlob(schema)}.${narrowGlob(table)}`;
      break;
    }
    case 'mcp':
      action = action === '*' ? pick(['*', 'call', 'get']) : action;
      resource = narrowGlob(resource ?? '*');
      break;
    case 'latchkey':
      action = action === '*' ? pick(['*', 'tokens.read']) : action;
      resource = resource ?? pick([undefined, 'prod']);
      break;
  }
  return parsePermission(`${permission.service}:${action}${resource === undefined ? '' : `:${resource}`}`, testCatalog).text;
}
