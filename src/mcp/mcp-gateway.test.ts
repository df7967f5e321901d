// The MCP gateway end to end with the official SDK (v2) on both sides: a real
// McpServer behind a real gateway on SQLite, real Client connections of both
// protocol generations (2025-11-25 initialize, 2026-07-28 stateless).
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { binding, envCredential, GatewayWorld } from '../gateway/testing/world.js';
import { waitFor } from '../gateway/testing/raw-http.js';
import { startMcpUpstream, type McpUpstream } from './testing/http-upstream.js';

const SECRET = 'sk_mcp_upstream_secret_42';
let world: GatewayWorld;
let upstream: McpUpstream;

beforeEach(async () => {
  process.env.PROD_GH_SECRET = SECRET;
  world = await GatewayWorld.sqlite();
  upstream = await startMcpUpstream();
  world.onCleanup(() => upstream.close());
  await world.addService('gh', [binding('prod', upstream.url, envCredential('PROD_GH_SECRET'))], { kind: 'mcp', hiddenTools: ['admin_*'], maxBodyBytes: 1024 * 1024 });
  await world.start();
});
const clients: Client[] = [];
// Clients first: an open 2025 GET stream would hold the gateway's drain for its whole grace period.
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close().catch(() => undefined)));
  await world.close();
});

type Era = 'legacy' | 'modern';

