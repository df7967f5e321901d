// A honeytoken given as the password: refused exactly like a token never
// issued (same SQLSTATE and message), audited under its id, and raised as a
// `honeytoken_used` alert that reaches a real webhook receiver.
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Alerts } from '../alerts/index.js';
import { createLogger } from '../server/logger.js';
import { startWebhookReceiver, type WebhookReceiver } from '../test-support/webhook-receiver.js';
import { generateToken } from '../token/index.js';
import { PgWorld, refusalOf } from './testing/pg-world.js';

let world: PgWorld;
let hook: WebhookReceiver;
let alerts: Alerts;

beforeAll(async () => {
  hook = await startWebhookReceiver();
  alerts = new Alerts({
    logger: createLogger('silent', new Writable({ write(_c, _e, done) { done(); } })),
    metrics: new Registry(),
    webhooks: [{ url: hook.url, secret: 'pg-honeytoken-alert-secret', kinds: ['honeytoken_used'] }],
    delivery: { attempts: 3, initialBackoffMs: 5, maxBackoffMs: 20 },
  });
  world = await PgWorld.start('CREATE TABLE public.orders (id int PRIMARY KEY)', { alerts });
}, 60_000);

afterAll(async () => {
  await world?.close();
  await hook?.close();
}, 60_000);

describe('a honeytoken at the PostgreSQL gateway', () => {
  it('is refused like an unknown token, audited under its id, and raises honeytoken_used', async () => {
    const { token, record } = await world.issue(['appdb:select:public.orders'], { honey: true });
    const trapped = await world.client(token).then(() => null, refusalOf);
    const unknown = await world.client(generateToken('prod')).then(() => null, refusalOf);
    expect(trapped).toEqual(unknown);
    expect(trapped).toEqual({ code: '28P01', message: 'latchkey: token_unknown: the token is not valid' });
    const deadline = Date.now() + 20_000;
    while (!hook.received.some((r) => r.headers['x-latchkey-alert'] === 'honeytoken_used') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    const delivered = hook.received.filter((r) => r.headers['x-latchkey-alert'] === 'honeytoken_used');
    expect(delivered).toHaveLength(1);
    expect(JSON.parse(delivered[0]!.body)).toMatchObject({ kind: 'honeytoken_used', details: { via: 'postgres', tokenId: record.id, service: 'appdb', database: 'appdb' } });
    expect(delivered[0]!.body).not.toContain(token);
    const decisions = await world.world.decisions();
    expect(decisions.some((d) => d.tokenId === record.id && d.reason === 'token_unknown')).toBe(true);
  }, 60_000);
});
