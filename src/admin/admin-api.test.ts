import { readFileSync, existsSync } from 'node:fs';
import pg from 'pg';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateToken } from '../token/index.js';
import { startAdminHarness, type AdminHarness, type StoreKind } from '../test-support/admin-harness.js';

const KINDS: StoreKind[] = ['sqlite', 'postgres'];

describe.each(KINDS)('admin API on %s', (kind) => {
  let h: AdminHarness;

  beforeAll(async () => {
    h = await startAdminHarness(kind);
    const created = await h.call('POST', '/v1/services', {
      body: { name: 'orders', kind: 'http', bindings: [{ env: 'dev', upstream: 'http://127.0.0.1:9', credential: { from: 'env', variable: 'DEV_ORDERS_KEY' } }] },
    });
    expect(created.status).toBe(201);
    expect((await h.call('POST', '/v1/roles', { body: { name: 'orders-reader', permissions: ['orders:read:/v1/orders/**'] } })).status).toBe(201);
  });
  afterAll(async () => h?.close());

  describe('OpenAPI document', () => {
    it('is a valid OpenAPI 3.1 document', async () => {
      const response = await h.call('GET', '/v1/openapi.json', { token: null });
      expect(response.status).toBe(200);
      expect(response.body.openapi).toBe('3.1.0');
      const result = await new Validator().validate(response.body);
      expect(result.errors ?? []).toEqual([]);
      expect(result.valid).toBe(true);
    });

    it('documents exactly the /v1 routes that are served, each with its permission', async () => {
      const doc = (await h.call('GET', '/v1/openapi.json', { token: null })).body;
      const documented = Object.entries(doc.paths as Record<string, Record<string, { 'x-latchkey-permission': string }>>)
        .flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`)).sort();
      const served = h.app.servedRoutes
        .filter((r) => r.url.startsWith('/v1/') && r.url !== '/v1/openapi.json' && r.method !== 'HEAD')
        .map((r) => `${r.method} ${r.url.replace(/:([a-z]+)/g, '{$1}')}`).sort();
      expect(documented).toEqual(served);
      expect(documented.length).toBeGreaterThanOrEqual(15);
      for (const ops of Object.values(doc.paths as Record<string, Record<string, { 'x-latchkey-permission'?: string; 'x-latchkey-authentication'?: string }>>)) {
        // A route that takes no Latchkey token (GitHub's secret scanning) names its own authentication instead.
        for (const op of Object.values(ops)) expect(op['x-latchkey-permission'] ?? op['x-latchkey-authentication']).toMatch(/^(latchkey:[a-z.]+|[a-z-]+-signature|any-token-about-itself)$/);
      }
    });
  });

  describe('every route checks its own permission', () => {
    async function routes() {
      const doc = (await h.call('GET', '/v1/openapi.json', { token: null })).body;
      // Routes with their own authentication are refused by it (signature_invalid), tested where they are defined.
      return Object.entries(doc.paths as Record<string, Record<string, { 'x-latchkey-permission': string }>>).flatMap(([path, ops]) =>
        Object.entries(ops).filter(([, op]) => op['x-latchkey-permission'] !== undefined).map(([method, op]) => ({
          method: method.toUpperCase(),
          path: path.replace('{env}', 'dev').replace(/\{[a-z]+\}/g, 'x'),
          permission: op['x-latchkey-permission'],
        })));
    }

    it('refuses a request with no token: 401 token_missing', async () => {
      for (const r of await routes()) {
        const response = await h.call(r.method, r.path, { token: null });
        expect([r.method, r.path, response.status, response.body?.error]).toEqual([r.method, r.path, 401, 'token_missing']);
      }
    });

    it('refuses a malformed token: 401 token_malformed', async () => {
      const lookalike = h.adminToken.slice(0, -1) + (h.adminToken.endsWith('A') ? 'B' : 'A');
      for (const r of await routes()) {
        for (const token of ['not-a-token', lookalike]) {
          const response = await h.call(r.method, r.path, { token });
          expect([r.method, r.path, response.status, response.body?.error]).toEqual([r.method, r.path, 401, 'token_malformed']);
        }
      }
    });

    it("refuses a valid token lacking the route's permission: 403 permission_denied", async () => {
      // Each route is tried with a token holding every admin permission but its own.
      const all = ['environments.read', 'environments.write', 'services.read', 'services.write', 'roles.read', 'roles.write',
        'tokens.create', 'tokens.read', 'tokens.revoke', 'tokens.update', 'audit.read', 'audit.write', 'check'];
      const tokens = new Map<string, string>();
      for (const r of await routes()) {
        const action = r.permission.slice('latchkey:'.length);
        if (!tokens.has(action)) tokens.set(action, await h.mint(all.filter((a) => a !== action).map((a) => `latchkey:${a}`)));
        const response = await h.call(r.method, r.path, { token: tokens.get(action)!, ...(r.method === 'POST' && { body: {} }) });
        expect([r.method, r.path, response.status, response.body?.error]).toEqual([r.method, r.path, 403, 'permission_denied']);
      }
    });

    it('honours a deny over an allow, and environment-scoped admin permissions', async () => {
      const denied = await h.mint(['latchkey:*', '!latchkey:roles.read']);
      expect((await h.call('GET', '/v1/roles', { token: denied })).status).toBe(403);
      expect((await h.call('GET', '/v1/services', { token: denied })).status).toBe(200);
      const devOnly = await h.mint(['latchkey:tokens.create:dev:orders']);
      const body = (env: string) => ({ name: 'scoped', env, permissions: ['orders:GET:/v1/orders/*'], ttl: '1h' });
      expect((await h.call('POST', '/v1/tokens', { token: devOnly, body: body('dev') })).status).toBe(201);
      const prod = await h.call('POST', '/v1/tokens', { token: devOnly, body: body('prod') });
      expect([prod.status, prod.body.error]).toEqual([403, 'permission_denied']);
    });

    it('never lets a token mint a wider admin than itself, directly or through a role', async () => {
      const devCreator = await h.mint(['latchkey:tokens.create:dev', 'latchkey:roles.write']);
      const direct = await h.call('POST', '/v1/tokens', { token: devCreator, body: { name: 'escalate', env: 'dev', ttl: '1h', permissions: ['latchkey:*'] } });
      expect([direct.status, direct.body.error]).toEqual([403, 'permission_denied']);
      // A role cannot carry admin permissions its writer lacks, so it cannot smuggle them into a mint.
      const role = await h.call('POST', '/v1/roles', { token: devCreator, body: { name: 'all-admin', permissions: ['latchkey:*'] } });
      expect([role.status, role.body.error]).toEqual([403, 'permission_denied']);
      expect(await h.store.getRole('all-admin')).toBeUndefined();
      expect((await h.call('POST', '/v1/roles', { body: { name: 'all-admin', permissions: ['latchkey:*'] } })).status).toBe(201);
      const viaRole = await h.call('POST', '/v1/tokens', { token: devCreator, body: { name: 'escalate', env: 'dev', ttl: '1h', roles: ['all-admin'] } });
      expect([viaRole.status, viaRole.body.error]).toEqual([403, 'permission_denied']);
      const same = await h.call('POST', '/v1/tokens', { token: devCreator, body: { name: 'same', env: 'dev', ttl: '1h', permissions: ['latchkey:tokens.create:dev'] } });
      expect(same.status).toBe(201);
      // tokens.create:dev alone hands out only what its holder holds: no orders permission.
      const service = await h.call('POST', '/v1/tokens', { token: devCreator, body: { name: 'svc', env: 'dev', ttl: '1h', permissions: ['orders:*'] } });
      expect([service.status, service.body.error]).toEqual([403, 'permission_denied']);
    });

    it("refuses a credential file inside Latchkey's data directory", async () => {
      const response = await h.call('POST', '/v1/services', {
        body: { name: 'exfil', kind: 'http', bindings: [{ env: 'dev', upstream: 'http://127.0.0.1:1', credential: { from: 'file', path: `${h.dataDir}/keys/token-hmac.key` } }] },
      });
      expect([response.status, response.body.field]).toEqual([400, 'bindings[0].credential.path']);
      expect(await h.store.getService('exfil')).toBeUndefined();
    });

    it('applies an environment-scoped deny to actions that span environments', async () => {
      const notProd = await h.mint(['latchkey:tokens.read', '!latchkey:tokens.read:prod']);
      expect((await h.call('GET', '/v1/tokens?env=dev', { token: notProd })).status).toBe(200);
      expect((await h.call('GET', '/v1/tokens?env=prod', { token: notProd })).status).toBe(403);
      expect((await h.call('GET', '/v1/tokens', { token: notProd })).status).toBe(403);
    });

    it('refuses revoked, disabled, honey and unknown admin tokens, and tokens used from outside their CIDRs', async () => {
      const revoked = await h.mint(['latchkey:*']);
      const id = (await h.store.findTokenByHash(h.hasher.hash(revoked)))!.id;
      expect((await h.call('POST', `/v1/tokens/${id}/revoke`)).status).toBe(200);
      expect((await h.call('GET', '/v1/roles', { token: revoked })).body.error).toBe('token_revoked');
      const disabled = await h.mint(['latchkey:*']);
      const disabledId = (await h.store.findTokenByHash(h.hasher.hash(disabled)))!.id;
      expect((await h.call('POST', `/v1/tokens/${disabledId}/disable`)).status).toBe(200);
      expect((await h.call('GET', '/v1/roles', { token: disabled })).body.error).toBe('token_disabled');
      expect((await h.call('GET', '/v1/roles', { token: generateToken('prod') })).body.error).toBe('token_unknown');
      const honey = (await h.call('POST', '/v1/tokens', { body: { name: 'honey', env: 'prod', honey: true, ttl: '1h' } })).body.token;
      expect((await h.call('GET', '/v1/roles', { token: honey })).body.error).toBe('token_unknown');
      expect(h.logs()).toContain('honeytoken presented to the admin API');
      const elsewhere = (await h.call('POST', '/v1/tokens', { body: { name: 'remote', env: 'prod', permissions: ['latchkey:roles.read'], cidrs: ['10.0.0.0/8'], ttl: '1h' } })).body.token;
      expect((await h.call('GET', '/v1/roles', { token: elsewhere })).body.error).toBe('ip_not_allowed');
      const here = (await h.call('POST', '/v1/tokens', { body: { name: 'local', env: 'prod', permissions: ['latchkey:roles.read'], cidrs: ['127.0.0.0/8', '::1'], ttl: '1h' } })).body.token;
      expect((await h.call('GET', '/v1/roles', { token: here })).status).toBe(200);
    });
  });

  describe('bad input changes nothing and says why', () => {
    async function snapshot() {
      const [envs, services, roles, tokens, head] = await Promise.all([
        h.store.listEnvironments(), h.store.listServices(), h.store.listRoles(),
        h.store.listTokens({ limit: 500 }), h.store.auditHead(),
      ]);
      return JSON.stringify({ envs, services, roles, tokens: tokens.items.map((t) => t.id).sort(), head });
    }
    const valid = { name: 'job', env: 'dev', permissions: ['orders:read:/v1/orders/*'], ttl: '1h' };
    const cases: Array<[string, string, string, unknown, string]> = [
      ['unknown field', 'POST', '/v1/tokens', { ...valid, bogus: 1 }, 'bogus'],
      ['invalid permission', 'POST', '/v1/tokens', { ...valid, permissions: ['orders:GETT:/v1'] }, 'permissions[0]'],
      ['permission of a missing service', 'POST', '/v1/tokens', { ...valid, permissions: ['nosuch:read'] }, 'permissions[0]'],
      ['name with a control character', 'POST', '/v1/tokens', { ...valid, name: 'a\u0007b' }, 'name'],
      ['name over 128 characters', 'POST', '/v1/tokens', { ...valid, name: 'x'.repeat(129) }, 'name'],
      ['expiry in the past', 'POST', '/v1/tokens', { ...valid, ttl: undefined, expiresAt: Date.now() - 1000 }, 'expiresAt'],
      ['no expiry', 'POST', '/v1/tokens', { ...valid, ttl: undefined }, 'ttl'],
      ['lifetime over prod maximum (90d)', 'POST', '/v1/tokens', { ...valid, env: 'prod', ttl: '91d' }, 'ttl'],
      ['lifetime over dev maximum (365d)', 'POST', '/v1/tokens', { ...valid, ttl: '366d' }, 'ttl'],
      ['role that does not exist', 'POST', '/v1/tokens', { ...valid, roles: ['ghost'] }, 'roles[0]'],
      ['environment that does not exist', 'POST', '/v1/tokens', { ...valid, env: 'nowhere' }, 'env'],
      ['bad CIDR', 'POST', '/v1/tokens', { ...valid, cidrs: ['10.0.0.0/33'] }, 'cidrs[0]'],
      ['bad rate', 'POST', '/v1/tokens', { ...valid, rate: '100/fortnight' }, 'rate'],
      ['bad ttl', 'POST', '/v1/tokens', { ...valid, ttl: 'soon' }, 'ttl'],
      ['role with an invalid permission', 'POST', '/v1/roles', { name: 'bad', permissions: ['orders:read:v1'] }, 'permissions[0]'],
      ['role with a control character in its name', 'POST', '/v1/roles', { name: 'bad\n', permissions: ['orders:read'] }, 'name'],
      ['service in a missing environment', 'POST', '/v1/services', { name: 'billing', kind: 'http', bindings: [{ env: 'nowhere', upstream: 'http://127.0.0.1:1' }] }, 'bindings[0].env'],
      ['service with credentials in its URL', 'POST', '/v1/services', { name: 'billing', kind: 'http', bindings: [{ env: 'dev', upstream: 'http://u:p@127.0.0.1:1' }] }, 'bindings[0].upstream'],
      ['service reading a Latchkey variable', 'POST', '/v1/services', { name: 'billing', kind: 'http', bindings: [{ env: 'dev', upstream: 'http://127.0.0.1:1', credential: { from: 'env', variable: 'LATCHKEY_STORE' } }] }, 'bindings[0].credential.variable'],
      ['service reading a relative credential file', 'POST', '/v1/services', { name: 'billing', kind: 'http', bindings: [{ env: 'dev', upstream: 'http://127.0.0.1:1', credential: { from: 'file', path: 'keys/token-hmac.key' } }] }, 'bindings[0].credential.path'],
      ['service of an unknown kind', 'POST', '/v1/services', { name: 'billing', kind: 'ftp' }, 'kind'],
      ['environment with a bad name', 'POST', '/v1/environments', { name: 'Prod!' }, 'name'],
      ['environment that exists', 'POST', '/v1/environments', { name: 'dev' }, ''],
    ];
    it.each(cases)('%s → 4xx naming the field, store unchanged', async (_label, method, path, body, field) => {
      const before = await snapshot();
      const response = await h.call(method, path, { body });
      if (field === '') {
        expect(response.status).toBe(409);
      } else {
        expect(response.status).toBe(400);
        expect(response.body.error).toBe('invalid_request');
        expect(response.body.field).toBe(field);
        expect(response.body.message).toContain(field);
      }
      expect(await snapshot()).toBe(before);
    });

    it('malformed JSON → 400 naming the body, store unchanged', async () => {
      const before = await snapshot();
      const response = await h.call('POST', '/v1/tokens', { rawBody: '{"name": "x",' });
      expect([response.status, response.body.error, response.body.field]).toEqual([400, 'invalid_request', 'body']);
      expect(await snapshot()).toBe(before);
    });

    it('a body over 1 MiB → 413 body_too_large, store unchanged', async () => {
      const before = await snapshot();
      const response = await h.call('POST', '/v1/roles', { rawBody: JSON.stringify({ name: 'big', permissions: ['orders:read'], description: 'x'.repeat(1024 * 1024) }) });
      expect([response.status, response.body.error]).toEqual([413, 'body_too_large']);
      expect(await snapshot()).toBe(before);
    });

    it('a body that is not JSON → 415', async () => {
      const response = await h.call('POST', '/v1/roles', { rawBody: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      expect([response.status, response.body.error]).toEqual([415, 'unsupported_media_type']);
    });
  });

  describe('administrative changes', () => {
    it('are each audited with actor, before and after', async () => {
      const head = await h.store.auditHead();
      const created = await h.call('POST', '/v1/tokens', { body: { name: 'audited', env: 'dev', roles: ['orders-reader'], ttl: '2h' } });
      expect(created.status).toBe(201);
      expect((await h.call('POST', `/v1/tokens/${created.body.id}/disable`)).body.changed).toEqual([created.body.id]);
      expect((await h.call('POST', `/v1/tokens/${created.body.id}/enable`)).body.changed).toEqual([created.body.id]);
      expect((await h.call('POST', `/v1/tokens/${created.body.id}/revoke`)).body.changed).toEqual([created.body.id]);
      const enableRevoked = await h.call('POST', `/v1/tokens/${created.body.id}/enable`);
      expect([enableRevoked.status, enableRevoked.body.error]).toEqual([409, 'conflict']);
      const events = await h.store.readAudit({ afterSeq: head.seq, limit: 100 });
      expect(events.map((e) => e.kind === 'admin' && e.detail.action)).toEqual(['token.create', 'token.disable', 'token.enable', 'token.revoke']);
      for (const event of events) {
        if (event.kind !== 'admin') throw new Error('expected admin events');
        expect(event.detail.actor).toMatch(/^test-/);
        expect(event.detail.actorTokenId).toMatch(/^tok_/);
        expect(event.detail.target).toBe(created.body.id);
      }
    });

    it('lists tokens with filters and pagination, visiting each once', async () => {
      for (let i = 0; i < 7; i++) {
        expect((await h.call('POST', '/v1/tokens', { body: { name: `page-${i}`, env: 'staging', permissions: ['orders:GET'], ttl: '1h' } })).status).toBe(201);
      }
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: { status: number; body: { items: Array<{ id: string; env: string; hint: string }>; nextCursor: string | null } } =
          await h.call('GET', `/v1/tokens?env=staging&limit=3${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`);
        expect(page.status).toBe(200);
        for (const item of page.body.items) {
          expect(item.env).toBe('staging');
          expect(item.hint).toMatch(/^lk_staging_…[0-9A-Za-z]{4}$/);
          seen.push(item.id);
        }
        cursor = page.body.nextCursor;
      } while (cursor !== null);
      expect(seen.length).toBe(7);
      expect(new Set(seen).size).toBe(7);
    });
  });

  it("never shows or stores a created token's plaintext again", async () => {
    const created = await h.call('POST', '/v1/tokens', { body: { name: 'secret-keeper', env: 'dev', roles: ['orders-reader'], ttl: '1h' } });
    expect(created.status).toBe(201);
    const token: string = created.body.token;
    expect(token).toMatch(/^lk_dev_[0-9A-Za-z]{38}$/);
    const responses = [
      await h.call('GET', '/v1/tokens?limit=500'),
      await h.call('GET', `/v1/tokens/${created.body.id}`),
      await h.call('POST', '/v1/check', { body: { token, method: 'GET', path: '/orders/v1/orders/1' } }),
      await h.call('POST', `/v1/tokens/${created.body.id}/revoke`),
      await h.call('GET', `/v1/tokens/${created.body.id}`),
    ];
    for (const response of responses) {
      expect(response.status).toBe(200);
      expect(response.text).not.toContain(token);
      expect(response.text).not.toContain(token.slice(7, 30));
    }
    expect(h.logs()).not.toContain(token.slice(7, 30));
    const audit = JSON.stringify(await h.store.readAudit({ limit: 10_000 }));
    expect(audit).not.toContain(token.slice(7, 30));
    expect(audit).not.toContain(h.hasher.hash(token));
    if (h.sqliteFile !== null) {
      for (const file of [h.sqliteFile, `${h.sqliteFile}-wal`]) {
        if (!existsSync(file)) continue;
        const bytes = readFileSync(file);
        expect(bytes.includes(Buffer.from(token.slice(7, 30)))).toBe(false);
      }
    }
    if (h.pgUrl !== null) {
      const client = new pg.Client({ connectionString: h.pgUrl });
      await client.connect();
      try {
        const tables = await client.query<{ tablename: string }>("SELECT tablename FROM pg_tables WHERE schemaname = 'public'");
        expect(tables.rows.length).toBeGreaterThan(3);
        for (const { tablename } of tables.rows) {
          const rows = await client.query(`SELECT t::text AS row FROM ${tablename} t`);
          for (const row of rows.rows) expect(row.row).not.toContain(token.slice(7, 30));
        }
      } finally {
        await client.end();
      }
    }
  });
});
