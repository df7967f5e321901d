// Issue 11: /v1/check and `latchkey check` answer for SQL — statement kind,
// table, the permission needed, the decision and the reason — for a stored
// token and for a grant written out, through the real admin API and the built bin.
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdminHarness, type AdminHarness } from '../test-support/admin-harness.js';

let h: AdminHarness;
let token: string;

beforeAll(async () => {
  h = await startAdminHarness('sqlite');
  const service = await h.call('POST', '/v1/services', {
    body: { name: 'appdb', kind: 'postgres', sqlFunctions: ['analytics.score'], bindings: [{ env: 'dev', upstream: 'postgres://127.0.0.1:5432' }] },
  });
  expect(service.status).toBe(201);
  const created = await h.call('POST', '/v1/tokens', { body: { name: 'sql-reader', env: 'dev', permissions: ['appdb:select:public.orders'], ttl: '1h' } });
  expect(created.status).toBe(201);
  token = created.body.token;
});
afterAll(async () => h?.close());

describe('POST /v1/check with sql and service', () => {
  it('names the statement kind, table and permission of a refusal, and audits the check without the SQL text', async () => {
    const answer = await h.call('POST', '/v1/check', { body: { token, sql: "DELETE FROM orders WHERE note = 'secret-literal'", service: 'appdb' } });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      allowed: false, reason: 'permission_denied', kind: 'delete', table: 'public.orders', permission: 'appdb:delete:public.orders',
      explanation: 'delete: delete on public.orders is not granted (needs appdb:delete:public.orders)', service: 'appdb',
      fingerprint: expect.stringMatching(/^[0-9a-f]{16}$/),
      statements: [{ kind: 'delete', functions: [], uses: [expect.objectContaining({ action: 'delete', table: 'public.orders', permission: 'appdb:delete:public.orders', allowed: false })] }],
      cidrs: expect.stringContaining('not evaluated'),
    });
    const events = (await h.store.readAudit({ limit: 1000 })).map((event) => event.detail as unknown as Record<string, unknown>);
    const check = events.filter((detail) => detail.action === 'token.check').at(-1);
    expect(check?.after).toMatchObject({ service: 'appdb', kind: 'delete', reason: 'permission_denied', fingerprint: answer.body.fingerprint });
    expect(JSON.stringify(events)).not.toContain('secret-literal');
  });

  it('allows what the token grants and shows what matched each use', async () => {
    const answer = await h.call('POST', '/v1/check', { body: { token, sql: 'SELECT id, lower(note) FROM orders WHERE id = 7', service: 'appdb' } });
    expect(answer.body).toMatchObject({
      allowed: true, reason: 'allowed', kind: 'select', table: null, needsWrite: false,
      statements: [{ kind: 'select', functions: ['lower'], uses: [{ action: 'select', table: 'public.orders', permission: 'appdb:select:public.orders', allowed: true, matched: 'appdb:select:public.orders' }] }],
    });
  });

  it('judges a grant written out, with the service\'s function list, and refuses what is always refused', async () => {
    const ask = async (sql: string, grant: string[] = ['appdb:read:public.*']) => (await h.call('POST', '/v1/check', { body: { grant, sql, service: 'appdb' } })).body;
    expect(await ask('SELECT analytics.score(id) FROM orders')).toMatchObject({ allowed: true });
    expect(await ask('SELECT pg_sleep(1)')).toMatchObject({ allowed: false, reason: 'permission_denied', kind: 'select', table: null, explanation: expect.stringContaining('function pg_sleep is not allowed') });
    expect(await ask('SET ROLE postgres', ['appdb:*'])).toMatchObject({ allowed: false, kind: 'set', explanation: 'SET role is refused: SET ROLE would change who the session is' });
    expect(await ask('SELEC 1')).toMatchObject({ allowed: false, reason: 'invalid_request', fingerprint: null });
    expect(await ask('TRUNCATE orders')).toMatchObject({ allowed: false, kind: 'truncate', table: 'public.orders', permission: 'appdb:truncate:public.orders', nearest: 'appdb:read:public.*' });
  });

  it('refuses a service that is not postgres, a half-asked question and a mix of the two forms', async () => {
    expect((await h.call('POST', '/v1/check', { body: { token, sql: 'SELECT 1', service: 'nope' } })).body).toMatchObject({ allowed: false, reason: 'service_unknown' });
    expect((await h.call('POST', '/v1/check', { body: { token, sql: 'SELECT 1' } })).status).toBe(400);
    expect((await h.call('POST', '/v1/check', { body: { token, sql: 'SELECT 1', service: 'appdb', method: 'GET', path: '/appdb/x' } })).status).toBe(400);
    expect((await h.call('POST', '/v1/check', { body: { token } })).status).toBe(400);
  });
});

describe('latchkey check --sql --service', () => {
  const BIN = resolve('bin/latchkey.js');
  const cli = (args: string[]) =>
    new Promise<{ status: number; stdout: string; stderr: string }>((done) => {
      execFile(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, LATCHKEY_URL: h.url, LATCHKEY_TOKEN: h.adminToken }, timeout: 20_000 }, (err, stdout, stderr) => {
        done({ status: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
      });
    });

  it('prints the decision, the statement kind, the table and the permission needed, and exits 3 when denied', async () => {
    const denied = await cli(['check', '--token', token, '--sql', 'DELETE FROM orders', '--service', 'appdb']);
    expect(denied.stderr).toBe('');
    expect(denied.status).toBe(3);
    expect(denied.stdout).toMatch(/^DENIED\n/);
    expect(denied.stdout).toMatch(/^reason:\s+permission_denied$/m);
    expect(denied.stdout).toMatch(/^statement:\s+delete$/m);
    expect(denied.stdout).toMatch(/^table:\s+public\.orders$/m);
    expect(denied.stdout).toMatch(/^needs:\s+appdb:delete:public\.orders$/m);
    // As the README shows it.
    expect(denied.stdout.replace(/server time: .*/, 'server time: …')).toBe([
      'DENIED',
      'reason:      permission_denied',
      'statement:   delete',
      'table:       public.orders',
      'needs:       appdb:delete:public.orders',
      'why:         delete: delete on public.orders is not granted (needs appdb:delete:public.orders)',
      'server time: …',
      'uses:',
      '  DENIED   delete   delete on public.orders  (appdb:delete:public.orders)',
      '',
    ].join('\n'));

    const allowed = await cli(['check', '--token', token, '--sql', 'SELECT * FROM orders', '--service', 'appdb', '--json']);
    expect(allowed.status).toBe(0);
    expect(JSON.parse(allowed.stdout)).toMatchObject({ allowed: true, kind: 'select' });

    const half = await cli(['check', '--token', token, '--sql', 'SELECT 1']);
    expect(half.status).not.toBe(0);
    expect(half.stderr).toContain('give both --sql and --service');
  });
});
