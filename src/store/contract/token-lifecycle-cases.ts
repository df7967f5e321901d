// Rotation links, narrowing, the scheduler's queries and notices, and usage
// totals and the daily usage rollup that several nodes add to.
import { describe, expect, it } from 'vitest';
import type { Store } from '../store.js';
import { ALICE, T0, aDecision, aToken, allAudit, expectRefused, useStore, withEnvironments, type OpenStore } from './fixtures.js';

const HOUR = 3_600_000;
const FAR = Date.now() + 1000 * HOUR;

async function tokensIn(store: Store, ...overrides: Parameters<typeof aToken>[0][]) {
  await withEnvironments(store, 'prod');
  const made = overrides.map((o) => aToken({ expiresAt: FAR, ...o }));
  for (const token of made) await store.createToken(token, ALICE);
  return made;
}

export function tokenLifecycleCases(open: OpenStore): void {
  const opened = useStore(open);

  describe('token lifecycle', () => {
    it('rotates: links both ways, clamps the old expiry to the grace end, audits, refuses a second rotation', async () => {
      const { store } = opened();
      const [old] = await tokensIn(store, {});
      const successor = aToken({ expiresAt: FAR });
      const graceUntil = Date.now() + HOUR;
      expect((await store.rotateToken(old!.id, successor, graceUntil, ALICE)).ids).toEqual([]);
      expect((await store.getToken(old!.id))!.expiresAt).toBe(graceUntil);
      expect(await store.tokenLinks(old!.id)).toEqual({ predecessorId: null, successorId: successor.id, graceUntil });
      expect(await store.tokenLinks(successor.id)).toEqual({ predecessorId: old!.id, successorId: null, graceUntil: null });
      expect((await store.getToken(successor.id))!.permissions).toEqual(successor.permissions);
      expect((await allAudit(store)).at(-1)!.detail).toMatchObject({ action: 'token.rotate', target: old!.id });
      await expectRefused(store, 'conflict', () => store.rotateToken(old!.id, aToken({ expiresAt: FAR }), graceUntil, ALICE));
    });

    it('rotating with a grace period already over revokes the old token and its descendants at once', async () => {
      const { store } = opened();
      const [old] = await tokensIn(store, {});
      const child = aToken({ parentId: old!.id, expiresAt: FAR });
      await store.createToken(child, ALICE);
      const change = await store.rotateToken(old!.id, aToken({ expiresAt: FAR }), T0, ALICE);
      expect(change.ids).toEqual([old!.id, child.id]);
      expect((await store.getToken(child.id))!.status).toBe('revoked');
    });

    it('narrows a grant, audited; refuses a revoked token', async () => {
      const { store } = opened();
      const [token] = await tokensIn(store, { roles: [], permissions: ['orders:read', 'orders:delete'] });
      const after = await store.updateTokenGrant(token!.id, { roles: [], permissions: ['orders:read'] }, ALICE);
      expect(after.permissions).toEqual(['orders:read']);
      expect((await store.getToken(token!.id))!.permissions).toEqual(['orders:read']);
      expect((await allAudit(store)).at(-1)!.detail).toMatchObject({ action: 'token.narrow', after: { permissions: ['orders:read'] } });
      await store.setTokenStatus(token!.id, 'revoked', ALICE);
      await expectRefused(store, 'conflict', () => store.updateTokenGrant(token!.id, { roles: [], permissions: [] }, ALICE));
    });

    it('replaces a token\'s constraints, audited before and after; refuses a revoked token', async () => {
      const { store } = opened();
      const [token] = await tokensIn(store, { cidrs: [], rate: null, maxUses: null });
      const constraints = { expiresAt: token!.expiresAt + HOUR, cidrs: ['10.0.0.0/8'], rate: { count: 5, periodMs: 60_000 }, maxUses: 9 };
      const after = await store.updateTokenConstraints(token!.id, constraints, ALICE);
      expect(after).toMatchObject(constraints);
      expect(await store.getToken(token!.id)).toMatchObject(constraints);
      expect((await allAudit(store)).at(-1)!.detail).toMatchObject({ action: 'token.update', target: token!.id, after: constraints, before: { cidrs: [], rate: null, maxUses: null } });
      await store.setTokenStatus(token!.id, 'revoked', ALICE);
      await expectRefused(store, 'conflict', () => store.updateTokenConstraints(token!.id, constraints, ALICE));
    });

    it('finds what the scheduler acts on, and records each notice once', async () => {
      const { store } = opened();
      const now = Date.now();
      const [soon, later, gone, honey] = await tokensIn(store,
        { expiresAt: now + HOUR }, { expiresAt: now + 100 * HOUR }, {}, { expiresAt: now + HOUR, honey: true });
      await store.rotateToken(gone!.id, aToken({ expiresAt: FAR }), now + 2 * HOUR, ALICE);
      const expiring = await store.dueTokens({ kind: 'expiring', now, horizon: now + 3 * HOUR }, 100);
      expect(expiring.map((t) => t.id)).toEqual([soon!.id, gone!.id]);
      expect(await store.noteToken(soon!.id, 'expiring', ALICE, { expiresAt: soon!.expiresAt })).toBe(true);
      expect(await store.noteToken(soon!.id, 'expiring', ALICE, { expiresAt: soon!.expiresAt })).toBe(false);
      expect((await store.dueTokens({ kind: 'expiring', now, horizon: now + 3 * HOUR }, 100)).map((t) => t.id)).toEqual([gone!.id]);
      expect((await store.dueTokens({ kind: 'grace_end', now: now + 2 * HOUR }, 100)).map((t) => t.id)).toEqual([gone!.id]);
      expect(await store.dueTokens({ kind: 'grace_end', now: now + 2 * HOUR - 1 }, 100)).toEqual([]);
      const expired = await store.dueTokens({ kind: 'expired', now: now + 2 * HOUR }, 100);
      expect(expired.map((t) => t.id).sort()).toEqual([soon!.id, gone!.id].sort());
      expect(honey!.honey).toBe(true);
      void later;
    });

    it('adds usage from several nodes and finds tokens unused since a time', async () => {
      const { store } = opened();
      const [used, idle] = await tokensIn(store, {}, {});
      await store.addUsage([{ tokenId: used!.id, permission: 'orders:read', count: 3, lastUsed: T0 + 10 }]);
      await store.addUsage([
        { tokenId: used!.id, permission: 'orders:read', count: 4, lastUsed: T0 + 5 },
        { tokenId: used!.id, permission: 'orders:write', count: 1, lastUsed: T0 + 20 },
      ]);
      expect(await store.listUsage(used!.id)).toEqual([
        { tokenId: used!.id, permission: 'orders:read', count: 7, lastUsed: T0 + 10 },
        { tokenId: used!.id, permission: 'orders:write', count: 1, lastUsed: T0 + 20 },
      ]);
      expect((await store.listUsage()).length).toBe(2);
      const unused = await store.dueTokens({ kind: 'unused', env: 'prod', since: T0 + 15, now: T0 }, 100);
      expect(unused.map((t) => t.id)).toEqual([idle!.id]);
      expect((await store.dueTokens({ kind: 'unused', env: 'prod', since: T0 + 21, now: T0 }, 100)).map((t) => t.id).sort()).toEqual([used!.id, idle!.id].sort());
    });

    it('adds flushes of the usage rollup from several nodes: counts added, seen requests a set per day, read back distinct over a span of days', async () => {
      const { store, reopen } = opened();
      const other = reopen === undefined ? store : await reopen();
      try {
        const [a, b] = await tokensIn(store, {}, {});
        const seen = (tokenId: string, day: number, resource: string, action = 'GET') => ({ tokenId, permission: 'orders:read', day, service: 'orders', action, resource });
        await store.addUsageFlush({
          counts: [{ tokenId: a!.id, permission: 'orders:read', count: 3, lastUsed: T0 + 10 }],
          seen: [seen(a!.id, 100, '/v1/orders/7'), seen(a!.id, 100, '/v1/orders/8'), seen(a!.id, 101, '/v1/orders/7')],
          overflows: [],
        });
        // A second node saw some of the same requests, a new one, and passed its bound for token b on day 101.
        await other.addUsageFlush({
          counts: [{ tokenId: a!.id, permission: 'orders:read', count: 2, lastUsed: T0 + 5 }, { tokenId: b!.id, permission: 'orders:read', count: 70, lastUsed: T0 }],
          seen: [seen(a!.id, 100, '/v1/orders/7'), seen(a!.id, 102, '/v1/orders', 'POST'), seen(b!.id, 101, '/v1/users/1')],
          overflows: [{ tokenId: b!.id, permission: 'orders:read', day: 101 }, { tokenId: b!.id, permission: 'orders:read', day: 101 }],
        });
        await store.addUsageFlush({ counts: [] });
        expect(await store.listUsage(a!.id)).toEqual([{ tokenId: a!.id, permission: 'orders:read', count: 5, lastUsed: T0 + 10 }]);
        const key = (r: { tokenId: string; action?: string; resource?: string }) => `${r.tokenId} ${r.action ?? ''} ${r.resource ?? ''}`;
        const all = await store.listSeenRequests({ fromDay: 100, toDay: 102 });
        expect(all.requests.map(key).sort()).toEqual([
          `${a!.id} GET /v1/orders/7`, `${a!.id} GET /v1/orders/8`, `${a!.id} POST /v1/orders`, `${b!.id} GET /v1/users/1`,
        ].sort());
        expect(all.requests.find((r) => r.resource === '/v1/orders')).toEqual({ tokenId: a!.id, permission: 'orders:read', service: 'orders', action: 'POST', resource: '/v1/orders' });
        expect(all.overflows).toEqual([{ tokenId: b!.id, permission: 'orders:read' }]);
        const lastDay = await store.listSeenRequests({ fromDay: 102, toDay: 102 });
        expect([lastDay.requests.map(key), lastDay.overflows]).toEqual([[`${a!.id} POST /v1/orders`], []]);
        const ofB = await store.listSeenRequests({ fromDay: 0, toDay: 1000, tokenId: b!.id });
        expect([ofB.requests.map(key), ofB.overflows.length]).toEqual([[`${b!.id} GET /v1/users/1`], 1]);
        expect(await store.listSeenRequests({ fromDay: 103, toDay: 200 })).toEqual({ requests: [], overflows: [] });
      } finally {
        if (other !== store) await other.close();
      }
    });

    it('summarizes the allowed requests of a window by token, action, resource and matched permission', async () => {
      const { store } = opened();
      const t = 'tok_5umm4ry00000000000';
      await store.appendAudit([
        { kind: 'decision', time: T0, detail: aDecision({ tokenId: t, resource: '/v1/orders/7' }) },
        { kind: 'decision', time: T0 + 1, detail: aDecision({ tokenId: t, resource: '/v1/orders/7' }) },
        { kind: 'decision', time: T0 + 2, detail: aDecision({ tokenId: t, resource: '/v1/orders/8' }) },
        { kind: 'decision', time: T0 + 3, detail: aDecision({ tokenId: t, decision: 'deny', reason: 'permission_denied', matched: null }) },
        { kind: 'decision', time: T0 + 10, detail: aDecision({ tokenId: t, resource: '/v1/orders/9' }) },
      ]);
      const found = await store.summarizeRequests({ fromTime: T0, toTime: T0 + 10, tokenId: t });
      expect(found.sort((a, b) => a.resource.localeCompare(b.resource))).toEqual([
        { tokenId: t, service: 'orders', action: 'GET', resource: '/v1/orders/7', matched: 'orders:read', count: 2, lastTime: T0 + 1 },
        { tokenId: t, service: 'orders', action: 'GET', resource: '/v1/orders/8', matched: 'orders:read', count: 1, lastTime: T0 + 2 },
      ]);
      expect((await store.summarizeRequests({ fromTime: T0, toTime: T0 + 11 })).length).toBe(3);
    });
  });
}
