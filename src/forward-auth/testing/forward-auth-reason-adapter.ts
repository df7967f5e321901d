import { expect } from 'vitest';
import { contractFaults } from '../../gateway/testing/contract-faults.js';
import type { ContractAnswer, ContractRequest, ContractTarget, ReasonAdapter, RequestShape } from '../../core/reason.contract.js';
import type { ReasonCode } from '../../errors/index.js';
import { rawExchange } from '../../gateway/testing/raw-http.js';
import { startUpstream } from '../../gateway/testing/upstream.js';
import { binding, envCredential, GatewayWorld, type GatewayReply } from '../../gateway/testing/world.js';
import { sendRaw, startEndpoint } from './forward-auth-world.js';

// The forward-auth endpoint as the reason-code contract sees it: checks sent
// the way Caddy and Traefik send them (endpoint path /<service>,
// X-Forwarded-Method and -Uri), on a real gateway world's data plane, with the
// real audit recorder writing through a switch that can fail its writes.

const BODY_LIMIT = 1024;
const GRANT = ['orders:read:/v1/orders/**', 'orders:write:/v1/orders/**', '!orders:read:/v1/orders/secret/**', 'keyless:*'];

const CHECKS: Record<Exclude<RequestShape, 'malformed_protocol'>, { service: string; method: string; uri: string; body?: string }> = {
  granted: { service: 'orders', method: 'GET', uri: '/v1/orders/7' },
  outside_grant: { service: 'orders', method: 'DELETE', uri: '/v1/orders/7' },
  denied: { service: 'orders', method: 'GET', uri: '/v1/orders/secret/1' },
  ambiguous: { service: 'orders', method: 'GET', uri: '/v1/orders%2F..%2Fadmin' },
  unknown_service: { service: 'nope', method: 'GET', uri: '/v1/orders/7' },
  // A proxy that passes the request body (and its length) on to the check.
  too_large: { service: 'orders', method: 'POST', uri: '/v1/orders/7', body: 'x'.repeat(BODY_LIMIT * 2) },
  to_unreachable: { service: 'orders', method: 'GET', uri: '/v1/orders/7' },
  to_slow: { service: 'orders', method: 'GET', uri: '/v1/orders/7' },
  to_no_credential: { service: 'keyless', method: 'GET', uri: '/x' },
};

function answerOf(reply: GatewayReply): ContractAnswer {
  if (reply.status < 400) return { code: 'allowed', status: reply.status, raw: reply.text };
  expect(reply.json).toEqual({ error: expect.any(String), message: expect.any(String) });
  // The code again in a header, for proxies (nginx) that do not pass the status on.
  expect(reply.headers['x-latchkey-reason']).toBe(reply.json!.error);
  if (reply.status === 401) expect(reply.headers['www-authenticate']).toBe('Bearer realm="latchkey"');
  const retryAfter = reply.headers['retry-after'];
  return { code: reply.json!.error as ReasonCode, status: reply.status, retryAfterSeconds: retryAfter === undefined ? null : Number(retryAfter), raw: reply.text };
}

async function setup(): Promise<ContractTarget> {
  process.env.PROD_ORDERS_SECRET = 'upstream-secret-value';
  delete process.env.PROD_KEYLESS_SECRET;
  const world = await GatewayWorld.sqlite();
  const upstream = await startUpstream();
  world.onCleanup(() => upstream.close());
  await world.addService('orders', [binding('prod', upstream.url, envCredential('PROD_ORDERS_SECRET')), binding('staging', upstream.url)], { maxBodyBytes: BODY_LIMIT });
  await world.addService('keyless', [binding('prod', upstream.url, envCredential('PROD_KEYLESS_SECRET'))]);
  const faults = contractFaults(world);
  await world.start({ recorder: faults.recorder });
  const { port } = (await startEndpoint(world)).address;

  const send = async (request: ContractRequest): Promise<ContractAnswer> => {
    if (request.shape === 'malformed_protocol') {
      const wire = await rawExchange(port, 'NOT HTTP AT ALL\r\n\r\n');
      const body = wire.slice(wire.indexOf('\r\n\r\n') + 4);
      return { code: (JSON.parse(body) as { error: ReasonCode }).error, status: Number(/^HTTP\/1\.1 (\d{3})/.exec(wire)?.[1] ?? 0), retryAfterSeconds: null, raw: body };
    }
    const check = CHECKS[request.shape];
    const headers: Record<string, string> = { 'x-forwarded-method': check.method, 'x-forwarded-uri': check.uri };
    if (request.token !== undefined) headers.authorization = `Bearer ${request.token}`;
    return answerOf(await sendRaw(port, `/${check.service}`, { method: check.body === undefined ? 'GET' : 'POST', headers, ...(check.body !== undefined && { body: check.body }) }));
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
    fillInFlight: () => Promise.reject(new Error('a check holds no slot once answered')),
    breakStore: faults.breakStore,
    breakAudit: faults.breakAudit,
    healAudit: faults.healAudit,
    close: () => world.close(),
  };
}

export const forwardAuthReasonAdapter: ReasonAdapter = {
  saysRetryAfter: true,
  unsupported: {
    concurrency_limited: 'a check holds its in-flight slot only until it is answered (synchronously on a cache hit), so no request can hold one open; the stage runs for every check',
    upstream_timeout: 'the proxy forwards, not Latchkey: an upstream that answers late is the proxy\'s to time out',
    upstream_unreachable: 'the proxy forwards, not Latchkey: an upstream nothing listens on is the proxy\'s to report (a binding whose credential cannot be read is upstream_credential_missing)',
    internal_error: 'answers a bug (the limiter\'s promise rejected), which no real request can produce',
  },
  setup,
};
