// Alerts delivered to a real HTTP receiver on loopback, raised by a real admin
// API on SQLite: a GitHub leak report and a honeytoken presented to the API.
import { generateKeyPairSync, sign } from 'node:crypto';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifySignature } from '../audit/sinks/signed-post.js';
import { GithubKeys } from '../leaks/index.js';
import { createLogger } from '../server/logger.js';
import { mintToken } from '../lifecycle/index.js';
import { SYSTEM_ACTOR } from '../store/records.js';
import { startAdminHarness, type AdminHarness } from '../test-support/admin-harness.js';
import { startWebhookReceiver, type WebhookReceiver } from '../test-support/webhook-receiver.js';
import { Alerts } from './index.js';

const SECRET = 'alert-hmac-secret-for-tests';

describe('alerts', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  let good: WebhookReceiver;
  let down: WebhookReceiver;
  let alerts: Alerts;
  let metrics: Registry;
  let harness: AdminHarness;

  beforeAll(async () => {
    good = await startWebhookReceiver(() => 204);
    down = await startWebhookReceiver(() => 503);
    metrics = new Registry();
    alerts = new Alerts({
      logger: createLogger('silent', new Writable({ write(_c, _e, done) { done(); } })),
      metrics,
      webhooks: [
        { url: good.url, secret: SECRET, kinds: ['leak_revoked', 'honeytoken_used'] },
        { url: down.url, secret: SECRET, kinds: ['leak_revoked'] },
      ],
      delivery: { attempts: 3, initialBackoffMs: 5, maxBackoffMs: 20 },
    });
    const githubKeys = GithubKeys.parse(JSON.stringify({ public_keys: [{ key_identifier: 'k1', key: publicKey.export({ type: 'spki', format: 'pem' }).toString() }] }), 'test');
    harness = await startAdminHarness('sqlite', Date.now, { extra: { alerts, githubKeys } });
  });
  afterAll(async () => {
    await harness.close();
    good.server.close();
    down.server.close();
  });

  it('a leak revoked on a GitHub report reaches the webhook signed; a failing receiver shows as failed', async () => {
    const live = await harness.mint(['latchkey:audit.read']);
    const body = JSON.stringify([{ token: live, type: 'latchkey_token', url: 'https://github.com/acme/app/blob/1/x.env', source: 'content' }]);
    const response = await harness.call('POST', '/v1/leaks/github', {
      token: null, rawBody: body,
      headers: { 'content-type': 'application/json', 'github-public-key-identifier': 'k1', 'github-public-key-signature': sign('sha256', Buffer.from(body), { key: privateKey, dsaEncoding: 'der' }).toString('base64') },
    });
    expect(response.status).toBe(200);
    await alerts.settle(20_000);

    const delivered = good.received.filter((r) => r.headers['x-latchkey-alert'] === 'leak_revoked');
    expect(delivered).toHaveLength(1);
    const request = delivered[0]!;
    expect(verifySignature(request.body, request.headers['x-latchkey-signature'] as string, SECRET)).toBe(true);
    expect(verifySignature(request.body, request.headers['x-latchkey-signature'] as string, 'another secret')).toBe(false);
    const alert = JSON.parse(request.body);
    const record = await harness.store.findTokenByHash(harness.hasher.hash(live));
    expect(alert).toMatchObject({ kind: 'leak_revoked', details: { source: 'github', tokenId: record!.id, hint: record!.hint, url: 'https://github.com/acme/app/blob/1/x.env' } });
    expect(request.body).not.toContain(live);

    expect(down.received.length).toBe(3); // every attempt, then given up
    const listed = await harness.call('GET', '/v1/alerts');
    expect(listed.status).toBe(200);
    const mine = (listed.body.items as Array<{ alertId: string; url: string; status: string; error: string | null }>).filter((d) => d.alertId === alert.id);
    expect(mine.map((d) => [d.url, d.status]).sort()).toEqual([[down.url, 'failed'], [good.url, 'delivered']].sort());
    const text = await metrics.metrics();
    expect(text).toMatch(/latchkey_alert_deliveries_total\{kind="leak_revoked",outcome="delivered"\} 1/);
    expect(text).toMatch(/latchkey_alert_deliveries_total\{kind="leak_revoked",outcome="failed"\} 1/);
  });

  it('a honeytoken presented to the admin API is refused as unknown and raises honeytoken_used with the client address', async () => {
    const { token, record } = await mintToken(harness.store, harness.hasher, {
      name: 'decoy-ci', env: 'prod', owner: 'security', roles: [], permissions: [], expiresAt: Date.now() + 86_400_000,
      notBefore: null, cidrs: [], rate: null, maxUses: null, honey: true, metadata: {}, parentId: null,
    }, SYSTEM_ACTOR, Date.now(), null);
    const response = await harness.call('GET', '/v1/tokens?env=prod', { token, headers: { 'x-forwarded-for': '203.0.113.9', cookie: 'session=abc' } });
    expect([response.status, response.body.error]).toEqual([401, 'token_unknown']);
    await alerts.settle(20_000);
    const delivered = good.received.filter((r) => r.headers['x-latchkey-alert'] === 'honeytoken_used');
    expect(delivered).toHaveLength(1);
    expect(verifySignature(delivered[0]!.body, delivered[0]!.headers['x-latchkey-signature'] as string, SECRET)).toBe(true);
    expect(JSON.parse(delivered[0]!.body)).toMatchObject({ kind: 'honeytoken_used', details: {
      via: 'admin_api', client: '127.0.0.1', tokenId: record.id, tokenName: 'decoy-ci', method: 'GET', path: '/v1/tokens',
      headers: expect.objectContaining({ authorization: '[redacted]', cookie: '[redacted]', 'x-forwarded-for': '203.0.113.9' }),
    } });
    expect(delivered[0]!.body).not.toContain(token);
    // Only the subscribed webhook hears of it.
    expect(down.received.filter((r) => r.headers['x-latchkey-alert'] === 'honeytoken_used')).toEqual([]);
  });
});
