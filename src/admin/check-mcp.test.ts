// POST /v1/check and `latchkey check --mcp` for an MCP message: the adapter's
// table (policy/mcp-target.ts), argument constraints and hidden tools.
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdminHarness, type AdminHarness } from '../test-support/admin-harness.js';

let h: AdminHarness;

beforeAll(async () => {
  h = await startAdminHarness('sqlite');
  const added = await h.call('POST', '/v1/services', { body: { name: 'github', kind: 'mcp', hiddenTools: ['admin_*'], bindings: [{ env: 'prod', upstream: 'http://127.0.0.1:9' }] } });
  expect(added.status).toBe(201);
});
afterAll(async () => h?.close());

describe('POST /v1/check with an mcp message', () => {
  const check = async (body: Record<string, unknown>) => (await h.call('POST', '/v1/check', { body })).body;

  it('decides tool calls with their arguments, for a grant and for a token', async () => {
    const grant = ['github:call:create_issue{repo=acme/*}', 'github:call:*'];
    const call = (name: string, args: Record<string, unknown>) => ({ service: 'github', method: 'tools/call', params: { name, arguments: args } });
    expect(await check({ grant: ['github:call:create_issue{repo=acme/*}'], mcp: call('create_issue', { repo: 'acme/web' }) })).toMatchObject({ allowed: true, matched: 'github:call:create_issue{repo=acme/*}' });
    expect(await check({ grant: ['github:call:create_issue{repo=acme/*}'], mcp: call('create_issue', { repo: 'evil/web' }) })).toMatchObject({ allowed: false, reason: 'permission_denied', argument: 'repo' });
    expect(await check({ grant, mcp: call('admin_reset', {}) })).toMatchObject({ allowed: false, explanation: 'tool admin_reset is hidden by the service' });
    expect(await check({ grant, mcp: { service: 'github', method: 'tools/list' } })).toMatchObject({ allowed: true });
    expect(await check({ grant, mcp: { service: 'github', method: 'tasks/list' } })).toMatchObject({ allowed: false, reason: 'permission_denied' });
    expect(await check({ grant, mcp: { service: 'github', method: 'tools/call', params: {} } })).toMatchObject({ allowed: false, reason: 'invalid_request' });
    expect(await check({ grant, mcp: { service: 'nope', method: 'tools/list' } })).toMatchObject({ allowed: false, reason: 'service_unknown' });
    const token = await h.mint(['github:call:list_*']);
    expect(await check({ token, mcp: call('list_repos', {}) })).toMatchObject({ allowed: true });
    expect(await check({ token, mcp: call('delete_repo', { repo: 'acme/web' }) })).toMatchObject({ allowed: false, reason: 'permission_denied' });
  });
});

describe("latchkey check --mcp 'tools/call NAME {ARGS}' --service S", () => {
  const BIN = resolve('bin/latchkey.js');
  const cli = (args: string[]) =>
    new Promise<{ status: number; stdout: string; stderr: string }>((done) => {
      execFile(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, LATCHKEY_URL: h.url, LATCHKEY_TOKEN: h.adminToken }, timeout: 20_000 }, (err, stdout, stderr) => {
        done({ status: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
      });
    });

  it('answers allowed and denied with the reason, exiting 3 when denied', async () => {
    const token = await h.mint(['github:call:create_issue{repo=acme/*}']);
    const allowed = await cli(['check', '--token', token, '--mcp', 'tools/call create_issue {"repo":"acme/web"}', '--service', 'github', '--json']);
    expect(allowed.stderr).toBe('');
    expect(JSON.parse(allowed.stdout)).toMatchObject({ allowed: true });
    const denied = await cli(['check', '--token', token, '--mcp', 'tools/call create_issue {"repo":"evil/web"}', '--service', 'github']);
    expect(denied.status).toBe(3);
    expect(denied.stdout).toContain('DENIED');
    expect(denied.stdout).toContain('argument repo');
  });
});
