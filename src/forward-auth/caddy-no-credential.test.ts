// Through real Caddy, a service whose upstream credential Latchkey does not
// hand out (not in forwardAuth.credentialServices): the client's token must
// not reach the upstream either. The example's copy_headers replaces
// Authorization only when the answer carries one, so this pins down what Caddy does.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { binding, GatewayWorld } from '../gateway/testing/world.js';
import { startUpstream, type TestUpstream } from '../gateway/testing/upstream.js';
import { caddyAvailable, startCaddy, type CaddyProxy } from './testing/caddy-auth.js';
import { sendRaw, startEndpoint } from './testing/forward-auth-world.js';

const available = caddyAvailable();

let world: GatewayWorld;
let upstream: TestUpstream;
let caddy: CaddyProxy;

describe.skipIf(!available)('forward-auth through Caddy, a service without credential injection', () => {
  beforeEach(async () => {
    world = await GatewayWorld.sqlite();
    upstream = await startUpstream();
    world.onCleanup(() => upstream.close());
    await world.addService('orders', [binding('prod', upstream.url)]);
    await world.start();
    const endpoint = await startEndpoint(world, { credentialServices: [] });
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-caddy-nocred-'));
    world.onCleanup(() => rmSync(dir, { recursive: true, force: true }));
    caddy = await startCaddy(dir, { auth: endpoint.address.port, upstream: upstream.port });
    world.onCleanup(() => caddy.stop());
  }, 30_000);
  afterEach(() => world.close());

  it('the client token does not reach the upstream', async () => {
    const { token } = await world.issue({ permissions: ['orders:read:/v1/orders/*'] });
    const reply = await sendRaw(caddy.port, '/v1/orders/7', { headers: { authorization: `Bearer ${token}` } });
    expect(reply.status).toBe(200);
    expect(upstream.seen).toHaveLength(1);
    expect(JSON.stringify(upstream.seen[0]!.rawHeaders)).not.toContain(token);
  });
});
