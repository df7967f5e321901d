import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { linkEvents, GENESIS_HASH } from '../chain.js';
import type { AuditEvent } from '../event.js';
import { decisionInput } from '../tamper.contract.js';
import { postSigned, SIGNATURE_HEADER, verifySignature, WebhookDeliveryError } from './signed-post.js';
import { createWebhookSink } from './webhook-sink.js';

const SECRET = 'whsec_test_0123456789';

interface Received {
  readonly body: string;
  readonly signature: string | undefined;
}

let server: Server | undefined;

afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** A real receiver on loopback; `answer` picks the status of each request, in order. */
async function receiver(answer: (n: number) => number = () => 200): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  let n = 0;
  server = createServer(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const status = answer(n++);
    if (status < 300) received.push({ body: Buffer.concat(chunks).toString('utf8'), signature: req.headers[SIGNATURE_HEADER] as string | undefined });
    res.writeHead(status).end();
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/audit`, received };
}

function events(from: number, count: number): AuditEvent[] {
  return linkEvents(from - 1, from === 1 ? GENESIS_HASH : 'f'.repeat(64), Array.from({ length: count }, (_, i) => decisionInput(from + i)));
}

describe('webhook sink', () => {
  test('batches committed events into signed POSTs the receiver can verify', async () => {
    const { url, received } = await receiver();
    const sink = createWebhookSink({ url, secret: SECRET, batchSize: 100, flushIntervalMs: 20 });
    const writes = [];
    for (let i = 0; i < 10; i++) writes.push(sink.write(events(1 + i * 30, 30)));
    await Promise.all(writes);
    await sink.close!();
    expect(received.length).toBeGreaterThan(1);
    expect(received.length).toBeLessThan(10);
    for (const r of received) {
      expect(r.signature).toMatch(/^sha256=[0-9a-f]{64}$/);
      expect(verifySignature(r.body, r.signature, SECRET)).toBe(true);
      expect(verifySignature(r.body, r.signature, 'another secret')).toBe(false);
      expect(verifySignature(`${r.body} `, r.signature, SECRET)).toBe(false);
    }
    const seqs = received.flatMap((r) => (JSON.parse(r.body) as { events: AuditEvent[] }).events.map((e) => e.seq));
    expect(seqs).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
  });

  test('retries with backoff until the receiver is back, delivering each batch once and in order', async () => {
    const { url, received } = await receiver((n) => (n < 3 ? 503 : 200));
    const sink = createWebhookSink({ url, secret: SECRET, flushIntervalMs: 1, initialBackoffMs: 5, attempts: 5 });
    await Promise.all([sink.write(events(1, 5)), sink.write(events(6, 5))]);
    await sink.close!();
    const seqs = received.flatMap((r) => (JSON.parse(r.body) as { events: AuditEvent[] }).events.map((e) => e.seq));
    expect(seqs).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  test('gives up after its attempts and reports the failure; a 4xx is not retried', async () => {
    let calls = 0;
    const { url } = await receiver(() => (calls++, 500));
    await expect(postSigned(url, '{}', { secret: SECRET, attempts: 3, initialBackoffMs: 1 })).rejects.toBeInstanceOf(WebhookDeliveryError);
    expect(calls).toBe(3);
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    calls = 0;
    const rejecting = await receiver(() => (calls++, 400));
    await expect(postSigned(rejecting.url, '{}', { attempts: 3, initialBackoffMs: 1 })).rejects.toMatchObject({ status: 400 });
    expect(calls).toBe(1);
  });

  test('an unreachable receiver fails the write, not the caller', async () => {
    const sink = createWebhookSink({ url: 'http://127.0.0.1:9/audit', flushIntervalMs: 1, attempts: 2, initialBackoffMs: 1, timeoutMs: 500 });
    await expect(sink.write(events(1, 3))).rejects.toBeInstanceOf(WebhookDeliveryError);
    await sink.close!();
  });
});
