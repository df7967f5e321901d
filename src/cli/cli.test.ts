// The command line as a person uses it: the built bin, a real `serve` process,
// real SQLite in a temp data directory.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, startServe } from './testing/cli-process.js';

// Each case runs the bin several times; on a loaded 2-core machine one spawn can take seconds.
describe('latchkey command line', { timeout: 120_000 }, () => {
  let dataDir: string;
  let serve: Awaited<ReturnType<typeof startServe>>;
  let env: Record<string, string>;
  let upstream: Server;
  let upstreamPort: number;
  const seen: Array<{ url: string; authorization: string | undefined }> = [];

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      seen.push({ url: req.url!, authorization: req.headers.authorization });
      res.end('ok');
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    upstreamPort = (upstream.address() as AddressInfo).port;
    dataDir = mkdtempSync(join(tmpdir(), 'latchkey-cli-'));
    const init = run(['init', '--data', dataDir, '--json']);
    expect(init.stderr).toBe('');
    expect(init.code).toBe(0);
    const { adminToken } = JSON.parse(init.stdout) as { adminToken: string };
    expect(adminToken).toMatch(/^lk_prod_[0-9A-Za-z]{38}$/);
    serve = await startServe(dataDir);
    env = { LATCHKEY_URL: serve.adminUrl, LATCHKEY_TOKEN: adminToken };
  });

  afterAll(async () => {
    if (serve?.child.exitCode === null) serve.child.kill('SIGKILL');
    upstream?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('init keeps the server key private and refuses to run twice', () => {
    expect(statSync(join(dataDir, 'keys', 'token-hmac.key')).mode & 0o777).toBe(0o600);
    const again = run(['init', '--data', dataDir]);
    expect(again.code).toBe(1);
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
    expect(again.stderr).toContain('already initialized');
  });

  it('manages environments, services, roles and tokens, with tables and --json; the gateway enforces them', async () => {
    const envs = JSON.parse(run(['env', 'list', '--json'], env).stdout) as { items: Array<{ name: string }> };
    expect(envs.items.map((e) => e.name).sort()).toEqual(['dev', 'prod', 'staging']);
    expect(run(['env', 'create', 'qa', '--max-ttl', '30d'], env).code).toBe(0);

    const added = run(['service', 'add', 'orders', '--kind', 'http', '--env', 'dev', '--upstream', `http://127.0.0.1:${upstreamPort}/api`, '--credential-env', 'DEV_ORDERS_API_KEY'], env);
    expect(added.stderr).toBe('');
    expect(added.stdout).toContain('orders');
    expect(run(['service', 'add', 'orders', '--kind', 'http', '--env', 'qa', '--upstream', 'http://127.0.0.1:9001'], env).code).toBe(0);
    const shown = JSON.parse(run(['service', 'show', 'orders', '--json'], env).stdout) as { bindings: Array<{ env: string }> };
    expect(shown.bindings.map((b) => b.env).sort()).toEqual(['dev', 'qa']);

    expect(run(['role', 'create', 'orders-reader', '--allow', 'orders:read:/v1/orders/**'], env).code).toBe(0);
    const created = run(['token', 'create', '--name', 'ci-job', '--env', 'dev', '--role', 'orders-reader', '--ttl', '1h', '--rate', '100/min', '--json'], env);
    expect(created.code).toBe(0);
    const { id, token } = JSON.parse(created.stdout) as { id: string; token: string };
    expect(id).toMatch(/^tok_/);
    expect(token).toMatch(/^lk_dev_/);

    const table = run(['token', 'list', '--env', 'dev'], env);
    expect(table.stdout).toMatch(/^ID\s+NAME\s+ENV\s+STATUS/m);
    expect(table.stdout).toContain('ci-job');
    expect(table.stdout).not.toContain(token);

    // The quick start's promise: the client changes only its base URL and its token.
    const through = await fetch(`${serve.gatewayUrl}/orders/v1/orders/7?q=1`, { headers: { authorization: `Bearer ${token}` } });
    expect(through.status).toBe(200);
    expect(seen.at(-1)).toEqual({ url: '/api/v1/orders/7?q=1', authorization: 'Bearer the-real-secret' });
    const refused = await fetch(`${serve.gatewayUrl}/orders/v1/orders/7`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    expect([refused.status, ((await refused.json()) as { error: string }).error]).toEqual([403, 'permission_denied']);

    const allowed = run(['check', '--token', token, 'GET', '/orders/v1/orders/7'], env);
    expect(allowed.code).toBe(0);
    expect(allowed.stdout).toMatch(/^ALLOWED/);
    expect(allowed.stdout).toContain('orders:read:/v1/orders/**');
    const denied = run(['check', '--token', token, 'DELETE', '/orders/v1/orders/7'], env);
    expect(denied.code).toBe(3);
    expect(denied.stdout).toMatch(/^DENIED/);
    const grant = run(['check', '--grant', 'orders:*:/v1/**', '--grant', '!orders:DELETE:/v1/orders/*', 'DELETE', '/orders/v1/orders/7', '--json'], env);
    expect(JSON.parse(grant.stdout)).toMatchObject({ allowed: false, matched: '!orders:DELETE:/v1/orders/*' });

    const revoked = run(['token', 'revoke', id], env);
    expect(revoked.stdout).toContain(`revoked ${id}`);
    expect(run(['token', 'show', id, '--json'], env).stdout).toContain('"status": "revoked"');
  });

  it('reads, exports and verifies the audit trail', async () => {
    // Enough to reach back to the first token.create whatever the number of (timing-dependent) folded refusal summaries.
    const tail = run(['audit', 'tail', '-n', '500'], env);
    expect(tail.code).toBe(0);
    expect(tail.stdout).toMatch(/admin\s+admin\s+token\.create/);
    expect(tail.stdout).toMatch(/allow\s+allowed\s+orders\s+GET \/v1\/orders\/7/);
    const denied = JSON.parse(run(['audit', 'query', '--decision', 'deny', '--service', 'orders', '--json'], env).stdout) as { items: Array<{ detail: { reason: string } }> };
    expect(denied.items.map((e) => e.detail.reason)).toContain('permission_denied');
    const csv = run(['audit', 'export', '--format', 'csv', '--kind', 'decision'], env);
    expect(csv.code).toBe(0);
    expect(csv.stdout.split('\n')[0]).toMatch(/^seq,/);
    const jsonl = run(['audit', 'export'], env).stdout.trim().split('\n').map((line) => JSON.parse(line) as { seq: number });
    expect(jsonl.map((e) => e.seq)).toEqual(jsonl.map((_e, i) => jsonl[0]!.seq + i));
    const verified = run(['audit', 'verify'], env);
    expect(verified.stdout).toMatch(/^audit trail intact: \d+ events/);
    expect(verified.code).toBe(0);
  });

  it('fails with one line on stderr and a non-zero exit', () => {
    const noTtl = run(['token', 'create', '--name', 'x', '--env', 'dev', '--allow', 'orders:GET'], env);
    expect(noTtl.code).toBe(1);
    expect(noTtl.stderr).toMatch(/^latchkey: .*--ttl/);
    expect(noTtl.stderr.trim().split('\n')).toHaveLength(1);

    const badToken = run(['env', 'list'], { ...env, LATCHKEY_TOKEN: 'lk_dev_nope' });
    expect(badToken.code).toBe(1);
    expect(badToken.stderr.trim()).toMatch(/^latchkey: token_malformed: the token is not a well-formed Latchkey token — the admin token from LATCHKEY_TOKEN was refused; .*latchkey init --new-admin-token/);

    const unreachable = run(['env', 'list'], { ...env, LATCHKEY_URL: 'http://127.0.0.1:1' });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/^latchkey: nothing is listening at http:\/\/127\.0\.0\.1:1: start Latchkey with `latchkey serve`/);

    const badInput = run(['token', 'create', '--name', 'x', '--env', 'dev', '--allow', 'orders:GETT:/v1', '--ttl', '1h'], env);
    expect(badInput.code).toBe(1);
    expect(badInput.stderr).toContain('GETT');
  });

  it('serve starts with zero configuration and stops cleanly on SIGTERM', async () => {
    const fresh = mkdtempSync(join(tmpdir(), 'latchkey-fresh-'));
    try {
      const server = await startServe(fresh);
      const health = await fetch(`${server.adminUrl}/healthz`);
      expect(health.status).toBe(200);
      expect((await fetch(`${server.adminUrl}/readyz`)).status).toBe(200);
      const exited = new Promise<number | null>((r) => server.child.once('exit', (code) => r(code)));
      server.child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(server.output()).toContain('shutting down');
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  });
});
