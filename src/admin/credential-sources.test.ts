import { linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdminHarness, type AdminHarness } from '../test-support/admin-harness.js';

// Issue 8, finding 2, as an attacker who read the source: a token holding only
// `latchkey:services.write:dev` (and services.read) tries to point a dev
// binding's credential at a secret that is not dev's — another environment's
// variable, Latchkey's own variables and files, through /proc, symlinks, hard
// links, `..` and relative paths. Each is refused with 400 naming the field,
// and nothing in the store (services, audit chain) changes.

let h: AdminHarness;
let secrets: string;
let keyFile: string;
let attacker: string;

beforeAll(async () => {
  secrets = mkdtempSync(join(tmpdir(), 'latchkey-secrets-'));
  mkdirSync(join(secrets, 'dev'));
  mkdirSync(join(secrets, 'prod'));
  writeFileSync(join(secrets, 'prod', 'orders.key'), 'prod-orders-secret\n', { mode: 0o600 });
  writeFileSync(join(secrets, 'dev', 'orders.key'), 'dev-orders-secret\n', { mode: 0o600 });
  h = await startAdminHarness('sqlite', Date.now, {
    config: {
      credentials: { dev: { directories: [join(secrets, 'dev')] }, prod: { directories: [join(secrets, 'prod')] } },
      // Named as Latchkey's own secret; it would otherwise match dev's default DEV_* glob.
      audit: { webhook: { url: 'https://hooks.example.test/latchkey', secretEnv: 'DEV_AUDIT_HOOK_SECRET' } },
    },
  });
  mkdirSync(join(h.dataDir, 'keys'), { recursive: true });
  keyFile = join(h.dataDir, 'keys', 'token-hmac.key');
  writeFileSync(keyFile, 'the-token-hashing-key\n', { mode: 0o600 });
  // What an attacker finds planted (or plants, with a shell elsewhere) in dev's allowed directory.
  symlinkSync(keyFile, join(secrets, 'dev', 'key-link'));
  symlinkSync(h.dataDir, join(secrets, 'dev', 'data-link'));
  symlinkSync(join(secrets, 'prod'), join(secrets, 'dev', 'prod-link'));
  symlinkSync('/proc/self/environ', join(secrets, 'dev', 'environ-link'));
  symlinkSync(join(h.dataDir, 'latchkey.json'), join(secrets, 'dev', 'config-link'));
  linkSync(keyFile, join(secrets, 'dev', 'hard-link.key'));

  const created = await h.call('POST', '/v1/services', {
    body: { name: 'orders', kind: 'http', bindings: [{ env: 'dev', upstream: 'http://127.0.0.1:9', credential: { from: 'env', variable: 'DEV_ORDERS_KEY' } }] },
  });
  expect(created.status).toBe(201);
  attacker = await h.mint(['latchkey:services.write:dev', 'latchkey:services.read'], 'dev');
});

afterAll(async () => {
  await h?.close();
  rmSync(secrets, { recursive: true, force: true });
});

async function snapshot(): Promise<string> {
  const [services, head] = await Promise.all([h.store.listServices(), h.store.auditHead()]);
  return JSON.stringify({ services, head });
}

const variables = [
  ['another environment\'s variable', 'PROD_SECRET'],
  ['the token hashing key variable', 'LATCHKEY_SECRET'],
  ['the store URL variable', 'LATCHKEY_STORE'],
  ['a Latchkey variable in lower case', 'latchkey_secret'],
  ['the variable the config names as the audit webhook secret', 'DEV_AUDIT_HOOK_SECRET'],
  ['the store driver\'s password variable', 'PGPASSWORD'],
  ['a variable outside dev\'s glob', 'ORDERS_API_KEY'],
] as const;

const files = (): Array<readonly [string, string]> => [
  ['the key file by /proc/self/root', `/proc/self/root${keyFile}`],
  ['the process environment', '/proc/self/environ'],
  ['the key file, directly', keyFile],
  ['a symlink in the allowed directory to the key file', join(secrets, 'dev', 'key-link')],
  ['a symlink in the allowed directory to the data directory', join(secrets, 'dev', 'data-link')],
  ['the key file through a symlink to the data directory', join(secrets, 'dev', 'data-link', 'keys', 'token-hmac.key')],
  ['a symlink to /proc/self/environ', join(secrets, 'dev', 'environ-link')],
  ['a symlink to the config file', join(secrets, 'dev', 'config-link')],
  ['a hard link to the key file', join(secrets, 'dev', 'hard-link.key')],
  ['prod\'s file by ..', `${join(secrets, 'dev')}/../prod/orders.key`],
  ['prod\'s file through a symlinked directory', join(secrets, 'dev', 'prod-link', 'orders.key')],
  // Lexically inside dev's directory; the kernel resolves `..` after the symlink, into the data directory's parent.
  ['the key file by .. after a symlink', `${join(secrets, 'dev', 'data-link')}/../${basename(h.dataDir)}/keys/token-hmac.key`],
  ['a relative path', 'keys/token-hmac.key'],
  ['a relative path with ./', './orders.key'],
  ['a relative path into the allowed directory', `${basename(secrets)}/dev/orders.key`],
  ['dev\'s file spelled through /proc/self/cwd', `/proc/self/cwd/${join(secrets, 'dev', 'orders.key')}`],
];

