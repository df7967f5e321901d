// audit.failMode end to end (issue 5): `latchkey serve` (in process, from a
// config file) with its audit store made unwritable for real — a trigger that
// rejects every INSERT into audit_events, created from a separate connection,
// on SQLite and on PostgreSQL. `closed`: allowed requests are refused with 503
// audit_unavailable; `open`: they pass and /metrics shows the failing writes
// and the events at risk. Then the trigger is dropped and the trail recovers:
// nothing lost, every answered request audited, the chain verifies.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../audit/index.js';
import { loadConfig } from '../config/index.js';
import { createTestDatabase } from '../test-support/postgres.js';
import {
  adminClient,
  metricValue,
  readAllAuditEvents,
  startLoopbackUpstream,
  untilRouted,
  type AdminCall,
} from '../test-support/serve-process.js';
import { initialize } from './init.js';
import { createLogger } from './logger.js';
import { startServer, type RunningServer } from './serve.js';

const BLOCK = 'latchkey_test_audit_unwritable';

/** Makes audit_events reject inserts (and lets them through again) from outside the server. */
interface AuditBlocker {
  block(): Promise<void>;
  unblock(): Promise<void>;
  close(): Promise<void>;
}

function sqliteBlocker(file: string): AuditBlocker {
  const db = new Database(file);
  db.pragma('busy_timeout = 5000');
  return {
    async block() {
      db.exec(`CREATE TRIGGER ${BLOCK} BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'audit store unwritable (test)'); END`);
    },
    async unblock() {
      db.exec(`DROP TRIGGER ${BLOCK}`);
    },
    async close() {
      db.close();
    },
  };
}

async function postgresBlocker(url: string): Promise<AuditBlocker> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return {
    async block() {
      await client.query(`CREATE FUNCTION ${BLOCK}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit store unwritable (test)'; END $$`);
      await client.query(`CREATE TRIGGER ${BLOCK} BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION ${BLOCK}()`);
    },
    async unblock() {
      await client.query(`DROP TRIGGER ${BLOCK} ON audit_events`);
      await client.query(`DROP FUNCTION ${BLOCK}()`);
    },
    async close() {
      await client.end();
    },
  };
}

interface Answer {
  readonly status: number;
  readonly error: string | null;
}

interface Running {
  readonly server: RunningServer;
  readonly call: AdminCall;
  readonly token: string;
  readonly logs: () => string;
  readonly blocker: AuditBlocker;
  /** Every GET sent through the gateway so far, by path, with what it got back. */
  readonly answered: Map<string, Answer>;
  /** GET through the gateway on a path of its own; returns status and the refusal code, if any. */
  send(path: string): Promise<Answer>;
  metrics(): Promise<string>;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serveWith(failMode: 'closed' | 'open', kind: 'sqlite' | 'postgres'): Promise<Running> {
  const dataDir = mkdtempSync(join(tmpdir(), `latchkey-failmode-${failMode}-`));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const db = kind === 'postgres' ? await createTestDatabase() : null;
  if (db !== null) cleanups.push(() => db.drop());
  const configFile = join(dataDir, 'latchkey.json');
  writeFileSync(configFile, JSON.stringify({ audit: { failMode } }));
  const config = loadConfig(
    { configFile, dataDir, admin: '127.0.0.1:0', gateway: '127.0.0.1:0', auth: '127.0.0.1:0', postgres: '127.0.0.1:0', ...(db !== null && { store: db.url }) },
    {},
  );
  expect(config.audit.failMode).toBe(failMode);
  const { adminToken } = await initialize(config, { ttl: '1d', newAdminToken: false });
  let logText = '';
  const logger = createLogger('info', new Writable({ write(chunk, _encoding, done) { logText += String(chunk); done(); } }));
  const server = await startServer(config, { logger });
  cleanups.push(() => server.close());
  const blocker = db === null ? sqliteBlocker(config.store) : await postgresBlocker(db.url);
  cleanups.push(() => blocker.close());
  const upstream = await startLoopbackUpstream();
  cleanups.push(() => upstream.close());

  const call = adminClient(server.adminUrl, adminToken);
  expect((await call('POST', '/v1/services', { name: 'orders', kind: 'http', bindings: [{ env: 'prod', upstream: upstream.url }] })).status).toBe(201);
  const created = await call<{ token: string }>('POST', '/v1/tokens', { name: 'fail-mode', env: 'prod', permissions: ['orders:read:/v1/**'], ttl: '1h' });
  expect(created.status).toBe(201);
  const token = created.body.token;
  expect(await untilRouted(server.gatewayUrl, '/orders/v1/ready', { authorization: `Bearer ${token}` })).toBe(200);
  const answered = new Map<string, Answer>();
  return {
    server,
    call,
    token,
    logs: () => logText,
    blocker,
    answered,
    async send(path) {
      const response = await fetch(`${server.gatewayUrl}/orders${path}`, { headers: { authorization: `Bearer ${token}` } });
      const text = await response.text();
      const answer = { status: response.status, error: response.status === 200 ? null : (JSON.parse(text) as { error: string }).error };
      answered.set(path, answer);
      return answer;
    },
    metrics: async () => (await fetch(`${server.adminUrl}/metrics`)).text(),
  };
}

/** Polls `probe` until it returns a value, for at most `ms`. */
async function eventually<T>(ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`still waiting after ${ms} ms`);
    await sleep(20);
  }
}

