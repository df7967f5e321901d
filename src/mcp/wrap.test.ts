// mcp-wrap: a stdio MCP server from the official SDK behind the loopback
// bridge, and that bridge behind the gateway, with SDK clients of both
// protocol generations. The stdio server writes each delete_repo it runs to a
// file, so the test proves the refused call never reached it.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { binding, GatewayWorld } from '../gateway/testing/world.js';
import { startStdioBridge, type StdioBridge } from './wrap.js';

const SERVER = fileURLToPath(new URL('./testing/stdio-server.mjs', import.meta.url));
let world: GatewayWorld;
let bridge: StdioBridge;
let probeFile: string;

beforeEach(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-wrap-'));
  probeFile = join(dir, 'calls.txt');
  writeFileSync(probeFile, '');
  process.env.MCP_PROBE_FILE = probeFile;
  bridge = await startStdioBridge({ command: process.execPath, args: [SERVER] });
  world = await GatewayWorld.sqlite();
  world.onCleanup(async () => {
    await bridge.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await world.addService('local', [binding('prod', bridge.url)], { kind: 'mcp' });
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
  await client.connect(new StreamableHTTPClientTransport(new URL(`${world.base}/local/`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  clients.push(client);
  return client;
}

describe.each<Era>(['legacy', 'modern'])('a stdio server through mcp-wrap and the gateway (%s)', (era) => {
  it('lists only the granted tools, calls them, refuses delete_repo before the process sees it, and streams progress', async () => {
    const { token } = await world.issue({ permissions: ['local:call:list_*', 'local:call:slow_progress'] });
    const client = await connect(token, era);
    expect((await client.listTools()).tools.map((tool) => tool.name).sort()).toEqual(['list_repos', 'slow_progress']);
    const listed = await client.callTool({ name: 'list_repos', arguments: {} });
    expect((listed as { content: Array<{ text: string }> }).content[0]!.text).toBe('acme/web acme/api');
    await expect(client.callTool({ name: 'delete_repo', arguments: { repo: 'acme/web' } })).rejects.toThrow(/permission_denied/);
    expect(readFileSync(probeFile, 'utf8').split('\n').filter(Boolean)).toEqual(['list_repos']);
    // The stdio tool reports progress, then answers 400 ms later: the progress must not wait for the answer.
    let progressAt = 0;
    await client.callTool({ name: 'slow_progress', arguments: {} }, { onprogress: () => (progressAt ||= performance.now()) });
    const answeredAt = performance.now();
    expect(progressAt).toBeGreaterThan(0);
    expect(answeredAt - progressAt).toBeGreaterThan(250);
  });
});

describe('the 2025 session through the bridge', () => {
  it('gives each initialize its own process and session, refuses a session to another token, and ends it with DELETE', async () => {
    const { token } = await world.issue({ permissions: ['local:call:list_*'] });
    const { token: other } = await world.issue({ permissions: ['local:call:list_*'] });
    const post = (t: string, body: unknown, session?: string) =>
      request(`${world.base}/local/`, {
        method: 'POST',
        headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(session !== undefined && { 'mcp-session-id': session }) },
        body: JSON.stringify(body),
      });
    const init = await post(token, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
    const session = init.headers['mcp-session-id'] as string;
    expect(await init.body.text()).toContain('latchkey-stdio-test');
    expect(session).toMatch(/^[0-9a-f-]{36}$/);
    const stolen = await post(other, { jsonrpc: '2.0', id: 2, method: 'ping' }, session);
    expect(stolen.statusCode).toBe(403);
    expect(await stolen.body.text()).toContain('another token');
    const ended = await request(`${world.base}/local/`, { method: 'DELETE', headers: { authorization: `Bearer ${token}`, 'mcp-session-id': session } });
    await ended.body.text();
    expect(ended.statusCode).toBe(204);
    const after = await post(token, { jsonrpc: '2.0', id: 3, method: 'ping' }, session);
    await after.body.text();
    expect(after.statusCode).toBe(404);
  });
});
