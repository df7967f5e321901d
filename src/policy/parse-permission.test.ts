import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LatchkeyError } from '../errors/index.js';
import { ADMIN_ACTIONS } from './admin-actions.js';
import { parseGrant, parsePermission, parsePermissions } from './parse-permission.js';
import { permissionText, testCatalog } from './reference-interpreter.contract.js';

const HTTP_EXPECTED = 'expected one of GET, HEAD, OPTIONS, POST, PUT, PATCH, DELETE, read, write, delete, *';

function errorOf(text: string): LatchkeyError {
  try {
    parsePermission(text, testCatalog);
  } catch (error) {
    if (error instanceof LatchkeyError) return error;
    throw error;
  }
  throw new Error(`${text} was accepted`);
}

describe('parsePermission', () => {
  it('parses each kind into its parts, with canonical text', () => {
    expect(parsePermission('api:read:/v1/**', testCatalog)).toEqual({ effect: 'allow', service: 'api', kind: 'http', action: 'read', resource: '/v1/**', text: 'api:read:/v1/**' });
    expect(parsePermission('!db:*:Public.Order_*', testCatalog)).toEqual({ effect: 'deny', service: 'db', kind: 'postgres', action: '*', resource: 'public.order_*', text: '!db:*:public.order_*' });
    expect(parsePermission('tools:call', testCatalog)).toEqual({ effect: 'allow', service: 'tools', kind: 'mcp', action: 'call', resource: undefined, text: 'tools:call' });
    expect(parsePermission('tools:read:file:///docs/*', testCatalog).resource).toBe('file:///docs/*');
    expect(parsePermission('latchkey:tokens.create:prod', testCatalog)).toEqual({ effect: 'allow', service: 'latchkey', kind: 'latchkey', action: 'tokens.create', resource: 'prod', text: 'latchkey:tokens.create:prod' });
    expect(parsePermission('api:GET:/', testCatalog).resource).toBe('/');
    expect(parsePermission('api:GET:/files/caf\u00e9/items:batchGet', testCatalog).resource).toBe('/files/caf\u00e9/items:batchGet');
  });

  it('round-trips: parsing the canonical text gives the same permission', () => {
    fc.assert(
      fc.property(permissionText, (text) => {
        const permission = parsePermission(text, testCatalog);
        expect(permission.text).toBe(text);
        expect(parsePermission(permission.text, testCatalog)).toEqual(permission);
        expect(Object.isFrozen(permission)).toBe(true);
      }),
      { numRuns: 2_000 },
    );
  });

  it('accepts every admin action, and * for all of them', () => {
    for (const action of ADMIN_ACTIONS) expect(parsePermission(`latchkey:${action}`, testCatalog).kind).toBe('latchkey');
    expect(parsePermission('!latchkey:*:staging', testCatalog).effect).toBe('deny');
  });

  // Each error names the field and points at the part that is wrong.
  const ERRORS: readonly (readonly [string, string])[] = [
    ['api:GETT:/v1', `permission: unknown action GETT for http service api; ${HTTP_EXPECTED}`],
    ['api:get:/v1', `permission: unknown action get for http service api (HTTP methods are uppercase: GET); ${HTTP_EXPECTED}`],
    ['api:TRACE', `permission: unknown action TRACE for http service api; ${HTTP_EXPECTED}`],
    ['api::/v1', `permission: missing action for http service api; ${HTTP_EXPECTED}`],
    ['db:GET:public.orders', 'permission: unknown action GET for postgres service db; expected one of select, insert, update, delete, truncate, ddl, read, write, *'],
    ['tools:select', 'permission: unknown action select for mcp service tools; expected one of call, read, get, *'],
    ['latchkey:tokens.delete', `permission: unknown action tokens.delete for the admin API (latchkey); expected one of ${ADMIN_ACTIONS.join(', ')}, *`],
    ['billing:GET:/v1', 'permission: unknown service billing'],
    ['Api:GET', 'permission: invalid service name "Api"; expected [a-z][a-z0-9_-]{0,63}'],
    [':GET', 'permission: missing service name before : in :GET'],
    ['api', 'permission: expected service:action[:resource], found no : in api'],
    ['', 'permission: empty permission; expected service:action[:resource]'],
    ['api:GET /v1', 'permission: whitespace at position 8 is not allowed in a permission'],
    ['api:GET:/v1\u0000', 'permission: control character at position 12 is not allowed in a permission'],
    [`api:GET:/${'a'.repeat(600)}`, 'permission: permission is longer than 512 characters'],
    ['api:GET:', 'permission: empty resource after api:GET: ; leave out the last : to mean every resource'],
    ['api:GET:v1/orders', 'permission: path pattern v1/orders must start with /'],
    ['api:GET:/v1/', 'permission: path pattern /v1/ ends with /: a trailing slash is not significant (a request to /a/ is the request to /a), write /v1'],
    ['api:GET:/v1//orders', 'permission: path pattern /v1//orders has an empty segment (//)'],
    ['api:GET:/v1/order*', 'permission: segment "order*" of path pattern /v1/order*: * and ** must be whole segments (no partial wildcards)'],
    ['api:GET:/v1/**/**/x', 'permission: path pattern /v1/**/**/x has ** twice in a row; one ** is enough'],
    ['api:GET:/v1/../admin', 'permission: segment ".." of path pattern /v1/../admin: dot segment .. can never appear in an accepted request path'],
    ['api:GET:/v1/a%2Fb', 'permission: segment "a%2Fb" of path pattern /v1/a%2Fb: write segments decoded, without %-escapes (no accepted request path contains a literal %)'],
    ['api:GET:/v1/a\\b', 'permission: segment "a\\\\b" of path pattern /v1/a\\b: backslash can never appear in an accepted request path'],
    ['api:GET:/v1/a;b', 'permission: segment "a;b" of path pattern /v1/a;b: ; (path parameters are read differently by upstream servers) can never appear in an accepted request path'],
    ['api:GET:/v1/orders?id=1', 'permission: segment "orders?id=1" of path pattern /v1/orders?id=1: queries and fragments are not part of a permission\'s path'],
    ['db:read:orders', 'permission: postgres resource orders must be schema.table (public.orders, analytics.*, *.*)'],
    ['db:read:a.b.c', 'permission: postgres resource a.b.c must be schema.table (public.orders, analytics.*, *.*)'],
    ['db:read:public.', 'permission: postgres resource public. has an empty table; expected schema.table (public.orders, analytics.*)'],
    ['db:read:public.order-items', 'permission: table pattern "order-items" in public.order-items: use letters, digits, _ and $ (not first) and * (quoted identifiers are not supported)'],
    ['db:read:public.**', 'permission: table pattern "**" in public.**: ** is the same as *, write *'],
    ['tools:call:list_**', 'permission: name pattern list_**: ** is the same as *, write *'],
    ['latchkey:tokens.read:Prod', 'permission: invalid environment name "Prod"; expected [a-z][a-z0-9]{0,11}'],
    ['!!api:GET', 'permission: invalid service name "!api"; expected [a-z][a-z0-9_-]{0,63}'],
  ];

  it.each(ERRORS)('refuses %j', (text, message) => {
    const error = errorOf(text);
    expect(error.code).toBe('invalid_request');
    expect(error.field).toBe('permission');
    expect(error.message).toBe(message);
  });

  it('validates the action against the kind the catalog gives the service', () => {
    expect(() => parsePermission('db:GET', testCatalog)).toThrow(/postgres service db/);
    expect(() => parsePermission('api:select', testCatalog)).toThrow(/http service api/);
    // A catalog cannot make another service an admin one, nor shadow `latchkey`.
    const hostile = { kindOf: (service: string) => (service === 'api' ? ('latchkey' as const) : ('http' as const)) };
    expect(() => parsePermission('api:tokens.read', hostile)).toThrow(/unknown service api/);
    expect(parsePermission('latchkey:tokens.read', hostile).kind).toBe('latchkey');
  });
});

describe('parsePermissions and parseGrant', () => {
  it('names the element at fault', () => {
    let caught: unknown;
    try {
      parsePermissions(['api:GET', 'api:read', 'db:read', 'api:GETT:/v1'], testCatalog);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(LatchkeyError);
    expect((caught as LatchkeyError).field).toBe('permissions[3]');
    expect((caught as LatchkeyError).message).toMatch(/^permissions\[3\]: unknown action GETT for http service api/);
    expect(() => parsePermissions(['api:GETT'], testCatalog, 'allow')).toThrow(/^allow\[0\]: /);
  });

  it('expands roles into permissions, then adds the direct ones', () => {
    const grant = parseGrant({ roles: [{ name: 'reader', permissions: ['api:read', 'db:read'] }], permissions: ['!api:*:/admin/**'] }, testCatalog);
    expect(grant.map((permission) => permission.text)).toEqual(['api:read', 'db:read', '!api:*:/admin/**']);
    expect(() => parseGrant({ roles: [{ name: 'ops', permissions: ['api:GETT'] }], permissions: [] }, testCatalog)).toThrow(/^roles\.ops\.permissions\[0\]: unknown action/);
  });
});
