// Finding 11a and 11c: what Node's parser and the listener answer themselves
// (400, 408, 431, 417, CONNECT) is audited, folded like any refusal before a
// token; and a client slow to send its headers is cut within headersTimeout
// plus one connection check, not seconds later.
import { connect } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rawExchange } from './testing/raw-http.js';
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

/** Stored events and what they stand for (a summary counts `count`), per resource. */
async function auditedByResource(): Promise<Record<string, number>> {
  await world.gateway.close();
  const out: Record<string, number> = {};
  for (const e of await world.decisions()) out[`${e.action as string} ${e.resource as string} ${e.reason as string}`] = (out[`${e.action as string} ${e.resource as string} ${e.reason as string}`] ?? 0) + ((e.count as number | undefined) ?? 1);
  return out;
}

describe('refusals the listener makes itself', () => {
  it('audits 400, 431, 417 and CONNECT', async () => {
    await world.start({ refusalSummary: { fold: false } });
    const port = world.gateway.address.port;
    expect(await rawExchange(port, 'GET /orders/x HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n')).toMatch(/^HTTP\/1.1 400/);
    expect(await rawExchange(port, `GET /orders/x HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)).toMatch(/^HTTP\/1.1 431/);
    expect(await rawExchange(port, 'GET /orders/x?secret=1 HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n')).toMatch(/^HTTP\/1.1 417/);
    expect(await rawExchange(port, 'CONNECT internal.example:443 HTTP/1.1\r\nHost: internal.example:443\r\n\r\n')).toMatch(/^HTTP\/1.1 403/);
    expect(await auditedByResource()).toEqual({
      ' (malformed) invalid_request': 1,
      ' (header_overflow) invalid_request': 1,
      'GET /orders/x invalid_request': 1,
      'CONNECT internal.example:443 request_ambiguous': 1,
    });
  });

  it('folds a flood of malformed requests, counted exactly', async () => {
    await world.start();
    const port = world.gateway.address.port;
    const answers = await Promise.all(Array.from({ length: 25 }, () => rawExchange(port, 'GET /orders/x HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n')));
    for (const answer of answers) expect(answer).toMatch(/^HTTP\/1.1 400/);
    await world.gateway.close();
    const events = await world.decisions();
    expect(events.reduce((sum, e) => sum + ((e.count as number | undefined) ?? 1), 0)).toBe(25);
    expect(events.length).toBeLessThan(25);
  });

  it('cuts clients slow to send their headers within headersTimeout plus one check, and audits the 408', async () => {
    const headersMs = 600;
    await world.start({ timeouts: { headersMs }, refusalSummary: { fold: false } });
    const port = world.gateway.address.port;
    const slow = (): Promise<{ ms: number; answer: string }> =>
      new Promise((resolve) => {
        const started = Date.now();
        const socket = connect(port, '127.0.0.1');
        let answer = '';
        let trickle: NodeJS.Timeout | undefined;
        const guard = setTimeout(() => socket.destroy(), 15_000);
        socket.on('connect', () => {
          socket.write('GET /orders/x HTTP/1.1\r\nHost: a\r\nX-Slow: ');
          trickle = setInterval(() => socket.write('a'), 50);
        });
        socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
        socket.on('error', () => {});
        socket.on('close', () => {
          clearInterval(trickle);
          clearTimeout(guard);
          resolve({ ms: Date.now() - started, answer });
        });
      });
    const cuts = await Promise.all([slow(), slow(), slow(), slow()]);
    for (const cut of cuts) {
      expect(cut.answer).toMatch(/^HTTP\/1.1 408/);
      expect(cut.ms).toBeGreaterThanOrEqual(headersMs - 50);
      // headersTimeout + one check interval (150 ms here), with room for a loaded machine.
      expect(cut.ms).toBeLessThan(headersMs + 150 + 2500);
    }
    expect((await auditedByResource())[' (timeout) invalid_request']).toBe(4);
  });
});
