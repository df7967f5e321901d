// Attacks on the admin API by holders of partial admin rights, end to end over
// loopback: a role swapped under the tokens that hold it, minting authority
// used to hand out what the minter does not hold, and /v1/check used to probe
// a stolen token. Each case checks the store is exactly as it was.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateToken } from '../token/index.js';
import { startAdminHarness, type AdminHarness, type StoreKind } from '../test-support/admin-harness.js';

const KINDS: StoreKind[] = ['sqlite', 'postgres'];

describe.each(KINDS)('admin escalations on %s', (kind) => {
  let h: AdminHarness;

  beforeAll(async () => {
    h = await startAdminHarness(kind);
    for (const name of ['orders', 'shop']) {
      const created = await h.call('POST', '/v1/services', { body: { name, kind: 'http', bindings: [{ env: 'dev', upstream: 'http://127.0.0.1:9' }] } });
      expect(created.status).toBe(201);
    }
  });
  afterAll(async () => h?.close());

  async function snapshot() {
    const [roles, tokens, head] = await Promise.all([h.store.listRoles(), h.store.listTokens({ limit: 500 }), h.store.auditHead()]);
    return JSON.stringify({ roles, tokens: tokens.items.map((t) => [t.id, t.status]).sort(), head });
  }

  async function refusedUnchanged(request: () => Promise<{ status: number; body: any }>, status: number, error: string) {
    const before = await snapshot();
    const response = await request();
    expect([response.status, response.body?.error]).toEqual([status, error]);
    expect(await snapshot()).toEqual(before);
    return response;
  }

  /** The admin events after `afterSeq`, once `ready` says they include what the test waits for (5 s at most). */
  async function eventsUntil(afterSeq: number, ready: (details: Record<string, unknown>[]) => boolean) {
    const deadline = Date.now() + 5000;
    for (;;) {
      const details = (await h.store.readAudit({ afterSeq, limit: 100 })).map((e) => e.detail as unknown as Record<string, unknown>);
      if (ready(details) || Date.now() > deadline) return details;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async function mintWithRoles(name: string, roles: string[], permissions: string[], env = 'prod') {
    const created = await h.call('POST', '/v1/tokens', { body: { name, env, roles, permissions, ttl: '1h' } });
    expect(created.status).toBe(201);
    return created.body as { id: string; token: string };
  }

  describe('a role cannot be swapped under the tokens that hold it', () => {
    it('refuses to delete a held role, so it cannot be re-created with latchkey:*', async () => {
      expect((await h.call('POST', '/v1/roles', { body: { name: 'ops', permissions: ['orders:read', 'latchkey:roles.read'] } })).status).toBe(201);
      const attacker = await mintWithRoles('attacker', ['ops'], ['latchkey:roles.write']);
      const deleted = await refusedUnchanged(() => h.call('DELETE', '/v1/roles/ops', { token: attacker.token }), 409, 'conflict');
      expect(deleted.body.message).toMatch(/held by 1 live token/);
      // Even with the role gone, re-creating it with admin permissions the writer lacks is refused.
      await refusedUnchanged(
        () => h.call('POST', '/v1/roles', { token: attacker.token, body: { name: 'ops2', permissions: ['latchkey:*'] } }),
        403, 'permission_denied',
      );
      // The attacker's own grant is exactly what it was.
      expect((await h.call('GET', '/v1/tokens', { token: attacker.token })).body.error).toBe('permission_denied');
    });

    it('refuses to widen a held role, by admin or by data permissions; a narrowing applies at once', async () => {
      expect((await h.call('POST', '/v1/roles', { body: { name: 'reader', permissions: ['orders:read', 'latchkey:roles.read', 'latchkey:check'] } })).status).toBe(201);
      const holder = await mintWithRoles('holder', ['reader'], ['latchkey:roles.write']);
      await refusedUnchanged(
        () => h.call('PUT', '/v1/roles/reader', { token: holder.token, body: { permissions: ['orders:read', 'latchkey:*'] } }),
        403, 'permission_denied',
      );
      // The root admin may hold latchkey:*, but a held role still cannot grow: not by admin, not by data permissions.
      await refusedUnchanged(() => h.call('PUT', '/v1/roles/reader', { body: { permissions: ['orders:read', 'latchkey:roles.read', 'latchkey:check', 'latchkey:tokens.read'] } }), 409, 'conflict');
      await refusedUnchanged(() => h.call('PUT', '/v1/roles/reader', { body: { permissions: ['orders:*', 'latchkey:roles.read', 'latchkey:check'] } }), 409, 'conflict');
      const check = () => h.call('POST', '/v1/check', { token: holder.token, body: { grant: ['orders:read'], method: 'GET', path: '/orders/x' } });
      expect((await check()).status).toBe(200);
      const narrowed = await h.call('PUT', '/v1/roles/reader', { token: holder.token, body: { permissions: ['orders:read', 'latchkey:roles.read'] } });
      expect(narrowed.status).toBe(200);
      expect([(await check()).status, (await check()).body.error]).toEqual([403, 'permission_denied']);
      const events = await h.store.readAudit({ kind: 'admin', limit: 10_000 });
      expect(events.some((e) => e.kind === 'admin' && e.detail.action === 'role.update' && e.detail.target === 'reader' && e.detail.actor === 'holder')).toBe(true);
    });

    it('lets a role widen or go once no live token holds it', async () => {
      expect((await h.call('POST', '/v1/roles', { body: { name: 'temp', permissions: ['orders:GET:/v1/a'] } })).status).toBe(201);
      const held = await mintWithRoles('temp-holder', ['temp'], []);
      expect((await h.call('POST', `/v1/tokens/${held.id}/revoke`)).status).toBe(200);
      expect((await h.call('PUT', '/v1/roles/temp', { body: { permissions: ['orders:*'] } })).status).toBe(200);
      expect((await h.call('DELETE', '/v1/roles/temp')).status).toBe(204);
    });
  });

  describe('minting authority is scoped by service', () => {
    it('latchkey:tokens.create:dev hands out only what its holder holds, in its own environment', async () => {
      const minter = await mintWithRoles('dev-minter', [], ['latchkey:tokens.create:dev', 'orders:read:/v1/orders/**'], 'dev');
      const mint = (permissions: string[], env = 'dev') => () =>
        h.call('POST', '/v1/tokens', { token: minter.token, body: { name: 'minted', env, permissions, ttl: '1h' } });
      const shop = await refusedUnchanged(mint(['shop:*']), 403, 'permission_denied');
      expect(shop.body.message).toContain('latchkey:tokens.create:dev:shop');
      await refusedUnchanged(mint(['orders:*']), 403, 'permission_denied');
      await refusedUnchanged(mint(['orders:read:/v1/**']), 403, 'permission_denied');
      expect((await mint(['orders:GET:/v1/orders/7'])()).status).toBe(201);
      expect((await mint(['orders:read:/v1/orders/**', '!orders:read:/v1/orders/secret'])()).status).toBe(201);
      // A role is no way around it: its permissions count as the token's.
      expect((await h.call('POST', '/v1/roles', { body: { name: 'shopper', permissions: ['shop:*'] } })).status).toBe(201);
      await refusedUnchanged(
        () => h.call('POST', '/v1/tokens', { token: minter.token, body: { name: 'minted', env: 'dev', roles: ['shopper'], ttl: '1h' } }),
        403, 'permission_denied',
      );
    });

    it('latchkey:tokens.create:dev:shop delegates shop in dev, and nothing else', async () => {
      const minter = await mintWithRoles('shop-minter', [], ['latchkey:tokens.create:dev:shop']);
      const mint = (permissions: string[], env = 'dev') =>
        h.call('POST', '/v1/tokens', { token: minter.token, body: { name: 'minted', env, permissions, ttl: '1h' } });
      expect((await mint(['shop:*'])).status).toBe(201);
      await refusedUnchanged(() => mint(['orders:read']), 403, 'permission_denied');
      await refusedUnchanged(() => mint(['shop:*'], 'prod'), 403, 'permission_denied');
      // Delegating authority is an admin permission: it cannot be passed on wider than held.
      await refusedUnchanged(() => mint(['latchkey:tokens.create:dev:*']), 403, 'permission_denied');
      await refusedUnchanged(() => mint(['latchkey:tokens.create:dev:orders']), 403, 'permission_denied');
    });

    it('refuses a service part where it means nothing, with the field named', async () => {
      for (const permission of ['latchkey:tokens.read:dev:shop', '!latchkey:tokens.create:dev:shop', 'latchkey:tokens.create:dev:nosuch', 'latchkey:tokens.create:dev:']) {
        const response = await refusedUnchanged(
          () => h.call('POST', '/v1/tokens', { body: { name: 'bad', env: 'dev', permissions: [permission], ttl: '1h' } }),
          400, 'invalid_request',
        );
        expect(response.body.field).toBe('permissions[0]');
      }
    });
  });

  describe('a honeytoken as the admin token', () => {
    it('is answered like a token never issued: status, headers, body and timing', async () => {
      const honey = (await h.call('POST', '/v1/tokens', { body: { name: 'admin-bait', env: 'prod', honey: true, ttl: '1h' } })).body.token as string;
      const observe = async (token: string) => {
        const started = performance.now();
        const response = await fetch(`${h.url}/v1/roles`, { headers: { authorization: `Bearer ${token}` } });
        const body = await response.text();
        const headers = [...response.headers].filter(([name]) => name !== 'date').map(([name, value]) => `${name}: ${value}`).sort().join('\n');
        return { status: response.status, headers, body, ms: performance.now() - started };
      };
      const honeyAnswers = [];
      const unknownAnswers = [];
      for (let i = 0; i < 30; i++) {
        honeyAnswers.push(await observe(honey));
        unknownAnswers.push(await observe(generateToken('prod')));
      }
      for (const answer of [...honeyAnswers, ...unknownAnswers]) {
        expect({ status: answer.status, headers: answer.headers, body: answer.body }).toEqual({ status: 401, headers: unknownAnswers[0]!.headers, body: unknownAnswers[0]!.body });
      }
      const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
      const [hm, um] = [median(honeyAnswers.map((a) => a.ms)), median(unknownAnswers.map((a) => a.ms))];
      console.log(`[admin honeytoken timing, ${kind}] median honeytoken ${hm.toFixed(2)} ms, unknown token ${um.toFixed(2)} ms over 30 each`);
      // The alarm (a log line, an alert, an audit write not waited for) adds nothing a client can time.
      expect(Math.abs(hm - um)).toBeLessThan(5);
    });
  });

  describe('/v1/check leaves a trace', () => {
    it('answers a honeytoken exactly like a token never issued, and raises the alarm in the log and the audit trail', async () => {
      const checker = await mintWithRoles('checker', [], ['latchkey:check']);
      const honey = (await h.call('POST', '/v1/tokens', { body: { name: 'bait', env: 'dev', honey: true, ttl: '1h' } })).body;
      const ask = (token: string) => h.call('POST', '/v1/check', { token: checker.token, body: { token, method: 'GET', path: '/orders/v1/orders/1' } });
      const head = await h.store.auditHead();
      const forHoney = await ask(honey.token);
      const forUnknown = await ask(generateToken('dev'));
      expect(forHoney.status).toBe(200);
      expect(forHoney.body).toEqual(forUnknown.body);
      expect(forHoney.body.reason).toBe('token_unknown');
      expect(h.logs()).toContain('honeytoken presented to the /v1/check route');
      // The alarm's event is written without holding the answer back (so that its timing cannot tell).
      const events = await eventsUntil(head.seq, (all) => all.some((d) => d.action === 'honeytoken.presented'));
      expect(events.filter((d) => d.action === 'honeytoken.presented')).toEqual([
        expect.objectContaining({ target: honey.id, actor: 'checker', after: expect.objectContaining({ via: 'check', tokenName: 'bait' }) }),
      ]);
      const checks = events.filter((d) => d.action === 'token.check');
      expect(checks).toEqual([
        expect.objectContaining({ actor: 'checker', target: honey.id, after: expect.objectContaining({ reason: 'token_unknown', path: '/v1/orders/1' }) }),
        expect.objectContaining({ actor: 'checker', target: '', after: expect.objectContaining({ reason: 'token_unknown' }) }),
      ]);
      expect(JSON.stringify(events)).not.toContain(honey.token);
    });

    it('audits every check of a real token with what the caller learnt, and a honeytoken used as the admin token', async () => {
      const checker = await mintWithRoles('checker2', [], ['latchkey:check']);
      const target = await mintWithRoles('target', [], ['orders:read'], 'dev');
      const head = await h.store.auditHead();
      const answer = await h.call('POST', '/v1/check', { token: checker.token, body: { token: target.token, method: 'DELETE', path: '/orders/v1/x' } });
      expect([answer.status, answer.body.allowed]).toEqual([200, false]);
      const honey = (await h.call('POST', '/v1/tokens', { body: { name: 'bait2', env: 'prod', honey: true, ttl: '1h' } })).body;
      expect((await h.call('GET', '/v1/roles', { token: honey.token })).body.error).toBe('token_unknown');
      const events = await eventsUntil(head.seq, (all) => all.some((d) => d.action === 'honeytoken.presented'));
      expect(events).toContainEqual(expect.objectContaining({ action: 'token.check', actor: 'checker2', target: target.id, after: expect.objectContaining({ method: 'DELETE', reason: 'permission_denied' }) }));
      expect(events).toContainEqual(expect.objectContaining({ action: 'honeytoken.presented', actor: 'anonymous', target: honey.id, after: expect.objectContaining({ via: 'admin_api' }) }));
    });
  });
});
