// Every answer waits for its decision event to be durable, so a crash cannot
// leave an answered request unrecorded: whatever the client got, the store
// already holds. With failMode `open`, an unwritable log holds nothing back.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAuditRecorder } from '../audit/index.js';
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

describe('audit durability', () => {
  it('answers only once the event is in the store, allowed or refused', async () => {
    // The real store, its commits slowed down: an answer sent early would be caught without its event.
    const append = world.store.appendAudit.bind(world.store);
    const recorder = createAuditRecorder({
      store: { appendAudit: async (events) => (await new Promise((r) => setTimeout(r, 150)), append(events)) },
      failMode: 'closed',
    });
    world.onCleanup(() => recorder.close());
    await world.start({ recorder });
    const { token } = await world.issue({ permissions: ['orders:read'] });
    const cases = [
      { path: '/orders/a', token, status: 200, reason: 'allowed' },
      { path: '/orders/b', token: generateToken('prod'), status: 401, reason: 'token_unknown' },
      { path: '/orders/c', token: undefined, status: 401, reason: 'token_missing' },
    ];
    for (const c of cases) {
      const started = Date.now();
      const reply = await world.send(c.path, c.token === undefined ? {} : { token: c.token });
      expect(reply.status).toBe(c.status);
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
      // Read straight from the store, without flushing the recorder.
      const events = await world.store.readAudit({ kind: 'decision', limit: 100 });
      expect(events.map((e) => e.detail)).toContainEqual(expect.objectContaining({ resource: c.path.slice(7), reason: c.reason }));
    }
  });

  it('with failMode open, an unwritable log holds nothing back', async () => {
    const recorder = createAuditRecorder({ store: { appendAudit: () => Promise.reject(new Error('disk full')) }, failMode: 'open', retryInitialMs: 10_000, closeTimeoutMs: 500 });
    world.onCleanup(() => recorder.close());
    await world.start({ recorder });
    const { token } = await world.issue({ permissions: ['orders:read'] });
    for (let i = 0; i < 3; i++) expect((await world.send('/orders/a', { token })).status).toBe(200);
    expect(upstream.seen).toHaveLength(3);
  });
});
