import { beforeAll, describe, expect, it } from 'vitest';
import { compileGrant, parsePermissions, type ServiceCatalog } from '../../policy/index.js';
import { grantCanWrite, loadSqlParser, sqlScope, type SqlVerdict } from './index.js';

const catalog: ServiceCatalog = { kindOf: (service) => (service === 'appdb' || service === 'other' ? 'postgres' : undefined) };

export function scopeOf(permissions: readonly string[], functions: readonly string[] = []) {
  const grant = compileGrant(parsePermissions(permissions, catalog, 'grant'), catalog);
  return sqlScope({ service: 'appdb', grant, functions });
}

function refusal(verdict: SqlVerdict) {
  if (verdict.allowed) throw new Error('expected a refusal');
  return verdict;
}

beforeAll(loadSqlParser);

describe('sqlScope', () => {
  it('allows select on the granted table and names kind, table and permission when it refuses', () => {
    const scope = scopeOf(['appdb:select:public.orders']);
    const allowed = scope.authorize('SELECT id, total FROM orders WHERE id = 42');
    expect(allowed).toMatchObject({ allowed: true, needsWrite: false });
    if (!allowed.allowed) throw new Error('allowed');
    expect(allowed.statements).toEqual([expect.objectContaining({ kind: 'select', uses: [{ action: 'select', schema: 'public', table: 'orders' }], functions: [] })]);
    expect(allowed.fingerprint).toMatch(/^[0-9a-f]{16}$/);

    expect(refusal(scope.authorize('DELETE FROM orders'))).toEqual({
      allowed: false, reason: 'permission_denied', kind: 'delete', table: 'public.orders', fingerprint: expect.stringMatching(/^[0-9a-f]{16}$/),
      detail: 'delete: delete on public.orders is not granted (needs appdb:delete:public.orders)',
    });
    expect(refusal(scope.authorize('SELECT * FROM customers'))).toMatchObject({ reason: 'permission_denied', kind: 'select', table: 'public.customers' });
  });

  it('refuses what does not parse as invalid_request, with no fingerprint', () => {
    expect(refusal(sqlScopeAll().authorize('SELEC * FROM orders'))).toMatchObject({ reason: 'invalid_request', fingerprint: null, kind: 'unknown', detail: expect.stringContaining('does not parse') });
    // An empty query runs nothing (PostgreSQL answers EmptyQueryResponse).
    for (const empty of ['', ' ', ';', '-- nothing']) expect(sqlScopeAll().authorize(empty)).toMatchObject({ allowed: true, statements: [], needsWrite: false });
  });

  it('needs write for any use but select, and reads grantCanWrite from the grant', () => {
    const writer = scopeOf(['appdb:*:public.*']);
    expect(writer.authorize('UPDATE orders SET total = 1')).toMatchObject({ allowed: true, needsWrite: true });
    expect(writer.authorize('SELECT 1')).toMatchObject({ allowed: true, needsWrite: false });
    const grant = (permissions: string[]) => compileGrant(parsePermissions(permissions, catalog, 'grant'), catalog);
    expect(grantCanWrite(grant(['appdb:read:public.*']), 'appdb')).toBe(false);
    expect(grantCanWrite(grant(['appdb:select', 'other:write']), 'appdb')).toBe(false);
    expect(grantCanWrite(grant(['appdb:insert:public.log']), 'appdb')).toBe(true);
    expect(grantCanWrite(grant(['appdb:ddl:public.*']), 'appdb')).toBe(true);
  });

  it('allows built-in side-effect-free functions, and others only when the service lists them', () => {
    const scope = scopeOf(['appdb:read:public.*'], ['analytics.score', 'nextval']);
    expect(scope.authorize("SELECT count(*), lower(name), now() - interval '1 day' FROM orders")).toMatchObject({ allowed: true });
    expect(scope.authorize('SELECT analytics.score(id) FROM orders')).toMatchObject({ allowed: true });
    expect(scope.authorize("SELECT nextval('orders_id_seq'), pg_catalog.nextval('x'), public.nextval('y')")).toMatchObject({ allowed: true });
    expect(refusal(scope.authorize('SELECT score(id) FROM orders'))).toMatchObject({
      reason: 'permission_denied', kind: 'select', table: null,
      detail: 'select: function score is not allowed (not a built-in side-effect-free function; the service may allow it: --sql-function score)',
    });
    expect(refusal(scope.authorize('SELECT other.score(id) FROM orders')).detail).toContain('function other.score is not allowed');
  });

  it('caches by normalized text: a hit returns the same verdict object', () => {
    const scope = scopeOf(['appdb:select:public.orders']);
    const first = scope.authorize('SELECT * FROM orders WHERE id = 1');
    expect(scope.authorize('SELECT * FROM orders WHERE id = 2')).toBe(first);
    expect(scope.authorize("SELECT * FROM orders WHERE id = 'x'")).toBe(first);
    expect(scope.authorize('SELECT * FROM secret.orders WHERE id = 1')).not.toBe(first);
    expect(refusal(scope.authorize('SELECT * FROM secret.orders WHERE id = 1')).table).toBe('secret.orders');
  });

  it('refuses a multi-statement string whole when any statement is refused', () => {
    const scope = scopeOf(['appdb:select:public.orders']);
    expect(scope.authorize('SELECT 1; SELECT * FROM orders')).toMatchObject({ allowed: true });
    expect(refusal(scope.authorize('SELECT * FROM orders; DROP TABLE orders'))).toMatchObject({ kind: 'ddl', table: 'public.orders', detail: 'ddl: ddl on public.orders is not granted (needs appdb:ddl:public.orders)' });
  });
});

function sqlScopeAll() {
  return scopeOf(['appdb:*']);
}
