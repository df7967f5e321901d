// A honeytoken presented to the gateway: answered exactly like a token
// Latchkey never issued (status, headers, body, and timing, since its event is
// written on the same schedule), recorded under its id, and raised as a
// `honeytoken_used` alert that reaches a real webhook receiver, signed, with
// the request's details and its credentials redacted.
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Alerts } from '../alerts/index.js';
import { verifySignature } from '../audit/sinks/signed-post.js';
import { createLogger } from '../server/logger.js';
import { startWebhookReceiver, type WebhookReceiver } from '../test-support/webhook-receiver.js';
import { generateToken } from '../token/index.js';
import { startUpstream, type TestUpstream } from './testing/upstream.js';
import { binding, GatewayWorld } from './testing/world.js';

const SECRET = 'honeytoken-alert-secret';

let world: GatewayWorld;
let upstream: TestUpstream;
let hook: WebhookReceiver;
let alerts: Alerts;

beforeEach(async () => {
  hook = await startWebhookReceiver();
  alerts = new Alerts({
    logger: createLogger('silent', new Writable({ write(_c, _e, done) { done(); } })),
    metrics: new Registry(),
    webhooks: [{ url: hook.url, secret: SECRET, kinds: ['honeytoken_used'] }],
    delivery: { attempts: 3, initialBackoffMs: 5, maxBackoffMs: 20 },
  });
  world = await GatewayWorld.sqlite();
  upstream = await startUpstream();
  world.onCleanup(() => upstream.close());
  world.onCleanup(() => hook.close());
  await world.addService('orders', [binding('prod', upstream.url)]);
  await world.start({ alerts });
});
afterEach(() => world.close());

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** The parts of an answer a client can observe, the Date header aside. */
async function observe(token: string): Promise<{ status: number; headers: string; body: string; ms: number }> {
  const started = performance.now();
  const response = await fetch(`http://127.0.0.1:${world.gateway.address.port}/orders/v1/orders/1`, { headers: { authorization: `Bearer ${token}` } });
  const body = await response.text();
  const ms = performance.now() - started;
  // Every answer has its own request id; that it has one is the same for both.
  expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f]{12}-[0-9a-z]+$/);
  const headers = [...response.headers].filter(([name]) => name !== 'date' && name !== 'x-request-id').map(([name, value]) => `${name}: ${value}`).sort().join('\n');
  return { status: response.status, headers, body, ms };
}

describe('a honeytoken at the gateway', () => {
  it('is answered like a token never issued, status, headers, body and timing alike', async () => {
    const { token } = await world.issue({ honey: true, permissions: ['orders:read'] });
    const honey: Awaited<ReturnType<typeof observe>>[] = [];
    const unknown: Awaited<ReturnType<typeof observe>>[] = [];
    // Interleaved, so that drift in the machine's load hits both alike; each unknown token is new (no negative cache hit).
    for (let i = 0; i < 30; i++) {
      honey.push(await observe(token));
      unknown.push(await observe(generateToken('prod')));
    }
    for (const answer of [...honey, ...unknown]) {
      expect({ status: answer.status, headers: answer.headers, body: answer.body }).toEqual({ status: honey[0]!.status, headers: honey[0]!.headers, body: honey[0]!.body });
    }
    expect(honey[0]!.status).toBe(401);
    expect(JSON.parse(honey[0]!.body).error).toBe('token_unknown');
    // Both wait for the same unhurried audit batch: their medians lie within the fold window of each other.
    const [h, u] = [median(honey.map((a) => a.ms)), median(unknown.map((a) => a.ms))];
    console.log(`[honeytoken timing] median honeytoken ${h.toFixed(2)} ms, unknown token ${u.toFixed(2)} ms over 30 each`);
    expect(Math.abs(h - u), `median honeytoken ${h.toFixed(1)} ms, unknown ${u.toFixed(1)} ms`).toBeLessThan(60);
    expect(upstream.seen).toHaveLength(0);
  });

  it('is recorded under its id and raises a signed honeytoken_used alert with the request, credentials redacted', async () => {
    const { token, record } = await world.issue({ honey: true, permissions: ['orders:read'] });
    const response = await fetch(`http://127.0.0.1:${world.gateway.address.port}/orders/v1/orders/9?q=1`, {
      headers: { authorization: `Bearer ${token}`, cookie: 'session=abc123secret', 'x-request-id': 'trace-7' },
    });
    expect(response.status).toBe(401);
    await response.text();
    const deadline = Date.now() + 5000;
    while (hook.received.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(hook.received).toHaveLength(1);
    const [delivery] = hook.received;
    expect(verifySignature(delivery!.body, delivery!.headers['x-latchkey-signature'] as string, SECRET)).toBe(true);
    const alert = JSON.parse(delivery!.body);
    expect(alert.kind).toBe('honeytoken_used');
    expect(alert.details).toMatchObject({ via: 'gateway', tokenId: record.id, service: 'orders', method: 'GET', path: '/v1/orders/9', client: '127.0.0.1' });
    expect(alert.details.headers['x-request-id']).toBe('trace-7');
    expect(delivery!.body).not.toContain(token);
    expect(delivery!.body).not.toContain('abc123secret');
    const events = await world.decisions();
    expect(events.filter((e) => e.tokenId === record.id)).toEqual([expect.objectContaining({ reason: 'token_unknown', resource: '/v1/orders/9' })]);
  });
});