describe('credential sources a services.write:dev token may not name', () => {
  // The dev-scoped token may only set dev bindings (creating a service needs services.write everywhere), so
  // creation is tried with the full admin token: the allow-list binds every caller alike.
  it.each(variables)('variable: %s → 400 on update and on create, store unchanged', async (_label, variable) => {
    const before = await snapshot();
    const create = await h.call('POST', '/v1/services', {
      body: { name: 'exfil', kind: 'http', bindings: [{ env: 'dev', upstream: 'http://127.0.0.1:9', credential: { from: 'env', variable } }] },
    });
    expect([create.status, create.body.error, create.body.field]).toEqual([400, 'invalid_request', 'bindings[0].credential.variable']);
    const update = await h.call('PUT', '/v1/services/orders/bindings/dev', {
      token: attacker,
      body: { upstream: 'http://127.0.0.1:9', credential: { from: 'env', variable } },
    });
    expect([update.status, update.body.error, update.body.field]).toEqual([400, 'invalid_request', 'body.credential.variable']);
    expect(await snapshot()).toBe(before);
  });

  it('file: every path trick → 400 on update and on create, store unchanged', async () => {
    const before = await snapshot();
    for (const [label, path] of files()) {
      const create = await h.call('POST', '/v1/services', {
        body: { name: 'exfil', kind: 'http', bindings: [{ env: 'dev', upstream: 'http://127.0.0.1:9', credential: { from: 'file', path } }] },
      });
      expect([label, create.status, create.body.error, create.body.field]).toEqual([label, 400, 'invalid_request', 'bindings[0].credential.path']);
      const update = await h.call('PUT', '/v1/services/orders/bindings/dev', {
        token: attacker,
        body: { upstream: 'http://127.0.0.1:9', credential: { from: 'file', path } },
      });
      expect([label, update.status, update.body.field]).toEqual([label, 400, 'body.credential.path']);
      // The refusal describes the path, never what the file holds.
      expect(update.text).not.toContain('the-token-hashing-key');
    }
    expect(await snapshot()).toBe(before);
  });

  it('an admin token with every permission is held to the same allow-list', async () => {
    const before = await snapshot();
    const response = await h.call('PUT', '/v1/services/orders/bindings/dev', {
      body: { upstream: 'http://127.0.0.1:9', credential: { from: 'file', path: `/proc/self/root${keyFile}` } },
    });
    expect([response.status, response.body.field]).toEqual([400, 'body.credential.path']);
    const prod = await h.call('PUT', '/v1/services/orders/bindings/dev', {
      body: { upstream: 'http://127.0.0.1:9', credential: { from: 'file', path: join(secrets, 'prod', 'orders.key') } },
    });
    expect([prod.status, prod.body.field]).toEqual([400, 'body.credential.path']);
    expect(await snapshot()).toBe(before);
  });
});

describe('credential sources dev may name', () => {
  it('its own DEV_* variable and a real file in its allowed directory are accepted', async () => {
    const variable = await h.call('PUT', '/v1/services/orders/bindings/dev', {
      token: attacker,
      body: { upstream: 'http://127.0.0.1:9', credential: { from: 'env', variable: 'DEV_BILLING_KEY' } },
    });
    expect(variable.status).toBe(200);
    const file = await h.call('PUT', '/v1/services/orders/bindings/dev', {
      token: attacker,
      body: { upstream: 'http://127.0.0.1:9', credential: { from: 'file', path: join(secrets, 'dev', 'orders.key') } },
    });
    expect(file.status).toBe(200);
    const stored = (await h.store.getService('orders'))!.bindings.find((b) => b.env === 'dev')!;
    expect(stored.credential).toEqual({ from: 'file', path: join(secrets, 'dev', 'orders.key'), header: 'Authorization', scheme: 'Bearer' });
  });

  it('prod, with its own allow-list, may read its directory but not dev\'s variables', async () => {
    const admin = await h.call('PUT', '/v1/services/orders/bindings/prod', {
      body: { upstream: 'http://127.0.0.1:9', credential: { from: 'file', path: join(secrets, 'prod', 'orders.key') } },
    });
    expect(admin.status).toBe(200);
    const crossed = await h.call('PUT', '/v1/services/orders/bindings/prod', {
      body: { upstream: 'http://127.0.0.1:9', credential: { from: 'env', variable: 'DEV_ORDERS_KEY' } },
    });
    expect([crossed.status, crossed.body.field]).toEqual([400, 'body.credential.variable']);
  });
});
