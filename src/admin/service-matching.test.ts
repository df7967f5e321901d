// Issue 8: a service's path matching and header-underscore policy through the
// admin API and the command line, and /v1/check applying the gateway's rules.
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdminHarness, type AdminHarness } from '../test-support/admin-harness.js';

let h: AdminHarness;

beforeAll(async () => {
  h = await startAdminHarness('sqlite');
});
afterAll(async () => h?.close());

describe('service path matching and header underscores', () => {
  it('default to exact and drop, are stored and shown, and refuse unknown values', async () => {
    const plain = await h.call('POST', '/v1/services', { body: { name: 'plain', kind: 'http', bindings: [{ env: 'dev', upstream: 'http://127.0.0.1:9' }] } });
    expect(plain.status).toBe(201);
    expect(plain.body).toMatchObject({ paths: 'exact', headerUnderscores: 'drop' });
    const loose = await h.call('POST', '/v1/services', {
      body: { name: 'loose', kind: 'http', paths: 'lenient', headerUnderscores: 'refuse', bindings: [{ env: 'dev', upstream: 'http://127.0.0.1:9' }] },
    });
    expect(loose.status).toBe(201);
    expect((await h.call('GET', '/v1/services/loose')).body).toMatchObject({ paths: 'lenient', headerUnderscores: 'refuse' });
    expect(await h.store.getService('loose')).toMatchObject({ paths: 'lenient', headerUnderscores: 'refuse' });
    for (const body of [{ paths: 'CASE' }, { headerUnderscores: 'keep' }]) {
      const refused = await h.call('POST', '/v1/services', { body: { name: 'bad', kind: 'http', ...body } });
      expect(refused.status).toBe(400);
    }
    expect(await h.store.getService('bad')).toBeUndefined();
  });

  it('/v1/check folds the path like the service and reads ?_method=', async () => {
    const grant = ['loose:*', '!loose:*:/v1/admin/**'];
    const check = async (method: string, path: string) => (await h.call('POST', '/v1/check', { body: { grant, method, path } })).body;
    expect(await check('GET', '/loose/v1/ADMIN.json')).toMatchObject({ allowed: false, reason: 'permission_denied', matched: '!loose:*:/v1/admin/**' });
    expect(await check('GET', '/loose/v1/admin~1')).toMatchObject({ allowed: false, reason: 'request_ambiguous' });
    expect(await check('GET', '/loose/v1/Orders/7.json')).toMatchObject({ allowed: true });
    const override = (await h.call('POST', '/v1/check', { body: { grant: ['plain:POST'], method: 'POST', path: '/plain/v1/x?_method=DELETE' } })).body;
    expect(override).toMatchObject({ allowed: false, reason: 'permission_denied' });
    const both = (await h.call('POST', '/v1/check', { body: { grant: ['plain:POST', 'plain:DELETE'], method: 'POST', path: '/plain/v1/x?_method=DELETE' } })).body;
    expect(both).toMatchObject({ allowed: true });
  });
});

describe('latchkey service add --paths --header-underscores', () => {
  const BIN = resolve('bin/latchkey.js');
  // Asynchronous: the admin API answering it runs in this very process.
  const cli = (args: string[]) =>
    new Promise<{ status: number; stdout: string; stderr: string }>((done) => {
      execFile(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, LATCHKEY_URL: h.url, LATCHKEY_TOKEN: h.adminToken }, timeout: 20_000 }, (err, stdout, stderr) => {
        done({ status: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
      });
    });

  it('creates a service with both, and refuses a different value for an existing service', async () => {
    const added = await cli(['service', 'add', 'cased', '--kind', 'http', '--env', 'dev', '--upstream', 'http://127.0.0.1:9', '--paths', 'case-insensitive', '--header-underscores', 'allow', '--json']);
    expect(added.stderr).toBe('');
    expect(added.status).toBe(0);
    expect(JSON.parse(added.stdout)).toMatchObject({ paths: 'case-insensitive', headerUnderscores: 'allow' });
    const again = await cli(['service', 'add', 'cased', '--kind', 'http', '--env', 'staging', '--upstream', 'http://127.0.0.1:9', '--paths', 'lenient']);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('--paths');
    expect((await h.store.getService('cased'))?.bindings.map((b) => b.env)).toEqual(['dev']);
  });
});
