// subscriptions/listen through the gateway: an answer held open, framed as lines
// of JSON (as the conformance suite's own server does), goes out as it comes,
// not a chunk behind; and a client closing it is recorded as allowed, not as an
// upstream failure.
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { binding, GatewayWorld } from '../gateway/testing/world.js';

let world: GatewayWorld;
const open: ServerResponse[] = [];

beforeEach(async () => {
  world = await GatewayWorld.sqlite();
  const upstream = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache' });
      res.write(`${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/subscriptions/acknowledged', params: {} })}\n`);
      open.push(res);
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  world.onCleanup(async () => {
    for (const res of open.splice(0)) res.end();
    upstream.closeAllConnections();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
  });
  await world.addService('conf', [binding('prod', `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`)], { kind: 'mcp' });
  await world.start();
});
afterEach(() => world.close());

it('passes the first line of a listen stream on while the upstream holds it open, and audits its close as allowed', async () => {
  const { token } = await world.issue({ permissions: ['conf:*'] });
  const abort = new AbortController();
  const reply = await request(`${world.base}/conf/mcp`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'subscriptions/listen', params: { notifications: { toolsListChanged: true } } }),
    signal: abort.signal,
  });
  expect(reply.statusCode).toBe(200);
  let text = '';
  for await (const chunk of reply.body) {
    text += (chunk as Buffer).toString();
    if (text.includes('\n')) break;
  }
  expect(JSON.parse(text.split('\n')[0]!)).toMatchObject({ method: 'notifications/subscriptions/acknowledged' });
  expect(open).toHaveLength(1);
  abort.abort();
  // The decision is written when the gateway sees the client gone: poll for it.
  const deadline = Date.now() + 20_000;
  let listen: Record<string, unknown> | undefined;
  while (listen === undefined && Date.now() < deadline) {
    listen = (await world.decisions()).find((event) => event.action === 'subscriptions/listen');
    if (listen === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect(listen?.reason).toBe('allowed');
});
