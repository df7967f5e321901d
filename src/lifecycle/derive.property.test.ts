// Over random parents and random attempted children: whenever derive accepts a
// child, the child allows no request, address, time, rate or use its parent
// does not. Requests are judged by the compiled grants the gateway uses, and
// addresses by its CIDR sets.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileCidrs, parseAddress } from '../core/tokens/cidr.js';
import { LatchkeyError } from '../errors/index.js';
import { compileGrant, parsePermissions } from '../policy/index.js';
import type { ServiceCatalog } from '../policy/types.js';
import { aToken } from '../store/contract/fixtures.js';
import { resolveChild, type Ancestor } from './derive.js';

const CATALOG: ServiceCatalog = { kindOf: (name) => (name === 'orders' || name === 'users' ? 'http' : name === 'latchkey' ? 'latchkey' : undefined) };
const NOW = Date.UTC(2026, 0, 1);
const PERMISSIONS = [
  'orders:GET:/v1/orders/*', 'orders:read:/v1/**', 'orders:*:/v1/orders/**', 'orders:POST:/v1/orders', '!orders:delete:/v1/orders/7',
  'orders:GET:/v1/orders/7', 'users:read', 'users:GET:/v2/*/x', '!users:GET:/v2/a/x', 'orders:delete:/v1/orders/*',
];
const CIDRS = ['10.0.0.0/8', '10.1.0.0/16', '10.1.2.0/24', '192.168.0.0/16', '10.1.2.3/32', '0.0.0.0/0'];
const METHODS = ['GET', 'HEAD', 'POST', 'DELETE', 'PUT'];
const PATHS = [['v1', 'orders'], ['v1', 'orders', '7'], ['v1', 'orders', '8'], ['v1', 'orders', '7', 'items'], ['v2', 'a', 'x'], ['v2', 'b', 'x'], ['v1']];
const ADDRESSES = ['10.1.2.3', '10.1.2.4', '10.1.9.9', '10.9.9.9', '192.168.1.1', '8.8.8.8'];

const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 1 });
const rate = fc.record({ count: fc.integer({ min: 1, max: 100 }), periodMs: fc.constantFrom(1000, 60_000, 3_600_000) });

const parentArb = fc.record({
  permissions: fc.subarray(PERMISSIONS, { minLength: 1 }),
  expiresIn: fc.integer({ min: 1, max: 1000 }),
  notBefore: fc.option(fc.integer({ min: -100, max: 500 }), { nil: null }),
  cidrs: fc.subarray(CIDRS, { maxLength: 2 }),
  rate: fc.option(rate, { nil: null }),
  remaining: fc.option(fc.integer({ min: 0, max: 50 }), { nil: null }),
});
const childArb = fc.record({
  permissions: fc.subarray(PERMISSIONS, { minLength: 1 }),
  expiresIn: maybe(fc.integer({ min: -10, max: 1200 })),
  notBefore: maybe(fc.integer({ min: -200, max: 600 })),
  cidrs: maybe(fc.subarray(CIDRS, { maxLength: 2 })),
  rate: maybe(rate),
  maxUses: maybe(fc.integer({ min: 1, max: 80 })),
  env: maybe(fc.constantFrom('prod', 'dev')),
});

