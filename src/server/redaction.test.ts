// The redaction proof of issue 5: a `latchkey serve` process (debug logging)
// is sent Latchkey tokens (valid, revoked, honey, unknown, malformed, of the
// wrong environment, in a query string), upstream credentials (injected from
// the server's environment), Authorization and Cookie headers and request
// bodies carrying recognizable markers, through the gateway (allowed and
// refused) and the admin API. Afterwards none of them appears in any audit
// event (the API, JSONL and CSV exports, the JSONL file sink), in any line
// the process wrote, in the checkpoint file, or in any file of the data
// directory. Needs `npm run build` (the child runs bin/latchkey.js).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../audit/index.js';
import {
  adminClient,
  initDataDir,
  readAllAuditEvents,
  startLoopbackUpstream,
  startServeProcess,
  untilRouted,
  type AdminCall,
  type LoopbackUpstream,
  type ServeProcess,
} from '../test-support/serve-process.js';
import { generateToken } from '../token/index.js';

const tag = randomBytes(6).toString('hex');
/** Everything that must never be written down, by name. Tokens are added once minted. */
const secrets = new Map<string, string>([
  ['upstream credential (env)', `upstream-secret-${tag}-orders`],
  ['upstream credential (custom header)', `upstream-secret-${tag}-billing`],
  ['client Authorization (Basic)', Buffer.from(`alice:basic-pass-${tag}`).toString('base64')],
  ['client Authorization (own, on a custom-token-header service)', `client-own-authz-${tag}`],
  ['cookie', `cookie-session-${tag}`],
  ['allowed request body', `body-allowed-${tag}`],
  ['refused request body', `body-refused-${tag}`],
  ['chunked request body', `body-chunked-${tag}`],
  ['malformed token', `lk_prod_malformed${tag}`],
  ['unknown token', generateToken('prod')],
  ['admin API: unknown admin token', generateToken('prod')],
  ['Authorization value pasted into admin free text', `Bearer pasted-authz-${tag}9`],
]);

/** A token's secret part without the 4 characters its display hint shows: its leaking whole or cut down is caught. */
function tokenFragments(name: string, token: string): Array<[string, string]> {
  const body = token.slice(token.indexOf('_', 3) + 1);
  return [
    [name, token],
    [`${name} (body without the hinted last 4)`, body.slice(0, -4)],
    [`${name} (first 16 random characters)`, body.slice(0, 16)],
  ];
}

