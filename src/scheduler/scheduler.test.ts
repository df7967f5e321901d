// Every time rule of the scheduler against a frozen clock, on a real SQLite store.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AlertKind, AlertRaiser } from '../alerts/index.js';
import { SYSTEM_ACTOR, type TokenRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import { aToken } from '../store/contract/fixtures.js';
import { LifecycleScheduler } from './scheduler.js';

const DAY = 86_400_000;
const T = Date.UTC(2026, 5, 1);

class RaisedAlerts implements AlertRaiser {
  readonly raised: Array<{ kind: AlertKind; details: Readonly<Record<string, unknown>> }> = [];
  raise(kind: AlertKind, details: Readonly<Record<string, unknown>>): void {
    this.raised.push({ kind, details });
  }
}

describe('token scheduler (frozen clock)', () => {
  let dir: string;
  let store: Store;
  let clock = T;
  let alerts: RaisedAlerts;
  let scheduler: LifecycleScheduler;

  beforeEach(async () => {
    clock = T;
    dir = mkdtempSync(join(tmpdir(), 'latchkey-scheduler-'));
    store = await openSqliteStore({ file: join(dir, 'latchkey.db'), now: () => clock });
    await store.createEnvironment({ name: 'prod', maxTtlMs: 365 * DAY, createdAt: T }, SYSTEM_ACTOR);
    await store.createEnvironment({ name: 'dev', maxTtlMs: 365 * DAY, createdAt: T }, SYSTEM_ACTOR);
    alerts = new RaisedAlerts();
    scheduler = new LifecycleScheduler({
      store, alerts, logger: pino({ level: 'silent' }), clock: () => clock,
      config: { noticeDays: 7, autoDisableDays: { dev: 30 }, intervalMs: 60_000 },
    });
  });
  afterEach(async () => {
    await scheduler.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function token(overrides: Partial<TokenRecord>): Promise<TokenRecord> {
    const record = aToken({ createdAt: T, updatedAt: T, expiresAt: T + 100 * DAY, roles: [], ...overrides });
    await store.createToken(record, SYSTEM_ACTOR);
    return record;
  }

  it('records an expiry at its exact instant, once', async () => {
    const t = await token({ expiresAt: T + 3 * DAY });
    clock = T + 3 * DAY - 1;
    expect((await scheduler.run()).expired).toEqual([]);
    clock = T + 3 * DAY;
    expect((await scheduler.run()).expired).toEqual([t.id]);
    expect((await scheduler.run()).expired).toEqual([]);
    const events = await store.readAudit({ kind: 'admin', limit: 100 });
    expect(events.filter((e) => (e.detail as { action: string }).action === 'token.expired')).toHaveLength(1);
  });

  it('revokes a rotated token when its grace period ends, not a millisecond before', async () => {
    const old = await token({});
    const successor = aToken({ createdAt: T, updatedAt: T, expiresAt: T + 100 * DAY });
    await store.rotateToken(old.id, successor, T + 3_600_000, SYSTEM_ACTOR);
    // Refused from the grace end whether or not the scheduler has run: its expiry is the grace end.
    expect((await store.getToken(old.id))!.expiresAt).toBe(T + 3_600_000);
    clock = T + 3_600_000 - 1;
    expect((await scheduler.run()).graceEnded).toEqual([]);
    clock = T + 3_600_000;
    expect((await scheduler.run()).graceEnded).toEqual([old.id]);
    expect((await store.getToken(old.id))!.status).toBe('revoked');
    expect((await store.getToken(successor.id))!.status).toBe('active');
  });

  it('sends token_expiring exactly N days ahead, once, audited', async () => {
    const t = await token({ expiresAt: T + 10 * DAY });
    clock = T + 3 * DAY - 1;
    expect((await scheduler.run()).expiring).toEqual([]);
    clock = T + 3 * DAY;
    expect((await scheduler.run()).expiring).toEqual([t.id]);
    clock = T + 4 * DAY;
    expect((await scheduler.run()).expiring).toEqual([]);
    expect(alerts.raised.map((a) => [a.kind, a.details.tokenId])).toEqual([['token_expiring', t.id]]);
    const events = await store.readAudit({ kind: 'admin', limit: 100 });
    expect(events.some((e) => (e.detail as { action: string; target: string }).action === 'token.expiring' && (e.detail as { target: string }).target === t.id)).toBe(true);
  });

  it('disables tokens of an environment unused for N days (token_auto_disabled), and only those', async () => {
    const idle = await token({ env: 'dev' });
    const busy = await token({ env: 'dev' });
    const elsewhere = await token({ env: 'prod' });
    await store.addUsage([{ tokenId: busy.id, permission: 'orders:read', count: 1, lastUsed: T + 20 * DAY }]);
    clock = T + 30 * DAY;
    expect((await scheduler.run()).disabled).toEqual([]);
    clock = T + 30 * DAY + 1;
    expect((await scheduler.run()).disabled).toEqual([idle.id]);
    expect((await store.getToken(idle.id))!.status).toBe('disabled');
    expect((await store.getToken(elsewhere.id))!.status).toBe('active');
    clock = T + 50 * DAY + 1;
    expect((await scheduler.run()).disabled).toEqual([busy.id]);
    expect(alerts.raised.filter((a) => a.kind === 'token_auto_disabled').map((a) => a.details.tokenId)).toEqual([idle.id, busy.id]);
    const disables = (await store.readAudit({ kind: 'admin', limit: 100 })).filter((e) => (e.detail as { action: string }).action === 'token.disable');
    expect(disables.map((e) => (e.detail as { actor: string }).actor)).toEqual(['scheduler', 'scheduler']);
  });
});