describe('derive never yields a child wider than its parent', () => {
  it('in requests, addresses, time, rate and uses', () => {
    let accepted = 0;
    let refused = 0;
    fc.assert(fc.property(parentArb, childArb, fc.nat(), (p, c, pick) => {
      // Half the children ask for some of the parent's own permissions, so that many are accepted.
      if (pick % 2 === 0) c = { ...c, permissions: p.permissions.slice(0, 1 + (pick % p.permissions.length)) };
      const record = aToken({
        env: 'prod', roles: [], permissions: p.permissions, expiresAt: NOW + p.expiresIn * 1000,
        notBefore: p.notBefore === null ? null : Math.min(NOW + p.notBefore * 1000, NOW + p.expiresIn * 1000 - 1),
        cidrs: p.cidrs, rate: p.rate, maxUses: p.remaining,
      });
      const parent: Ancestor = { record, permissions: parsePermissions(p.permissions, CATALOG, 'p'), remainingUses: p.remaining };
      let child;
      try {
        child = resolveChild([parent], {
          permissions: c.permissions,
          ...(c.env !== undefined && { env: c.env }),
          ...(c.expiresIn !== undefined && { expiresAt: NOW + c.expiresIn * 1000 }),
          ...(c.notBefore !== undefined && { notBefore: NOW + c.notBefore * 1000 }),
          ...(c.cidrs !== undefined && { cidrs: c.cidrs }),
          ...(c.rate !== undefined && { rate: c.rate }),
          ...(c.maxUses !== undefined && { maxUses: c.maxUses }),
        }, CATALOG, NOW);
      } catch (err) {
        expect(err).toBeInstanceOf(LatchkeyError);
        expect((err as LatchkeyError).code).toBe('invalid_request');
        refused++;
        return;
      }
      accepted++;
      const parentGrant = compileGrant(parent.permissions);
      const childGrant = compileGrant(parsePermissions(child.permissions, CATALOG, 'c'));
      for (const service of ['orders', 'users']) {
        for (const method of METHODS) {
          for (const path of PATHS) {
            if (childGrant.decideHttp(service, method, path).allowed) expect(parentGrant.decideHttp(service, method, path).allowed).toBe(true);
          }
        }
      }
      expect(child.env).toBe(record.env);
      expect(child.expiresAt).toBeLessThanOrEqual(record.expiresAt);
      if (record.notBefore !== null) expect(child.notBefore).not.toBeNull();
      if (record.notBefore !== null) expect(child.notBefore!).toBeGreaterThanOrEqual(record.notBefore);
      if (record.cidrs.length > 0) {
        const parentSet = compileCidrs(record.cidrs);
        expect(child.cidrs.length).toBeGreaterThan(0);
        const childSet = compileCidrs(child.cidrs);
        for (const text of ADDRESSES) {
          const address = parseAddress(text)!;
          if (childSet.contains(address)) expect(parentSet.contains(address)).toBe(true);
        }
      }
      if (record.rate !== null) {
        expect(child.rate).not.toBeNull();
        expect(child.rate!.count).toBeLessThanOrEqual(record.rate.count);
        expect(child.rate!.periodMs).toBeGreaterThanOrEqual(record.rate.periodMs);
      }
      if (p.remaining !== null) {
        expect(child.maxUses).not.toBeNull();
        expect(child.maxUses!).toBeLessThanOrEqual(p.remaining);
      }
    }), { numRuns: 2000 });
    // About half are accepted and half refused, so both sides of the rule are exercised.
    expect(accepted).toBeGreaterThan(500);
    expect(refused).toBeGreaterThan(300);
  });

  it('names the dimension it refuses', () => {
    const record = aToken({ env: 'prod', roles: [], permissions: ['orders:GET:/v1/orders/*'], expiresAt: NOW + 1000, cidrs: ['10.0.0.0/8'], rate: { count: 10, periodMs: 1000 } });
    const chain: Ancestor[] = [{ record, permissions: parsePermissions(record.permissions, CATALOG, 'p'), remainingUses: null }];
    const field = (request: Parameters<typeof resolveChild>[1], depth?: number) => {
      try {
        resolveChild(depth === undefined ? chain : Array.from({ length: depth }, () => chain[0]!), request, CATALOG, NOW);
        return 'accepted';
      } catch (err) {
        return (err as LatchkeyError).field;
      }
    };
    expect(field({ permissions: ['orders:GET:/v1/**'] })).toBe('permissions');
    expect(field({ permissions: ['orders:GET:/v1/orders/1'], expiresAt: NOW + 2000 })).toBe('expiresAt');
    expect(field({ permissions: ['orders:GET:/v1/orders/1'], cidrs: ['11.0.0.0/8'] })).toBe('cidrs');
    expect(field({ permissions: ['orders:GET:/v1/orders/1'], rate: { count: 20, periodMs: 1000 } })).toBe('rate');
    expect(field({ permissions: ['orders:GET:/v1/orders/1'], env: 'dev' })).toBe('env');
    expect(field({ permissions: ['orders:GET:/v1/orders/1'] }, 5)).toBe('depth');
    expect(field({ permissions: ['orders:GET:/v1/orders/1'] }, 4)).toBe('accepted');
  });
});
