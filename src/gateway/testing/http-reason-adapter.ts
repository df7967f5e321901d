import { createServer, type ServerResponse } from 'node:http';
import { contractFaults } from './contract-faults.js';
import type { AddressInfo } from 'node:net';
import { expect } from 'vitest';
import type { ContractAnswer, ContractRequest, ContractTarget, ReasonAdapter, RequestShape } from '../../core/reason.contract.js';
import type { ReasonCode } from '../../errors/index.js';
import { rawExchange, waitFor } from './raw-http.js';
import { startUpstream } from './upstream.js';
import { binding, envCredential, GatewayWorld, type GatewayReply } from './world.js';

// The HTTP gateway as the reason-code contract sees it: a real gateway on a
// real SQLite store, real loopback upstreams (one that answers, one that
// answers too late, one that holds requests open, one where nothing listens),
// and the real audit recorder writing through a switch that can fail its writes.
// Every refusal is also held to the HTTP form: JSON {error, message} only,
// WWW-Authenticate on 401, Retry-After read for the limits.

const IN_FLIGHT_PER_TOKEN = 2;
const BODY_LIMIT = 1024;

/** The token's permissions: `granted` shapes allowed, DELETE outside, /secret denied by `!`. */
const GRANT = ['orders:read:/v1/orders/**', 'orders:write:/v1/orders/**', '!orders:read:/v1/orders/secret/**', 'ghost:*', 'slow:*', 'held:*', 'keyless:*'];

const TARGETS: Record<RequestShape, { method: string; path: string; body?: string }> = {
  granted: { method: 'GET', path: '/orders/v1/orders/7' },
  outside_grant: { method: 'DELETE', path: '/orders/v1/orders/7' },
  denied: { method: 'GET', path: '/orders/v1/orders/secret/1' },
  ambiguous: { method: 'GET', path: '/orders/v1/orders%2F..%2Fadmin' },
  unknown_service: { method: 'GET', path: '/nope/v1/orders/7' },
  too_large: { method: 'POST', path: '/orders/v1/orders/7', body: 'x'.repeat(BODY_LIMIT * 2) },
  malformed_protocol: { method: '', path: '' },
  to_unreachable: { method: 'GET', path: '/ghost/x' },
  to_slow: { method: 'GET', path: '/slow/x' },
  to_no_credential: { method: 'GET', path: '/keyless/x' },
};

async function deadPort(): Promise<number> {
  const dead = createServer();
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
  const port = (dead.address() as AddressInfo).port;
  await new Promise<void>((r) => dead.close(() => r()));
  return port;
}

/** The HTTP form every gateway refusal must have. */
function answerOf(reply: GatewayReply): ContractAnswer {
  if (reply.status < 400) return { code: 'allowed', status: reply.status, raw: reply.text };
  expect(reply.json).toEqual({ error: expect.any(String), message: expect.any(String) });
  if (reply.status === 401) expect(reply.headers['www-authenticate']).toBe('Bearer realm="latchkey"');
  const retryAfter = reply.headers['retry-after'];
  return {
    code: reply.json!.error as ReasonCode,
    status: reply.status,
    retryAfterSeconds: retryAfter === undefined ? null : Number(retryAfter),
    raw: reply.text,
  };
}

/** A raw exchange Node's parser refuses: status line and JSON body read off the wire. */
function rawAnswerOf(wire: string): ContractAnswer {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(wire)?.[1] ?? 0);
  const body = wire.slice(wire.indexOf('\r\n\r\n') + 4);
  const parsed = JSON.parse(body) as { error: ReasonCode; message: string };
  expect(parsed).toEqual({ error: expect.any(String), message: expect.any(String) });
  return { code: parsed.error, status, retryAfterSeconds: null, raw: body };
}

async function setup(): Promise<ContractTarget> {
  process.env.PROD_ORDERS_SECRET = 'upstream-secret-value';
  delete process.env.PROD_KEYLESS_SECRET;
  const world = await GatewayWorld.sqlite();
  const held: ServerResponse[] = [];
  const upstream = await startUpstream();
  world.onCleanup(() => upstream.close());
  upstream.handle((req, res) => {
    if (req.url?.startsWith('/slow') === true) {
      setTimeout(() => res.end('late'), 3000);
      return;
    }
    if (req.url?.startsWith('/held') === true) {
      held.push(res);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok: true, path: req.url }));
  });
  await world.addService('orders', [binding('prod', `${upstream.url}/api`, envCredential('PROD_ORDERS_SECRET')), binding('staging', `${upstream.url}/staging`)], { maxBodyBytes: BODY_LIMIT });
  await world.addService('ghost', [binding('prod', `http://127.0.0.1:${await deadPort()}`)]);
  await world.addService('slow', [binding('prod', `${upstream.url}/slow`)]);
  await world.addService('held', [binding('prod', `${upstream.url}/held`)]);
  await world.addService('keyless', [binding('prod', upstream.url, envCredential('PROD_KEYLESS_SECRET'))]);

  const faults = contractFaults(world);
  // Short enough for the 504 case, long enough for every other upstream answer on a loaded machine.
  await world.start({ recorder: faults.recorder, timeouts: { upstreamHeadersMs: 1000 }, limits: { maxInFlightPerToken: IN_FLIGHT_PER_TOKEN } });

  const send = async (request: ContractRequest): Promise<ContractAnswer> => {
    if (request.shape === 'malformed_protocol') return rawAnswerOf(await rawExchange(world.gateway.address.port, 'NOT HTTP AT ALL\r\n\r\n'));
    const { method, path, body } = TARGETS[request.shape];
    return answerOf(await world.send(path, { method, ...(request.token !== undefined && { token: request.token }), ...(body !== undefined && { body }) }));
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
      const replies = Array.from({ length: IN_FLIGHT_PER_TOKEN }, () => world.send('/held/x', { token }));
      await waitFor(() => held.length === IN_FLIGHT_PER_TOKEN, 10_000);
      return async () => {
        for (const res of held.splice(0)) res.end('done');
        for (const reply of await Promise.all(replies)) expect(reply.status).toBe(200);
      };
    },
    breakStore: faults.breakStore,
    breakAudit: faults.breakAudit,
    healAudit: faults.healAudit,
    close: () => world.close(),
  };
}

export const httpReasonAdapter: ReasonAdapter = {
  saysRetryAfter: true,
  unsupported: {
    internal_error: 'answers a bug (the limiter\'s promise rejected), which no real request can produce',
  },
  setup,
};
