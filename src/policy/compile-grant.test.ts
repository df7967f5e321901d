import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileGrant } from './compile-grant.js';
import { plainDecision } from './decisions.js';
import { normalizePath } from './normalize-path.js';
import { parsePermissions } from './parse-permission.js';
import { decide, grantTexts, permissionText, policyRequest, referenceDecide, testCatalog } from './reference-interpreter.contract.js';
import type { CompiledGrant } from './types.js';

const compile = (texts: readonly string[]): CompiledGrant => compileGrant(parsePermissions(texts, testCatalog));

function segmentsOf(path: string): readonly string[] {
  const normalized = normalizePath(path);
  if (!normalized.ok) throw new Error(normalized.detail);
  return normalized.segments;
}

describe('compiled grant against the reference interpreter', () => {
  it('agrees on every decision, and names a permission that really matched', () => {
    fc.assert(
      fc.property(grantTexts, fc.array(policyRequest, { minLength: 1, maxLength: 20 }), (texts, requests) => {
        const grant = compile(texts);
        for (const request of requests) {
          const expected = referenceDecide(texts, request);
          const decision = decide(grant, request);
          expect(decision.allowed).toBe(expected.allowed);
          expect(decision.reason).toBe(expected.allowed ? 'allowed' : 'permission_denied');
          if (decision.allowed) expect(expected.matchingAllows).toContain(decision.matched);
          else if (expected.matchingDenies.length > 0) expect(expected.matchingDenies).toContain(decision.matched);
          else expect(decision.matched).toBeNull();
          expect(decision.explanation.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('lets a deny beat every allow that matches the same request, wherever the deny is placed', () => {
    fc.assert(
      fc.property(grantTexts, permissionText, fc.nat(), fc.array(policyRequest, { minLength: 1, maxLength: 10 }), (texts, extra, position, requests) => {
        const allowTwin = extra.replace(/^!/, '');
        const deny = `!${allowTwin}`;
        const withDeny = [...texts];
        withDeny.splice(position % (texts.length + 1), 0, deny);
        const twin = compile([allowTwin]);
        const grant = compile(withDeny);
        for (const request of requests) {
          // Where the deny's allow-twin would allow, the deny must refuse, whatever else the grant allows.
          if (!decide(twin, request).allowed) continue;
          const decision = decide(grant, request);
          expect(decision.allowed).toBe(false);
          expect(decision.matched?.startsWith('!')).toBe(true);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('http decisions', () => {
  const grant = compile([
    'api:read:/v1/**',
    'api:write:/v1/orders/*',
    '!api:*:/v1/admin/**',
    'api:DELETE:/v1/orders/*/items/*',
    'api:GET:/',
    'api:GET:/v2/**/export',
  ]);

  it('matches * on exactly one segment and ** on zero or more', () => {
    expect(grant.decideHttp('api', 'POST', segmentsOf('/v1/orders/7')).allowed).toBe(true);
    expect(grant.decideHttp('api', 'POST', segmentsOf('/v1/orders')).allowed).toBe(false);
    expect(grant.decideHttp('api', 'POST', segmentsOf('/v1/orders/7/items')).allowed).toBe(false);
    expect(grant.decideHttp('api', 'GET', segmentsOf('/v1')).allowed).toBe(true);
    expect(grant.decideHttp('api', 'GET', segmentsOf('/v2/export')).allowed).toBe(true);
    expect(grant.decideHttp('api', 'GET', segmentsOf('/v2/a/b/c/export')).allowed).toBe(true);
    expect(grant.decideHttp('api', 'GET', segmentsOf('/v2/a/b/c/export/x')).allowed).toBe(false);
    expect(grant.decideHttp('api', 'GET', segmentsOf('/')).allowed).toBe(true);
    // GET covers HEAD (and a deny on GET denies HEAD too); OPTIONS is its own method.
    expect(grant.decideHttp('api', 'HEAD', segmentsOf('/')).allowed).toBe(true);
    expect(grant.decideHttp('api', 'OPTIONS', segmentsOf('/')).allowed).toBe(false);
  });

  it('denies HEAD wherever GET is denied', () => {
    const hidden = compile(['api:read:/v1/**', '!api:GET:/v1/secret']);
    expect(hidden.decideHttp('api', 'HEAD', segmentsOf('/v1/secret')).matched).toBe('!api:GET:/v1/secret');
    expect(hidden.decideHttp('api', 'HEAD', segmentsOf('/v1/open')).allowed).toBe(true);
  });

  it('treats a trailing slash as the same resource, so it cannot slip past a deny', () => {
    expect(grant.decideHttp('api', 'GET', segmentsOf('/v1/admin/')).matched).toBe('!api:*:/v1/admin/**');
    expect(grant.decideHttp('api', 'POST', segmentsOf('/v1/orders/7/')).allowed).toBe(true);
  });

  it('returns the same frozen decision for the same matching permission', () => {
    const first = grant.decideHttp('api', 'GET', segmentsOf('/v1/orders/7'));
    const second = grant.decideHttp('api', 'HEAD', segmentsOf('/v1/items'));
    expect(first).toBe(second);
    expect(Object.isFrozen(first)).toBe(true);
    expect(plainDecision(first)).toEqual({ allowed: true, reason: 'allowed', matched: 'api:read:/v1/**', nearest: null, explanation: 'allowed by api:read:/v1/**' });
  });

  it('names the matching deny', () => {
    const decision = grant.decideHttp('api', 'GET', segmentsOf('/v1/admin/users'));
    expect(plainDecision(decision)).toEqual({
      allowed: false,
      reason: 'permission_denied',
      matched: '!api:*:/v1/admin/**',
      nearest: null,
      explanation: 'denied by !api:*:/v1/admin/** (a deny wins over any allow)',
    });
  });

  it('explains a denial by the nearest allow: same path, another method', () => {
    const decision = grant.decideHttp('api', 'DELETE', segmentsOf('/v1/orders/7'));
    expect(decision.matched).toBeNull();
    expect(decision.nearest).toBe('api:write:/v1/orders/*');
    expect(decision.explanation).toBe('DELETE /v1/orders/7: api:write:/v1/orders/* grants POST, PUT, PATCH, not DELETE');
    const broad = grant.decideHttp('api', 'PUT', segmentsOf('/v1/items/3'));
    expect(broad.nearest).toBe('api:write:/v1/orders/*');
    expect(compile(['api:read']).decideHttp('api', 'PUT', segmentsOf('/x')).explanation).toBe('PUT /x: api:read grants GET, HEAD, OPTIONS, not PUT');
  });

  it('explains a denial by the nearest allow: the right method, the longest matching prefix', () => {
    const decision = grant.decideHttp('api', 'DELETE', segmentsOf('/v1/orders/7/lines/2'));
    expect(decision.nearest).toBe('api:DELETE:/v1/orders/*/items/*');
    expect(decision.explanation).toBe('DELETE /v1/orders/7/lines/2 does not match /v1/orders/*/items/* (nearest allow: api:DELETE:/v1/orders/*/items/*)');
    const under = compile(['api:GET:/v1/items/**']).decideHttp('api', 'GET', segmentsOf('/v1/orders/7'));
    expect(under.explanation).toBe('GET /v1/orders/7 is not under /v1/items/** (nearest allow: api:GET:/v1/items/**)');
  });

  it('explains when nothing fits in action or resource, and when the service has only denies', () => {
    const neither = compile(['api:GET:/v1/**']).decideHttp('api', 'POST', segmentsOf('/v2/x'));
    expect(neither.explanation).toBe('POST /v2/x is not under /v1/**, and api:GET:/v1/** grants GET, HEAD, not POST');
    const onlyDenies = compile(['!api:DELETE']).decideHttp('api', 'GET', segmentsOf('/x'));
    expect(plainDecision(onlyDenies)).toEqual({ allowed: false, reason: 'permission_denied', matched: null, nearest: null, explanation: 'no permission allows http service api' });
  });

  it('serializes a default denial with its explanation', () => {
    const decision = grant.decideHttp('api', 'PUT', segmentsOf('/v1/items/3'));
    expect(JSON.parse(JSON.stringify(decision))).toEqual(plainDecision(decision));
  });

  it('never grants a method outside the seven, nor a lowercase one', () => {
    const all = compile(['api:*']);
    expect(all.decideHttp('api', 'TRACE', []).allowed).toBe(false);
    expect(all.decideHttp('api', 'CONNECT', []).explanation).toMatch(/CONNECT is not a method any permission grants/);
    expect(all.decideHttp('api', 'get', []).allowed).toBe(false);
  });

  it('fails closed on segments that did not come from normalizePath', () => {
    const all = compile(['api:*', '!api:*:/admin']);
    expect(all.decideHttp('api', 'GET', ['admin', '']).allowed).toBe(false);
    expect(all.decideHttp('api', 'GET', ['x', '..', 'admin']).allowed).toBe(false);
    expect(all.decideHttp('api', 'GET', ['.', 'admin']).explanation).toMatch(/not normalized/);
    expect(all.decideHttp('api', 'GET', ['x']).allowed).toBe(true);
  });

  it('denies services the grant does not mention, and other kinds of the same name', () => {
    expect(grant.decideHttp('web', 'GET', segmentsOf('/v1')).explanation).toBe('no permission of this grant covers http service web');
    expect(grant.decidePostgres('api', 'select', 'public', 'orders').allowed).toBe(false);
  });

  it('stays fast with many ** in a pattern (no exponential backtracking)', () => {
    const heavy = compile(['api:GET:/**/a/**/a/**/a/**/a/**/b']);
    const segments = Array.from({ length: 200 }, () => 'a');
    const started = performance.now();
    expect(heavy.decideHttp('api', 'GET', segments).allowed).toBe(false);
    expect(heavy.decideHttp('api', 'GET', [...segments, 'b']).allowed).toBe(true);
    expect(performance.now() - started).toBeLessThan(500);
  });
});

describe('postgres, mcp and admin decisions', () => {
  const grant = compile([
    'db:read:public.*',
    'db:write:public.order_*',
    '!db:*:public.order_secrets',
    'db:ddl:Analytics.Staging_*',
    'tools:call:list_*',
    '!tools:call:list_secrets',
    'tools:read',
    'latchkey:tokens.read',
    'latchkey:tokens.create:staging',
    '!latchkey:tokens.create:prod',
  ]);

  it('decides postgres per action and table glob, identifiers folded to lowercase', () => {
    expect(grant.decidePostgres('db', 'select', 'public', 'anything').allowed).toBe(true);
    expect(grant.decidePostgres('db', 'update', 'public', 'order_lines').matched).toBe('db:write:public.order_*');
    expect(grant.decidePostgres('db', 'update', 'public', 'orders').allowed).toBe(false);
    expect(grant.decidePostgres('db', 'select', 'public', 'order_secrets').matched).toBe('!db:*:public.order_secrets');
    expect(grant.decidePostgres('db', 'ddl', 'analytics', 'staging_x').matched).toBe('db:ddl:analytics.staging_*');
    expect(grant.decidePostgres('db', 'truncate', 'public', 'orders').explanation).toBe('truncate on public.orders: db:read:public.* grants select, not truncate');
    expect(grant.decidePostgres('db', 'read', 'public', 'orders').allowed).toBe(false);
  });

  it('decides mcp tools, resources and prompts by name glob', () => {
    expect(grant.decideMcp('tools', 'call', 'list_users').allowed).toBe(true);
    expect(grant.decideMcp('tools', 'call', 'list_secrets').matched).toBe('!tools:call:list_secrets');
    expect(grant.decideMcp('tools', 'read', 'file:///etc/motd').allowed).toBe(true);
    expect(grant.decideMcp('tools', 'get', 'summarize').allowed).toBe(false);
    expect(grant.decideMcp('tools', 'call', 'create_issue').explanation).toBe('call create_issue: create_issue does not match list_* (nearest allow: tools:call:list_*)');
  });

  it('decides admin actions, optionally scoped to an environment', () => {
    expect(grant.decideAdmin('tokens.read', undefined).allowed).toBe(true);
    expect(grant.decideAdmin('tokens.read', 'prod').allowed).toBe(true);
    expect(grant.decideAdmin('tokens.create', 'staging').allowed).toBe(true);
    expect(grant.decideAdmin('tokens.create', 'prod').matched).toBe('!latchkey:tokens.create:prod');
    expect(grant.decideAdmin('tokens.create', undefined).allowed).toBe(false);
    // A deny scoped to one environment also covers an action that names none.
    expect(compile(['latchkey:tokens.read', '!latchkey:tokens.read:prod']).decideAdmin('tokens.read', undefined).allowed).toBe(false);
    expect(compile(['latchkey:tokens.read', '!latchkey:tokens.read:prod']).decideAdmin('tokens.read', 'dev').allowed).toBe(true);
    expect(grant.decideAdmin('tokens.create', 'dev').explanation).toBe('tokens.create in dev: latchkey:tokens.create:staging is limited to environment staging (nearest allow: latchkey:tokens.create:staging)');
    expect(grant.decideAdmin('tokens.revoke', 'staging').allowed).toBe(false);
    expect(compile(['latchkey:roles.write:prod']).decideAdmin('roles.write', undefined).explanation).toBe(
      'roles.write is not scoped to an environment, and latchkey:roles.write:prod is limited to environment prod (nearest allow: latchkey:roles.write:prod)',
    );
    expect(grant.decideAdmin('no.such.action', undefined).allowed).toBe(false);
    expect(compile([]).decideAdmin('check', undefined).allowed).toBe(false);
  });
});

describe('compileGrant input checks', () => {
  it('refuses a hand-made permission it cannot compile fully, rather than dropping it', () => {
    const bogus = { effect: 'deny', service: 'api', kind: 'http', action: 'FETCH', resource: undefined, text: '!api:FETCH' } as const;
    expect(() => compileGrant([bogus])).toThrow(/permissions\[0\]: action FETCH is not valid for kind http/);
    const badPath = { effect: 'deny', service: 'api', kind: 'http', action: 'GET', resource: '/a/../b', text: '!api:GET:/a/../b' } as const;
    expect(() => compileGrant([badPath])).toThrow(/dot segment/);
    const fakeAdmin = { effect: 'allow', service: 'api', kind: 'latchkey', action: '*', resource: undefined, text: 'api:*' } as const;
    expect(() => compileGrant([fakeAdmin])).toThrow(/only service latchkey/);
  });
});
