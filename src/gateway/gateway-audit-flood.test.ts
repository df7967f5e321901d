// Finding 9: requests with no token cost nothing to send, so they must cost
// little to audit: every stored field is bounded, and refusals before a token
// is known are folded per batch (counted exactly, durable before the answer), except honeytokens.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DECISION_FIELD_LIMITS } from '../audit/index.js';
import { generateToken } from '../token/index.js';
import { startUpstream, type TestUpstream } from './testing/upstream.js';
import { binding, GatewayWorld } from './testing/world.js';

let world: GatewayWorld;
let upstream: TestUpstream;

beforeEach(async () => {
  world = await GatewayWorld.sqlite();
  upstream = await startUpstream();
  world.onCleanup(() => upstream.close());
  await world.addService('orders', [binding('prod', upstream.url)]);
});
afterEach(() => world.close());

const longPath = `/orders/${'a'.repeat(15_000)}`;

describe('audit flooding before authentication', () => {
  it('stores a 15,000-character path cut at its limit, with the original length', async () => {
    await world.start({ refusalSummary: { fold: false } });
    expect((await world.send(longPath)).status).toBe(401);
    const [event] = await world.decisions();
    const resource = event!.resource as string;
    expect(resource.length).toBeLessThan(DECISION_FIELD_LIMITS.resource + 40);
    expect(resource).toMatch(/…\[truncated, 15001 chars\]$/);
    expect(JSON.stringify(event).length).toBeLessThan(2048);
  });

  it('folds concurrent pre-authentication refusals, counted exactly and durable before each answer, with a metric', async () => {
    await world.start();
    const sent = { token_missing: 40, token_unknown: 30, token_malformed: 20, service_unknown: 20 };
    const total = Object.values(sent).reduce((a, b) => a + b, 0);
    // All at once, so that many arrive while the writer commits the previous batch.
    const statuses = await Promise.all([
      ...Array.from({ length: sent.token_missing }, (_, i) => world.send(`${longPath}/${i}`)),
      ...Array.from({ length: sent.token_unknown }, () => world.send('/orders/x', { token: generateToken('prod') })),
      ...Array.from({ length: sent.token_malformed }, () => world.send('/orders/x', { token: 'lk_prod_nope' })),
      ...Array.from({ length: sent.service_unknown }, (_, i) => world.send(`/nope/${i}`)),
    ].map(async (answer) => (await answer).status));
    expect(statuses.filter((s) => s === 401)).toHaveLength(90);
    // Every answer waited for durability: what is in the store now accounts for every refusal, before any close.
    const events = await world.decisions();
    const counted: Record<string, number> = {};
    for (const e of events) counted[e.reason as string] = (counted[e.reason as string] ?? 0) + ((e.count as number | undefined) ?? 1);
    expect(counted).toEqual(sent);
    expect(events.length).toBeLessThan(total);
    const metric = await world.registry.getSingleMetric('latchkey_gateway_refusals_folded_total')!.get();
    expect(metric.values.reduce((sum, v) => sum + v.value, 0)).toBe(total - events.length);
  });

  it('keeps every honeytoken hit as a full event of its own', async () => {
    await world.start();
    const { token, record } = await world.issue({ honey: true, permissions: ['orders:read'] });
    const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => world.send(`/orders/v1/${i}`, { token })));
    expect(answers.map((a) => a.status)).toEqual([401, 401, 401, 401, 401]);
    const hits = (await world.decisions()).filter((e) => e.tokenId === record.id);
    expect(hits.map((e) => e.resource).sort()).toEqual(['/v1/0', '/v1/1', '/v1/2', '/v1/3', '/v1/4']);
    expect(hits.every((e) => e.reason === 'token_unknown' && e.count === undefined)).toBe(true);
  });

  it('stores refusals of a known token one by one', async () => {
    await world.start();
    const { token } = await world.issue({ permissions: ['orders:GET:/v1/**'] });
    const answers = await Promise.all(Array.from({ length: 4 }, () => world.send('/orders/v2/x', { token })));
    expect(answers.map((a) => a.status)).toEqual([403, 403, 403, 403]);
    const denied = (await world.decisions()).filter((e) => e.reason === 'permission_denied');
    expect(denied).toHaveLength(4);
  });
});
