import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { expect } from 'vitest';
import type { ContractAnswer, ContractRequest, ContractTarget, ReasonAdapter, RequestShape } from '../../core/reason.contract.js';
import type { ReasonCode } from '../../errors/index.js';
import { contractFaults } from '../../gateway/testing/contract-faults.js';
import { rawExchange, waitFor } from '../../gateway/testing/raw-http.js';
import { binding, envCredential, GatewayWorld } from '../../gateway/testing/world.js';
import { startMcpUpstream } from './http-upstream.js';

// The MCP adapter as the reason-code contract sees it: a real gateway on
// SQLite, the SDK's own MCP server as the upstream (plus one that answers too
// late, one that holds requests, one where nothing listens), JSON-RPC calls.
// Every refusal is held to the MCP form: a JSON-RPC error whose data.reason is
// the code, with the registry's HTTP status.

const IN_FLIGHT_PER_TOKEN = 2;
const BODY_LIMIT = 1024;
const GRANT = ['gh:call:list_*', '!gh:call:list_secrets', 'ghost:*', 'slow:*', 'held:*', 'keyless:*'];

const call = (name: string, extra = ''): string => JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: { note: extra } } });

const TARGETS: Record<Exclude<RequestShape, 'malformed_protocol'>, { path: string; body: string; headers?: Record<string, string> }> = {
  granted: { path: '/gh/mcp', body: call('list_repos') },
  outside_grant: { path: '/gh/mcp', body: call('delete_repo') },
  denied: { path: '/gh/mcp', body: call('list_secrets') },
  ambiguous: { path: '/gh/mcp', body: call('list_repos'), headers: { 'mcp-name': 'delete_repo' } },
  unknown_service: { path: '/nope/mcp', body: call('list_repos') },
  too_large: { path: '/gh/mcp', body: call('list_repos', 'x'.repeat(BODY_LIMIT * 2)) },
  to_unreachable: { path: '/ghost/mcp', body: call('list_repos') },
  to_slow: { path: '/slow/mcp', body: call('list_repos') },
  to_no_credential: { path: '/keyless/mcp', body: call('list_repos') },
};

async function deadPort(): Promise<number> {
  const dead = createServer();
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
  const port = (dead.address() as AddressInfo).port;
  await new Promise<void>((r) => dead.close(() => r()));
  return port;
}

function answerOf(status: number, headers: Record<string, string | string[] | undefined>, text: string): ContractAnswer {
  if (status < 400) return { code: 'allowed', status, raw: text };
  if (status === 404) {
    // No such service, so no protocol known: the HTTP adapter's form.
    const http = JSON.parse(text) as { error: ReasonCode };
    return { code: http.error, status, retryAfterSeconds: null, raw: text };
  }
  const parsed = JSON.parse(text) as { jsonrpc: string; id: unknown; error: { code: number; message: string; data: { reason: ReasonCode } } };
  expect(parsed.jsonrpc).toBe('2.0');
  expect(parsed.error.code).toEqual(expect.any(Number));
  if (status === 401) expect(headers['www-authenticate']).toBe('Bearer realm="latchkey"');
  const retryAfter = headers['retry-after'];
  return { code: parsed.error.data.reason, status, retryAfterSeconds: retryAfter === undefined ? null : Number(retryAfter), raw: text };
}

