// Finding 9: requests with no token cost nothing to send, so they must cost
// little to audit: every stored field is bounded, and refusals before a token
// is known are folded into summaries (counted exactly), except honeytokens.
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
    await world.start({ refusalSummary: { windowMs: 0 } });
    expect((await world.send(longPath)).status).toBe(401);
    const [event] = await world.decisions();
    const resource = event!.resource as string;
    expect(resource.length).toBeLessThan(DECISION_FIELD_LIMITS.resource + 40);
    expect(resource).toMatch(/…\[truncated, 15001 chars\]$/);
    expect(JSON.stringify(event).length).toBeLessThan(2048);
  });

  it('folds repeated pre-authentication refusals into summaries, counted exactly, with a metric', async () => {
    await world.start({ refusalSummary: { windowMs: 60_000 } });
    const sent = { token_missing: 30, token_unknown: 20, token_malformed: 10, service_unknown: 10 };
    for (let i = 0; i < sent.token_missing; i++) expect((await world.send(`${longPath}/${i}`)).status).toBe(401);
    for (let i = 0; i < sent.token_unknown; i++) expect((await world.send('/orders/x', { token: generateToken('prod') })).status).toBe(401);
    for (let i = 0; i < sent.token_malformed; i++) expect((await world.send('/orders/x', { token: 'lk_prod_nope' })).status).toBe(401);
    for (let i = 0; i < sent.service_unknown; i++) expect((await world.send(`/nope/${i}`)).status).toBe(404);
    // The summaries of the open window are written when the gateway closes.
    await world.gateway.close();
    const events = await world.decisions();
    const counted: Record<string, number> = {};
    for (const e of events) counted[e.reason as string] = (counted[e.reason as string] ?? 0) + ((e.count as number | undefined) ?? 1);
    expect(counted).toEqual(sent);
    expect(events.length).toBeLessThanOrEqual(2 * Object.keys(sent).length);
    const metric = await world.registry.getSingleMetric('latchkey_gateway_refusals_folded_total')!.get();
    const folded = metric.values.reduce((sum, v) => sum + v.value, 0);
    expect(folded).toBe(70 - events.filter((e) => e.count === undefined).length);
    const bytes = events.reduce((sum, e) => sum + JSON.stringify(e).length, 0);
    expect(bytes / 70).toBeLessThan(200);
  });

  it('keeps every honeytoken hit as a full event of its own', async () => {
    await world.start({ refusalSummary: { windowMs: 60_000 } });
    const { token, record } = await world.issue({ honey: true, permissions: ['orders:read'] });
    for (let i = 0; i < 5; i++) expect((await world.send(`/orders/v1/${i}`, { token })).status).toBe(401);
    await world.gateway.close();
    const hits = (await world.decisions()).filter((e) => e.tokenId === record.id);
    expect(hits.map((e) => e.resource)).toEqual(['/v1/0', '/v1/1', '/v1/2', '/v1/3', '/v1/4']);
    expect(hits.every((e) => e.reason === 'token_unknown' && e.count === undefined)).toBe(true);
  });

  it('stores refusals of a known token one by one', async () => {
    await world.start({ refusalSummary: { windowMs: 60_000 } });
    const { token } = await world.issue({ permissions: ['orders:GET:/v1/**'] });
    for (let i = 0; i < 4; i++) expect((await world.send('/orders/v2/x', { token })).status).toBe(403);
    await world.gateway.close();
    const denied = (await world.decisions()).filter((e) => e.reason === 'permission_denied');
    expect(denied).toHaveLength(4);
  });
});
