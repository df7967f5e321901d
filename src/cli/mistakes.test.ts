// The first mistakes a new operator makes, each run as they would make it
// (the built bin, a real `serve`, real SQLite in a temp directory): the
// command says what went wrong and names the next step (issue 17).
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, startServe } from './testing/cli-process.js';

async function stop(serve: Awaited<ReturnType<typeof startServe>>): Promise<void> {
  if (serve.child.exitCode !== null) return;
  serve.child.kill('SIGTERM');
  await once(serve.child, 'exit');
}

describe('mistakes explain themselves', { timeout: 120_000 }, () => {
  let dataDir: string;
  let serve: Awaited<ReturnType<typeof startServe>>;
  let env: Record<string, string>;
  let adminToken: string;
  let upstream: Server;
  let upstreamUrl: string;

  beforeAll(async () => {
    upstream = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    dataDir = mkdtempSync(join(tmpdir(), 'latchkey-mistakes-'));
    const init = run(['init', '--data', dataDir, '--json']);
    expect(init.code).toBe(0);
    adminToken = (JSON.parse(init.stdout) as { adminToken: string }).adminToken;
    serve = await startServe(dataDir);
    env = { LATCHKEY_URL: serve.adminUrl, LATCHKEY_TOKEN: adminToken };
  });

  afterAll(async () => {
    await stop(serve);
    await new Promise<void>((r) => upstream.close(() => r()));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('a credential variable that is not set: said at service add, in service show, in the refusal, and at serve start', async () => {
    const added = run(['service', 'add', 'billing', '--kind', 'http', '--env', 'dev', '--upstream', upstreamUrl, '--credential-env', 'DEV_BILLING_KEY_UNSET'], env);
    expect(added.code).toBe(0);
    expect(added.stderr).toMatch(/^latchkey: warning: the server cannot read this binding's credential: environment variable DEV_BILLING_KEY_UNSET is not set; requests will get 502 upstream_credential_missing until it can \(set it where `latchkey serve` runs, then restart it\)\n$/);

    const shown = run(['service', 'show', 'billing', '--json'], env);
    expect((JSON.parse(shown.stdout) as { bindings: unknown[] }).bindings).toEqual([
      expect.objectContaining({ env: 'dev', credentialReady: false, credentialProblem: 'environment variable DEV_BILLING_KEY_UNSET is not set' }),
    ]);

    const minted = run(['token', 'create', '--name', 'b', '--env', 'dev', '--allow', 'billing:GET', '--ttl', '1h', '--json'], env);
    const token = (JSON.parse(minted.stdout) as { token: string }).token;
    const reply = await fetch(`${serve.gatewayUrl}/billing/x`, { headers: { authorization: `Bearer ${token}` } });
    const body = await reply.text();
    expect([reply.status, JSON.parse(body).error]).toEqual([502, 'upstream_credential_missing']);
    // The client learns nothing of where the secret lives.
    expect(body).not.toContain('DEV_BILLING');

    await stop(serve);
    serve = await startServe(dataDir);
    env = { LATCHKEY_URL: serve.adminUrl, LATCHKEY_TOKEN: adminToken };
    expect(serve.output()).toContain('warning: service billing in dev cannot be served: environment variable DEV_BILLING_KEY_UNSET is not set; its requests get 502 upstream_credential_missing');
  });

  it('service add never re-points an existing binding; service update does, showing before → after', () => {
    expect(run(['service', 'add', 'orders', '--kind', 'http', '--env', 'dev', '--upstream', upstreamUrl, '--credential-env', 'DEV_ORDERS_API_KEY'], env).code).toBe(0);
    const again = run(['service', 'add', 'orders', '--kind', 'http', '--env', 'dev', '--upstream', 'http://127.0.0.1:9', '--credential-env', 'DEV_ORDERS_API_KEY'], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`latchkey: service orders is already bound in dev (→ ${upstreamUrl}); to change it: latchkey service update orders --env dev --upstream URL [--credential-env VAR | --credential-file PATH]\n`);
    const unchanged = JSON.parse(run(['service', 'show', 'orders', '--json'], env).stdout) as { bindings: Array<{ upstream: string }> };
    expect(unchanged.bindings.map((b) => b.upstream)).toEqual([upstreamUrl]);

    const updated = run(['service', 'update', 'orders', '--env', 'dev', '--upstream', 'http://127.0.0.1:9'], env);
    expect(updated.code).toBe(0);
    expect(updated.stdout).toBe(`service orders in dev:\n  upstream    ${upstreamUrl} → http://127.0.0.1:9\n  credential  variable DEV_ORDERS_API_KEY in Authorization → variable DEV_ORDERS_API_KEY in Authorization\n`);

    const notBound = run(['service', 'update', 'orders', '--env', 'prod', '--upstream', upstreamUrl], env);
    expect(notBound.stderr).toBe('latchkey: service orders is not bound in prod; bind it with: latchkey service add orders --kind http --env prod --upstream URL\n');
  });

  it('role update lists the change and the tokens it affects first; --dry-run changes nothing', () => {
    expect(run(['role', 'create', 'readers', '--allow', 'orders:GET:/v1/**', '--allow', 'orders:HEAD'], env).code).toBe(0);
    const minted = JSON.parse(run(['token', 'create', '--name', 'reader-job', '--env', 'dev', '--role', 'readers', '--ttl', '1h', '--json'], env).stdout) as { id: string };
    const dry = run(['role', 'update', 'readers', '--allow', 'orders:GET:/v1/**', '--dry-run'], env);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toBe(`role readers:\n  - orders:HEAD\n  held by 1 token(s), changed at once on every gateway:\n    ${minted.id}  reader-job  dev  active\n(dry run: nothing changed)\n`);
    expect((JSON.parse(run(['role', 'show', 'readers', '--json'], env).stdout) as { permissions: string[] }).permissions).toEqual(['orders:GET:/v1/**', 'orders:HEAD']);
    const applied = run(['role', 'update', 'readers', '--allow', 'orders:GET:/v1/**'], env);
    expect(applied.stdout).toMatch(/ {4}tok_\S+ {2}reader-job {2}dev {2}active\nupdated role readers\n$/);
    expect((JSON.parse(run(['role', 'show', 'readers', '--json'], env).stdout) as { permissions: string[] }).permissions).toEqual(['orders:GET:/v1/**']);

    // token show expands the role into what the token can do, with its expiry in words.
    const shown = run(['token', 'show', minted.id], env).stdout;
    expect(shown).toMatch(/^effectivePermissions: +orders:GET:\/v1\/\*\*$/m);
    expect(shown).toMatch(/^expiresAt: +\S+ \(expires in (59 minutes|1 hour)\)$/m);
    expect(shown).toMatch(/^lastUsed: +never \(or not yet flushed\)$/m);

    // What can this token do, asked by id: no plaintext needed, the same answer as the gateway's.
    const byId = run(['check', '--id', minted.id, 'GET', '/orders/v1/orders/7'], env);
    expect([byId.code, byId.stdout.split('\n')[0]]).toEqual([0, 'ALLOWED']);
    expect(byId.stdout).toContain('orders:GET:/v1/**');
    const refused = run(['check', '--id', minted.id, 'DELETE', '/orders/v1/orders/7'], env);
    expect([refused.code, refused.stdout.split('\n')[0]]).toEqual([3, 'DENIED']);
    expect(run(['check', '--id', 'tok_0000', 'GET', '/orders/x'], env).stderr).toBe('latchkey: not_found: token tok_0000 does not exist\n');
  });

  it('token list and show: a mistyped environment, an expired token and a pasted secret each said plainly', async () => {
    const nope = run(['token', 'list', '--env', 'nope'], env);
    expect([nope.code, nope.stderr]).toEqual([1, 'latchkey: not_found: environment nope does not exist\n']);

    const short = JSON.parse(run(['token', 'create', '--name', 'brief', '--env', 'dev', '--allow', 'orders:GET', '--ttl', '1s', '--json'], env).stdout) as { id: string; token: string };
    await expect.poll(() => (JSON.parse(run(['token', 'list', '--env', 'dev', '--status', 'expired', '--json'], env).stdout) as { items: Array<{ id: string; status: string }> }).items
      .find((t) => t.id === short.id)?.status, { timeout: 30_000, interval: 500 }).toBe('expired');
    const active = JSON.parse(run(['token', 'list', '--env', 'dev', '--status', 'active', '--json'], env).stdout) as { items: Array<{ id: string }> };
    expect(active.items.map((t) => t.id)).not.toContain(short.id);
    expect(JSON.parse(run(['token', 'show', short.id, '--json'], env).stdout)).toMatchObject({ status: 'expired' });

    const pasted = run(['token', 'show', short.token], env);
    expect(pasted.code).toBe(1);
    expect(pasted.stderr).toMatch(/^latchkey: that is a token itself, not its id: give the tok_\.\.\. id/);
    expect(pasted.stderr).not.toContain(short.token);
    expect(run(['token', 'revoke', short.token], env).stderr).not.toContain(short.token);
  });

  it('token update changes constraints in place, within policy, and the gateway enforces them at once', async () => {
    const minted = JSON.parse(run(['token', 'create', '--name', 'tuned', '--env', 'dev', '--allow', 'orders:GET', '--ttl', '1h', '--rate', '10/min', '--json'], env).stdout) as { id: string; token: string };
    const updated = run(['token', 'update', minted.id, '--ttl', '2h', '--rate', '20/min', '--max-uses', '50'], env);
    expect(updated.code).toBe(0);
    expect(updated.stdout).toMatch(new RegExp(`^updated ${minted.id}:\n  expiresAt \\S+ → \\S+\n  rate      \\{"count":10,"periodMs":60000\\} → \\{"count":20,"periodMs":60000\\}\n  maxUses   none → 50\n$`));
    const tooLong = run(['token', 'update', minted.id, '--ttl', '400d'], env);
    expect(tooLong.stderr).toBe('latchkey: invalid_request: ttl: environment dev allows tokens of at most 365d\n');
    expect(run(['token', 'update', minted.id], env).stderr).toMatch(/^latchkey: nothing to change/);
    // A narrower address list reaches the gateway through the change feed: the next request is refused.
    expect(run(['token', 'update', minted.id, '--cidr', '192.0.2.0/24'], env).code).toBe(0);
    await expect.poll(async () => (await fetch(`${serve.gatewayUrl}/orders/x`, { headers: { authorization: `Bearer ${minted.token}` } }).then((r) => r.json() as Promise<{ error: string }>)).error,
      { timeout: 15_000 }).toBe('ip_not_allowed');
    const events = JSON.parse(run(['audit', 'query', '--kind', 'admin', '--json', '--limit', '500'], env).stdout) as { items: Array<{ detail: { action: string; target: string } }> };
    expect(events.items.filter((e) => e.detail.action === 'token.update' && e.detail.target === minted.id)).toHaveLength(2);
  });

  it('service show prints bindings as words, never [object Object]', () => {
    const shown = run(['service', 'show', 'orders'], env);
    expect(shown.stdout).not.toContain('[object Object]');
    expect(shown.stdout).toMatch(/bindings:\n  - env=dev upstream=http:\/\/127\.0\.0\.1:9 credential=\{from=env variable=DEV_ORDERS_API_KEY header=Authorization scheme=Bearer\} credentialReady=true credentialProblem=-\n/);
  });

  it('a refused admin token names where it came from and how to get a good one', () => {
    const bad = `${adminToken.slice(0, -1)}${adminToken.endsWith('A') ? 'B' : 'A'}`;
    const fromEnv = run(['env', 'list'], { ...env, LATCHKEY_TOKEN: bad });
    expect(fromEnv.stderr).toBe('latchkey: token_malformed: the token is not a well-formed Latchkey token — the admin token from LATCHKEY_TOKEN was refused; set a valid one (`latchkey init --new-admin-token` on the server mints one)\n');
    const fromFlag = run(['env', 'list', '--token', bad], { LATCHKEY_URL: serve.adminUrl, LATCHKEY_TOKEN: '' });
    expect(fromFlag.stderr).toContain('the admin token from --token was refused');
    const none = run(['env', 'list'], { LATCHKEY_URL: serve.adminUrl, LATCHKEY_TOKEN: '' });
    expect(none.stderr).toBe('latchkey: no admin token: set LATCHKEY_TOKEN (or pass --token); `latchkey init` prints the first admin token, `latchkey init --new-admin-token` mints another\n');
  });

  it('--url pointing at the gateway, or at nothing, says what to point it at', () => {
    const gateway = run(['env', 'list'], { ...env, LATCHKEY_URL: serve.gatewayUrl });
    expect(gateway.code).toBe(1);
    expect(gateway.stderr).toBe(`latchkey: ${serve.gatewayUrl} answered 404 but is not Latchkey's admin API (a gateway listener?): point LATCHKEY_URL / --url at the admin API (default http://127.0.0.1:7700; \`latchkey serve\` prints it)\n`);
    const nothing = run(['env', 'list'], { ...env, LATCHKEY_URL: 'http://127.0.0.1:1' });
    expect(nothing.stderr).toBe('latchkey: nothing is listening at http://127.0.0.1:1: start Latchkey with `latchkey serve` (`npm start` in the clone), or point LATCHKEY_URL / --url at its admin API (default http://127.0.0.1:7700)\n');
  });

  it('flags before the command work, --json errors are JSON, usage errors are one line naming the help', () => {
    const listed = run(['--json', '--url', serve.adminUrl, '--token', adminToken, 'env', 'list'], { LATCHKEY_URL: '', LATCHKEY_TOKEN: '' });
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.stdout) as { items: Array<{ name: string }> }).items.map((e) => e.name)).toContain('prod');

    const jsonError = run(['--json', 'service', 'show', 'nope'], env);
    expect(jsonError.code).toBe(1);
    expect(JSON.parse(jsonError.stderr)).toEqual({ error: 'not_found', message: 'service nope does not exist' });

    const typo = run(['token', 'lsit'], env);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toBe("latchkey: unknown command 'lsit' (Did you mean list?) (see latchkey --help, or latchkey COMMAND --help)\n");
    expect(JSON.parse(run(['--json', 'token', 'lsit'], env).stderr)).toMatchObject({ error: 'usage' });
  });

  it("a gateway node's health and metrics address defaults to 127.0.0.1:7704, as the README's table says", () => {
    const help = run(['gateway', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--ops <addr>[\s\S]*\(default: "127\.0\.0\.1:7704"\)/);
    expect(readFileSync('README.md', 'utf8')).toContain("| `latchkey gateway --ops`: a gateway node's `/metrics`, `/healthz`, `/readyz` (flag only) | `127.0.0.1:7704` |");
  });

  it('status tells which admin API and token are in use, their health and expiry in words', () => {
    const shown = run(['status'], env);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(new RegExp(`^admin API: +${serve.adminUrl.replace(/[.]/g, '\\.')} \\(latchkey \\d+\\.\\d+\\.\\d+, ready\\)\n`));
    expect(shown.stdout).toMatch(/admin token: lk_prod_…\S{4} tok_\S+ "admin" in prod, from LATCHKEY_TOKEN\n/);
    expect(shown.stdout).toMatch(/expires: +\S+ \(in 8\d days\)\n/);
    expect(shown.stdout).toMatch(/permissions: latchkey:\*$/m);
    const json = JSON.parse(run(['--json', 'status'], env).stdout) as { adminToken: { source: string }; permissions: string[] };
    expect(json).toMatchObject({ adminToken: { source: 'LATCHKEY_TOKEN' }, permissions: ['latchkey:*'] });
    // A data-plane token cannot be used to learn what it opens.
    const minted = JSON.parse(run(['token', 'create', '--name', 'job', '--env', 'dev', '--allow', 'orders:GET', '--ttl', '1h', '--json'], env).stdout) as { token: string };
    const dataPlane = run(['status'], { ...env, LATCHKEY_TOKEN: minted.token });
    expect(dataPlane.code).toBe(1);
    expect(dataPlane.stderr).toMatch(/^latchkey: permission_denied: this token holds no latchkey: permission/);
  });

  it('completion scripts are made from the command tree', () => {
    const script = run(['completion', 'bash']).stdout;
    const complete = (words: string[]) => spawnSync('bash', ['-c', `${script}\nCOMP_WORDS=(${words.join(' ')}); COMP_CWORD=${words.length - 1}; _latchkey; echo "\${COMPREPLY[@]}"`], { encoding: 'utf8' }).stdout.trim();
    expect(complete(['latchkey', 'tok'])).toBe('token');
    expect(complete(['latchkey', 'service', 'up'])).toBe('update');
    expect(complete(['latchkey', 'token', 'create', '--ro'])).toBe('--role');
    expect(run(['completion', 'fish']).stdout).toContain("complete -c latchkey -f -n '__fish_seen_subcommand_from service' -a update");
    expect(run(['completion', 'zsh']).stdout).toContain('bashcompinit');
    expect(run(['completion', 'tcsh']).stderr).toBe('latchkey: completion: unknown shell "tcsh"; expected bash, zsh or fish\n');
  });

  it('--version answers on every command', () => {
    const version = run(['--version']).stdout.trim();
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
    expect(run(['token', 'create', '--version']).stdout.trim()).toBe(version);
    expect(run(['service', '--version']).stdout.trim()).toBe(version);
  });

  it('a port already in use names the address, the flag and the setting', () => {
    const port = new URL(serve.adminUrl).port;
    const fresh = mkdtempSync(join(tmpdir(), 'latchkey-busy-'));
    try {
      const busy = run(['serve', '--data', fresh, '--admin', `127.0.0.1:${port}`, '--gateway', '127.0.0.1:0', '--auth', '127.0.0.1:0', '--pg', '127.0.0.1:0'], { LATCHKEY_LOG_LEVEL: 'error' });
      expect(busy.code).toBe(1);
      expect(busy.stderr).toContain(`latchkey: 127.0.0.1:${port} is already in use (another latchkey?): stop what holds it, or choose another with --admin or listen.admin in the configuration\n`);
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  });

  it('a PostgreSQL TLS certificate that cannot be used stops serve before it listens, naming the file', () => {
    const fresh = mkdtempSync(join(tmpdir(), 'latchkey-pgtls-'));
    try {
      const listen = ['--admin', '127.0.0.1:0', '--gateway', '127.0.0.1:0', '--auth', '127.0.0.1:0', '--pg', '127.0.0.1:0'];
      const missing = run(['serve', '--data', fresh, ...listen, '--pg-tls-cert', join(fresh, 'cert.pem'), '--pg-tls-key', join(fresh, 'key.pem')], { LATCHKEY_LOG_LEVEL: 'error' });
      expect(missing.code).toBe(1);
      expect(missing.stderr).toBe(`latchkey: postgres.tls: the certificate file ${join(fresh, 'cert.pem')} cannot be read (ENOENT)\n`);
      const half = run(['serve', '--data', fresh, ...listen, '--pg-tls-cert', join(fresh, 'cert.pem')], { LATCHKEY_LOG_LEVEL: 'error' });
      expect(half.code).toBe(1);
      expect(half.stderr).toBe('latchkey: postgres.tls: the certificate and its key go together: key (--pg-tls-key, LATCHKEY_PG_TLS_KEY) is missing\n');
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  });

  it('serve before init says how to get the first admin token', async () => {
    const fresh = mkdtempSync(join(tmpdir(), 'latchkey-uninit-'));
    const early = await startServe(fresh);
    try {
      await expect.poll(() => early.output(), { timeout: 15_000 }).toContain(
        `No admin token exists yet, so nobody can use the admin API. In another terminal run:\n    latchkey init --data ${fresh}\n`);
    } finally {
      await stop(early);
      rmSync(fresh, { recursive: true, force: true });
    }
  });
});
