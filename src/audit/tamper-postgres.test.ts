import pg from 'pg';
import { openPostgresStore } from '../store/index.js';
import { createTestDatabase } from '../test-support/postgres.js';
import { runTamperCases } from './tamper.contract.js';

runTamperCases('PostgreSQL', async () => {
  const database = await createTestDatabase();
  const store = await openPostgresStore({ url: database.url, poolSize: 4 });
  await store.migrate();
  // A connection of its own: the intruder's.
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  return {
    store,
    async sql(text, params = []) {
      let n = 0;
      const result = await client.query(text.replace(/\?/g, () => `$${++n}`), [...params]);
      // bigint columns come back as strings; the cases compare numbers.
      return result.rows.map((row: Record<string, unknown>) =>
        Object.fromEntries(Object.entries(row).map(([k, v]) => [k, k === 'seq' || k === 'time' ? Number(v) : v])),
      );
    },
    async dropGuards() {
      await client.query('ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only');
      await client.query('ALTER TABLE audit_checkpoints DISABLE TRIGGER audit_checkpoints_append_only');
    },
    async close() {
      await client.end();
      await store.close();
      await database.drop();
    },
  };
});