/** After recovery: the queue drained, nothing lost, each answered request has its event saying what the client got, and the chain verifies. */
async function expectEveryAnswerAudited(run: Running): Promise<void> {
  await eventually(10_000, async () => (metricValue(await run.metrics(), 'latchkey_audit_queue_depth') === 0 ? true : undefined));
  const metrics = await run.metrics();
  expect(metricValue(metrics, 'latchkey_audit_events_lost_total')).toBe(0);
  const events = await readAllAuditEvents<AuditEvent>(run.call, '&kind=decision&service=orders');
  const byResource = new Map(events.flatMap((event) => (event.kind === 'decision' ? [[event.detail.resource, event.detail] as const] : [])));
  for (const [path, answer] of run.answered) {
    const detail = byResource.get(path);
    expect(detail, `event for ${path}`).toBeDefined();
    if (answer.status === 503 && detail!.decision === 'allow') {
      // Forwarded before the outage was noticed, then withheld: its event (written once the store
      // recovered) records that the upstream was reached, and with what status.
      expect([answer.error, detail!.reason, detail!.upstreamStatus], path).toEqual(['audit_unavailable', 'allowed', 200]);
      continue;
    }
    expect([detail!.decision, detail!.reason], path).toEqual(answer.status === 200 ? ['allow', 'allowed'] : ['deny', answer.error]);
  }
  expect((await run.call('POST', '/v1/audit/verify', {})).body).toMatchObject({ ok: true });
}

describe.each(['sqlite', 'postgres'] as const)('audit.failMode on %s', (kind) => {
  it('closed: an unwritable audit store refuses requests with 503 audit_unavailable, then recovers', { timeout: 30_000 }, async () => {
    const run = await serveWith('closed', kind);
    expect(await run.send('/v1/before')).toEqual({ status: 200, error: null });

    await run.blocker.block();
    // The recorder learns of the outage from its first failed batch: until then requests still pass.
    let servedBeforeRefusing = 0;
    await eventually(10_000, async () => {
      const answer = await run.send(`/v1/detect-${run.answered.size}`);
      if (answer.status === 200) {
        servedBeforeRefusing += 1;
        return undefined;
      }
      return answer;
    });
    console.log(`[audit-fail-mode ${kind} closed] allowed requests served before the first 503: ${servedBeforeRefusing}`);
    expect(servedBeforeRefusing).toBeLessThanOrEqual(3);
    for (let i = 0; i < 10; i++) expect(await run.send(`/v1/outage-${i}`)).toEqual({ status: 503, error: 'audit_unavailable' });

    const metrics = await run.metrics();
    expect(metricValue(metrics, 'latchkey_audit_accepting')).toBe(0);
    expect(metricValue(metrics, 'latchkey_audit_write_failures_total')).toBeGreaterThan(0);
    expect(metricValue(metrics, 'latchkey_audit_queue_depth')).toBeGreaterThanOrEqual(11);
    expect(metricValue(metrics, 'latchkey_audit_events_lost_total')).toBe(0);
    // Administrative changes cannot happen unaudited either: their event shares their transaction.
    const role = await run.call('POST', '/v1/roles', { name: 'during-outage', permissions: ['orders:read'] });
    expect(role.status).toBeGreaterThanOrEqual(500);
    expect(run.logs()).toMatch(/"level":50[^\n]*audit writes failing; retrying/);

    await run.blocker.unblock();
    const recovered = await eventually(10_000, async () => {
      const answer = await run.send(`/v1/recover-${run.answered.size}`);
      return answer.status === 200 ? answer : undefined;
    });
    expect(recovered.status).toBe(200);
    expect(metricValue(await run.metrics(), 'latchkey_audit_accepting')).toBe(1);
    expect(run.logs()).toMatch(/audit writes recovered/);
    expect((await run.call('GET', '/v1/roles/during-outage')).status).toBe(404);
    await expectEveryAnswerAudited(run);
  });

  it('open: requests pass while the audit store is unwritable, and /metrics shows it; then recovers', { timeout: 30_000 }, async () => {
    const run = await serveWith('open', kind);
    expect(await run.send('/v1/before')).toEqual({ status: 200, error: null });
    const before = await run.metrics();
    expect(metricValue(before, 'latchkey_audit_write_failures_total')).toBe(0);

    await run.blocker.block();
    for (let i = 0; i < 20; i++) {
      expect(await run.send(`/v1/outage-${i}`)).toEqual({ status: 200, error: null });
      await sleep(10);
    }
    const during = await run.metrics();
    // What an operator's alert fires on: writes failing, events piling up unwritten, the gateway still accepting.
    expect(metricValue(during, 'latchkey_audit_write_failures_total')).toBeGreaterThan(0);
    expect(metricValue(during, 'latchkey_audit_queue_depth')).toBeGreaterThanOrEqual(20);
    expect(metricValue(during, 'latchkey_audit_accepting')).toBe(1);
    console.log(
      `[audit-fail-mode ${kind} open] during the outage: write failures ${metricValue(during, 'latchkey_audit_write_failures_total')}, ` +
        `queue depth ${metricValue(during, 'latchkey_audit_queue_depth')}, lost ${metricValue(during, 'latchkey_audit_events_lost_total')}`,
    );
    expect(run.logs()).toMatch(/"level":50[^\n]*"failMode":"open"[^\n]*audit writes failing; retrying/);

    await run.blocker.unblock();
    await eventually(10_000, async () => (metricValue(await run.metrics(), 'latchkey_audit_queue_depth') === 0 ? true : undefined));
    expect(await run.send('/v1/after')).toEqual({ status: 200, error: null });
    expect(run.logs()).toMatch(/audit writes recovered/);
    await expectEveryAnswerAudited(run);
  });
});