async function connect(token: string, era: Era): Promise<Client> {
  const client = new Client({ name: 'latchkey-test', version: '1.0.0' }, era === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {});
  const transport = new StreamableHTTPClientTransport(new URL(`${world.base}/gh/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
  await client.connect(transport);
  clients.push(client);
  return client;
}

function textOf(result: unknown): string {
  return ((result as { content: Array<{ text: string }> }).content[0]?.text) ?? '';
}

describe.each<Era>(['legacy', 'modern'])('through the gateway (%s protocol generation)', (era) => {
  it('a token granted gh:call:list_* sees only the list_ tools, calls them, and is refused delete_repo, which never runs', async () => {
    const { token } = await world.issue({ permissions: ['gh:call:list_*'] });
    const client = await connect(token, era);
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(['list_issues', 'list_repos']);
    expect(textOf(await client.callTool({ name: 'list_repos', arguments: {} }))).toBe('acme/web acme/api');
    await expect(client.callTool({ name: 'delete_repo', arguments: { repo: 'acme/web' } })).rejects.toThrow(/permission_denied/);
    expect(upstream.probe.calls.get('delete_repo')).toBeUndefined();
    expect(upstream.probe.calls.get('list_repos')).toBe(1);
    // The upstream got the injected credential, never the token.
    const posts = upstream.seen.filter((seen) => seen.method === 'POST');
    expect(posts.length).toBeGreaterThan(0);
    for (const seen of posts) {
      expect(seen.headers.authorization).toBe(`Bearer ${SECRET}`);
      expect(JSON.stringify(seen.headers)).not.toContain(token);
    }
    const events = await world.decisions();
    const refused = events.find((event) => event.action === 'tools/call' && event.reason === 'permission_denied');
    expect(refused?.resource).toMatch(/^delete_repo args=repo bytes=\d+$/);
    expect(JSON.stringify(events)).not.toContain('acme/web');
  });

  it('argument constraints allow and refuse as written, naming the argument', async () => {
    const { token } = await world.issue({ permissions: ['gh:call:create_issue{repo=acme/*}'] });
    const client = await connect(token, era);
    expect(JSON.parse(textOf(await client.callTool({ name: 'create_issue', arguments: { repo: 'acme/web', title: 'hi' } })))).toEqual({ repo: 'acme/web', title: 'hi' });
    await expect(client.callTool({ name: 'create_issue', arguments: { repo: 'evil/web', title: 'hi' } })).rejects.toThrow(/argument repo of create_issue/);
    await expect(client.callTool({ name: 'create_issue', arguments: { title: 'no repo' } })).rejects.toThrow(/permission_denied/);
    expect(upstream.probe.calls.get('create_issue')).toBe(1);
  });

  it('hides the service-hidden tools from everyone, and filters resources and prompts', async () => {
    const { token } = await world.issue({ permissions: ['gh:call:*', 'gh:read:docs://*', 'gh:get:summarize'] });
    const client = await connect(token, era);
    const names = (await client.listTools()).tools.map((tool) => tool.name);
    expect(names).toContain('list_repos');
    expect(names).not.toContain('admin_reset');
    await expect(client.callTool({ name: 'admin_reset', arguments: {} })).rejects.toThrow(/hidden/);
    expect(upstream.probe.calls.get('admin_reset')).toBeUndefined();
    expect((await client.listResources()).resources.map((r) => r.uri)).toEqual(['docs://readme']);
    expect((await client.listPrompts()).prompts.map((p) => p.name)).toEqual(['summarize']);
    await expect(client.readResource({ uri: 'secret://keys' })).rejects.toThrow(/permission_denied/);
    expect(textOf((await client.getPrompt({ name: 'summarize' })).messages[0])).toBe('');
  });

  it('streams progress notifications as they come: the first arrives while the tool is still running', async () => {
    const { token } = await world.issue({ permissions: ['gh:call:slow_progress'] });
    const client = await connect(token, era);
    const progress: Array<{ progress: number; at: number; finishedAt: number | null }> = [];
    const call = client.callTool({ name: 'slow_progress', arguments: {} }, { onprogress: (p) => progress.push({ progress: p.progress, at: performance.now(), finishedAt: upstream.probe.finishedAt }) });
    await waitFor(() => progress.length >= 1, 20_000);
    expect(progress[0]!.finishedAt).toBeNull();
    upstream.probe.release();
    expect(textOf(await call)).toBe('done');
    expect(upstream.probe.finishedAt).toBeGreaterThan(progress[0]!.at);
  });
});

describe('bad input: a JSON-RPC error or 400, nothing forwarded', () => {
  async function post(token: string, body: string, headers: Record<string, string> = {}) {
    const reply = await request(`${world.base}/gh/mcp`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
      body,
    });
    const text = await reply.body.text();
    return { status: reply.statusCode, json: JSON.parse(text) as unknown };
  }
  const call = (name: unknown, extra: Record<string, unknown> = {}) => JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: { repo: 'acme/web' } }, ...extra });

  it.each<[string, string, Record<string, string>, number, number, string]>([
    ['malformed JSON', '{"jsonrpc": "2.0", "id": 1, "method": ', {}, 400, -32700, 'invalid_request'],
    ['a body that is not JSON-RPC', '{"hello": "world"}', {}, 400, -32600, 'invalid_request'],
    ['a batch of 10,000 messages', JSON.stringify(Array.from({ length: 10_000 }, (_, id) => ({ jsonrpc: '2.0', id, method: 'ping' }))), {}, 400, -32600, 'invalid_request'],
    ['a method name with odd characters', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call\u0000; rm -rf', params: {} }), {}, 400, -32600, 'invalid_request'],
    ['a tools/call with no name', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: {} }), {}, 400, -32600, 'invalid_request'],
    ['Mcp-Method disagreeing with the body', call('list_repos'), { 'mcp-method': 'tools/list' }, 403, -32001, 'request_ambiguous'],
    ['Mcp-Name disagreeing with the body', call('delete_repo'), { 'mcp-method': 'tools/call', 'mcp-name': 'list_repos' }, 403, -32001, 'request_ambiguous'],
    ['Mcp-Param-Repo disagreeing with the body', call('list_repos'), { 'mcp-param-repo': 'acme/api' }, 403, -32001, 'request_ambiguous'],
    ['a browser Origin of another site', call('list_repos'), { origin: 'https://evil.example' }, 403, -32001, 'request_ambiguous'],
    ['a batch with one refused call', JSON.stringify([JSON.parse(call('list_repos')), { ...JSON.parse(call('delete_repo')), id: 2 }]), {}, 403, -32001, 'permission_denied'],
  ])('%s', async (_name, body, headers, status, rpcCode, reason) => {
    const { token } = await world.issue({ permissions: ['gh:call:list_*'] });
    const before = upstream.seen.length;
    const reply = await post(token, body, headers);
    expect(reply.status).toBe(status);
    const errors = (Array.isArray(reply.json) ? reply.json : [reply.json]) as Array<{ jsonrpc: string; error: { code: number; data: { reason: string } } }>;
    for (const error of errors) {
      expect(error.jsonrpc).toBe('2.0');
      expect(error.error.code).toBe(rpcCode);
      expect(error.error.data.reason).toBe(reason);
    }
    expect(upstream.seen.length).toBe(before);
  });

  it('authorizes a batch per message and forwards it when every message is allowed', async () => {
    const { token } = await world.issue({ permissions: ['gh:call:list_*'] });
    const init = { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };
    const reply = await post(token, JSON.stringify([init, { jsonrpc: '2.0', id: 1, method: 'ping' }]));
    expect(upstream.seen.length).toBe(1);
    expect(reply.status).toBeLessThan(500);
    const events = await world.decisions();
    expect(events.filter((event) => event.action === 'initialize' || event.action === 'ping').map((event) => event.reason)).toEqual(['allowed', 'allowed']);
  });

  it('never gives a filtered list a public cache scope', async () => {
    const { token } = await world.issue({ permissions: ['gh:call:list_*'] });
    const reply = await request(`${world.base}/gh/mcp`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
    });
    await reply.body.text();
    expect(reply.headers['cache-control']).toBe('private, no-store');
  });
});