describe('no secret reaches the audit trail, the logs or the data directory', () => {
  let dataDir: string;
  let serve: ServeProcess;
  let upstream: LoopbackUpstream;
  let call: AdminCall;
  let adminToken: string;
  const fragments: Array<[string, string]> = [];
  const answered: Array<{ path: string; status: number }> = [];

  beforeAll(async () => {
    upstream = await startLoopbackUpstream({ record: true });
    dataDir = mkdtempSync(join(tmpdir(), 'latchkey-redaction-'));
    const configFile = join(dataDir, 'latchkey.json');
    writeFileSync(configFile, JSON.stringify({
      audit: { failMode: 'closed', checkpointEvery: 5, file: join(dataDir, 'audit.jsonl'), checkpointFile: join(dataDir, 'checkpoints.jsonl') },
    }));
    adminToken = initDataDir(dataDir);
    serve = await startServeProcess({
      dataDir,
      configFile,
      env: {
        LATCHKEY_LOG_LEVEL: 'debug',
        PROD_ORDERS_KEY: secrets.get('upstream credential (env)')!,
        PROD_BILLING_KEY: secrets.get('upstream credential (custom header)')!,
      },
    });
    call = adminClient(serve.adminUrl, adminToken);
  }, 30_000);

  afterAll(async () => {
    await serve?.kill9();
    await upstream?.close();
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  });

  async function through(path: string, init: { method?: string; headers?: Record<string, string>; body?: string | ReadableStream } = {}): Promise<number> {
    const response = await fetch(`${serve.gatewayUrl}${path}`, {
      method: init.method ?? 'GET',
      headers: init.headers ?? {},
      ...(init.body !== undefined && { body: init.body, duplex: 'half' }),
    } as RequestInit);
    await response.text();
    answered.push({ path, status: response.status });
    return response.status;
  }

  it('sends them through the gateway and the admin API', async () => {
    const created = async (body: object): Promise<{ id: string; token: string }> => {
      const reply = await call<{ id: string; token: string }>('POST', '/v1/tokens', { ttl: '1h', ...body });
      expect(reply.status, reply.text).toBe(201);
      return reply.body;
    };
    expect((await call('POST', '/v1/services', {
      name: 'orders', kind: 'http',
      bindings: [{ env: 'prod', upstream: upstream.url, credential: { from: 'env', variable: 'PROD_ORDERS_KEY' } }],
    })).status).toBe(201);
    expect((await call('POST', '/v1/services', {
      name: 'billing', kind: 'http', tokenHeader: 'X-Latchkey-Token',
      bindings: [{ env: 'prod', upstream: upstream.url, credential: { from: 'env', variable: 'PROD_BILLING_KEY', header: 'X-Api-Key' } }],
    })).status).toBe(201);
    expect((await call('POST', '/v1/roles', { name: 'writer', permissions: ['orders:read:/v1/**', 'orders:write:/v1/notes/*', 'billing:read'] })).status).toBe(201);
    const valid = await created({ name: 'redaction-valid', env: 'prod', roles: ['writer'] });
    const revoked = await created({ name: 'redaction-revoked', env: 'prod', roles: ['writer'] });
    const honey = await created({ name: 'redaction-honey', env: 'prod', honey: true });
    const dev = await created({ name: 'redaction-dev', env: 'dev', permissions: ['orders:read'] });
    const inQuery = await created({ name: 'redaction-query', env: 'prod', roles: ['writer'] });
    const checked = await created({ name: 'redaction-checked', env: 'prod', roles: ['writer'] });
    expect((await call('POST', `/v1/tokens/${revoked.id}/revoke`)).status).toBe(200);
    for (const [name, token] of [
      ['valid token', valid.token], ['revoked token', revoked.token], ['honeytoken', honey.token], ['dev token', dev.token],
      ['token in a query string', inQuery.token], ['token sent to /v1/check', checked.token], ['admin token', adminToken],
      ['unknown token', secrets.get('unknown token')!], ['admin API: unknown admin token', secrets.get('admin API: unknown admin token')!],
    ] as const) fragments.push(...tokenFragments(name, token));
    for (const [name, secret] of secrets) fragments.push([name, secret]);

    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
    expect(await untilRouted(serve.gatewayUrl, '/billing/v1/ready', { 'x-latchkey-token': valid.token })).toBe(200);
    const cookie = `session=${secrets.get('cookie')}; theme=dark`;
    // Allowed: a GET with a cookie, a POST with a body, a chunked upload, a custom token header.
    expect(await through('/orders/v1/orders/1', { headers: { ...bearer(valid.token), cookie } })).toBe(200);
    expect(await through('/orders/v1/notes/2', {
      method: 'POST', headers: { ...bearer(valid.token), 'content-type': 'application/json', cookie },
      body: JSON.stringify({ note: secrets.get('allowed request body'), password: secrets.get('allowed request body') }),
    })).toBe(200);
    const chunks = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(`part one ${secrets.get('chunked request body')}`));
        controller.enqueue(new TextEncoder().encode(' part two'));
        controller.close();
      },
    });
    expect(await through('/orders/v1/notes/3', { method: 'PUT', headers: bearer(valid.token), body: chunks })).toBe(200);
    expect(await through('/billing/v1/invoices/4', {
      headers: { 'x-latchkey-token': valid.token, authorization: `Bearer ${secrets.get('client Authorization (own, on a custom-token-header service)')}`, cookie },
    })).toBe(200);
    // Refused, each for its own reason, several with a body the gateway never reads.
    expect(await through('/orders/v1/orders/5', {
      method: 'DELETE', headers: { ...bearer(valid.token), cookie }, body: secrets.get('refused request body')!,
    })).toBe(403);
    expect(await through('/orders/v1/notes/6', {
      method: 'POST', headers: bearer(revoked.token), body: JSON.stringify({ secret: secrets.get('refused request body') }),
    })).toBe(401);
    expect(await through('/orders/v1/orders/7', { headers: bearer(honey.token) })).toBe(401);
    expect(await through('/orders/v1/orders/8', { headers: bearer(dev.token) })).toBe(403);
    expect(await through('/orders/v1/orders/9', { headers: bearer(secrets.get('unknown token')!) })).toBe(401);
    expect(await through('/orders/v1/orders/10', { headers: { ...bearer(secrets.get('malformed token')!), cookie } })).toBe(401);
    expect(await through('/orders/v1/orders/11', { headers: { authorization: `Basic ${secrets.get('client Authorization (Basic)')}` } })).toBe(401);
    expect(await through(`/orders/v1/orders/12?access_token=${inQuery.token}&q=1`, { headers: { cookie } })).toBe(401);
    expect(await through(`/orders/v1/orders/13?access_token=${inQuery.token}`, { headers: bearer(valid.token) })).toBe(200);

    // The admin API: a token checked through /v1/check, an unknown admin token, a cookie.
    const check = await call<{ allowed: boolean }>('POST', '/v1/check', { token: checked.token, method: 'GET', path: '/orders/v1/orders/1' });
    expect(check.body.allowed).toBe(true);
    const refusedAdmin = await adminClient(serve.adminUrl, secrets.get('admin API: unknown admin token')!)('GET', '/v1/tokens');
    expect(refusedAdmin.status).toBe(401);
    const withCookie = await fetch(`${serve.adminUrl}/v1/environments`, { headers: { ...bearer(adminToken), cookie } });
    expect(withCookie.status).toBe(200);

    // Pasted into every free-text field the admin API takes: each refused, naming the field, nothing stored.
    const pastes = [valid.token, secrets.get('upstream credential (env)')!, secrets.get('Authorization value pasted into admin free text')!];
    const headBefore = (await call<{ seq: number }>('GET', '/v1/audit/head')).body.seq;
    for (const paste of pastes) {
      const attempts: Array<[string, string, object, string]> = [
        ['POST', '/v1/tokens', { name: `job ${paste}`, env: 'prod', permissions: ['orders:read'], ttl: '1h' }, 'name'],
        ['POST', '/v1/tokens', { name: 'job', owner: `team ${paste}`, env: 'prod', permissions: ['orders:read'], ttl: '1h' }, 'owner'],
        ['POST', '/v1/tokens', { name: 'job', env: 'prod', permissions: ['orders:read'], ttl: '1h', metadata: { note: `see ${paste}` } }, 'metadata.note'],
        ['POST', '/v1/tokens', { name: 'job', env: 'prod', permissions: ['orders:read'], ttl: '1h', metadata: { [paste.slice(0, 60)]: 'x' } }, 'metadata'],
        ['POST', '/v1/roles', { name: 'pasted', description: `for ${paste}`, permissions: ['orders:read'] }, 'description'],
        ['POST', '/v1/roles', { name: 'pasted', permissions: ['orders:read'], [paste]: 1 }, ''],
        ['PUT', '/v1/roles/writer', { description: paste, permissions: ['orders:read:/v1/**', 'orders:write:/v1/notes/*', 'billing:read'] }, 'description'],
      ];
      for (const [method, path, body, field] of attempts) {
        const reply = await call<{ error: string; field: string }>(method as 'POST', path, body);
        expect([path, reply.status, reply.body.error, reply.body.field.startsWith(field)], JSON.stringify(reply.body)).toEqual([path, 400, 'invalid_request', true]);
        expect(reply.text).not.toContain(paste);
      }
    }
    expect((await call<{ seq: number }>('GET', '/v1/audit/head')).body.seq).toBe(headBefore);

    // The secrets did flow: the upstream got the injected credentials and the allowed bodies.
    const seen = JSON.stringify(upstream.seen);
    for (const name of ['upstream credential (env)', 'upstream credential (custom header)', 'allowed request body', 'chunked request body']) {
      expect(seen, name).toContain(secrets.get(name)!);
    }
  });

  it('finds none of them in events, exports, logs, the checkpoint file or the data directory', async () => {
    const events = await readAllAuditEvents<AuditEvent>(call);
    const decisions = events.filter((event) => event.kind === 'decision');
    // Every gateway request left its event (so there was something to leak into).
    expect(decisions.length).toBeGreaterThanOrEqual(answered.length);
    expect(events.filter((event) => event.kind === 'admin').length).toBeGreaterThan(5);
    const jsonl = await call('GET', '/v1/audit/export?format=jsonl');
    const csv = await call('GET', '/v1/audit/export?format=csv');
    expect(jsonl.status).toBe(200);
    expect(csv.status).toBe(200);
    expect(jsonl.text.trim().split('\n').length).toBe(events.length);

    // A graceful stop writes the last batch, the last checkpoint and the last log lines.
    expect(await serve.stop()).toBe(0);
    const places = new Map<string, string>([
      ['audit events (GET /v1/audit/events)', JSON.stringify(events)],
      ['audit export (JSONL)', jsonl.text],
      ['audit export (CSV)', csv.text],
      ['serve stderr (pino logs)', serve.stderr()],
      ['serve stdout', serve.stdout()],
    ]);
    for (const file of listFiles(dataDir)) places.set(`file ${file.slice(dataDir.length + 1)}`, readFileSync(file).toString('latin1'));
    expect([...places.keys()]).toEqual(expect.arrayContaining(['file audit.jsonl', 'file checkpoints.jsonl', 'file latchkey.db']));
    expect(places.get('file checkpoints.jsonl')!.trim().split('\n').length).toBeGreaterThan(1);
    // The logs cover both planes: admin requests (one line each) and the gateway (the honeytoken warning).
    expect(serve.stderr()).toContain('"msg":"admin request"');
    expect(serve.stderr()).toContain('"msg":"honeytoken presented"');

    const leaks: string[] = [];
    for (const [place, text] of places) {
      for (const [name, secret] of fragments) if (text.includes(secret)) leaks.push(`${name} in ${place}`);
    }
    console.log(
      `[redaction] ${answered.length} gateway requests, ${events.length} events, ${fragments.length} secrets and fragments ` +
        `checked in ${places.size} places (${[...places.values()].reduce((n, text) => n + text.length, 0)} bytes); leaks: ${leaks.length}`,
    );
    expect(leaks).toEqual([]);
  });
});

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? listFiles(path) : [path];
  });
}
