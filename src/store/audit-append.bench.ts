// Audit append throughput of both stores, beside a baseline that only links
// and hashes the same batch in memory (the floor no store can beat).
// Run: npx vitest bench --run src/store/audit-append.bench.ts
// Each iteration appends one batch of BATCH events: events/s = hz × BATCH.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, bench, describe } from 'vitest';
import { GENESIS_HASH, linkEvents } from '../audit/chain.js';
import { createTestDatabase } from '../test-support/postgres.js';
import { decisions } from './contract/fixtures.js';
import { openPostgresStore } from './postgres/postgres-store.js';
import { openSqliteStore } from './sqlite/sqlite-store.js';

const BATCH = 1000;
const batch = decisions(BATCH);

const dir = mkdtempSync(join(tmpdir(), 'latchkey-bench-'));
const sqlite = await openSqliteStore({ file: join(dir, 'latchkey.db') });
const database = await createTestDatabase();
const postgres = await openPostgresStore({ url: database.url });

afterAll(async () => {
  await sqlite.close();
  await postgres.close();
  await database.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe(`audit append, batches of ${BATCH} decision events`, () => {
  bench('baseline: link and hash in memory', () => {
    linkEvents(0, GENESIS_HASH, batch);
  }, { time: 2000 });

  bench('sqlite appendAudit', async () => {
    await sqlite.appendAudit(batch);
  }, { time: 2000 });

  bench('postgres appendAudit', async () => {
    await postgres.appendAudit(batch);
  }, { time: 2000 });
});