async function setup(): Promise<ContractTarget> {
  process.env.PROD_GH_SECRET = 'upstream-secret-value';
  delete process.env.PROD_KEYLESS_SECRET;
  const world = await GatewayWorld.sqlite();
  const mcp = await startMcpUpstream();
  world.onCleanup(() => mcp.close());
  const held: ServerResponse[] = [];
  const other = createServer((req, res) => {
    if (req.url?.startsWith('/slow') === true) {
      setTimeout(() => res.end('{}'), 3000);
      return;
    }
    held.push(res);
  });
  await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
  world.onCleanup(async () => {
    for (const res of held.splice(0)) res.end();
    other.closeAllConnections();
    await new Promise<void>((r) => other.close(() => r()));
  });
  const otherUrl = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
  const mcpKind = { kind: 'mcp' as const };
  await world.addService('gh', [binding('prod', mcp.url, envCredential('PROD_GH_SECRET')), binding('staging', mcp.url)], { ...mcpKind, maxBodyBytes: BODY_LIMIT });
  await world.addService('ghost', [binding('prod', `http://127.0.0.1:${await deadPort()}`)], mcpKind);
  await world.addService('slow', [binding('prod', `${otherUrl}/slow`)], mcpKind);
  await world.addService('held', [binding('prod', `${otherUrl}/held`)], mcpKind);
  await world.addService('keyless', [binding('prod', mcp.url, envCredential('PROD_KEYLESS_SECRET'))], mcpKind);
  const faults = contractFaults(world);
  await world.start({ recorder: faults.recorder, timeouts: { upstreamHeadersMs: 1000 }, limits: { maxInFlightPerToken: IN_FLIGHT_PER_TOKEN } });

  const post = async (path: string, body: string, token: string | undefined, headers: Record<string, string> = {}): Promise<ContractAnswer> => {
    try {
      return await postOnce(path, body, token, headers);
    } catch (err) {
      // An answer already streaming (its head sent) when its audit event failed can only be cut: the one
      // honest signal left. Only the audit_unavailable scenario's first request meets this.
      if ((err as { code?: string }).code === 'UND_ERR_SOCKET') return { code: 'audit_unavailable', raw: '(cut while streaming)' };
      throw err;
    }
  };
  const postOnce = async (path: string, body: string, token: string | undefined, headers: Record<string, string>) => {
    const reply = await request(`${world.base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(token !== undefined && { authorization: `Bearer ${token}` }), ...headers },
      body,
    });
    return answerOf(reply.statusCode, reply.headers, await reply.body.text());
  };
  const send = async (req: ContractRequest): Promise<ContractAnswer> => {
    if (req.shape === 'malformed_protocol') {
      // Below JSON-RPC: HTTP itself is broken, so the listener answers in the HTTP adapter's form.
      const wire = await rawExchange(world.gateway.address.port, 'NOT HTTP AT ALL\r\n\r\n');
      const body = JSON.parse(wire.slice(wire.indexOf('\r\n\r\n') + 4)) as { error: ReasonCode };
      return { code: body.error, status: Number(/^HTTP\/1\.1 (\d{3})/.exec(wire)?.[1] ?? 0), retryAfterSeconds: null, raw: wire };
    }
    const { path, body, headers } = TARGETS[req.shape];
    return post(path, body, req.token, headers);
  };

  return {
    env: 'prod',
    otherEnv: 'staging',
    now: () => world.now,
    advance: (ms) => {
      world.now += ms;
    },
    issue: async (overrides = {}) => {
      const { token, record } = await world.issue({ permissions: GRANT, ...overrides });
      return { token, id: record.id };
    },
    request: send,
    auditedDecisions: faults.auditedDecisions,
    fillInFlight: async (token) => {
      const replies = Array.from({ length: IN_FLIGHT_PER_TOKEN }, () => post('/held/mcp', call('list_repos'), token));
      await waitFor(() => held.length === IN_FLIGHT_PER_TOKEN, 10_000);
      return async () => {
        for (const res of held.splice(0)) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ jsonrpc: '2.0', id: 1, result: {} }));
        }
        for (const reply of await Promise.all(replies)) expect(reply.code).toBe('allowed');
      };
    },
    breakStore: faults.breakStore,
    breakAudit: faults.breakAudit,
    healAudit: faults.healAudit,
    close: () => world.close(),
  };
}

export const mcpReasonAdapter: ReasonAdapter = {
  saysRetryAfter: true,
  unsupported: {
    internal_error: "answers a bug (the limiter's promise rejected), which no real request can produce",
  },
  setup,
};
