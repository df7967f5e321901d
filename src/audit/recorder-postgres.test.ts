import { generateKeyPairSync } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openPostgresStore } from '../store/index.js';
import type { Store } from '../store/store.js';
import { createTestDatabase, PG_ADMIN_URL, type TestDatabase } from '../test-support/postgres.js';
import { createAuditRecorder } from './batch-recorder.js';
import type { AuditEventInput, DecisionDetail } from './event.js';
import { decisionInput } from './tamper.contract.js';
import { verifyAudit } from './verify.js';

const publicKey = generateKeyPairSync('ed25519').publicKey;

let database: TestDatabase;
let nodeA: Store;
let nodeB: Store;
let admin: pg.Client;

beforeAll(async () => {
  database = await createTestDatabase();
  nodeA = await openPostgresStore({ url: database.url, poolSize: 4 });
  nodeB = await openPostgresStore({ url: database.url, poolSize: 4 });
  admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
});

afterAll(async () => {
  await admin.query(`ALTER DATABASE ${database.name} WITH ALLOW_CONNECTIONS true`);
  await admin.end();
  await nodeA.close();
  await nodeB.close();
  await database.drop();
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

const tagged = (node: string, n: number): AuditEventInput => {
  const base = decisionInput(n);
  return { ...base, detail: { ...base.detail, node, latencyMs: n } };
};

async function sql(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/** Refuses new connections and ends the open ones: PostgreSQL is unreachable for this database. */
async function cutOff(): Promise<void> {
  await admin.query(`ALTER DATABASE ${database.name} WITH ALLOW_CONNECTIONS false`);
  await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [
    database.name,
  ]);
}

describe('the batch recorder on PostgreSQL', () => {
  test('two gateway nodes appending at once make one chain, each node in its own order', async () => {
    const a = createAuditRecorder({ store: nodeA, failMode: 'closed', batchSize: 50 });
    const b = createAuditRecorder({ store: nodeB, failMode: 'closed', batchSize: 50 });
    const produce = async (recorder: typeof a, node: string) => {
      for (let i = 0; i < 1500; i++) {
        recorder.record(tagged(node, i));
        if (i % 37 === 0) await sleep(1);
      }
      await recorder.flush();
    };
    await Promise.all([produce(a, 'a'), produce(b, 'b')]);
    const events = await nodeA.readAudit({ limit: 10_000 });
    expect(events).toHaveLength(3000);
    for (const node of ['a', 'b']) {
      const mine = events.filter((e) => (e.detail as DecisionDetail).node === node).map((e) => (e.detail as DecisionDetail).latencyMs);
      expect(mine).toEqual(Array.from({ length: 1500 }, (_, i) => i));
    }
    // Interleaved, not one node after the other: the single order is shared, not taken in turns per node.
    const switches = events.filter((e, i) => i > 0 && (e.detail as DecisionDetail).node !== (events[i - 1]!.detail as DecisionDetail).node);
    expect(switches.length).toBeGreaterThan(2);
    expect(await verifyAudit(nodeA, { publicKey })).toMatchObject({ ok: true, events: 3000 });
    await Promise.all([a.close(), b.close()]);
  });

  test('closed mode: an audit table that refuses writes stops the recorder accepting, and nothing is lost', async () => {
    await sql(`CREATE FUNCTION audit_unwritable() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$;
      CREATE TRIGGER audit_unwritable BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_unwritable()`);
    const recorder = createAuditRecorder({ store: nodeA, failMode: 'closed', retryInitialMs: 10, retryMaxMs: 50 });
    const before = (await nodeA.auditHead()).seq;
    for (let i = 0; i < 100; i++) recorder.record(tagged('a', i));
    await waitFor(() => !recorder.accepting);
    await sql('DROP TRIGGER audit_unwritable ON audit_events');
    await recorder.flush();
    expect(recorder.accepting).toBe(true);
    const events = await nodeA.readAudit({ afterSeq: before, limit: 1000 });
    expect(events.map((e) => (e.detail as DecisionDetail).latencyMs)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    await recorder.close();
  });

  test('unreachable PostgreSQL: closed mode refuses, open mode accepts and counts the loss, both recover', async () => {
    const metrics = new Registry();
    const closed = createAuditRecorder({ store: nodeA, failMode: 'closed', retryInitialMs: 20, retryMaxMs: 100 });
    const open = createAuditRecorder({ store: nodeB, failMode: 'open', retryInitialMs: 20, retryMaxMs: 100, maxQueue: 50, metrics });
    const before = (await nodeA.auditHead()).seq;
    await cutOff();
    for (let i = 0; i < 200; i++) {
      closed.record(tagged('a', i));
      open.record(tagged('b', i));
    }
    await waitFor(() => !closed.accepting && open.stats().writeFailures > 0);
    expect(open.accepting).toBe(true);
    expect(await metrics.metrics()).toMatch(/^latchkey_audit_events_lost_total 150$/m);

    await admin.query(`ALTER DATABASE ${database.name} WITH ALLOW_CONNECTIONS true`);
    await Promise.all([closed.flush(), open.flush()]);
    expect(closed.accepting).toBe(true);
    const events = await nodeA.readAudit({ afterSeq: before, limit: 1000 });
    const fromA = events.filter((e) => (e.detail as DecisionDetail).node === 'a');
    expect(fromA).toHaveLength(200);
    expect(events.filter((e) => (e.detail as DecisionDetail).node === 'b')).toHaveLength(50);
    expect(await verifyAudit(nodeA, { publicKey })).toMatchObject({ ok: true });
    await Promise.all([closed.close(), open.close()]);
  });
});
