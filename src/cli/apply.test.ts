// `latchkey apply` and `latchkey export` as a person runs them: the built bin,
// one real `serve` on loopback ports, SQLite in a temp data directory. The
// cases run in order on one server, each starting from the state the one
// before it left.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, run, startServe } from './testing/cli-process.js';

interface PlannedChange {
  op: string;
  kind: string;
  name: string;
  fields: Array<{ field: string; before: string | null; after: string | null }>;
  refusal: string | null;
  holders?: Array<{ id: string }> | null;
  added?: string[];
  removed?: string[];
}

interface ApplyOutput {
  changes: PlannedChange[];
  unmanaged: string[];
  applied: number;
}

/** The commands of the first ```sh block after a README heading. */
function readmeBlock(heading: string): string[] {
  const readme = readFileSync(resolve('README.md'), 'utf8');
  const section = readme.slice(readme.indexOf(heading));
  return /```sh\n([\s\S]*?)```/.exec(section)![1]!.split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

describe('latchkey apply and export', { timeout: 180_000 }, () => {
  let dataDir: string;
  let work: string;
  let serve: Awaited<ReturnType<typeof startServe>>;
  let env: Record<string, string>;
  let adminTokenId: string;
  let holderId: string;

  const api = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${serve.adminUrl}${path}`, { headers: { authorization: `Bearer ${env.LATCHKEY_TOKEN}` } });
    expect(response.status, path).toBe(200);
    return (await response.json()) as T;
  };
  const file = (name: string, text: string): string => {
    const path = join(work, name);
    writeFileSync(path, text);
    return path;
  };
  const applyJson = (args: string[]) => {
    const ran = run(['apply', ...args, '--json'], env);
    return { ...ran, output: (ran.stdout === '' ? null : JSON.parse(ran.stdout)) as ApplyOutput | null };
  };
  const exported = () => run(['export', '--json'], env).stdout;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'latchkey-apply-'));
    work = mkdtempSync(join(tmpdir(), 'latchkey-apply-files-'));
    const init = run(['init', '--data', dataDir, '--json']);
    expect(init.code).toBe(0);
    const { adminToken, id } = JSON.parse(init.stdout) as { adminToken: string; id: string };
    adminTokenId = id;
    serve = await startServe(dataDir);
    env = { LATCHKEY_URL: serve.adminUrl, LATCHKEY_TOKEN: adminToken };
  });

  afterAll(() => {
    if (serve?.child.exitCode === null) serve.child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  it("runs the README's step 3 from a file on a fresh server; applied twice, the second finds no changes", () => {
    const commands = readmeBlock('### Or: step 3 from a file');
    expect(commands).toEqual(['latchkey apply -f examples/latchkey.yaml --dry-run', 'latchkey apply -f examples/latchkey.yaml']);
    const outputs = commands.map((command) => {
      const ran = spawnSync('bash', ['-c', command.replace(/^latchkey /, `"${process.execPath}" "${BIN}" `)],
        { cwd: resolve('.'), env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
      expect(ran.status, `${command}\n${ran.stderr}`).toBe(0);
      return ran.stdout;
    });
    expect(outputs[0]).toContain('+ create service orders\n');
    expect(outputs[0]).toContain('    bindings.dev.upstream: http://127.0.0.1:9000\n');
    expect(outputs[0]).toContain('+ create role orders-reader\n    permissions: orders:read:/v1/orders/**\n');
    expect(outputs[0]).toMatch(/Plan: 2 to create, 0 to update, 0 to delete\.\n[\s\S]*Dry run: nothing was changed\.\n$/);
    expect(outputs[1]).toContain('Applied 2 changes.');

    const again = run(['apply', '-f', 'examples/latchkey.yaml'], env);
    expect([again.code, again.stdout.split('\n')[0]]).toEqual([0, 'No changes: the server matches examples/latchkey.yaml.']);
    expect(applyJson(['-f', 'examples/latchkey.yaml']).output!.changes).toEqual([]);

    // The alternative path leads where step 3 does: a token of the role is allowed what the role allows.
    const minted = run(['token', 'create', '--name', 'ci-job', '--env', 'dev', '--role', 'orders-reader', '--ttl', '1h', '--json'], env);
    expect(minted.code).toBe(0);
    const { id, token } = JSON.parse(minted.stdout) as { id: string; token: string };
    holderId = id;
    expect(run(['check', '--token', token, 'GET', '/orders/v1/orders/7'], env).code).toBe(0);
    expect(run(['check', '--token', token, 'DELETE', '/orders/v1/orders/7'], env).code).toBe(3);
  });

  it('shows a plan of exactly the differences, and --dry-run changes nothing', async () => {
    const before = exported();
    const current = JSON.parse(before) as { environments: Record<string, unknown>; services: Record<string, { bindings: Record<string, { upstream: string }> }>; roles: Record<string, { permissions: string[] }> };
    current.environments.qa = { maxTtl: '30d' };
    current.services.orders!.bindings.dev!.upstream = 'http://127.0.0.1:9001/';
    current.roles['orders-reader']!.permissions = ['orders:read:/v1/orders/*'];
    current.roles['orders-writer'] = { permissions: ['orders:write:/v1/orders/*'] };
    const path = file('changed.json', JSON.stringify(current, null, 2));

    const dry = applyJson(['-f', path, '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.output!.applied).toBe(0);
    expect(dry.output!.changes.map(({ op, kind, name, fields }) => ({ op, kind, name, fields }))).toEqual([
      { op: 'create', kind: 'environment', name: 'qa', fields: [{ field: 'maxTtl', before: null, after: '30d' }] },
      { op: 'update', kind: 'binding', name: 'orders/dev', fields: [{ field: 'upstream', before: 'http://127.0.0.1:9000', after: 'http://127.0.0.1:9001' }] },
      { op: 'update', kind: 'role', name: 'orders-reader', fields: [{ field: 'permissions', before: 'orders:read:/v1/orders/**', after: 'orders:read:/v1/orders/*' }] },
      { op: 'create', kind: 'role', name: 'orders-writer', fields: [{ field: 'permissions', before: null, after: 'orders:write:/v1/orders/*' }] },
    ]);
    // A narrowing is allowed, and the plan still says which live tokens it reaches.
    const narrowing = dry.output!.changes[2]!;
    expect(narrowing).toMatchObject({ refusal: null, added: ['orders:read:/v1/orders/*'], removed: ['orders:read:/v1/orders/**'] });
    expect(narrowing.holders!.map((h) => h.id)).toEqual([holderId]);
    expect(exported()).toBe(before);

    const human = run(['apply', '-f', path], env);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain('~ update binding orders/dev\n    upstream: http://127.0.0.1:9000 → http://127.0.0.1:9001\n');
    expect(human.stdout).toContain(`    held by 1 live token: ${holderId} (ci-job, dev)\n`);
    expect(human.stdout).toContain('Applied 4 changes.');
    expect(applyJson(['-f', path]).output!.changes).toEqual([]);

    // Every change went through the admin API as the admin token, and is in the audit trail.
    const audit = await api<{ items: Array<{ detail: { action: string; target: string; actorTokenId: string } }> }>('/v1/audit/events?kind=admin&limit=1000');
    const made = audit.items.filter((event) => event.detail.actorTokenId === adminTokenId).map((event) => `${event.detail.action} ${event.detail.target}`);
    expect(made).toEqual(expect.arrayContaining(['environment.create qa', 'service.update orders', 'role.update orders-reader', 'role.create orders-writer', 'service.create orders', 'role.create orders-reader']));
  });

  it('shows the tokens a widening reaches, says the server will refuse it and why, and changes nothing', async () => {
    const path = file('widen.yaml', ['roles:', '  orders-reader:', '    permissions:', "      - 'orders:read:/v1/**'", ''].join('\n'));
    const ran = run(['apply', '-f', path], env);
    expect(ran.code).toBe(1);
    expect(ran.stdout).toContain('~ update role orders-reader\n    + permission orders:read:/v1/**\n    - permission orders:read:/v1/orders/*\n');
    expect(ran.stdout).toContain(`    held by 1 live token: ${holderId} (ci-job, dev)\n`);
    expect(ran.stdout).toMatch(/! the server will refuse this: the change widens role orders-reader .* while 1 live token holds it, and a role held by a live token may only narrow/);
    expect(ran.stderr).toBe('latchkey: 1 change the server would refuse (role orders-reader; see the plan); nothing was changed\n');

    const json = applyJson(['-f', path]);
    expect(json.code).toBe(1);
    expect(json.output!.changes[0]).toMatchObject({ op: 'update', kind: 'role', name: 'orders-reader', added: ['orders:read:/v1/**'], holders: [{ id: holderId }] });
    expect(JSON.parse(json.stderr)).toMatchObject({ error: 'plan_refused' });
    expect((await api<{ permissions: string[] }>('/v1/roles/orders-reader')).permissions).toEqual(['orders:read:/v1/orders/*']);

    // An admin token that may not list tokens cannot see the holders: the plan says so, and the
    // server's own refusal is reported as one line naming the change and its line in the file.
    const narrow = run(['token', 'create', '--name', 'roles-only', '--env', 'prod', '--ttl', '1h', '--json',
      '--allow', 'latchkey:roles.read', '--allow', 'latchkey:roles.write', '--allow', 'latchkey:services.read', '--allow', 'latchkey:environments.read'], env);
    expect(narrow.code, narrow.stderr).toBe(0);
    const rolesOnly = { ...env, LATCHKEY_TOKEN: (JSON.parse(narrow.stdout) as { token: string }).token };
    const blind = run(['apply', '-f', path], rolesOnly);
    expect(blind.code).toBe(1);
    expect(blind.stdout).toContain('    held by: unknown (the admin token may not list tokens: latchkey:tokens.read)\n');
    expect(blind.stderr).toMatch(/^latchkey: \/.*widen\.yaml:2:3: update role orders-reader refused by the server \(0 of 1 changes applied before it\): conflict: role orders-reader is held by 1 live token and cannot be widened/);
    expect(blind.stderr.trim().split('\n')).toHaveLength(1);
    expect((await api<{ permissions: string[] }>('/v1/roles/orders-reader')).permissions).toEqual(['orders:read:/v1/orders/*']);
  });

  it('refuses a file with an error before any change, naming its line and column', async () => {
    const path = file('broken.yaml', [
      'environments:',
      '  qa2: {}',
      'roles:',
      '  auditors:',
      '    permissions:',
      "      - 'orders:read:/v1/**'",
      "      - 'billing:read:/v1/**'",
      '',
    ].join('\n'));
    const ran = run(['apply', '-f', path], env);
    expect([ran.code, ran.stdout]).toEqual([1, '']);
    expect(ran.stderr).toBe(`latchkey: ${path}:7:9: roles.auditors.permissions[1]: unknown service billing; nothing was changed\n`);

    const unknown = run(['apply', '-f', file('unknown.yaml', 'environments:\n  qa2: {}\nservices:\n  pay:\n    kind: http\n    upstream: http://127.0.0.1:9000\n')], env);
    expect(unknown.stderr).toMatch(/unknown\.yaml:6:5: services\.pay\.upstream: unknown field "upstream"; nothing was changed\n$/);

    // A refusal only the server can judge stops at that change and names its line.
    const allowList = run(['apply', '-f', file('allow-list.yaml', [
      'services:', '  pay:', '    kind: http', '    bindings:', '      dev:', '        upstream: http://127.0.0.1:9000',
      '        credential:', '          env: PROD_PAY_KEY', '',
    ].join('\n'))], env);
    expect(allowList.code).toBe(1);
    expect(allowList.stderr).toMatch(/allow-list\.yaml:8:16: create service pay refused by the server \(0 of 1 changes applied before it\): invalid_request: bindings\[0\]\.credential\.variable: PROD_PAY_KEY is not allowed for environment dev/);
    const envs = await api<{ items: Array<{ name: string }> }>('/v1/environments');
    expect(envs.items.map((e) => e.name)).not.toContain('qa2');
    expect((await api<{ items: Array<{ name: string }> }>('/v1/services')).items.map((s) => s.name)).toEqual(['orders']);
  });

  it('refuses a file that holds a secret, naming the line and never echoing the secret', () => {
    const token = 'lk_dev_Q2hhbmdlTWVQbGVhc2VJdHNBVGVzdDEyMzQ1Njc4';
    const cases: Array<[string, string, RegExp]> = [
      ['value.yaml', 'services:\n  pay:\n    kind: http\n    bindings:\n      dev:\n        upstream: http://127.0.0.1:9000\n        credential:\n          value: hunter2-the-real-one\n',
        /value\.yaml:8:11: a "value:" key; secrets never go into this file/],
      ['secret.yaml', 'roles:\n  r:\n    secret: hunter2-the-real-one\n    permissions: [orders:read]\n', /secret\.yaml:3:5: a "secret:" key/],
      ['token.yaml', `roles:\n  r:\n    description: ci uses ${token}\n    permissions: [orders:read]\n`, /token\.yaml:3:18: a value that looks like a secret/],
      ['url.yaml', 'services:\n  db:\n    kind: postgres\n    bindings:\n      dev:\n        upstream: postgres://app:hunter2-the-real-one@127.0.0.1:5432\n',
        /url\.yaml:6:19: a URL with a password in it/],
      ['bearer.json', '{"roles": {"r": {"description": "Bearer abcdef123456hunter2", "permissions": ["orders:read"]}}}', /bearer\.json:1:33: a value that looks like a secret/],
    ];
    for (const [name, text, expected] of cases) {
      const ran = run(['apply', '-f', file(name, text)], env);
      expect(ran.code, name).toBe(1);
      expect(ran.stderr, name).toMatch(expected);
      expect(ran.stderr, name).toMatch(/nothing was changed\n$/);
      for (const secret of ['hunter2', token]) expect(ran.stderr + ran.stdout, name).not.toContain(secret);
    }
  });

  it('exports a state that applies back as no change, in YAML and JSON, with every setting kept', () => {
    const settings = file('settings.yaml', [
      'environments:',
      '  qa:',
      '    maxTtl: 30d',
      'services:',
      '  files:',
      '    kind: http',
      '    paths: case-insensitive',
      '    headerUnderscores: refuse',
      '    tokenHeader: X-Latchkey-Key',
      '    maxBodyBytes: 1024',
      '    bindings:',
      '      dev:',
      '        upstream: http://127.0.0.1:9002/base',
      '        credential: { env: DEV_FILES_KEY, header: X-Api-Key, scheme: "" }',
      '      qa:',
      '        upstream: unix:/tmp/latchkey-apply-test.sock',
      '  warehouse:',
      '    kind: postgres',
      '    sqlFunctions: [now, analytics.rollup]',
      '    bindings:',
      '      dev: { upstream: "postgres://127.0.0.1:5432/test?user=postgres" }',
      '  tools:',
      '    kind: mcp',
      '    hiddenTools: [delete_*]',
      '    bindings:',
      '      dev: { upstream: "http://127.0.0.1:9003/mcp", credential: { env: DEV_TOOLS_TOKEN, scheme: Token } }',
      'roles:',
      '  analyst:',
      '    description: reads the warehouse',
      "    permissions: ['warehouse:select:analytics.*', '!warehouse:select:analytics.salaries', 'tools:call:list_*']",
      '',
    ].join('\n'));
    const created = run(['apply', '-f', settings], env);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toContain('Applied 4 changes.');

    const yamlPath = join(work, 'exported.yaml');
    const jsonPath = join(work, 'exported.json');
    expect(run(['export', '-o', yamlPath], env).code).toBe(0);
    expect(run(['export', '--json', '-o', jsonPath], env).code).toBe(0);
    const yaml = readFileSync(yamlPath, 'utf8');
    expect(yaml).toContain('  files:\n    kind: http\n    paths: case-insensitive\n    headerUnderscores: refuse\n    tokenHeader: X-Latchkey-Key\n    maxBodyBytes: 1024\n');
    // scheme "" is the default for a header other than Authorization, so the export leaves it out.
    expect(yaml).toContain('        credential:\n          env: DEV_FILES_KEY\n          header: X-Api-Key\n      qa:\n');
    expect(yaml).toContain('          env: DEV_TOOLS_TOKEN\n          scheme: Token\n');
    for (const path of [yamlPath, jsonPath, settings]) {
      const again = applyJson(['-f', path]);
      expect([again.code, again.output!.changes], path).toEqual([0, []]);
    }
  });

  it('deletes what the file does not name only with --prune, and never a role a live token holds', async () => {
    const path = file('pruned.yaml', readFileSync(resolve('examples/latchkey.yaml'), 'utf8').replace('orders:read:/v1/orders/**', 'orders:read:/v1/orders/*').replace('127.0.0.1:9000', '127.0.0.1:9001'));
    const kept = applyJson(['-f', path]);
    expect([kept.code, kept.output!.changes]).toEqual([0, []]);
    expect(kept.output!.unmanaged).toEqual(expect.arrayContaining(['role orders-writer', 'role analyst', 'service files', 'service tools']));

    const refused = applyJson(['-f', path, '--prune', '--dry-run']);
    expect(refused.output!.changes.map((c) => `${c.op} ${c.kind} ${c.name}`)).toEqual([
      // Roles first: their permissions name the services.
      'delete role analyst', 'delete role orders-writer', 'delete service files', 'delete service tools', 'delete service warehouse',
    ]);
    expect(refused.output!.unmanaged).toEqual(expect.arrayContaining(['environment qa (the admin API never deletes an environment)']));

    const pruned = run(['apply', '-f', path, '--prune'], env);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(pruned.stdout).toContain('- delete role analyst\n');
    expect((await api<{ items: Array<{ name: string }> }>('/v1/roles')).items.map((r) => r.name)).toEqual(['orders-reader']);
    expect((await api<{ items: Array<{ name: string }> }>('/v1/services')).items.map((s) => s.name)).toEqual(['orders']);

    // orders-reader is held by a live token: deleting it is refused in the plan, before the server is asked.
    const empty = applyJson(['-f', file('empty.yaml', 'version: 1\n'), '--prune']);
    expect(empty.code).toBe(1);
    expect(empty.output!.changes.find((c) => c.name === 'orders-reader')).toMatchObject({ op: 'delete', holders: [{ id: holderId }] });
    expect(empty.output!.changes.find((c) => c.name === 'orders-reader')!.refusal).toMatch(/held by 1 live token, and a held role cannot be deleted/);
    expect((await api<{ items: Array<{ name: string }> }>('/v1/services')).items.map((s) => s.name)).toEqual(['orders']);
  });
});
